package sqlstore

import (
	"context"
	"errors"
	"time"
)

// Reads that may lag. On PostgreSQL with read replicas (see
// postgres.Config.ReplicaURLs) a statement whose context is marked by
// MayLag may be answered by a healthy replica instead of the primary:
// one whose replay lag is within its bound and which has replayed the
// catalog change log up to the version the mark names. Everything else
// (writes, transactions, a user's own reads, unmarked reads) goes to the
// primary. Backends without replicas ignore the mark.
//
// A catalog version is the store's read-your-writes token: versions
// commit in order (see CatalogChanges), so a replica whose change log
// holds version v holds every write that committed with a version up to
// v. A reader that knows the version of the newest write it must see
// (the catalog's version of a movie, say) asks for at least that one,
// and gets the primary when no replica has it yet.

type mayLagKey struct{}

// LagMark is what MayLag puts in a context.
type LagMark struct {
	// MinVersion is the catalog version a replica must have replayed.
	MinVersion int64
}

// MayLag marks ctx: its reads may be answered by a replica that has
// replayed catalog version minVersion (0: any healthy replica).
func MayLag(ctx context.Context, minVersion int64) context.Context {
	return context.WithValue(ctx, mayLagKey{}, LagMark{MinVersion: max(minVersion, 0)})
}

// LagAllowed reports the mark MayLag put in ctx, if any.
func LagAllowed(ctx context.Context) (LagMark, bool) {
	m, ok := ctx.Value(mayLagKey{}).(LagMark)
	return m, ok
}

// primaryOnly drops ctx's MayLag mark: its reads go to the primary.
func primaryOnly(ctx context.Context) context.Context {
	if _, ok := LagAllowed(ctx); !ok {
		return ctx
	}
	return context.WithValue(ctx, mayLagKey{}, nil)
}

// ErrReplicaFailed is wrapped by errors of reads a replica was answering
// when it failed (it went down, froze past its health check, or cancelled
// the read for a conflict with recovery). Such a read can be run again
// on the primary: see retryOnPrimary.
var ErrReplicaFailed = errors.New("read replica failed")

// retryOnPrimary runs read with ctx and, when a replica answering it
// failed, once more on the primary: a replica that dies costs its
// readers time, not errors. read must have no effect besides its result
// (streaming callers retry only before their first row: see
// ForEachRating).
func retryOnPrimary[T any](ctx context.Context, read func(ctx context.Context) (T, error)) (T, error) {
	v, err := read(ctx)
	if err != nil && errors.Is(err, ErrReplicaFailed) && ctx.Err() == nil {
		return read(primaryOnly(ctx))
	}
	return v, err
}

// ReplicaStats describes one read replica.
type ReplicaStats struct {
	// Name is the replica's host:port/database (no credentials).
	Name string
	// State is "ok", "lagging" (replay behind the primary by more than
	// the bound), "unreachable" or "not a standby" (pg_is_in_recovery()
	// false: a promoted or misconfigured server, never read from), or
	// "unknown": before the first check, or while its lag cannot be told
	// (right after start it is behind every WAL position this process
	// has sampled, all younger than the bound). Only "ok" takes reads.
	State string
	// Lag is how far the replica's replay is behind the primary; Version
	// the newest catalog version it has replayed.
	Lag     time.Duration
	Version int64
	// Reads counts statements answered by the replica; Fallbacks reads
	// it failed, which the primary answered again.
	Reads, Fallbacks int64
	// Pool is the replica's connection pool.
	Pool PoolStats
	// CheckedAt is when the last health check ended; Err its error.
	CheckedAt time.Time
	Err       string
}

// replicaStatser is implemented by backends with read replicas.
type replicaStatser interface{ ReplicaStats() []ReplicaStats }

// ReplicaStats reports the read replicas' states (nil without replicas).
func (s *Store) ReplicaStats() []ReplicaStats {
	if st, ok := s.raw.(replicaStatser); ok {
		return st.ReplicaStats()
	}
	return nil
}
