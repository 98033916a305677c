package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/storetest"
)

// fakeClock drives the in-process tier's TTLs.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) NowNano() int64                      { return c.ns.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) advance(d time.Duration)             { c.ns.Add(int64(d)) }

var (
	list   = cache.Policy{Name: "movie_list", TTL: 15 * time.Minute}
	detail = cache.Policy{Name: "movie_detail", TTL: time.Hour}
	recs   = cache.Policy{Name: "recommendations", TTL: 30 * time.Minute}
)

// filler counts fills and answers with the count.
type filler struct{ n atomic.Int64 }

func (f *filler) fill(context.Context) (cache.Entry, error) {
	n := f.n.Add(1)
	return cache.Entry{Status: 200, ContentType: "application/json", ETag: fmt.Sprintf(`"%d"`, n), Body: []byte(fmt.Sprint(n))}, nil
}

func mustNew(t *testing.T, o cache.Options) *cache.Cache {
	c, err := cache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPolicyTTLs(t *testing.T) {
	clock := &fakeClock{}
	clock.ns.Store(time.Now().UnixNano())
	c := mustNew(t, cache.Options{Clock: clock})
	ctx := context.Background()
	var f filler
	for _, p := range []cache.Policy{list, detail} {
		if _, o, _ := c.Fetch(ctx, p, cache.Scope{}, "k", f.fill); o != cache.Miss {
			t.Errorf("%s: first fetch %s", p.Name, o)
		}
		if e, o, _ := c.Fetch(ctx, p, cache.Scope{}, "k", f.fill); o != cache.HitLocal || e.Body == nil {
			t.Errorf("%s: second fetch %s", p.Name, o)
		}
	}
	clock.advance(16 * time.Minute) // past the list's 15 minutes, within detail's hour
	if _, o, _ := c.Fetch(ctx, list, cache.Scope{}, "k", f.fill); o != cache.Miss {
		t.Errorf("list after 16 minutes: %s, want a miss", o)
	}
	if _, o, _ := c.Fetch(ctx, detail, cache.Scope{}, "k", f.fill); o != cache.HitLocal {
		t.Errorf("detail after 16 minutes: %s, want a hit", o)
	}
	clock.advance(45 * time.Minute)
	if _, o, _ := c.Fetch(ctx, detail, cache.Scope{}, "k", f.fill); o != cache.Miss {
		t.Errorf("detail after 61 minutes: %s, want a miss", o)
	}
}

func TestSingleflight(t *testing.T) {
	c := mustNew(t, cache.Options{})
	var fills atomic.Int64
	release := make(chan struct{})
	slow := func(context.Context) (cache.Entry, error) {
		fills.Add(1)
		<-release
		return cache.Entry{Status: 200, Body: []byte("x")}, nil
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e, _, err := c.Fetch(context.Background(), list, cache.Scope{}, "hot", slow); err != nil || string(e.Body) != "x" {
				t.Errorf("fetch: %q %v", e.Body, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := fills.Load(); n != 1 {
		t.Errorf("50 concurrent misses ran the query %d times", n)
	}
}

func TestInvalidationLocal(t *testing.T) {
	testInvalidation(t, mustNew(t, cache.Options{}), nil)
}

func TestInvalidationRedis(t *testing.T) {
	client, prefix := storetest.Redis(t)
	a := mustNew(t, cache.Options{Redis: client, Prefix: prefix})
	b := mustNew(t, cache.Options{Redis: client, Prefix: prefix})
	testInvalidation(t, a, b)
}

// testInvalidation: a catalog write makes every answer stale; a user's
// write only that user's. With b set, a second instance shares a's Redis:
// what a fills, b reads; what a invalidates, b no longer serves.
func testInvalidation(t *testing.T, a, b *cache.Cache) {
	ctx := context.Background()
	var f filler
	alice, bob := cache.Scope{UserID: 1}, cache.Scope{UserID: 2}
	a.Fetch(ctx, list, cache.Scope{}, "page1", f.fill)
	a.Fetch(ctx, recs, alice, "recs", f.fill)
	a.Fetch(ctx, recs, bob, "recs", f.fill)
	if b != nil {
		if e, o, _ := b.Fetch(ctx, list, cache.Scope{}, "page1", f.fill); o != cache.HitRedis || string(e.Body) != "1" {
			t.Errorf("second instance: %s %q, want a Redis hit of a's answer", o, e.Body)
		}
	} else {
		b = a
	}
	a.Invalidate(ctx, alice)
	if e, o, _ := b.Fetch(ctx, recs, alice, "recs", f.fill); o != cache.Miss || string(e.Body) == "2" {
		t.Errorf("alice's recommendations after her write: %s %q", o, e.Body)
	}
	if e, _, _ := b.Fetch(ctx, recs, bob, "recs", f.fill); string(e.Body) != "3" {
		t.Errorf("bob's recommendations changed with alice's write: %q", e.Body)
	}
	if _, o, _ := b.Fetch(ctx, list, cache.Scope{}, "page1", f.fill); o == cache.Miss {
		t.Errorf("alice's write invalidated the catalog list")
	}
	a.Invalidate(ctx, cache.Scope{})
	before := f.n.Load()
	if _, o, _ := b.Fetch(ctx, list, cache.Scope{}, "page1", f.fill); o != cache.Miss || f.n.Load() != before+1 {
		t.Errorf("list after a catalog write: %s", o)
	}
	if _, o, _ := b.Fetch(ctx, recs, bob, "recs", f.fill); o != cache.Miss {
		t.Errorf("bob's recommendations after a catalog write: %s", o)
	}
}

func TestErrorsAndNon200NotStored(t *testing.T) {
	c := mustNew(t, cache.Options{})
	ctx := context.Background()
	boom := errors.New("db down")
	if _, _, err := c.Fetch(ctx, list, cache.Scope{}, "k", func(context.Context) (cache.Entry, error) { return cache.Entry{}, boom }); !errors.Is(err, boom) {
		t.Errorf("fill error: %v", err)
	}
	var f filler
	notFound := func(ctx context.Context) (cache.Entry, error) { e, _ := f.fill(ctx); e.Status = 404; return e, nil }
	c.Fetch(ctx, detail, cache.Scope{}, "gone", notFound)
	if _, o, _ := c.Fetch(ctx, detail, cache.Scope{}, "gone", notFound); o != cache.Miss {
		t.Errorf("a 404 was cached: %s", o)
	}
}

// redisServer runs a redis-server of the test's own on a spare port.
func redisServer(t *testing.T, port string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return nil
}

// TestRedisOutage stops and restarts a real Redis: reads keep answering
// (from the database), errors are logged once, and caching resumes.
func TestRedisOutage(t *testing.T) {
	storetest.Redis(t) // runs where Redis tests run; needs redis-server installed
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	srv := redisServer(t, port)
	defer func() { srv.Process.Kill(); srv.Wait() }()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer client.Close()
	var logs bytes.Buffer
	c := mustNew(t, cache.Options{Redis: client, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		ErrorLogEvery: time.Hour, Retry: 10 * time.Millisecond})
	ctx := context.Background()
	var f filler
	c.Fetch(ctx, list, cache.Scope{}, "k", f.fill)
	if _, o, _ := c.Fetch(ctx, list, cache.Scope{}, "k", f.fill); o != cache.HitLocal {
		t.Fatalf("warm: %s", o)
	}

	srv.Process.Kill()
	srv.Wait()
	for i := range 20 {
		e, o, err := c.Fetch(ctx, list, cache.Scope{}, "k", f.fill)
		if err != nil || o != cache.Bypass || e.Status != 200 {
			t.Fatalf("read %d with Redis down: %s %v", i, o, err)
		}
		time.Sleep(15 * time.Millisecond)
	}
	c.Invalidate(ctx, cache.Scope{}) // a write during the outage
	if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
		t.Errorf("%d error log lines for 20 failing reads, want 1:\n%s", n, logs.String())
	}

	srv = redisServer(t, port)
	deadline := time.Now().Add(10 * time.Second)
	var o cache.Outcome
	for o = cache.Bypass; o == cache.Bypass && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, o, _ = c.Fetch(ctx, list, cache.Scope{}, "k", f.fill)
	}
	if o != cache.Miss {
		t.Fatalf("after Redis returned: %s, want a miss (the outage write bumped the generation)", o)
	}
	if _, o, _ := c.Fetch(ctx, list, cache.Scope{}, "k", f.fill); o != cache.HitLocal {
		t.Errorf("caching did not resume: %s", o)
	}
	if !strings.Contains(logs.String(), "redis is back") {
		t.Errorf("no recovery log:\n%s", logs.String())
	}
	if g, _ := client.Get(ctx, "gen:catalog").Int(); g != 1 {
		t.Errorf("the outage write's generation bump was not replayed: gen %d", g)
	}
}

// TestRedisLosesCounters: a Redis restarted without persistence (or
// flushed) forgets the generations; answers cached before must not come
// back.
func TestRedisLosesCounters(t *testing.T) {
	client, prefix := storetest.Redis(t)
	c := mustNew(t, cache.Options{Redis: client, Prefix: prefix})
	ctx := context.Background()
	var f filler
	c.Fetch(ctx, detail, cache.Scope{}, "k", f.fill) // "1", under generation 0
	c.Invalidate(ctx, cache.Scope{})
	c.Fetch(ctx, detail, cache.Scope{}, "k", f.fill) // "2", under generation 1
	keys, _ := client.Keys(ctx, prefix+"*").Result()
	client.Del(ctx, keys...) // what a restart without persistence does
	e, o, _ := c.Fetch(ctx, detail, cache.Scope{}, "k", f.fill)
	if o != cache.Miss || string(e.Body) == "1" {
		t.Errorf("after Redis lost its counters: %s %q, want a fresh answer", o, e.Body)
	}
}

// TestCancelledClientIsNotAnOutage: a request whose client hung up does
// not trip the Redis breaker for everyone else.
func TestCancelledClientIsNotAnOutage(t *testing.T) {
	client, prefix := storetest.Redis(t)
	var errs atomic.Int64
	c := mustNew(t, cache.Options{Redis: client, Prefix: prefix, OnRedisError: func() { errs.Add(1) }})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	var f filler
	c.Fetch(gone, list, cache.Scope{}, "k", f.fill)
	c.Invalidate(gone, cache.Scope{})
	if _, o, _ := c.Fetch(context.Background(), list, cache.Scope{}, "k", f.fill); o == cache.Bypass || errs.Load() != 0 {
		t.Errorf("after a cancelled request: %s, %d Redis errors", o, errs.Load())
	}
	if g, _ := client.Get(context.Background(), prefix+"gen:catalog").Int(); g != 1 {
		t.Errorf("the cancelled writer's invalidation was lost: gen %d", g)
	}
}

// TestGzipThroughRedis: an entry's compressed representation and its tag
// reach a second instance through Redis byte for byte; an entry without
// one comes back without one.
func TestGzipThroughRedis(t *testing.T) {
	client, prefix := storetest.Redis(t)
	a := mustNew(t, cache.Options{Redis: client, Prefix: prefix})
	b := mustNew(t, cache.Options{Redis: client, Prefix: prefix})
	ctx := context.Background()
	withGzip := cache.Entry{Status: 200, ContentType: "application/json; charset=utf-8", ETag: `"abc"`,
		Body: []byte(`{"count":1}`), Gzip: []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0}, GzipETag: `"abc-gzip"`}
	plainOnly := cache.Entry{Status: 200, ContentType: "application/json", ETag: `"def"`, Body: []byte("[]")}
	for key, want := range map[string]cache.Entry{"gzip": withGzip, "plain": plainOnly} {
		a.Fetch(ctx, list, cache.Scope{}, key, func(context.Context) (cache.Entry, error) { return want, nil })
		got, o, err := b.Fetch(ctx, list, cache.Scope{}, key, func(context.Context) (cache.Entry, error) {
			t.Fatalf("%s: the second instance filled instead of reading Redis", key)
			return cache.Entry{}, nil
		})
		if err != nil || o != cache.HitRedis {
			t.Fatalf("%s: %s %v", key, o, err)
		}
		if got.Status != want.Status || got.ContentType != want.ContentType || got.ETag != want.ETag || !bytes.Equal(got.Body, want.Body) ||
			!bytes.Equal(got.Gzip, want.Gzip) || got.GzipETag != want.GzipETag || (want.Gzip == nil) != (got.Gzip == nil) {
			t.Errorf("%s: read back %+v, want %+v", key, got, want)
		}
	}
}

// TestPersistentRedisRestart: a Redis with an append-only file is killed
// and started again; meanwhile instance A made a write (its generation
// bump and version marker failed). Instance B, whose client reconnects
// without reporting an error, must not serve the answer it cached before
// (the restored counters do not show A's write), nor trust the restored
// version marker once; A's bump and marker go through in the background,
// without A reading anything.
func TestPersistentRedisRestart(t *testing.T) {
	storetest.Redis(t) // runs where Redis tests run; needs redis-server installed
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	dir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "")
		if err := cmd.Start(); err != nil {
			t.Fatalf("redis-server: %v", err)
		}
		for i := 0; i < 200; i++ {
			c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
			err := c.Ping(context.Background()).Err()
			c.Close()
			if err == nil {
				return cmd
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("redis-server did not start")
		return nil
	}
	srv := start()
	defer func() { srv.Process.Kill(); srv.Wait() }()
	client := func() *redis.Client { // go-redis defaults: dead connections are retried on new ones
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { c.Close() })
		return c
	}
	// A retries its failed writes after a second: B reads before that.
	a := mustNew(t, cache.Options{Redis: client(), Retry: time.Second})
	b := mustNew(t, cache.Options{Redis: client(), Retry: 20 * time.Millisecond})
	ctx := context.Background()
	var f filler
	a.PublishCatalogVersion(ctx, 5)
	if e, _, _ := b.Fetch(ctx, detail, cache.Scope{}, "k", f.fill); string(e.Body) != "1" {
		t.Fatalf("warm: %q", e.Body)
	}
	if _, o, _ := b.Fetch(ctx, detail, cache.Scope{}, "k", f.fill); o != cache.HitLocal {
		t.Fatalf("warm: %s", o)
	}
	if v, err := b.CatalogVersion(ctx); err != nil || v != 5 {
		t.Fatalf("version marker before the crash: %d %v", v, err)
	}

	srv.Process.Kill()
	srv.Wait()
	a.Invalidate(ctx, cache.Scope{}) // A's write while Redis is down
	a.PublishCatalogVersion(ctx, 6)  // and its version
	srv = start()                    // the AOF brings back generation 0 and marker 5

	e, _, err := b.Fetch(ctx, detail, cache.Scope{}, "k", f.fill)
	if err != nil || string(e.Body) == "1" {
		t.Errorf("B after the restart: %q (%v), want a fresh answer, not the one cached before A's write", e.Body, err)
	}
	if _, err := b.CatalogVersion(ctx); err == nil {
		t.Error("B trusted the restored version marker right after the restart; want one failure (ask the database)")
	}
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, _ := rc.Get(ctx, "gen:catalog").Int()
		v, _ := rc.Get(ctx, "catalog:version").Int()
		if g >= 1 && v == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A's bump and marker were not replayed in the background: gen %d, version %d", g, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v, err := b.CatalogVersion(ctx); err != nil || v != 6 {
		t.Errorf("B's probe after the replay: %d %v, want 6", v, err)
	}
}
