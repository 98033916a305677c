package cache

import (
	"context"
	"strconv"
)

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

// Check tells whether a kept answer (see FetchKept) still holds; when it
// does, it also returns the check to use the next time.
type Check func() (next Check, ok bool)

// FetchKept is FetchLocal for answers that can tell whether they still
// hold. Each key keeps one answer, with the version it is known to hold
// at and a Check. A request at that version or an older one is a hit; at
// a newer version the check runs (once for concurrent requests), and
// when the answer still holds it is served again (Revalidated) instead of
// being made again by fill. fill returns the answer and its check (nil:
// the answer cannot tell, and is made again at every new version).
// Entries whose Status is not 200 are never stored.
func (c *Cache) FetchKept(ctx context.Context, p Policy, key string, version int64, fill func(context.Context) (Entry, Check, error)) (Entry, Outcome, error) {
	full := c.opts.Prefix + "kept:" + p.Name + ":" + key
	if e, ok := c.local.GetIfPresent(full); ok && e.version >= version {
		c.result(p, HitLocal)
		return e, HitLocal, nil
	}
	type answer struct {
		e Entry
		o Outcome
	}
	v, err, _ := c.group.Do(full+"\x00"+strconv.FormatInt(version, 10), func() (any, error) {
		if e, ok := c.local.GetIfPresent(full); ok {
			if e.version >= version { // refreshed meanwhile
				return answer{e, HitLocal}, nil
			}
			if e.check != nil {
				if next, ok := e.check(); ok {
					e.check, e.version = next, version
					c.local.Set(full, e)
					return answer{e, Revalidated}, nil
				}
			}
		}
		e, check, err := fill(ctx)
		if err != nil {
			return nil, err
		}
		if e.Status == 200 {
			e.ttl, e.version, e.check = p.TTL, version, check
			c.local.Set(full, e)
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
