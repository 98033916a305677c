package main

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestRedisNamespacePerDatabase: instances of two databases behind one
// Redis do not share keys (a database created again must not find the
// old one's catalog version marker or cached answers), and instances of
// one database do.
func TestRedisNamespacePerDatabase(t *testing.T) {
	client, _ := storetest.Redis(t)
	cfg, err := loadConfig(func(k string) string {
		if k == "REDIS_URL" {
			return os.Getenv(storetest.RedisURLEnv)
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	a, b := storetest.OpenSQLite(t), storetest.OpenSQLite(t)
	cacheOf := func(store *sqlstore.Store) *cache.Cache {
		t.Helper()
		c, closeCache, err := newCache(ctx, cfg, store, observe.NewMetrics(), quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeCache)
		return c
	}
	read := func(c *cache.Cache) int64 {
		t.Helper()
		v, err := c.CatalogVersion(ctx)
		if err != nil { // the first read after a new Redis run fails once
			v, err = c.CatalogVersion(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ca := cacheOf(a)
	ca.PublishCatalogVersion(ctx, 1000)
	if v := read(ca); v != 1000 {
		t.Fatalf("database A's cache reads catalog version %d, want the 1000 it published", v)
	}
	if v := read(cacheOf(a)); v != 1000 {
		t.Errorf("another instance of database A reads catalog version %d, want 1000", v)
	}
	if v := read(cacheOf(b)); v != 0 {
		t.Errorf("database B's cache reads catalog version %d: it shares database A's keys", v)
	}
	nsA, err := redisNamespace(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	nsB, err := redisNamespace(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, ns := range []string{nsA, nsB} {
			keys, _ := client.Keys(ctx, ns+"*").Result()
			if len(keys) > 0 {
				client.Del(ctx, keys...)
			}
		}
	})
}
