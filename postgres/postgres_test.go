package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/storetest"
)

// TestConcurrentMigrations: instances starting together on an empty
// database all come up (the migrations run once, under a lock).
func TestConcurrentMigrations(t *testing.T) {
	url := os.Getenv(storetest.PostgresURLEnv)
	if url == "" {
		t.Skipf("%s is not set", storetest.PostgresURLEnv)
	}
	schema := "test_concurrent_migrations"
	ctx := context.Background()
	postgres.DropSchema(ctx, url, schema)
	t.Cleanup(func() { postgres.DropSchema(ctx, url, schema) })
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, MinConns: 1, MaxConns: 2})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("instance failed to start: %v", err)
	}
}
