package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// replicaSetup is a primary of the test's own with a streaming standby,
// and a store on both.
type replicaSetup struct {
	primary, standby *storetest.Cluster
	store            *sqlstore.Store
	user             movierec.User
}

func newReplicaSetup(t *testing.T, maxLag time.Duration) *replicaSetup {
	t.Helper()
	primary := storetest.OwnPostgres(t)
	standby := primary.Standby()
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: primary.URL(), ReplicaURLs: []string{standby.URL()},
		MaxReplicaLag: maxLag, ReplicaCheck: 50 * time.Millisecond, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Import(ctx, storetest.Fixture(12), nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, movierec.User{Username: "ann", Email: "ann@example.com", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	rs := &replicaSetup{primary: primary, standby: standby, store: s, user: u}
	// Reads that may lag get what the replica has: let it replay the set-up.
	v, err := s.CatalogVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica to replay the set-up", func() bool {
		st := rs.replica(t)
		return st.State == "ok" && st.Version >= v
	})
	return rs
}

// replica returns the store's one replica's state.
func (rs *replicaSetup) replica(t *testing.T) sqlstore.ReplicaStats {
	t.Helper()
	st := rs.store.ReplicaStats()
	if len(st) != 1 {
		t.Fatalf("ReplicaStats: %d replicas, want 1", len(st))
	}
	return st[0]
}

// waitFor polls cond until it holds (failing after 30 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("still waiting for %s after 30 s", what)
}

// standbySQL runs a statement on the standby itself.
func standbySQL(t *testing.T, c *storetest.Cluster, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// ratedBy reports whether a page of ratings holds one by user.
func ratedBy(p movierec.Page[movierec.Rating], user string, score float64) bool {
	return slices.ContainsFunc(p.Items, func(r movierec.Rating) bool { return r.Username == user && r.Score == score })
}

// TestReplicaReadYourWrites: reads marked MayLag go to the replica, and
// a read that names the version of a write (the catalog's version of the
// movie) sees the write even while the replica has not replayed it: the
// primary answers it then, and the replica again once it has.
func TestReplicaReadYourWrites(t *testing.T) {
	rs := newReplicaSetup(t, time.Minute)
	ctx := context.Background()
	s := rs.store

	// Lag-tolerant reads are the replica's.
	before := rs.replica(t).Reads
	if _, err := s.CatalogSnapshot(sqlstore.MayLag(ctx, 0), time.Hour); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.ForEachRating(ctx, func(movierec.DatasetRating) error { n++; return nil }); err != nil || n == 0 {
		t.Fatalf("ForEachRating: %d ratings, %v", n, err)
	}
	if got := rs.replica(t).Reads - before; got < 2 {
		t.Fatalf("the replica answered %d reads of a snapshot and the training data, want them all", got)
	}
	// Unmarked reads are the primary's.
	before = rs.replica(t).Reads
	if _, err := s.MovieRatings(ctx, 1, 0, 10); err != nil {
		t.Fatal(err)
	}
	if got := rs.replica(t).Reads - before; got != 0 {
		t.Fatalf("an unmarked read went to the replica (%d statements)", got)
	}

	// The replica stops replaying; a rating is written on the primary.
	standbySQL(t, rs.standby, `SELECT pg_wal_replay_pause()`)
	_, _, ch, err := s.RateMovieChange(ctx, rs.user.ID, 3, 4.5, "")
	if err != nil {
		t.Fatal(err)
	}
	// The writer's read, naming the write's version, sees it: from the
	// primary, since the replica has not replayed it.
	before = rs.replica(t).Reads
	page, err := s.MovieRatings(sqlstore.MayLag(ctx, ch.Version), 3, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !ratedBy(page, "ann", 4.5) {
		t.Fatalf("read-your-writes: the writer's rating is missing from the movie's ratings: %+v", page.Items)
	}
	if got := rs.replica(t).Reads - before; got != 0 {
		t.Fatalf("a replica that has not replayed version %d answered a read that needs it", ch.Version)
	}
	// A read that may lag is the replica's, and shows its older state:
	// the routing is real.
	page, err = s.MovieRatings(sqlstore.MayLag(ctx, 0), 3, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if ratedBy(page, "ann", 4.5) {
		t.Fatal("a paused replica showed a rating written after the pause: the read did not go to the replica")
	}

	// Replay resumes: the replica answers the version-naming read, with
	// the rating.
	standbySQL(t, rs.standby, `SELECT pg_wal_replay_resume()`)
	waitFor(t, "the replica to replay the rating", func() bool {
		before := rs.replica(t).Reads
		page, err := s.MovieRatings(sqlstore.MayLag(ctx, ch.Version), 3, 0, 50)
		return err == nil && ratedBy(page, "ann", 4.5) && rs.replica(t).Reads > before
	})
}

// TestReplicaBehindAtStart: a process that starts beside a replica far
// behind cannot measure its lag from its own WAL samples at once; it
// keeps the replica out ("unknown", then "lagging") rather than letting
// it answer as if caught up.
func TestReplicaBehindAtStart(t *testing.T) {
	rs := newReplicaSetup(t, 300*time.Millisecond)
	ctx := context.Background()
	standbySQL(t, rs.standby, `SELECT pg_wal_replay_pause()`)
	for i := range 20 {
		if _, _, err := rs.store.RateMovie(ctx, rs.user.ID, int64(1+i%12), float64(1+i%5), ""); err != nil {
			t.Fatal(err)
		}
	}
	// A second process starts now: the replica is behind its first sample.
	s, err := postgres.Open(ctx, postgres.Config{URL: rs.primary.URL(), ReplicaURLs: []string{rs.standby.URL()},
		MaxReplicaLag: 300 * time.Millisecond, ReplicaCheck: 50 * time.Millisecond, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// "unknown" until the bound has passed, "lagging" after (a slow
	// machine may get there first): never "ok".
	if st := s.ReplicaStats()[0]; st.State != "unknown" && st.State != "lagging" {
		t.Fatalf("a replica paused behind the primary is %q right after start, want unknown (or lagging)", st.State)
	}
	if _, err := s.CatalogSnapshot(sqlstore.MayLag(ctx, 0), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := s.ReplicaStats()[0].Reads; got != 0 {
		t.Fatalf("a replica of unknown lag answered %d reads", got)
	}
	waitFor(t, "the paused replica to be lagging", func() bool { return s.ReplicaStats()[0].State == "lagging" })
	standbySQL(t, rs.standby, `SELECT pg_wal_replay_resume()`)
	waitFor(t, "the resumed replica to be used", func() bool { return s.ReplicaStats()[0].State == "ok" })
}

// TestReplicaLagBound: a replica that replays further behind than the
// bound takes no reads (state "lagging") and takes them again once it
// has caught up.
func TestReplicaLagBound(t *testing.T) {
	rs := newReplicaSetup(t, 300*time.Millisecond)
	ctx := context.Background()
	waitFor(t, "the replica", func() bool { return rs.replica(t).State == "ok" })
	standbySQL(t, rs.standby, `SELECT pg_wal_replay_pause()`)
	// The primary writes on; the paused replica falls behind.
	for i := 0; rs.replica(t).State != "lagging"; i++ {
		if i > 300 {
			t.Fatalf("a replica paused for %d writes is still %q (lag %v)", i, rs.replica(t).State, rs.replica(t).Lag)
		}
		if _, _, err := rs.store.RateMovie(ctx, rs.user.ID, int64(1+i%12), float64(1+i%5), ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lag := rs.replica(t).Lag; lag < 300*time.Millisecond {
		t.Errorf("lagging with a lag of %v, under the bound", lag)
	}
	before := rs.replica(t).Reads
	if _, err := rs.store.CatalogSnapshot(sqlstore.MayLag(ctx, 0), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := rs.replica(t).Reads - before; got != 0 {
		t.Fatalf("a lagging replica answered %d statements", got)
	}
	standbySQL(t, rs.standby, `SELECT pg_wal_replay_resume()`)
	waitFor(t, "the replica to catch up", func() bool { return rs.replica(t).State == "ok" })
}

// TestReplicaFailover: readers keep reading through the replica being
// stopped, frozen and started again, without a single error; the primary
// answers meanwhile, and the replica is used again once it is back.
func TestReplicaFailover(t *testing.T) {
	rs := newReplicaSetup(t, time.Minute)
	ctx := context.Background()
	s := rs.store
	waitFor(t, "the replica", func() bool { return rs.replica(t).State == "ok" })

	var failures atomic.Int64
	var firstErr atomic.Value
	var reads atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	readers := []func() error{
		func() error { _, err := s.CatalogSnapshot(sqlstore.MayLag(ctx, 0), time.Hour); return err },
		func() error { _, err := s.MovieRatings(sqlstore.MayLag(ctx, 0), 5, 0, 20); return err },
		func() error {
			_, err := s.CatalogChanges(sqlstore.MayLag(ctx, 0), 0, 100)
			return err
		},
		func() error { _, err := s.Genre(sqlstore.MayLag(ctx, 0), 1); return err },
		func() error { return s.ForEachRating(ctx, func(movierec.DatasetRating) error { return nil }) },
	}
	for i, read := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := read(); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("reader %d: %w", i, err))
				}
				reads.Add(1)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	// A writer too, so the replica has something to fall behind on.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, _, err := s.RateMovie(ctx, rs.user.ID, int64(1+i%12), float64(1+i%5), ""); err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Errorf("writer: %w", err))
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	settle := func(what string) {
		t.Helper()
		n := reads.Load()
		waitFor(t, what, func() bool { return reads.Load() > n+50 })
	}
	settle("reads with the replica up")
	if rs.replica(t).Reads == 0 {
		t.Fatal("the replica answered nothing while up")
	}

	rs.standby.Stop()
	settle("reads with the replica stopped")
	if st := rs.replica(t); st.State != "unreachable" {
		t.Errorf("a stopped replica is %q, want unreachable", st.State)
	}
	rs.standby.Start()
	waitFor(t, "the restarted replica to be used", func() bool { return rs.replica(t).State == "ok" })
	used := rs.replica(t).Reads
	settle("reads with the replica back")
	if rs.replica(t).Reads <= used {
		t.Error("the replica is back but answers nothing")
	}

	rs.standby.Freeze()
	settle("reads with the replica frozen")
	if st := rs.replica(t); st.State != "unreachable" {
		t.Errorf("a frozen replica is %q, want unreachable", st.State)
	}
	rs.standby.Thaw()
	waitFor(t, "the thawed replica to be used", func() bool { return rs.replica(t).State == "ok" })
	settle("reads with the replica thawed")

	if n := failures.Load(); n > 0 {
		t.Fatalf("%d reads or writes failed across the replica's outages; the first: %v", n, firstErr.Load())
	}
	t.Logf("reads %d, the replica's %d, fallbacks to the primary %d", reads.Load(), rs.replica(t).Reads, rs.replica(t).Fallbacks)
}
