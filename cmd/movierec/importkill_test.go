package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/movierec/movierec/sqlstore"
)

// TestImportKilled: "movierec import" killed (SIGKILL) half way through a
// first import on SQLite, which journals it in a rollback journal (see
// sqlstore.Exclusive), leaves the database as it was: the next open rolls
// the journal back, in WAL mode again, and an import then succeeds.
func TestImportKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and imports 100,000 ratings")
	}
	dir := t.TempDir()
	if _, _, err := runCmd(t, nil, "demo-data", "-ratings", "100000", "-out", dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "killed.db")
	url := "sqlite://" + path
	if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": url}, "migrate"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "MOVIEREC_MAIN_ARGS=import movielens "+dir, "DATABASE_URL="+url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The load is under way once its rollback journal holds pages.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if fi, err := os.Stat(path + "-journal"); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the import never journalled anything")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // into the load (the whole import takes about a second)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the import finished before it was killed: the test proves nothing")
	}

	if n := countMovies(t, url); n != 0 {
		t.Errorf("the killed import left %d movies", n)
	}
	withStore(t, url, func(s *sqlstore.Store) {
		var ratings int
		var mode string
		ctx := context.Background()
		if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM ratings`).Scan(&ratings); err != nil || ratings != 0 {
			t.Errorf("the killed import left %d ratings (%v)", ratings, err)
		}
		if err := s.Conn().QueryRow(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal mode %q (%v) after the killed import, want wal", mode, err)
		}
	})
	// The database takes an import again (a small one: under -race a
	// second import of the big one costs most of the test's time).
	if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": url}, "import", "movielens", writeFiles(t, goodCSV)); err != nil {
		t.Fatalf("importing after the killed import: %v", err)
	}
	if n := countMovies(t, url); n != 3 {
		t.Errorf("%d movies after importing 3", n)
	}
}
