package cache

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// setIfGreater stores ARGV[1] in KEYS[1] unless it already holds a greater
// number, so concurrent writers never move the marker backwards.
var setIfGreater = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return cur`)

// errNoRedis is CatalogVersion's answer without a Redis tier.
var errNoRedis = errors.New("cache: no redis configured")

func (c *Cache) catalogVersionKey() string { return c.opts.Prefix + "catalog:version" }

// PublishCatalogVersion records, for every instance sharing Redis, that
// the catalog has reached version v (after a write of this instance). It
// never fails the write: a failing Redis is logged like other Redis
// failures, and readers then ask the database instead.
func (c *Cache) PublishCatalogVersion(ctx context.Context, v int64) {
	if c.opts.Redis == nil {
		return
	}
	if c.redisUsable() {
		err := setIfGreater.Run(context.WithoutCancel(ctx), c.opts.Redis, []string{c.catalogVersionKey()}, strconv.FormatInt(v, 10)).Err()
		if err == nil {
			return
		}
		c.redisFailed(err)
	}
	// Published later, in the background (see kickFlusher).
	for {
		cur := c.pendingVer.Load()
		if v <= cur || c.pendingVer.CompareAndSwap(cur, v) {
			break
		}
	}
	c.kickFlusher()
}

// CatalogVersion returns the newest catalog version any instance
// published (0 when none has). It fails without Redis, when Redis does
// not answer, and once after Redis restarted (its marker may have come
// back older than what was committed); callers then ask the database.
func (c *Cache) CatalogVersion(ctx context.Context) (int64, error) {
	if c.opts.Redis == nil {
		return 0, errNoRedis
	}
	if !c.redisUsable() {
		return 0, errors.New("cache: redis is failing")
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := c.syncRun(ctx); err != nil {
		c.redisFailed(err)
		return 0, err
	}
	if c.newRun.Swap(false) {
		return 0, errNewRun
	}
	s, err := c.opts.Redis.Get(ctx, c.catalogVersionKey()).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	} else if err != nil {
		c.redisFailed(err)
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}
