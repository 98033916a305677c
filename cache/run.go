package cache

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// A restarted Redis.
//
// Redis may come back from a crash or restart with nothing (no
// persistence), or with its data as of its last snapshot or AOF write,
// which can be older than writes this or other instances acknowledged
// before the crash, or made while it was down (their generation bumps
// failed). Generations read from such a Redis may repeat values that
// answers were cached under, in process or in Redis itself. So every
// generation string starts with the Redis run ID (a new random ID each
// time redis-server starts): answers cached under another run are never
// served. A new run is noticed when the client dials a new connection
// (the old ones died with the server), before the next generations are
// trusted (a command that dialed is checked after it ran, since the
// dial happens inside it); the catalog probe then fails once (see CatalogVersion), so
// readers catch up from the database instead of trusting a restored
// version marker.

// runWatch is a go-redis hook: every new connection may lead to a new
// Redis run, so the run ID is read again before it is relied on.
type runWatch struct{ c *Cache }

func (w runWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err == nil {
			w.c.dials.Add(1)
		}
		return conn, err
	}
}
func (runWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (runWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// errNewRun is CatalogVersion's answer right after a new Redis run.
var errNewRun = errors.New("cache: redis restarted; the version marker may be older than the database")

// syncRun reads the Redis run ID when a new connection may have reached
// a new run, and returns the current one. A changed run empties the
// in-process tier (its keys can no longer be asked for) and makes the
// next CatalogVersion fail.
func (c *Cache) syncRun(ctx context.Context) (string, error) {
	if !c.runStale() {
		return c.run(), nil
	}
	dials := c.dials.Load()
	info, err := c.opts.Redis.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	id := ""
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			id = v
		}
	}
	if id == "" {
		return "", errors.New("cache: redis INFO has no run_id")
	}
	c.checked.Store(dials) // connections dialed since may reach another run
	c.runMu.Lock()
	old := c.runID
	c.runID = id
	c.runMu.Unlock()
	if old != "" && old != id {
		c.newRun.Store(true)
		c.local.InvalidateAll()
		c.opts.Log.Warn("redis restarted (new run): answers cached before are not served again",
			slog.String("run_id", id))
	}
	return id, nil
}

// runStale reports whether a connection was dialed since the run ID was
// last read: a command sent since may have reached a new run.
func (c *Cache) runStale() bool { return c.dials.Load() != c.checked.Load() }

func (c *Cache) run() string {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	return c.runID
}

// runState is the part of Cache that follows Redis runs and retries the
// writes that failed while Redis was down.
type runState struct {
	dials   atomic.Int64 // connections dialed
	checked atomic.Int64 // dials when the run ID was last read (-1: never)
	newRun  atomic.Bool
	runMu   sync.Mutex
	runID   string

	flushing   atomic.Bool
	pendingVer atomic.Int64 // a catalog version whose publication failed
}

// kickFlusher retries, in the background, what failed while Redis was
// down (generation bumps, the catalog version marker) every Retry until
// it has gone through: other instances then see those writes without
// waiting for this instance's next read.
func (c *Cache) kickFlusher() {
	if c.opts.Redis == nil || !c.flushing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.flushing.Store(false)
		for {
			time.Sleep(c.opts.Retry)
			if !c.redisUsable() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.flushPending(ctx)
			if v := c.pendingVer.Load(); v > 0 {
				if err := setIfGreater.Run(ctx, c.opts.Redis, []string{c.catalogVersionKey()}, v).Err(); err == nil {
					c.pendingVer.CompareAndSwap(v, 0)
				}
			}
			cancel()
			c.pendingMu.Lock()
			done := len(c.pendingGen) == 0 && c.pendingVer.Load() == 0
			c.pendingMu.Unlock()
			if done {
				return
			}
		}
	}()
}
