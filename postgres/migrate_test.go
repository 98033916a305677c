package postgres

import (
	"context"
	"crypto/rand"
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
	url := os.Getenv("MOVIEREC_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("MOVIEREC_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_migrate_" + hex.EncodeToString(b)
	pool, err := NewPool(ctx, Config{URL: url, Schema: schema, MinConns: 1, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if err := DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	migratetest.CatalogChanges(t, db, p, func() error { return Migrate(ctx, pool) })
}

// TestMigrationHashedSessions: migration 8 keeps every session under the
// SHA-256 of its ID.
func TestMigrationHashedSessions(t *testing.T) {
	url := os.Getenv("MOVIEREC_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("MOVIEREC_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_migrate_" + hex.EncodeToString(b)
	pool, err := NewPool(ctx, Config{URL: url, Schema: schema, MinConns: 1, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if err := DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	migratetest.HashedSessions(t, db, p, func() error { return Migrate(ctx, pool) })
}
