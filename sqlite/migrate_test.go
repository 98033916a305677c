package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/movierec/movierec/storetest/migratetest"
)

// TestMigrationCatalogChanges applies migrations 5 and 6 to a database holding
// ratings: it fills rating_total and the popularity epoch, recomputes the
// aggregates with forward decay, adds the rating payload of the change
// log, and goes down and up again.
func TestMigrationCatalogChanges(t *testing.T) {
	migratetest.CatalogChanges(migrationDB(t))
}

// TestMigrationHashedSessions: migration 8 keeps every session under the
// SHA-256 of its ID.
func TestMigrationHashedSessions(t *testing.T) {
	migratetest.HashedSessions(migrationDB(t))
}

// migrationDB returns what migratetest's checks take: a new database file,
// a provider of the embedded migrations (SQL and Go) on it, and the
// function that applies them all as Open does.
func migrationDB(t *testing.T) (*testing.T, *sql.DB, *goose.Provider, func() error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)&_time_format=sqlite")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		t.Fatal(err)
	}
	return t, db, p, func() error { return Migrate(context.Background(), db) }
}
