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
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)&_time_format=sqlite")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		t.Fatal(err)
	}
	migratetest.CatalogChanges(t, db, p, func() error { return Migrate(ctx, db) })
}

// TestMigrationHashedSessions: migration 8 keeps every session under the
// SHA-256 of its ID.
func TestMigrationHashedSessions(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_pragma=foreign_keys(1)&_time_format=sqlite")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		t.Fatal(err)
	}
	migratetest.HashedSessions(t, db, p, func() error { return Migrate(ctx, db) })
}
