package catalog_test

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// countingSource is a catalog.Source that counts the reads a catalog makes
// besides the change log, and can write to the store just before a
// reload reads it (a write that commits between a catch-up's read of the
// log and its reload).
type countingSource struct {
	*sqlstore.Store
	snapshots, movies, taxonomy, changes atomic.Int64
	// beforeMovies, when set, runs at the start of the next CatalogMovies
	// (once).
	beforeMovies func()
}

func (s *countingSource) CatalogSnapshot(ctx context.Context, window time.Duration) (movierec.CatalogSnapshot, error) {
	s.snapshots.Add(1)
	return s.Store.CatalogSnapshot(ctx, window)
}

func (s *countingSource) CatalogMovies(ctx context.Context, since time.Time, ids []int64) (movierec.CatalogSnapshot, error) {
	s.movies.Add(1)
	if fn := s.beforeMovies; fn != nil {
		s.beforeMovies = nil
		fn()
	}
	return s.Store.CatalogMovies(ctx, since, ids)
}

func (s *countingSource) CatalogChanges(ctx context.Context, after int64, limit int) ([]movierec.CatalogChange, error) {
	s.changes.Add(1)
	return s.Store.CatalogChanges(ctx, after, limit)
}

func (s *countingSource) Genre(ctx context.Context, id int64) (movierec.Genre, error) {
	s.taxonomy.Add(1)
	return s.Store.Genre(ctx, id)
}

func (s *countingSource) Tag(ctx context.Context, id int64) (movierec.Tag, error) {
	s.taxonomy.Add(1)
	return s.Store.Tag(ctx, id)
}

// counted loads the fixture into s and returns a catalog loaded from it
// through a countingSource.
func counted(t *testing.T, s *sqlstore.Store) (*catalog.Catalog, *countingSource) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
		t.Fatal(err)
	}
	src := &countingSource{Store: s}
	c := catalog.New(src, catalog.Options{})
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return c, src
}

// sameAsFresh compares c's answers with those of a catalog freshly loaded
// from s, exactly: the detail and rating statistics of every movie, list
// pages in every rating-aggregate order, trending and top-rated rankings.
func sameAsFresh(t *testing.T, s *sqlstore.Store, c *catalog.Catalog) {
	t.Helper()
	ctx := context.Background()
	fresh := catalog.New(s, catalog.Options{})
	if err := fresh.Load(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := fresh.ListMovies(ctx, movierec.MovieFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all.Items {
		want, err := fresh.Movie(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Movie(ctx, m.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("movie %d (%v):\n got %+v\nwant %+v", m.ID, err, got, want)
		}
		ws, _ := fresh.MovieRatingStats(ctx, m.ID)
		gs, err := c.MovieRatingStats(ctx, m.ID)
		if err != nil || !reflect.DeepEqual(gs, ws) {
			t.Fatalf("stats of %d (%v): got %+v, want %+v", m.ID, err, gs, ws)
		}
	}
	for _, field := range []string{movierec.OrderPopularityScore, movierec.OrderAverageRating, movierec.OrderRatingCount} {
		for _, desc := range []bool{false, true} {
			f := movierec.MovieFilter{Ordering: []movierec.Order{{Field: field, Desc: desc}}, Limit: 100000}
			want, _ := fresh.ListMovies(ctx, f)
			got, _ := c.ListMovies(ctx, f)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("list by %s (desc %v) differs from a fresh load", field, desc)
			}
		}
		f := movierec.MovieFilter{MinRatingCount: 3, MinAverageRating: ptr(3.0), Ordering: []movierec.Order{{Field: field}}, Limit: 100000}
		want, _ := fresh.ListMovies(ctx, f)
		got, _ := c.ListMovies(ctx, f)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("list by %s with rating filters: got %v, want %v", field, storetest.MovieIDs(got.Items), storetest.MovieIDs(want.Items))
		}
	}
	for _, period := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		want, _ := fresh.TrendingMovies(ctx, period, 1000)
		got, _ := c.TrendingMovies(ctx, period, 1000)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trending %v:\n got %s\nwant %s", period, scored(got), scored(want))
		}
	}
	for _, minRatings := range []int{1, 5} {
		want, _ := fresh.TopRatedMovies(ctx, minRatings, 1000)
		got, _ := c.TopRatedMovies(ctx, minRatings, 1000)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("top-rated %d:\n got %s\nwant %s", minRatings, scored(got), scored(want))
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestRatingDeltas: a catch-up of rating writes only (ratings created,
// re-scored and deleted, on several movies, the newest rating deleted
// too) applies them in memory, reading nothing but the change log, and
// leaves the catalog equal to a fresh load, to the bit.
func TestRatingDeltas(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		c, src := counted(t, s)
		clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		s.SetClock(func() time.Time { clock = clock.Add(37 * time.Minute); return clock })
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		rate := func(user, movie int64, score float64) {
			t.Helper()
			_, _, err := s.RateMovie(ctx, user, movie, score, "")
			must(err)
		}
		// rated returns a movie the user has rated in the fixture.
		rated := func(user int64) int64 {
			t.Helper()
			page, err := s.UserRatings(ctx, user, 0, 1)
			must(err)
			if len(page.Items) == 0 {
				t.Fatalf("user %d has no ratings", user)
			}
			return page.Items[0].MovieID
		}
		versions := map[int64]int64{}
		for id := int64(1); id <= fixtureMovies; id++ {
			versions[id] = c.MovieVersion(id)
		}

		rounds := []func(){
			func() { // created, on several movies (multiples of 6 have no ratings)
				rate(1, 12, 4.5)
				rate(2, 12, 3)
				rate(3, 18, 1)
				rate(4, 24, 5)
				rate(4, 7, 2.5) // a created or re-scored rating of a rated movie
			},
			func() { // re-scored: a fixture rating and a new one
				rate(5, rated(5), 0.5)
				rate(2, 12, 3.5)
			},
			func() { // deleted: a fixture rating, a new one, then the newest
				must(s.DeleteRating(ctx, 6, rated(6)))
				must(s.DeleteRating(ctx, 3, 18))
				rate(7, 36, 2)
				must(s.DeleteRating(ctx, 7, 36))
			},
			func() { // everything on one movie in one batch
				rate(8, 12, 1.5)
				rate(8, 12, 2)
				rate(9, 12, 5)
				must(s.DeleteRating(ctx, 8, 12))
				must(s.DeleteRating(ctx, 1, 12))
			},
		}
		for i, round := range rounds {
			round()
			must(c.Sync(ctx))
			if n := src.movies.Load(); n != 0 {
				t.Fatalf("round %d: rating writes called CatalogMovies %d times", i, n)
			}
			if n, m := src.snapshots.Load(), src.taxonomy.Load(); n != 1 || m != 0 {
				t.Fatalf("round %d: rating writes read %d snapshots and %d genres or tags", i, n-1, m)
			}
			sameAsFresh(t, s, c)
		}
		for _, id := range []int64{7, 12, 18, 24, 36} {
			if c.MovieVersion(id) <= versions[id] {
				t.Errorf("movie %d: version %d did not move past %d", id, c.MovieVersion(id), versions[id])
			}
		}
		if c.MovieVersion(1) != versions[1] {
			t.Errorf("movie 1's version moved without a write")
		}
		if got, want := c.Version(), catalogVersionOf(t, s); got != want {
			t.Errorf("catalog version %d, log %d", got, want)
		}
		sameEverything(t, s, catalog.NewStore(s, c, nil), mrand.New(mrand.NewPCG(7, 8)), 100)
	})
}

func catalogVersionOf(t *testing.T, s *sqlstore.Store) int64 {
	t.Helper()
	v, err := s.CatalogVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRatingDeltaNotAppliedTwice: a rating write that a reload already
// holds is not applied again from its change, whether the change comes in
// the batch that reloads the movie (after a staff edit of it) or in a
// later one (it committed between the catch-up's read of the log and the
// reload).
func TestRatingDeltaNotAppliedTwice(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		c, src := counted(t, s)
		s.SetClock(func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) })
		edit := func(id int64, title string) {
			t.Helper()
			m, err := s.Movie(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			m.Title = title
			if _, err := s.UpdateMovie(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		check := func(id int64) {
			t.Helper()
			want, err := s.MovieRatingStats(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.MovieRatingStats(ctx, id)
			if err != nil || fmt.Sprint(got.Count, got.Distribution, *got.Average) != fmt.Sprint(want.Count, want.Distribution, *want.Average) {
				t.Fatalf("movie %d: stats %+v (%v), the store's %+v", id, got, err, want)
			}
			sameAsFresh(t, s, c)
		}

		// One batch: a rating, a staff edit, another rating.
		if _, _, err := s.RateMovie(ctx, 1, 9, 4, ""); err != nil {
			t.Fatal(err)
		}
		edit(9, "Edited nine")
		if _, _, err := s.RateMovie(ctx, 2, 9, 0.5, ""); err != nil {
			t.Fatal(err)
		}
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if n := src.movies.Load(); n != 1 {
			t.Fatalf("a staff edit reloaded with %d CatalogMovies calls, want 1", n)
		}
		check(9)

		// A rating commits after the catch-up read the log and before the
		// reload of the edited movie: the reload holds it, and the next
		// catch-up must skip its change.
		edit(10, "Edited ten")
		src.beforeMovies = func() {
			if _, _, err := s.RateMovie(ctx, 3, 10, 5, ""); err != nil {
				t.Error(err)
			}
		}
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		reloaded := c.MovieVersion(10)
		if v := c.Version(); reloaded <= v {
			t.Fatalf("movie 10 reloaded at version %d; the rating after the catch-up's %d is in it", reloaded, v)
		}
		check(10)
		if err := c.Sync(ctx); err != nil { // reads the rating's change
			t.Fatal(err)
		}
		if c.Version() != reloaded || c.MovieVersion(10) != reloaded {
			t.Fatalf("after the rating's change: catalog version %d, movie version %d; want both %d", c.Version(), c.MovieVersion(10), reloaded)
		}
		if n := src.movies.Load(); n != 2 {
			t.Fatalf("%d CatalogMovies calls, want 2 (the rating's change reads nothing)", n)
		}
		check(10)
	})
}

// TestOwnWrites: this instance's rating writes (created, re-scored and
// deleted, one after another and from concurrent writers) show in the
// catalog as soon as they return, without a Sync: in order, they are
// applied from what they recorded, reading neither the change log nor
// the movie. A write of another instance leaves a version missing; this
// instance's next write then catches up from the log and shows both.
func TestOwnWrites(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		c, src := counted(t, s)
		cs := catalog.NewStore(s, c, nil)
		for i := range 30 {
			user, movie := int64(1+i%12), int64(1+i%17)
			if _, _, err := cs.RateMovie(ctx, user, movie, float64(1+i%10)/2, ""); err != nil {
				t.Fatal(err)
			}
		}
		for _, movie := range []int64{1, 2, 3} { // rated by users 1, 2, 3 above
			if err := cs.DeleteRating(ctx, movie, movie); err != nil {
				t.Fatal(err)
			}
		}
		if n, m := src.changes.Load(), src.movies.Load(); n != 0 || m != 0 {
			t.Fatalf("own writes in order read the change log %d times and reloaded movies %d times, want 0", n, m)
		}
		sameAsFresh(t, s, c)

		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 12 {
					movie := int64(1 + (i*7+g)%20)
					if _, _, err := cs.RateMovie(ctx, int64(1+g), movie, float64(1+(i+g)%10)/2, ""); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		sameAsFresh(t, s, c)

		// Another instance's write (straight to the store): not here yet.
		if _, _, err := s.RateMovie(ctx, 9, 40, 4.5, ""); err != nil {
			t.Fatal(err)
		}
		before := src.changes.Load()
		if _, _, err := cs.RateMovie(ctx, 10, 41, 1, ""); err != nil {
			t.Fatal(err)
		}
		if src.changes.Load() == before {
			t.Fatal("an own write after a missing version did not read the change log")
		}
		sameAsFresh(t, s, c)
	})
}

// TestRolledBackVersions: a version taken by a transaction that rolled
// back never appears in the log. One catch-up past it settles it (the log
// becomes visible in commit order), so later freshness checks do not read
// the log again for it, and the write after it is applied.
func TestRolledBackVersions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
			t.Fatal(err)
		}
		src := &countingSource{Store: s}
		c := catalog.New(src, catalog.Options{Probe: s.CatalogVersion})
		if err := c.Load(ctx); err != nil {
			t.Fatal(err)
		}
		rollBack := errors.New("roll back")
		err := s.Conn().InTx(ctx, func(tx sqlstore.DB) error {
			var v int64
			if err := tx.QueryRow(ctx, `INSERT INTO catalog_changes (kind, entity_id, changed_at) VALUES ('movie', 1, $1)
				RETURNING version`, time.Now().UTC()).Scan(&v); err != nil {
				return err
			}
			return rollBack
		})
		if !errors.Is(err, rollBack) {
			t.Fatalf("the rolled-back transaction: %v", err)
		}
		if _, _, err := s.RateMovie(ctx, 1, 2, 4, ""); err != nil { // another instance's write
			t.Fatal(err)
		}
		if err := c.EnsureFresh(ctx); err != nil {
			t.Fatal(err)
		}
		reads := src.changes.Load()
		for range 5 {
			if err := c.EnsureFresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := src.changes.Load() - reads; n != 0 {
			t.Fatalf("freshness checks read the log %d more times after a rolled-back version", n)
		}
		sameAsFresh(t, s, c)
	})
}

// TestSharedFreshness: without a Probe, a Shared catalog's freshness check
// is one read of the change log, which also brings what another instance
// committed: after EnsureFreshMovie the movie shows a write made elsewhere
// at once (no poll ran), and each check reads the log once and nothing
// else. With Probe failing (Redis gone), it falls back to the log.
func TestSharedFreshness(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
			t.Fatal(err)
		}
		for i, probe := range []func(context.Context) (int64, error){nil, func(context.Context) (int64, error) {
			return 0, errors.New("redis is gone")
		}} {
			src := &countingSource{Store: s}
			c := catalog.New(src, catalog.Options{Shared: true, Probe: probe, Poll: time.Hour})
			if err := c.Load(ctx); err != nil {
				t.Fatal(err)
			}
			before, _ := c.Movie(ctx, 7)
			if _, _, err := s.RateMovie(ctx, 2, 7, []float64{0.5, 5}[i], ""); err != nil { // another instance's write
				t.Fatal(err)
			}
			if err := c.EnsureFreshMovie(ctx, 7); err != nil {
				t.Fatal(err)
			}
			after, _ := c.Movie(ctx, 7)
			want, err := s.Movie(ctx, 7)
			if err != nil {
				t.Fatal(err)
			}
			if after.RatingCount != want.RatingCount || after.AverageRating != want.AverageRating || after.AverageRating == before.AverageRating {
				t.Fatalf("after EnsureFreshMovie: %+v; the store has %+v (before: %+v)", after, want, before)
			}
			reads, snaps, movies := src.changes.Load(), src.snapshots.Load(), src.movies.Load()
			for range 3 {
				if err := c.EnsureFresh(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := src.changes.Load() - reads; n != 3 {
				t.Errorf("3 freshness checks read the log %d times, want 3", n)
			}
			if src.snapshots.Load() != snaps || src.movies.Load() != movies {
				t.Errorf("freshness checks with nothing new read more than the log")
			}
			sameAsFresh(t, s, c)
		}
	})
}
