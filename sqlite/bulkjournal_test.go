package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// importWatchingFiles imports a fixture into the SQLite database at path
// with opts, and returns the sizes of its rollback journal and its
// write-ahead log when the ratings' indexes are being built (-1: no such
// file).
func importWatchingFiles(t *testing.T, s *sqlstore.Store, path string, opts ...sqlstore.ImportOption) (journal, wal int64) {
	t.Helper()
	size := func(name string) int64 {
		fi, err := os.Stat(name)
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	journal, wal = -2, -2
	ds := storetest.Fixture(60)
	res, err := s.ImportStream(context.Background(), ds.Stream(), func(stage string, done, total int) {
		if stage == "index ratings" && journal == -2 {
			journal, wal = size(path+"-journal"), size(path+"-wal")
		}
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ratings != len(ds.Ratings) || journal == -2 {
		t.Fatalf("imported %d ratings of %d, the index stage seen: %v", res.Ratings, len(ds.Ratings), journal != -2)
	}
	return journal, wal
}

func journalMode(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	var mode string
	if err := s.Conn().QueryRow(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// TestExclusiveImportJournal: an Exclusive first import journals in a
// rollback journal (the WAL does not grow with the load), even after the
// store's readers have been used, and leaves the database in WAL mode,
// working; a plain import keeps the WAL.
func TestExclusiveImportJournal(t *testing.T) {
	ctx := context.Background()
	for _, exclusive := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "bulk.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM movies`).Scan(&n); err != nil { // an idle reader
			t.Fatal(err)
		}
		var opts []sqlstore.ImportOption
		if exclusive {
			opts = append(opts, sqlstore.Exclusive)
		}
		journal, wal := importWatchingFiles(t, s, path, opts...)
		if exclusive && (journal <= 0 || wal > 0) {
			t.Errorf("Exclusive: during the load the journal has %d bytes and the WAL %d; want a rollback journal", journal, wal)
		}
		if !exclusive && (journal > 0 || wal <= 0) {
			t.Errorf("plain import: during the load the journal has %d bytes and the WAL %d; want the WAL", journal, wal)
		}
		if mode := journalMode(t, s); mode != "wal" {
			t.Errorf("exclusive %v: journal mode %q after the import, want wal", exclusive, mode)
		}
		if _, _, err := s.RateMovie(ctx, 1, 2, 4, ""); err != nil {
			t.Error(err)
		}
		s.Close()
	}
}

// TestExclusiveImportSharedFile: when another process's connection has the
// database open, an Exclusive import does not wait for it and keeps the
// WAL (whose readers it does not block); the other connection reads the
// import's rows when it is done.
func TestExclusiveImportSharedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	oc, err := other.Conn(ctx) // held open: another process's connection
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	var n int
	if err := oc.QueryRowContext(ctx, `SELECT count(*) FROM ratings`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the other connection counts %d ratings (%v)", n, err)
	}
	journal, wal := importWatchingFiles(t, s, path, sqlstore.Exclusive)
	if journal > 0 || wal <= 0 {
		t.Errorf("with another connection open, the journal has %d bytes and the WAL %d; want the WAL", journal, wal)
	}
	if err := oc.QueryRowContext(ctx, `SELECT count(*) FROM ratings`).Scan(&n); err != nil || n == 0 {
		t.Errorf("the other connection counts %d ratings after the import (%v)", n, err)
	}
	if mode := journalMode(t, s); mode != "wal" {
		t.Errorf("journal mode %q, want wal", mode)
	}
}
