package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestImportDiskFull: `movierec import` onto a disk that fills up fails
// with a message that says so, and the database keeps what it held, on
// both backends: a first import (SQLite: in a rollback journal; PostgreSQL:
// COPY into emptied tables) and a merge into stored data (SQLite: in the
// WAL). Once space is freed the same import succeeds. The disk is a real
// tmpfs filled to its last 128 KB; on PostgreSQL it holds the ratings
// table's tablespace, as a full data volume would.
func TestImportDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and imports 20,000 ratings four times")
	}
	small, big := t.TempDir(), t.TempDir()
	for dir, n := range map[string]string{small: "5000", big: "20000"} {
		if _, _, err := runCmd(t, nil, "demo-data", "-ratings", n, "-out", dir); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		disk := storetest.SmallDisk(t, 64, -1, -1)
		url := "sqlite://" + disk + "/m.db"
		if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": url}, "migrate"); err != nil {
			t.Fatal(err)
		}
		importFillingDisk(t, url, disk, small, big)
		withStore(t, url, func(s *sqlstore.Store) {
			var check string
			if err := s.Conn().QueryRow(context.Background(), `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
				t.Errorf("integrity_check: %q, %v", check, err)
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		cl := storetest.OwnPostgres(t)
		url := cl.URL()
		if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": url}, "migrate"); err != nil {
			t.Fatal(err)
		}
		var disk string
		withStore(t, url, func(s *sqlstore.Store) { disk = cl.RatingsOnSmallDisk(s, 64) })
		importFillingDisk(t, url, disk, small, big)
	})
}

// importFillingDisk imports small and then big into url, each first with
// the disk full (it must fail, say why and change nothing) and then with
// the space freed (it must succeed).
func importFillingDisk(t *testing.T, url, disk, small, big string) {
	t.Helper()
	env := map[string]string{"DATABASE_URL": url}
	for _, dir := range []string{small, big} {
		before := dbState(t, url)
		free := storetest.FillDisk(t, disk, 128<<10) // room to open the database and begin
		_, _, err := runCmd(t, env, "import", "movielens", dir)
		free()
		if err == nil {
			t.Fatalf("import of %s onto a full disk succeeded", dir)
		}
		if msg := err.Error(); !strings.Contains(msg, "out of disk space") {
			t.Errorf("import onto a full disk: %q does not say the disk is full", msg)
		}
		if after := dbState(t, url); after != before {
			t.Fatalf("the failed import changed the database: %s, before %s", after, before)
		}
		if _, _, err := runCmd(t, env, "import", "movielens", dir); err != nil {
			t.Fatalf("import once space was freed: %v", err)
		}
		if after := dbState(t, url); after == before {
			t.Fatalf("the import changed nothing: %s", after)
		}
	}
}

// dbState sums up what the database holds: rows of the imported tables
// and the ratings' scores.
func dbState(t *testing.T, url string) string {
	t.Helper()
	var state string
	withStore(t, url, func(s *sqlstore.Store) {
		var movies, ratings, users, taggings int
		var total float64
		err := s.Conn().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM movies), (SELECT count(*) FROM ratings),
			(SELECT count(*) FROM users), (SELECT count(*) FROM taggings), (SELECT COALESCE(sum(score), 0) FROM ratings)`).
			Scan(&movies, &ratings, &users, &taggings, &total)
		if err != nil {
			t.Fatal(err)
		}
		state = fmt.Sprintf("movies %d, ratings %d (scores %.1f), users %d, taggings %d", movies, ratings, total, users, taggings)
	})
	return state
}
