package main

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/movierec/movierec/observe"
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
	open := func(which string) func(context.Context) (int64, error) {
		t.Helper()
		store := a
		if which == "b" {
			store = b
		}
		c, closeCache, err := newCache(ctx, cfg, store, observe.NewMetrics(), quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeCache)
		if which == "a" {
			c.PublishCatalogVersion(ctx, 1000)
		}
		return c.CatalogVersion
	}
	read := func(get func(context.Context) (int64, error)) int64 {
		t.Helper()
		v, err := get(ctx)
		if err != nil { // the first read after a new Redis run fails once
			v, err = get(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := read(open("a")); v != 1000 {
		t.Fatalf("database A's cache reads catalog version %d, want the 1000 it published", v)
	}
	if v := read(open("b")); v != 0 {
		t.Errorf("database B's cache reads catalog version %d: it shares database A's keys", v)
	}
	nsA, err := redisNamespace(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	nsA2, _ := redisNamespace(ctx, a)
	nsB, _ := redisNamespace(ctx, b)
	if nsA != nsA2 || nsA == nsB {
		t.Errorf("namespaces: database A %q then %q, database B %q; want A's stable and B's different", nsA, nsA2, nsB)
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
