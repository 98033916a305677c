// Package cache keeps serialized API answers in two tiers: an in-process
// otter cache in front of Redis (when configured). Keys carry generation
// counters, so a write invalidates by bumping a counter in Redis before its
// response returns, and every instance sharing that Redis stops serving the
// old answer at once. When Redis fails, reads bypass the cache and go to the
// database (correct, slower) until it answers again; errors are logged once
// per interval, not per request.
package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Policy is a class of answers with one lifetime.
type Policy struct {
	Name string
	TTL  time.Duration
}

// Entry is one cached answer.
type Entry struct {
	Status      int
	ContentType string
	ETag        string
	Body        []byte
	// Gzip, when set, is Body gzip-compressed (by the filler, once), so
	// hits never compress; GzipETag is that representation's own strong
	// validator. Both are kept in each tier, Redis included.
	Gzip     []byte
	GzipETag string
	ttl      time.Duration
	// For FetchKept: the version the answer is known to hold at, and the
	// check of whether it still holds (in process only).
	version int64
	check   Check
}

// Scope says which writes invalidate an answer: every answer depends on
// the catalog; a user's own answers (recommendations) also on that user.
type Scope struct {
	UserID int64 // 0: catalog only
}

// Outcome tells how a Fetch was served.
type Outcome string

// Fetch outcomes.
const (
	HitLocal Outcome = "hit-local" // from the in-process tier
	HitRedis Outcome = "hit-redis" // from Redis (and now in-process too)
	Miss     Outcome = "miss"      // filled and stored
	Bypass   Outcome = "bypass"    // Redis is failing: filled, not stored
	// Revalidated: a kept answer made at an earlier version whose check
	// says it still holds (see FetchKept).
	Revalidated Outcome = "hit-revalidated"
)

// Options configures a Cache.
type Options struct {
	// Redis, when set, is the shared tier and holds the generation
	// counters; nil keeps everything in process (one instance only).
	Redis *redis.Client
	// Prefix namespaces the Redis keys (tests give each test its own).
	Prefix string
	// MaxEntries bounds the in-process tier (default 10,000).
	MaxEntries int
	// Clock drives the in-process TTLs (nil: the real clock).
	Clock otter.Clock
	// Log receives Redis failures, at most once per ErrorLogEvery
	// (default 30s), and recoveries.
	Log           *slog.Logger
	ErrorLogEvery time.Duration
	// Retry is how long to bypass Redis after it failed (default 1s).
	Retry time.Duration
	// OnResult and OnRedisError feed metrics (nil: none).
	OnResult     func(policy string, o Outcome)
	OnRedisError func()
}

// Cache is the two-tier answer cache. Safe for concurrent use.
type Cache struct {
	opts       Options
	local      *otter.Cache[string, Entry]
	catalogGen string // the catalog's generation key
	group      singleflight.Group

	// Generations when there is no Redis.
	genMu    sync.Mutex
	localGen map[string]uint64

	// Redis health.
	downUntil  atomic.Int64 // unix nanos; Redis is skipped before this
	failures   atomic.Int64 // since the last log line
	lastLog    atomic.Int64
	wasDown    atomic.Bool
	pendingMu  sync.Mutex
	pendingGen map[string]bool // bumps that failed, retried on recovery

	runState
}

// New returns a cache.
func New(opts Options) (*Cache, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10_000
	}
	if opts.ErrorLogEvery <= 0 {
		opts.ErrorLogEvery = 30 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	local, err := otter.New(&otter.Options[string, Entry]{
		MaximumSize:      opts.MaxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, Entry]) time.Duration { return e.Value.ttl }),
		Clock:            opts.Clock,
	})
	if err != nil {
		return nil, err
	}
	c := &Cache{opts: opts, local: local, catalogGen: opts.Prefix + "gen:catalog", localGen: map[string]uint64{},
		pendingGen: map[string]bool{}}
	if opts.Redis != nil {
		c.checked.Store(-1)
		opts.Redis.AddHook(runWatch{c})
	}
	return c, nil
}

// Shared reports whether a Redis tier is configured (false for a nil
// Cache: caching turned off).
func (c *Cache) Shared() bool { return c != nil && c.opts.Redis != nil }

func (c *Cache) genKeys(s Scope) []string {
	keys := []string{c.catalogGen}
	if s.UserID != 0 {
		keys = append(keys, c.userGen(s.UserID))
	}
	return keys
}

func (c *Cache) userGen(id int64) string {
	return c.opts.Prefix + "gen:user:" + strconv.FormatInt(id, 10)
}

// generations returns the current counters of scope, ok false when Redis
// cannot be asked (the caller then bypasses the cache).
func (c *Cache) generations(ctx context.Context, s Scope) (string, bool) {
	if c.opts.Redis == nil {
		// Every hit passes here: no key building for the catalog's.
		c.genMu.Lock()
		defer c.genMu.Unlock()
		var buf [48]byte
		g := strconv.AppendUint(buf[:0], c.localGen[c.catalogGen], 10)
		g = append(g, '.')
		if s.UserID != 0 {
			g = strconv.AppendUint(g, c.localGen[c.userGen(s.UserID)], 10)
			g = append(g, '.')
		}
		return string(g), true
	}
	keys := c.genKeys(s)
	if !c.redisUsable() {
		return "", false
	}
	ctx = context.WithoutCancel(ctx) // a client hanging up is not a Redis failure
	c.flushPending(ctx)
	// The epoch changes whenever Redis loses its counters (a restart
	// without persistence, a flush), so generations never repeat and
	// answers cached under old ones are never served again. The run ID
	// covers a restart that restored older counters (see run.go); it is
	// checked again when the read dialed a connection.
	epochKey := c.opts.Prefix + "gen:epoch"
	var run string
	var vals []any
	for try := 0; ; try++ {
		var err error
		if run, err = c.syncRun(ctx); err == nil {
			vals, err = c.opts.Redis.MGet(ctx, append([]string{epochKey}, keys...)...).Result()
		}
		if err != nil {
			c.redisFailed(err)
			return "", false
		}
		if !c.runStale() {
			break
		}
		if try == 2 { // connections keep being dialed: do not trust them
			c.redisFailed(errors.New("cache: redis connections keep failing"))
			return "", false
		}
	}
	if vals[0] == nil {
		if err := c.opts.Redis.SetNX(ctx, epochKey, strconv.FormatInt(time.Now().UnixNano(), 36), 0).Err(); err != nil {
			c.redisFailed(err)
			return "", false
		}
		var err error
		if vals, err = c.opts.Redis.MGet(ctx, append([]string{epochKey}, keys...)...).Result(); err != nil {
			c.redisFailed(err)
			return "", false
		}
	}
	c.redisOK()
	g := run + "."
	for _, v := range vals {
		s, _ := v.(string) // nil (never bumped) counts as 0
		g += s + "."
	}
	return g, true
}

// Fetch returns the answer for key under policy and scope: from the
// in-process tier, from Redis, or from fill (run once for concurrent
// misses of one key). Entries whose Status is not 200 are returned but
// never stored. fill's error is returned as is.
func (c *Cache) Fetch(ctx context.Context, p Policy, s Scope, key string, fill func(context.Context) (Entry, error)) (Entry, Outcome, error) {
	gen, ok := c.generations(ctx, s)
	if !ok {
		e, err := fill(ctx)
		c.result(p, Bypass)
		return e, Bypass, err
	}
	owner := ""
	if s.UserID != 0 { // a user's answers are theirs alone
		owner = "u" + strconv.FormatInt(s.UserID, 10) + ":"
	}
	// v2: entries carry a gzip representation (see encode); v1 entries
	// left in Redis by older builds are never read.
	full := c.opts.Prefix + "v2:" + p.Name + ":" + owner + gen + ":" + key
	if e, ok := c.local.GetIfPresent(full); ok {
		c.result(p, HitLocal)
		return e, HitLocal, nil
	}
	type answer struct {
		e Entry
		o Outcome
	}
	v, err, _ := c.group.Do(full, func() (any, error) {
		if e, ok := c.fromRedis(ctx, full, p); ok {
			c.local.Set(full, e)
			return answer{e, HitRedis}, nil
		}
		e, err := fill(ctx)
		if err != nil {
			return nil, err
		}
		if e.Status == 200 {
			e.ttl = p.TTL
			c.local.Set(full, e)
			c.toRedis(ctx, full, e)
		}
		return answer{e, Miss}, nil
	})
	if err != nil {
		return Entry{}, Miss, err
	}
	a := v.(answer)
	c.result(p, a.o)
	return a.e, a.o, nil
}

func (c *Cache) result(p Policy, o Outcome) {
	if c.opts.OnResult != nil {
		c.opts.OnResult(p.Name, o)
	}
}

func (c *Cache) fromRedis(ctx context.Context, key string, p Policy) (Entry, bool) {
	if c.opts.Redis == nil || !c.redisUsable() {
		return Entry{}, false
	}
	data, err := c.opts.Redis.Get(context.WithoutCancel(ctx), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false
	} else if err != nil {
		c.redisFailed(err)
		return Entry{}, false
	}
	e, err := decode(data)
	if err != nil {
		return Entry{}, false
	}
	e.ttl = p.TTL
	return e, true
}

func (c *Cache) toRedis(ctx context.Context, key string, e Entry) {
	if c.opts.Redis == nil || !c.redisUsable() {
		return
	}
	if err := c.opts.Redis.Set(context.WithoutCancel(ctx), key, encode(e), e.ttl).Err(); err != nil {
		c.redisFailed(err)
	}
}

// Invalidate makes every answer of scope stale, on every instance sharing
// the Redis tier, before it returns. A failing Redis is logged (and the
// bump retried once it answers); it never fails the write.
func (c *Cache) Invalidate(ctx context.Context, s Scope) {
	keys := c.genKeys(s)
	if s.UserID != 0 {
		keys = keys[1:] // a user's own answers only
	}
	if c.opts.Redis == nil {
		c.genMu.Lock()
		for _, k := range keys {
			c.localGen[k]++
		}
		c.genMu.Unlock()
		return
	}
	ctx = context.WithoutCancel(ctx) // the write committed: its bump must happen
	pipe := c.opts.Redis.TxPipeline()
	for _, k := range keys {
		pipe.Incr(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		c.redisFailed(err)
		c.pendingMu.Lock()
		for _, k := range keys {
			c.pendingGen[k] = true
		}
		c.pendingMu.Unlock()
		c.kickFlusher()
	}
}

// flushPending retries bumps that failed while Redis was down.
func (c *Cache) flushPending(ctx context.Context) {
	c.pendingMu.Lock()
	defer c.pendingMu.Unlock()
	for k := range c.pendingGen {
		if err := c.opts.Redis.Incr(ctx, k).Err(); err != nil {
			return
		}
		delete(c.pendingGen, k)
	}
}

func (c *Cache) redisUsable() bool { return time.Now().UnixNano() >= c.downUntil.Load() }

// redisFailed records a failure: Redis is skipped for Retry, and the error
// is logged at most once per ErrorLogEvery.
func (c *Cache) redisFailed(err error) {
	now := time.Now()
	c.downUntil.Store(now.Add(c.opts.Retry).UnixNano())
	c.wasDown.Store(true)
	if c.opts.OnRedisError != nil {
		c.opts.OnRedisError()
	}
	n := c.failures.Add(1)
	last := c.lastLog.Load()
	if now.UnixNano()-last >= int64(c.opts.ErrorLogEvery) && c.lastLog.CompareAndSwap(last, now.UnixNano()) {
		c.failures.Store(0)
		c.opts.Log.Error("redis unavailable; serving from the database", slog.Any("err", err),
			slog.Int64("failures_since_last_report", n))
	}
}

func (c *Cache) redisOK() {
	if c.wasDown.CompareAndSwap(true, false) {
		// Writes elsewhere during the outage may not have reached us.
		c.local.InvalidateAll()
		c.opts.Log.Info("redis is back; caching again")
	}
}

// formatV2 starts every encoded entry; decode rejects anything else.
const formatV2 = 2

// encode: format byte, status (2 bytes), content type and ETag (1-byte
// lengths), body (4-byte length), gzip ETag (1-byte length), gzip body
// (the rest; empty when there is none).
func encode(e Entry) []byte {
	b := make([]byte, 0, 10+len(e.ContentType)+len(e.ETag)+len(e.Body)+len(e.GzipETag)+len(e.Gzip))
	b = append(b, formatV2)
	b = binary.BigEndian.AppendUint16(b, uint16(e.Status))
	b = append(b, byte(len(e.ContentType)))
	b = append(b, e.ContentType...)
	b = append(b, byte(len(e.ETag)))
	b = append(b, e.ETag...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Body)))
	b = append(b, e.Body...)
	b = append(b, byte(len(e.GzipETag)))
	b = append(b, e.GzipETag...)
	return append(b, e.Gzip...)
}

var errBadEntry = errors.New("cache: truncated entry or unknown format")

func decode(b []byte) (Entry, error) {
	r := entryReader{rest: b}
	if r.uint(1) != formatV2 {
		return Entry{}, errBadEntry
	}
	var e Entry
	e.Status = r.uint(2)
	e.ContentType = string(r.take(r.uint(1)))
	e.ETag = string(r.take(r.uint(1)))
	e.Body = r.take(r.uint(4))
	e.GzipETag = string(r.take(r.uint(1)))
	if r.bad {
		return Entry{}, errBadEntry
	}
	if len(r.rest) > 0 {
		e.Gzip = r.rest
	}
	return e, nil
}

// entryReader reads encode's fields; once it runs out of bytes every read
// is empty and bad is set.
type entryReader struct {
	rest []byte
	bad  bool
}

func (r *entryReader) take(n int) []byte {
	if r.bad || n > len(r.rest) {
		r.bad = true
		return nil
	}
	v := r.rest[:n:n]
	r.rest = r.rest[n:]
	return v
}

// uint reads a big-endian unsigned integer of n (1, 2 or 4) bytes.
func (r *entryReader) uint(n int) int {
	v := 0
	for _, c := range r.take(n) {
		v = v<<8 | int(c)
	}
	return v
}

// Health is "ok" when the cache works (in process, or with Redis
// answering) and "unavailable" when Redis does not answer (reads then go
// to the database).
func (c *Cache) Health(ctx context.Context) string {
	if c.opts.Redis == nil {
		return "ok"
	}
	if err := c.opts.Redis.Ping(ctx).Err(); err != nil {
		return "unavailable"
	}
	return "ok"
}
