package sqlstore

import (
	"context"
	"errors"
)

// DefaultRatingWriters is how many rating writes a store runs at once
// unless LimitRatingWriters says otherwise.
const DefaultRatingWriters = 4

// LimitRatingWriters lets at most n rating writes (RateMovie,
// DeleteRating and their Change forms) of this store run at once; the
// others wait for a turn, without a database connection, until one is
// free or their statement deadline (see Deadlines) passes, which fails
// them with an error wrapping movierec.ErrStoreUnavailable. n ≤ 0 lifts
// the limit. Call it before serving.
//
// Every rating write locks its movie's row until it commits and, on
// PostgreSQL, queues for the change log's commit-order lock: writes
// beyond a few only wait inside the database, holding pooled connections
// that reads need, and the waiting itself costs the database CPU. Under
// the two-instance mixed load with 5% rating writes on this project's
// 2-core machine, a limit of 4 took PostgreSQL's CPU from 59–71 to 51–54
// µs per request and the load's p99 from 91–95 to 47–60 ms, at the same
// throughput.
func (s *Store) LimitRatingWriters(n int) {
	if n <= 0 {
		s.ratingSlots = nil
		return
	}
	s.ratingSlots = make(chan struct{}, n)
}

// ratingTx is InTx for a rating write: it first takes a turn (see
// LimitRatingWriters). A write that had to wait gets one statement
// deadline for the wait and its transaction together, so it is answered
// within that deadline as any other write is.
func (s *Store) ratingTx(ctx context.Context, fn func(DB) error) error {
	slots := s.ratingSlots
	if slots == nil {
		return s.conn.InTx(ctx, fn)
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
		return s.conn.InTx(ctx, fn)
	default:
	}
	bctx, cancel := s.guard.bound(ctx)
	defer cancel()
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-bctx.Done():
		return s.guard.classify(ctx, errors.Join(errors.New("waiting for a turn to write a rating"), bctx.Err()))
	}
	// classify against the caller's context: the shared deadline passing
	// means unavailable, the caller giving up does not.
	return s.guard.classify(ctx, s.conn.InTx(bctx, fn))
}
