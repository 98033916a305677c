package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/movierec/movierec/storetest/migratetest"
)

// TestMigrationCatalogChanges applies migrations 5 and 6 to a schema holding
// ratings: it fills rating_total and the popularity epoch, recomputes the
// aggregates with forward decay, and goes down and up again. (storetest
// opens migrated stores and imports this package, so this test reads
// the URL itself.)
func TestMigrationCatalogChanges(t *testing.T) {
	migratetest.CatalogChanges(migrationDB(t))
}

// TestMigrationHashedSessions: migration 8 keeps every session under the
// SHA-256 of its ID.
func TestMigrationHashedSessions(t *testing.T) {
	migratetest.HashedSessions(migrationDB(t))
}

// migrationDB returns what migratetest's checks take: a schema of the
// test's own (dropped afterwards), a provider of the embedded migrations
// on it, and the function that applies them all as Open does.
func migrationDB(t *testing.T) (*testing.T, *sql.DB, *goose.Provider, func() error) {
	url := os.Getenv("MOVIEREC_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("MOVIEREC_TEST_DATABASE_URL is not set")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_migrate_" + hex.EncodeToString(b)
	pool, err := NewPool(context.Background(), Config{URL: url, Schema: schema, MinConns: 1, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() {
		db.Close()
		pool.Close()
		if err := DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	return t, db, p, func() error { return Migrate(context.Background(), pool) }
}
