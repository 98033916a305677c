// Package observe measures movierec: Prometheus metrics, per-request
// statistics (database statements and time, for Server-Timing and the
// access log), request-scoped loggers, and the debug and slow-statement
// logs.
package observe

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// RequestStats accumulates what one request cost. Safe for concurrent use.
type RequestStats struct {
	queries   atomic.Int64
	dbNanos   atomic.Int64
	cache     atomic.Value // string
	storeDown atomic.Bool
}

// SetStoreUnavailable records that the request was refused because the
// database could not answer.
func (r *RequestStats) SetStoreUnavailable() { r.storeDown.Store(true) }

// StoreUnavailable reports whether SetStoreUnavailable was called.
func (r *RequestStats) StoreUnavailable() bool { return r.storeDown.Load() }

// SetCache records how the answer was cached (hit-local, miss, ...).
func (r *RequestStats) SetCache(outcome string) { r.cache.Store(outcome) }

// Cache is the recorded cache outcome, "" when none.
func (r *RequestStats) Cache() string {
	s, _ := r.cache.Load().(string)
	return s
}

// Queries is the number of statements the request ran.
func (r *RequestStats) Queries() int { return int(r.queries.Load()) }

// DBTime is the time the request spent in statements.
func (r *RequestStats) DBTime() time.Duration { return time.Duration(r.dbNanos.Load()) }

func (r *RequestStats) add(took time.Duration) {
	r.queries.Add(1)
	r.dbNanos.Add(int64(took))
}

type statsKey struct{}
type loggerKey struct{}

// WithRequestStats returns ctx carrying fresh request statistics.
func WithRequestStats(ctx context.Context) (context.Context, *RequestStats) {
	st := &RequestStats{}
	return context.WithValue(ctx, statsKey{}, st), st
}

// Stats returns the request statistics ctx carries, or nil.
func Stats(ctx context.Context) *RequestStats {
	st, _ := ctx.Value(statsKey{}).(*RequestStats)
	return st
}

// WithLogger returns ctx carrying a request's logger (with its request ID).
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger ctx carries, or fallback.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// Every lets a repeated log line through at most once per interval and
// counts the ones it held back, so an outage that fails every request
// logs a line per interval instead of one per request. The zero value
// lets every line through; its methods are safe for concurrent use.
type Every struct {
	Interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Allow reports whether a line may be logged now and, when it may, how
// many were held back since the last one.
func (e *Every) Allow(now time.Time) (ok bool, suppressed int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.last.IsZero() && now.Sub(e.last) < e.Interval {
		e.suppressed++
		return false, 0
	}
	e.last, suppressed, e.suppressed = now, e.suppressed, 0
	return true, suppressed
}
