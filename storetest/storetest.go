// Package storetest opens real stores for tests: SQLite always, PostgreSQL
// when MOVIEREC_TEST_DATABASE_URL is set. Each store gets its own database
// file or schema, so tests and packages can run in parallel.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
)

// PostgresURLEnv names the environment variable holding the PostgreSQL URL
// tests use. When it is set, PostgreSQL tests must run: an unreachable
// server fails them instead of skipping.
const PostgresURLEnv = "MOVIEREC_TEST_DATABASE_URL"

// Backend opens fresh, empty stores of one kind.
type Backend struct {
	Name string
	Open func(tb testing.TB) *sqlstore.Store
}

// Backends returns SQLite and, when configured, PostgreSQL.
func Backends() []Backend {
	b := []Backend{{Name: "sqlite", Open: OpenSQLite}}
	if os.Getenv(PostgresURLEnv) != "" {
		b = append(b, Backend{Name: "postgres", Open: OpenPostgres})
	}
	return b
}

// ForEach runs fn as a subtest per backend, each with a fresh store.
func ForEach(t *testing.T, fn func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

// OpenSQLite opens a migrated SQLite store in a temporary directory.
func OpenSQLite(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "movierec.db"))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// OpenPostgres opens a migrated PostgreSQL store in a schema of its own,
// dropped when the test ends. It skips the test when PostgresURLEnv is
// unset and fails it when the server cannot be reached.
func OpenPostgres(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	return OpenPostgresWith(tb, nil)
}

// OpenPostgresWith is OpenPostgres with the configuration changed by
// edit (nil: none) before the store opens: a test can route it through a
// Proxy or give it short deadlines. The schema is dropped through the
// original URL.
func OpenPostgresWith(tb testing.TB, edit func(*postgres.Config)) *sqlstore.Store {
	tb.Helper()
	url := os.Getenv(PostgresURLEnv)
	if url == "" {
		tb.Skipf("%s is not set", PostgresURLEnv)
	}
	schema := "test_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := postgres.Config{URL: url, Schema: schema, MinConns: 1, MaxConns: 8}
	if edit != nil {
		edit(&cfg)
	}
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open postgres (%s): %v", PostgresURLEnv, err)
	}
	tb.Cleanup(func() {
		s.Close()
		if err := postgres.DropSchema(context.Background(), url, schema); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return s
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// MovieLensDir returns the path of ml-latest-small relative to a package
// directory of this module, skipping the test when it is absent.
func MovieLensDir(tb testing.TB) string {
	tb.Helper()
	for _, dir := range []string{"../../shared/data/movielens/ml-latest-small", "../../../shared/data/movielens/ml-latest-small"} {
		if _, err := os.Stat(filepath.Join(dir, "ratings.csv")); err == nil {
			return dir
		}
	}
	tb.Skip("ml-latest-small is not beside the repository")
	return ""
}

// OpenPair opens two stores on one database, as two instances of the
// server share it: the same SQLite file, or the same PostgreSQL schema
// (skipping the test when PostgresURLEnv is unset).
func OpenPair(tb testing.TB, backend string) (a, b *sqlstore.Store) {
	tb.Helper()
	ctx := context.Background()
	open := func() *sqlstore.Store { return nil }
	switch backend {
	case "sqlite":
		path := filepath.Join(tb.TempDir(), "shared.db")
		open = func() *sqlstore.Store {
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				tb.Fatalf("open sqlite: %v", err)
			}
			return s
		}
	case "postgres":
		url := os.Getenv(PostgresURLEnv)
		if url == "" {
			tb.Skipf("%s is not set", PostgresURLEnv)
		}
		schema := "test_" + randomSuffix()
		tb.Cleanup(func() {
			if err := postgres.DropSchema(context.Background(), url, schema); err != nil {
				tb.Errorf("drop schema %s: %v", schema, err)
			}
		})
		open = func() *sqlstore.Store {
			s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, MinConns: 1, MaxConns: 8})
			if err != nil {
				tb.Fatalf("open postgres (%s): %v", PostgresURLEnv, err)
			}
			return s
		}
	default:
		tb.Fatalf("unknown backend %q", backend)
	}
	a, b = open(), open()
	tb.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
