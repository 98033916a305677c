package catalog_test

import (
	"context"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

const fixtureMovies = 150

// loaded returns a store with the fixture and a catalog store on it.
func loaded(t *testing.T, s *sqlstore.Store) *catalog.Store {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
		t.Fatal(err)
	}
	c := catalog.New(s, catalog.Options{})
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return catalog.NewStore(s, c, nil)
}

// randomFilter draws a list request using every filter and ordering.
func randomFilter(r *mrand.Rand) movierec.MovieFilter {
	var f movierec.MovieFilter
	pick := func(p float64) bool { return r.Float64() < p }
	if pick(0.3) {
		f.Genres = append(f.Genres, storetest.FixtureGenres[r.IntN(len(storetest.FixtureGenres))])
		if pick(0.3) {
			f.Genres = append(f.Genres, strings.ToUpper(storetest.FixtureGenres[r.IntN(len(storetest.FixtureGenres))]))
		}
		if pick(0.05) {
			f.Genres = append(f.Genres, "No Such Genre")
		}
	}
	if pick(0.2) {
		f.Tags = append(f.Tags, storetest.FixtureTags[r.IntN(len(storetest.FixtureTags))])
	}
	if pick(0.25) {
		words := []string{"alpha", "ECHO", "ch", "e", "100%", "_", "pure_", "fun", "action", "slow", "o 1", "zzz", "hotel 7"}
		f.Search = words[r.IntN(len(words))]
	}
	if pick(0.15) {
		f.Year = 1980 + r.IntN(40)
	}
	if pick(0.2) {
		f.YearGTE = 1980 + r.IntN(40)
	}
	if pick(0.2) {
		f.YearLTE = 1980 + r.IntN(40)
	}
	fl := func(lo, hi float64) *float64 { v := lo + r.Float64()*(hi-lo); return &v }
	if pick(0.2) {
		f.IMDbRatingGTE = fl(1, 9)
	}
	if pick(0.2) {
		f.IMDbRatingLTE = fl(1, 9)
	}
	if pick(0.15) {
		f.PopularityGTE = fl(0, 3)
	}
	if pick(0.15) {
		f.PopularityLTE = fl(0, 5)
	}
	if pick(0.2) {
		f.MinAverageRating = fl(0, 5)
	}
	if pick(0.2) {
		f.MinRatingCount = r.IntN(6)
	}
	if pick(0.8) {
		for _, i := range r.Perm(len(movierec.OrderFields))[:1+r.IntN(2)] {
			f.Ordering = append(f.Ordering, movierec.Order{Field: movierec.OrderFields[i], Desc: pick(0.5)})
		}
	}
	f.Limit = 1 + r.IntN(30)
	f.Offset = r.IntN(3) * f.Limit
	if pick(0.1) {
		f.Offset = r.IntN(200)
	}
	return f
}

// sameList checks the catalog against the SQL store (the oracle) for f.
func sameList(t *testing.T, oracle *sqlstore.Store, c *catalog.Store, f movierec.MovieFilter) {
	t.Helper()
	ctx := context.Background()
	want, err := oracle.ListMovies(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ListMovies(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != want.Count {
		t.Fatalf("%+v: count %d, SQL says %d", f, got.Count, want.Count)
	}
	if f.Search != "" && len(f.Ordering) == 0 {
		// Relevance ranking is the catalog's own: compare the whole set.
		all := f
		all.Offset, all.Limit = 0, 1000
		w, _ := oracle.ListMovies(ctx, all)
		g, _ := c.ListMovies(ctx, all)
		if !slices.Equal(sortedIDs(g.Items), sortedIDs(w.Items)) {
			t.Fatalf("%+v: search matches %v, SQL says %v", f, sortedIDs(g.Items), sortedIDs(w.Items))
		}
		return
	}
	if !slices.Equal(storetest.MovieIDs(got.Items), storetest.MovieIDs(want.Items)) {
		t.Fatalf("%+v: ids %v, SQL says %v", f, storetest.MovieIDs(got.Items), storetest.MovieIDs(want.Items))
	}
	for i := range got.Items {
		sameMovie(t, got.Items[i], want.Items[i])
	}
}

func sortedIDs(ms []movierec.Movie) []int64 {
	return slices.Sorted(slices.Values(storetest.MovieIDs(ms)))
}

// sameMovie compares the list fields (and detail fields when present).
func sameMovie(t *testing.T, got, want movierec.Movie) {
	t.Helper()
	g, w := fmt.Sprintf("%v %v %v %v %v %v %v", got.ID, got.Title, deref(got.ReleaseYear), got.Genres, got.RatingCount, got.Tags, got.RatingDistribution),
		fmt.Sprintf("%v %v %v %v %v %v %v", want.ID, want.Title, deref(want.ReleaseYear), want.Genres, want.RatingCount, want.Tags, want.RatingDistribution)
	if g != w {
		t.Fatalf("movie differs:\n got %s\nwant %s", g, w)
	}
	if math.Abs(got.AverageRating-want.AverageRating) > 1e-9 || math.Abs(got.PopularityScore-want.PopularityScore) > 1e-9*max(1, want.PopularityScore) {
		t.Fatalf("movie %d aggregates: got avg %v pop %v, want avg %v pop %v", got.ID, got.AverageRating, got.PopularityScore, want.AverageRating, want.PopularityScore)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// sameEverything compares every catalog read with the SQL store's.
func sameEverything(t *testing.T, oracle *sqlstore.Store, c *catalog.Store, r *mrand.Rand, lists int) {
	t.Helper()
	ctx := context.Background()
	for range lists {
		sameList(t, oracle, c, randomFilter(r))
	}
	all, err := oracle.ListMovies(ctx, movierec.MovieFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all.Items {
		want, err := oracle.Movie(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Movie(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameMovie(t, got, want)
		ws, _ := oracle.MovieRatingStats(ctx, m.ID)
		gs, _ := c.MovieRatingStats(ctx, m.ID)
		if fmt.Sprint(gs.Count, gs.Distribution, gs.Average == nil) != fmt.Sprint(ws.Count, ws.Distribution, ws.Average == nil) {
			t.Fatalf("stats of %d: got %+v, want %+v", m.ID, gs, ws)
		}
	}
	for _, period := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		want, _ := oracle.TrendingMovies(ctx, period, 50)
		got, _ := c.TrendingMovies(ctx, period, 50)
		if scored(got) != scored(want) {
			t.Fatalf("trending %v:\n got %s\nwant %s", period, scored(got), scored(want))
		}
	}
	for _, minRatings := range []int{1, 3, 10} {
		want, _ := oracle.TopRatedMovies(ctx, minRatings, 30)
		got, _ := c.TopRatedMovies(ctx, minRatings, 30)
		if scored(got) != scored(want) {
			t.Fatalf("top-rated %d:\n got %s\nwant %s", minRatings, scored(got), scored(want))
		}
	}
	wg, _ := oracle.Genres(ctx, 0, 100)
	gg, _ := c.Genres(ctx, 0, 100)
	if fmt.Sprint(gg) != fmt.Sprint(wg) {
		t.Fatalf("genres:\n got %v\nwant %v", gg, wg)
	}
	for _, q := range []string{"", "s", "FUN", "nothing"} {
		wt, _ := oracle.Tags(ctx, q, 0, 100)
		gt, _ := c.Tags(ctx, q, 0, 100)
		if fmt.Sprint(gt) != fmt.Sprint(wt) {
			t.Fatalf("tags %q:\n got %v\nwant %v", q, gt, wt)
		}
	}
}

func scored(ms []movierec.ScoredMovie) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d:%.9f ", m.ID, m.Score)
	}
	return b.String()
}

// TestDifferential runs random filters through the catalog and the SQL
// store and compares the answers, before and after a random stream of
// writes of every kind.
func TestDifferential(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		c := loaded(t, s)
		r := mrand.New(mrand.NewPCG(1, 2))
		sameEverything(t, s, c, r, 400)

		users := []int64{1, 2, 3, 4, 5}
		later := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		s.SetClock(func() time.Time { later = later.Add(time.Hour); return later })
		for step := range 60 {
			movie := int64(1 + r.IntN(fixtureMovies))
			var err error
			switch k := r.IntN(10); {
			case k < 5:
				_, _, err = c.RateMovie(ctx, users[r.IntN(len(users))], movie, float64(1+r.IntN(10))/2, "")
			case k < 7:
				err = c.DeleteRating(ctx, users[r.IntN(len(users))], movie)
			case k == 7:
				m, gerr := c.Movie(ctx, movie)
				if gerr != nil {
					continue
				}
				m.Title = fmt.Sprintf("Renamed %d Echo", step)
				m.Genres = []movierec.Genre{{Name: storetest.FixtureGenres[r.IntN(len(storetest.FixtureGenres))]}}
				_, err = c.UpdateMovie(ctx, m)
			case k == 8:
				var g movierec.Genre
				g, err = c.CreateGenre(ctx, movierec.Genre{Name: fmt.Sprintf("Genre %d", step)})
				if err == nil && r.IntN(2) == 0 {
					err = c.DeleteGenre(ctx, g.ID)
				}
			default:
				if r.IntN(3) == 0 {
					err = c.DeleteMovie(ctx, movie)
				} else {
					_, err = c.CreateMovie(ctx, movierec.Movie{Title: fmt.Sprintf("New alpha %d", step),
						Genres: []movierec.Genre{{Name: "Drama"}}})
				}
			}
			if err != nil && movierec.ErrorCode(err) != movierec.ENOTFOUND {
				t.Fatalf("step %d: %v", step, err)
			}
			if step%10 == 9 {
				// Lists show ratings once they are applied (within the
				// catch-up interval); apply them now.
				if err := c.Catalog.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				sameEverything(t, s, c, r, 60)
			}
		}
	})
}

// TestTwoInstances: a write through one instance reaches the other one by
// its poll within a second, and at once when it catches up (Sync).
func TestTwoInstances(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sa, sb := storetest.OpenPair(t, backend)
			a := loaded(t, sa)
			cb := catalog.New(sb, catalog.Options{Poll: 50 * time.Millisecond})
			if err := cb.Load(ctx); err != nil {
				t.Fatal(err)
			}
			b := catalog.NewStore(sb, cb, nil)
			go cb.Run(ctx)

			before, _ := b.Movie(ctx, 7)
			if _, _, err := a.RateMovie(ctx, 1, 7, 5, "great"); err != nil {
				t.Fatal(err)
			}
			mine, _ := a.Movie(ctx, 7)
			if mine.RatingCount == before.RatingCount && mine.AverageRating == before.AverageRating {
				t.Fatalf("the writer's instance does not show its own rating at once: %+v", mine)
			}
			deadline := time.Now().Add(time.Second)
			for {
				other, _ := b.Movie(ctx, 7)
				if other.RatingCount == mine.RatingCount && other.AverageRating == mine.AverageRating &&
					other.PopularityScore == mine.PopularityScore {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the other instance still shows %+v a second after the write (writer: %+v)", other, mine)
				}
				time.Sleep(10 * time.Millisecond)
			}

			// A genre created on A is listable on B after B catches up.
			g, err := a.CreateGenre(ctx, movierec.Genre{Name: "Western"})
			if err != nil {
				t.Fatal(err)
			}
			if err := cb.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Genre(ctx, g.ID); err != nil {
				t.Fatalf("genre created on A is not on B after Sync: %v", err)
			}
			sameEverything(t, sb, b, mrand.New(mrand.NewPCG(3, 4)), 50)
		})
	}
}

// TestImportReloads: an import through another process reloads the whole
// catalog on the next catch-up.
func TestImportReloads(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		c := catalog.New(s, catalog.Options{})
		if err := c.Load(ctx); err != nil {
			t.Fatal(err)
		}
		if p, _ := c.ListMovies(ctx, movierec.MovieFilter{Limit: 1}); p.Count != 0 {
			t.Fatalf("empty store lists %d movies", p.Count)
		}
		if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
			t.Fatal(err)
		}
		reloads := c.Reloads()
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if c.Reloads() != reloads+1 {
			t.Fatalf("an import did not reload the catalog")
		}
		sameEverything(t, s, catalog.NewStore(s, c, nil), mrand.New(mrand.NewPCG(5, 6)), 50)
	})
}

// TestReadsLeaveReloadsToRun: when only a full reload brings an instance
// up to date (another instance imported, or it has not caught up for
// longer than Stale), a read's freshness check does not start one (at
// MovieLens-25M size it takes seconds, far past ReadWait): it fails, the
// read is answered from memory, and the background loop, woken up,
// reloads at once (its poll is an hour here).
func TestReadsLeaveReloadsToRun(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
			t.Fatal(err)
		}
		const stale = 300 * time.Millisecond
		c := catalog.New(s, catalog.Options{Shared: true, Poll: time.Hour, Stale: stale})
		if err := c.Load(ctx); err != nil {
			t.Fatal(err)
		}
		waitReload := func(what string, reloads int64) {
			t.Helper()
			for deadline := time.Now().Add(5 * time.Second); c.Reloads() == reloads; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the background loop did not reload", what)
				}
			}
		}
		if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies+5), nil); err != nil { // another instance's import
			t.Fatal(err)
		}
		reloads := c.Reloads()
		if err := c.EnsureFresh(ctx); err == nil {
			t.Error("after an import elsewhere, a read's freshness check reported success")
		}
		if c.Reloads() != reloads {
			t.Fatal("a read's freshness check reloaded the catalog")
		}
		go c.Run(ctx)
		waitReload("import", reloads)
		if m, err := c.Movie(ctx, fixtureMovies+5); err != nil || m.ID != fixtureMovies+5 {
			t.Fatalf("after the reload, a movie of the import: %+v, %v", m, err)
		}

		time.Sleep(stale + 50*time.Millisecond) // no catch-up since: stale
		reloads = c.Reloads()
		if err := c.EnsureFresh(ctx); err == nil && c.Reloads() != reloads {
			t.Fatal("a read's freshness check reloaded a stale catalog")
		}
		waitReload("stale", reloads)
	})
}

// TestVersions: a rating write moves the rated movie's version at once
// and no other's, and the list version follows within the coalescing
// interval.
func TestVersions(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
		t.Fatal(err)
	}
	const coalesce = 300 * time.Millisecond
	c := catalog.New(s, catalog.Options{Coalesce: coalesce})
	loaded := time.Now()
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cs := catalog.NewStore(s, c, nil)
	v7, v8, lv := c.MovieVersion(7), c.MovieVersion(8), c.ListVersion()
	if _, _, err := cs.RateMovie(ctx, 2, 7, 3.5, ""); err != nil {
		t.Fatal(err)
	}
	if c.MovieVersion(7) <= v7 {
		t.Fatalf("movie 7's version did not move: %d -> %d", v7, c.MovieVersion(7))
	}
	if c.MovieVersion(8) != v8 {
		t.Fatalf("movie 8's version moved on a rating of movie 7: %d -> %d", v8, c.MovieVersion(8))
	}
	// (Checked only while the interval since the load has not run out: a
	// slow machine may take longer for the write.)
	if time.Since(loaded) < coalesce*2/3 && c.ListVersion() != lv {
		t.Fatalf("list version moved within the coalescing interval")
	}
	time.Sleep(coalesce + 10*time.Millisecond)
	if c.ListVersion() <= lv {
		t.Fatalf("list version did not follow the write after the coalescing interval")
	}
}

// TestReadsWithoutTheDatabase: with the database gone, catalog reads are
// still answered from memory, and reads that would catch up first give up
// after ReadWait instead of failing or hanging.
func TestReadsWithoutTheDatabase(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(ctx, storetest.Fixture(fixtureMovies), nil); err != nil {
		t.Fatal(err)
	}
	c := catalog.New(s, catalog.Options{ReadWait: 50 * time.Millisecond, Probe: s.CatalogVersion})
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cs := catalog.NewStore(s, c, nil)
	if _, _, err := s.RateMovie(ctx, 1, 7, 4, ""); err != nil { // another instance's
		t.Fatal(err)
	}
	s.Close()
	if err := c.EnsureFreshMovie(ctx, 7); err == nil {
		t.Error("catching up with a closed database reported success")
	}
	m, err := cs.Movie(ctx, 7)
	if err != nil || m.ID != 7 {
		t.Fatalf("detail without the database: %+v, %v", m, err)
	}
	page, err := cs.ListMovies(ctx, movierec.MovieFilter{Genres: []string{"Drama"}, Limit: 5})
	if err != nil || page.Count == 0 {
		t.Fatalf("list without the database: %+v, %v", page, err)
	}
}
