package cache

import "context"

// FetchLocal is Fetch for answers whose key already names the version of
// the data they were made from (the in-memory catalog's versions): no
// generation counters are read and Redis is never asked, since a write
// changes the key instead of invalidating entries, and every instance can
// recompute such an answer from its own memory faster than it could fetch
// it from Redis. Entries whose Status is not 200 are never stored.
func (c *Cache) FetchLocal(ctx context.Context, p Policy, key string, fill func(context.Context) (Entry, error)) (Entry, Outcome, error) {
	full := c.opts.Prefix + "local:" + p.Name + ":" + key
	if e, ok := c.local.GetIfPresent(full); ok {
		c.result(p, HitLocal)
		return e, HitLocal, nil
	}
	v, err, _ := c.group.Do(full, func() (any, error) {
		e, err := fill(ctx)
		if err != nil {
			return nil, err
		}
		if e.Status == 200 {
			e.ttl = p.TTL
			c.local.Set(full, e)
		}
		return e, nil
	})
	if err != nil {
		return Entry{}, Miss, err
	}
	c.result(p, Miss)
	return v.(Entry), Miss, nil
}
