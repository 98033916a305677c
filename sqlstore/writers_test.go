package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// ratingCount reads movie id's stored rating_count.
func ratingCount(t *testing.T, s *sqlstore.Store, id int64) int {
	t.Helper()
	var n int
	if err := s.Conn().QueryRow(context.Background(), `SELECT rating_count FROM movies WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRatingWritersWaitTheirTurn: a rating write that finds every turn
// taken waits (without a connection) until its statement deadline, then
// fails as unavailable (503) having written nothing, or returns the
// caller's own error when the caller gives up first; once a turn is free
// it goes through. On both backends.
func TestRatingWritersWaitTheirTurn(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if _, err := s.Import(ctx, storetest.Fixture(5), nil); err != nil {
			t.Fatal(err)
		}
		u, err := s.CreateUser(ctx, movierec.User{Username: "waiter", Email: "waiter@example.com", IsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		s.LimitRatingWriters(2)
		s.SetDeadlines(sqlstore.Deadlines{Statement: 200 * time.Millisecond})
		before := ratingCount(t, s, 1)

		release := sqlstore.HoldRatingSlots(s)
		_, _, err = s.RateMovie(ctx, u.ID, 1, 4, "")
		if !errors.Is(err, movierec.ErrStoreUnavailable) {
			t.Errorf("rating while every turn is taken: %v, want ErrStoreUnavailable", err)
		}
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := s.RateMovie(gone, u.ID, 1, 4, ""); !errors.Is(err, context.Canceled) || errors.Is(err, movierec.ErrStoreUnavailable) {
			t.Errorf("rating for a caller that gave up: %v, want context.Canceled only", err)
		}
		if err := s.DeleteRating(ctx, u.ID, 1); !errors.Is(err, movierec.ErrStoreUnavailable) {
			t.Errorf("deleting while every turn is taken: %v, want ErrStoreUnavailable", err)
		}
		if n := ratingCount(t, s, 1); n != before {
			t.Errorf("rating_count %d → %d after refused writes", before, n)
		}
		release()

		if _, _, err := s.RateMovie(ctx, u.ID, 1, 4, ""); err != nil {
			t.Fatalf("rating once turns are free: %v", err)
		}
		if n := ratingCount(t, s, 1); n != before+1 {
			t.Errorf("rating_count %d → %d after one rating", before, n)
		}
	})
}

// TestRatingWritersLimit: with the limit at 3, twelve users rating one
// movie whose row another transaction holds put exactly 3 transactions
// in PostgreSQL waiting for it (the other nine wait their turn in the
// store, holding no connection); released, all twelve are stored.
func TestRatingWritersLimit(t *testing.T) {
	// A pool with room for every writer, so that only the limit stops them.
	s := storetest.OpenPostgresWith(t, func(c *postgres.Config) { c.MaxConns = 20 })
	ctx := context.Background()
	if _, err := s.Import(ctx, storetest.Fixture(5), nil); err != nil {
		t.Fatal(err)
	}
	const writers = 12
	var users []int64
	for i := range writers {
		u, err := s.CreateUser(ctx, movierec.User{Username: fmt.Sprintf("w%d", i), Email: fmt.Sprintf("w%d@example.com", i), IsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	s.LimitRatingWriters(3)
	before := ratingCount(t, s, 1)

	// Another transaction holds movie 1's row.
	locked, unlock, lockDone := make(chan int, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		lockDone <- s.Conn().InTx(ctx, func(tx sqlstore.DB) error {
			var pid int
			if err := tx.QueryRow(ctx, `SELECT pg_backend_pid() FROM movies WHERE id = 1 FOR UPDATE`).Scan(&pid); err != nil {
				return err
			}
			locked <- pid
			<-unlock
			return nil
		})
	}()
	var holder int
	select {
	case holder = <-locked:
	case err := <-lockDone:
		t.Fatalf("locking movie 1: %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for _, id := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.RateMovie(ctx, id, 1, 3.5, "")
			errs <- err
		}()
	}
	waiting := func() int {
		var n int
		// Waiters for a row queue behind each other: count the chain.
		if err := s.Conn().QueryRow(ctx, `WITH RECURSIVE chain(pid) AS (SELECT $1::int
			UNION SELECT a.pid FROM pg_stat_activity a, chain WHERE chain.pid = ANY(pg_blocking_pids(a.pid)))
			SELECT count(*) - 1 FROM chain`, holder).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	most := 0
	for deadline := time.Now().Add(10 * time.Second); most < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		most = max(most, waiting())
	}
	// Keep looking a while: no fourth writer may reach the database.
	for range 30 {
		most = max(most, waiting())
		time.Sleep(10 * time.Millisecond)
	}
	if most != 3 {
		t.Errorf("%d rating writes waited for the row inside PostgreSQL at once, want 3 (the limit)", most)
	}
	if len(errs) > 0 {
		t.Errorf("a rating write finished while the row was held: %v", <-errs)
	}
	close(unlock)
	if err := <-lockDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("rating write: %v", err)
		}
	}
	if n := ratingCount(t, s, 1); n != before+writers {
		t.Errorf("rating_count %d → %d after %d new ratings", before, n, writers)
	}
}
