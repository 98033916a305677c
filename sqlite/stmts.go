package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// maxCachedStmts bounds the statement cache. The store's statements are
// fixed strings, far fewer than this; statements built at run time (IN
// lists of varying length) may take the rest, and past the bound
// statements are simply prepared for each use, as without a cache.
const maxCachedStmts = 256

// stmtCache keeps one prepared statement per query text, so a query is
// parsed and planned once per pooled connection instead of once per use
// (database/sql prepares a Stmt again on each connection it runs on, and
// a transaction reuses the preparation of its connection).
type stmtCache struct {
	db        *sql.DB
	mu        sync.RWMutex
	m         map[string]*sql.Stmt
	preparing map[string]bool // being prepared in the background
	closed    bool
	// background counts the preparations running in the background: close
	// waits for them, since each holds a connection that database/sql
	// closes only when it is returned, after DB.Close has returned (a
	// late last close checkpoints the WAL under an exclusive lock).
	background sync.WaitGroup
}

// get returns the prepared statement for q, preparing it on first use; nil
// when q is not cached (yet): the cache is full, preparing failed (the
// caller then runs q unprepared and sees the error there), or wait is
// false. A transaction must not wait, since preparing takes a connection
// of the pool and every one may be held by a transaction doing the same;
// without wait, q is prepared in the background for its next use.
func (c *stmtCache) get(ctx context.Context, q string, wait bool) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[q]
	full := len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	if !wait {
		c.mu.Lock()
		if c.preparing == nil {
			c.preparing = map[string]bool{}
		}
		start := !c.preparing[q] && !c.closed
		c.preparing[q] = true
		if start {
			c.background.Add(1)
		}
		c.mu.Unlock()
		if start {
			go func() {
				defer c.background.Done()
				c.prepare(context.Background(), q)
			}()
		}
		return nil
	}
	return c.prepare(ctx, q)
}

// prepare prepares q on the pool and caches it.
func (c *stmtCache) prepare(ctx context.Context, q string) *sql.Stmt {
	ctx, cancel := context.WithTimeout(ctx, prepareTimeout)
	defer cancel()
	st, err := c.db.PrepareContext(ctx, q)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.preparing, q)
	if err != nil {
		return nil
	}
	if prev, ok := c.m[q]; ok { // prepared concurrently
		st.Close()
		return prev
	}
	if len(c.m) >= maxCachedStmts || c.closed {
		st.Close()
		return nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st
}

// prepareTimeout bounds a preparation (it waits for a free connection).
const prepareTimeout = 5 * time.Second

// close waits for the background preparations and closes every cached
// statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.background.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// stmtQueryer runs queries through cached statements where it can: on the
// pool (tx nil) or within a transaction.
type stmtQueryer struct {
	cache *stmtCache
	tx    *sql.Tx
}

func (s stmtQueryer) stmt(ctx context.Context, q string) *sql.Stmt {
	st := s.cache.get(ctx, q, s.tx == nil)
	if st != nil && s.tx != nil {
		st = s.tx.StmtContext(ctx, st)
	}
	return st
}

func (s stmtQueryer) base() queryer {
	if s.tx != nil {
		return s.tx
	}
	return s.cache.db
}

func (s stmtQueryer) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.base().QueryContext(ctx, q, args...)
}

func (s stmtQueryer) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.base().QueryRowContext(ctx, q, args...)
}

func (s stmtQueryer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.base().ExecContext(ctx, q, args...)
}

func (s stmtQueryer) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return s.base().PrepareContext(ctx, q)
}
