package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/storetest"
)

// TestNoStat4: an import leaves planner statistics (sqlite_stat1) but no
// sqlite_stat4 samples, with which this STAT4 build of SQLite prepares
// statements again on every run with new values; opening a database that
// has samples (an older version's ANALYZE) removes them. The store works
// on after both.
func TestNoStat4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stat4.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, storetest.Fixture(40), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	count := func(table string) int {
		t.Helper()
		var n int
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		return n
	}
	if count("sqlite_stat1") == 0 {
		t.Fatal("the import left no planner statistics")
	}
	if n := count("sqlite_stat4"); n != 0 {
		t.Fatalf("the import left %d sqlite_stat4 samples", n)
	}
	if _, err := raw.ExecContext(ctx, `ANALYZE`); err != nil { // as older versions did
		t.Fatal(err)
	}
	if count("sqlite_stat4") == 0 {
		t.Fatal("ANALYZE made no sqlite_stat4 samples: the test would prove nothing")
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := count("sqlite_stat4"); n != 0 {
		t.Fatalf("opening left %d sqlite_stat4 samples", n)
	}
	if _, _, err := s.RateMovie(ctx, 1, 1, 4.5, "after reopening"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Rating(ctx, 1, 1); err != nil || r.Score != 4.5 {
		t.Fatalf("rating after reopening: %+v, %v", r, err)
	}
}
