package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// changesAfter returns every change after version v.
func changesAfter(t *testing.T, s *sqlstore.Store, v int64) []movierec.CatalogChange {
	t.Helper()
	got, err := s.CatalogChanges(context.Background(), v, 0)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func catalogVersion(t *testing.T, s *sqlstore.Store) int64 {
	t.Helper()
	v, err := s.CatalogVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCatalogChanges(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		version := catalogVersion(t, s)
		if all := changesAfter(t, s, 0); len(all) != 1 || all[0] != (movierec.CatalogChange{Version: version, Kind: movierec.ChangeAll}) {
			t.Fatalf("after the fixture's import: changes %+v, version %d; want one ChangeAll", all, version)
		}
		u := newUser(t, s, "logger")
		var movie movierec.Movie
		var genre movierec.Genre
		var tag movierec.Tag
		bad := *ds
		bad.Ratings = append(slices.Clone(ds.Ratings), movierec.DatasetRating{UserID: 1, MovieID: 12345, Score: 3, RatedAt: time.Now()})
		steps := []struct {
			name string
			kind string // the change the write records; "" for a write that must fail
			// write returns the ID the change must name.
			write func() (int64, error)
		}{
			{"CreateMovie", movierec.ChangeMovie, func() (int64, error) {
				m, err := s.CreateMovie(ctx, movierec.Movie{Title: "Logged", Genres: []movierec.Genre{{Name: "Drama"}}})
				movie = m
				return m.ID, err
			}},
			{"CreateMovie/ErrUnknownGenre", "", func() (int64, error) {
				_, err := s.CreateMovie(ctx, movierec.Movie{Title: "X", Genres: []movierec.Genre{{Name: "Nope"}}})
				return 0, err
			}},
			{"UpdateMovie", movierec.ChangeMovie, func() (int64, error) {
				movie.Title = "Logged again"
				_, err := s.UpdateMovie(ctx, movie)
				return movie.ID, err
			}},
			{"UpdateMovie/ErrNotFound", "", func() (int64, error) {
				_, err := s.UpdateMovie(ctx, movierec.Movie{ID: 424242, Title: "X"})
				return 0, err
			}},
			{"RateMovie/Create", movierec.ChangeMovie, func() (int64, error) {
				_, _, err := s.RateMovie(ctx, u.ID, movie.ID, 4, "")
				return movie.ID, err
			}},
			{"RateMovie/Replace", movierec.ChangeMovie, func() (int64, error) {
				_, _, err := s.RateMovie(ctx, u.ID, movie.ID, 2.5, "on reflection")
				return movie.ID, err
			}},
			{"RateMovie/ErrNotFound", "", func() (int64, error) {
				_, _, err := s.RateMovie(ctx, u.ID, 424242, 3, "")
				return 0, err
			}},
			{"DeleteRating", movierec.ChangeMovie, func() (int64, error) {
				return movie.ID, s.DeleteRating(ctx, u.ID, movie.ID)
			}},
			{"DeleteRating/ErrNotFound", "", func() (int64, error) {
				return 0, s.DeleteRating(ctx, u.ID, movie.ID)
			}},
			{"CreateGenre", movierec.ChangeGenre, func() (int64, error) {
				g, err := s.CreateGenre(ctx, movierec.Genre{Name: "Noir"})
				genre = g
				return g.ID, err
			}},
			{"CreateGenre/ErrDuplicate", "", func() (int64, error) {
				_, err := s.CreateGenre(ctx, movierec.Genre{Name: "DRAMA"})
				return 0, err
			}},
			{"UpdateGenre", movierec.ChangeGenre, func() (int64, error) {
				genre.Description = "Dark."
				_, err := s.UpdateGenre(ctx, genre)
				return genre.ID, err
			}},
			{"UpdateGenre/ErrDuplicate", "", func() (int64, error) {
				_, err := s.UpdateGenre(ctx, movierec.Genre{ID: genre.ID, Name: "comedy"})
				return 0, err
			}},
			{"UpdateGenre/ErrNotFound", "", func() (int64, error) {
				_, err := s.UpdateGenre(ctx, movierec.Genre{ID: 424242, Name: "Nowhere"})
				return 0, err
			}},
			{"DeleteGenre", movierec.ChangeGenre, func() (int64, error) {
				return genre.ID, s.DeleteGenre(ctx, genre.ID)
			}},
			{"DeleteGenre/ErrNotFound", "", func() (int64, error) {
				return 0, s.DeleteGenre(ctx, genre.ID)
			}},
			{"CreateTag", movierec.ChangeTag, func() (int64, error) {
				tg, err := s.CreateTag(ctx, movierec.Tag{Name: "cozy"})
				tag = tg
				return tg.ID, err
			}},
			{"CreateTag/ErrDuplicate", "", func() (int64, error) {
				_, err := s.CreateTag(ctx, movierec.Tag{Name: "FUNNY"})
				return 0, err
			}},
			{"UpdateTag", movierec.ChangeTag, func() (int64, error) {
				tag.Name = "cosy"
				_, err := s.UpdateTag(ctx, tag)
				return tag.ID, err
			}},
			{"UpdateTag/ErrDuplicate", "", func() (int64, error) {
				_, err := s.UpdateTag(ctx, movierec.Tag{ID: tag.ID, Name: "Slow"})
				return 0, err
			}},
			{"DeleteTag", movierec.ChangeTag, func() (int64, error) {
				return tag.ID, s.DeleteTag(ctx, tag.ID)
			}},
			{"DeleteTag/ErrNotFound", "", func() (int64, error) {
				return 0, s.DeleteTag(ctx, tag.ID)
			}},
			{"DeleteMovie", movierec.ChangeMovie, func() (int64, error) {
				return movie.ID, s.DeleteMovie(ctx, movie.ID)
			}},
			{"DeleteMovie/ErrNotFound", "", func() (int64, error) {
				return 0, s.DeleteMovie(ctx, movie.ID)
			}},
			{"Import", movierec.ChangeAll, func() (int64, error) {
				_, err := s.Import(ctx, ds, nil)
				return 0, err
			}},
			{"Import/ErrNothingCommitted", "", func() (int64, error) {
				_, err := s.Import(ctx, &bad, nil)
				return 0, err
			}},
		}
		// The writes whose change carries a rating payload.
		ratingWrites := map[string]bool{"RateMovie/Create": true, "RateMovie/Replace": true, "DeleteRating": true}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				id, err := st.write()
				got := changesAfter(t, s, version)
				if st.kind == "" {
					if err == nil {
						t.Error("the write succeeded")
					}
					if len(got) != 0 {
						t.Errorf("a failed write recorded %+v", got)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0].Kind != st.kind || got[0].ID != id || got[0].Version <= version {
					t.Fatalf("recorded %+v after version %d; want one %s change of %d", got, version, st.kind, id)
				}
				if rating := ratingWrites[st.name]; (got[0].Rating != nil) != rating {
					t.Errorf("recorded %+v (rating %+v); want a rating payload: %v", got[0], got[0].Rating, rating)
				}
				version = got[0].Version
				if v := catalogVersion(t, s); v != version {
					t.Errorf("CatalogVersion = %d, want %d", v, version)
				}
			})
		}
		t.Run("Limit", func(t *testing.T) {
			all := changesAfter(t, s, 0)
			got, err := s.CatalogChanges(ctx, all[1].Version, 3)
			if err != nil || !reflect.DeepEqual(got, all[2:5]) {
				t.Errorf("CatalogChanges(%d, 3) = %+v, %v; want %+v", all[1].Version, got, err, all[2:5])
			}
			if got := changesAfter(t, s, version); len(got) != 0 {
				t.Errorf("changes after the newest: %+v", got)
			}
		})
	})
}

// TestCatalogChangesInCommitOrder has writers rate movies concurrently
// while a reader follows the change log as an in-memory catalog would:
// the reader must see every change (a version may not become visible
// before a smaller one that commits later).
func TestCatalogChangesInCommitOrder(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		start := catalogVersion(t, s)
		const writers, each = 8, 25
		users := make([]movierec.User, writers)
		for i := range users {
			users[i] = newUser(t, s, fmt.Sprintf("racer%d", i))
		}
		var wg sync.WaitGroup
		done := make(chan struct{})
		for i, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					if _, _, err := s.RateMovie(ctx, u.ID, int64(1+(i*each+k)%fixtureMovies), 3, ""); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		go func() { wg.Wait(); close(done) }()
		var seen []int64
		after := start
		follow := func() {
			got, err := s.CatalogChanges(ctx, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range got {
				seen = append(seen, c.Version)
				after = c.Version
			}
		}
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			follow()
		}
		for n := -1; n != len(seen); {
			n = len(seen)
			follow()
		}
		var want []int64
		for _, c := range changesAfter(t, s, start) {
			want = append(want, c.Version)
		}
		if len(want) != writers*each || !slices.Equal(seen, want) {
			t.Errorf("the reader saw %d changes, the log holds %d (want %d); missed %v", len(seen), len(want), writers*each,
				slices.DeleteFunc(slices.Clone(want), func(v int64) bool { return slices.Contains(seen, v) }))
		}
	})
}

func TestPruneCatalogChanges(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if n, err := s.PruneCatalogChanges(ctx, time.Now().Add(time.Hour)); n != 0 || err != nil {
			t.Errorf("pruning an empty log: %d, %v", n, err)
		}
		clock := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		s.SetClock(func() time.Time { return clock })
		for day := range 5 {
			clock = clock.Add(24 * time.Hour)
			if _, err := s.CreateTag(ctx, movierec.Tag{Name: fmt.Sprintf("day%d", day)}); err != nil {
				t.Fatal(err)
			}
		}
		all := changesAfter(t, s, 0)
		newest := catalogVersion(t, s)
		// Changes of days 0 and 1 go.
		n, err := s.PruneCatalogChanges(ctx, time.Date(2024, 1, 3, 12, 0, 0, 0, time.UTC))
		if err != nil || n != 2 {
			t.Fatalf("PruneCatalogChanges = %d, %v; want 2", n, err)
		}
		if got := changesAfter(t, s, all[1].Version); !slices.Equal(got, all[2:]) {
			t.Errorf("after pruning: %+v, want %+v", got, all[2:])
		}
		// A reader that has not seen the pruned changes must reload.
		got := changesAfter(t, s, all[0].Version)
		if len(got) != 4 || got[0] != (movierec.CatalogChange{Version: all[1].Version, Kind: movierec.ChangeAll}) || !slices.Equal(got[1:], all[2:]) {
			t.Errorf("changes after a pruned version: %+v", got)
		}
		if got, _ := s.CatalogChanges(ctx, 0, 2); len(got) != 2 || got[0].Kind != movierec.ChangeAll || got[1] != all[2] {
			t.Errorf("changes after 0, limit 2: %+v", got)
		}
		// Everything older than the future goes, but the newest stays.
		if n, err := s.PruneCatalogChanges(ctx, clock.Add(time.Hour)); err != nil || n != 2 {
			t.Errorf("pruning all = %d, %v; want 2", n, err)
		}
		if v := catalogVersion(t, s); v != newest {
			t.Errorf("CatalogVersion after pruning = %d, want %d", v, newest)
		}
		if got := changesAfter(t, s, all[3].Version); !slices.Equal(got, all[4:]) {
			t.Errorf("after pruning all: %+v, want the newest %+v", got, all[4:])
		}
		if n, err := s.PruneCatalogChanges(ctx, clock.Add(time.Hour)); err != nil || n != 0 {
			t.Errorf("pruning again = %d, %v", n, err)
		}
		if _, err := s.CreateTag(ctx, movierec.Tag{Name: "later"}); err != nil {
			t.Fatal(err)
		}
		if v := catalogVersion(t, s); v <= newest {
			t.Errorf("a version was reused: %d after %d", v, newest)
		}
	})
}

// TestPopularityForwardDecay: a rating adds its weight to its own movie,
// whenever it is made, and leaves every other movie's score as it was,
// to the bit.
func TestPopularityForwardDecay(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		epoch, err := s.PopularityEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u := newUser(t, s, "latecomer")
		for _, c := range []struct {
			movie int64
			when  time.Time
		}{
			{1, epoch.AddDate(7, 0, 0)}, // years after the data set
			{2, epoch.AddDate(-3, 0, 0)},
			{6, epoch.AddDate(2, 1, 0)}, // no ratings before
			{1, epoch.AddDate(9, 0, 0)}, // the same movie again, later still
		} {
			before := map[int64]movierec.Movie{}
			for _, m := range allMovies(t, s) {
				before[m.ID] = m
			}
			s.SetClock(func() time.Time { return c.when })
			if _, _, err := s.RateMovie(ctx, u.ID, c.movie, 0.5, ""); err != nil {
				t.Fatal(err)
			}
			u = newUser(t, s, fmt.Sprintf("latecomer%d", c.movie*1000+int64(c.when.Year())))
			weight := math.Pow(2, c.when.Sub(epoch).Hours()/24/sqlstore.PopularityHalfLifeDays)
			for _, m := range allMovies(t, s) {
				old := before[m.ID].PopularityScore
				if m.ID != c.movie {
					if math.Float64bits(m.PopularityScore) != math.Float64bits(old) {
						t.Errorf("rating movie %d at %v changed movie %d's popularity from %v to %v",
							c.movie, c.when, m.ID, old, m.PopularityScore)
					}
					continue
				}
				want := old + 0.5/5*weight
				if m.PopularityScore <= old || math.Abs(m.PopularityScore-want) > 1e-9*want {
					t.Errorf("movie %d rated at %v: popularity %v → %v, want %v", m.ID, c.when, old, m.PopularityScore, want)
				}
			}
		}
		if e, err := s.PopularityEpoch(ctx); err != nil || !e.Equal(epoch) {
			t.Errorf("the epoch moved without an import: %v → %v (%v)", epoch, e, err)
		}
	})
}

// TestRatingChangeMatchesStore: the change a rating write returns (what an
// in-memory catalog applies) says exactly what the store now holds, for a
// new rating, a new score and a deletion; and a store whose popularity
// epoch was removed by hand gets one (the time of the first write) rather
// than failing the write.
func TestRatingChangeMatchesStore(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		if _, err := s.Conn().Exec(ctx, `DELETE FROM settings WHERE key = 'popularity_epoch'`); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
		s.SetClock(func() time.Time { return now })
		u := newUser(t, s, "exact")
		const movie = 6 // no ratings in the fixture
		check := func(what string, ch movierec.CatalogChange, oldScore, newScore float64) {
			t.Helper()
			m, err := s.Movie(ctx, movie)
			if err != nil {
				t.Fatal(err)
			}
			r := ch.Rating
			if ch.Kind != movierec.ChangeMovie || ch.ID != movie || ch.Version <= 0 || r == nil {
				t.Fatalf("%s: change %+v", what, ch)
			}
			if r.Count != m.RatingCount || r.Average != m.AverageRating || r.Popularity != m.PopularityScore ||
				r.OldScore != oldScore || r.NewScore != newScore || !r.RatedAt.Equal(now) {
				t.Errorf("%s: change %+v, store count %d avg %v pop %v", what, *r, m.RatingCount, m.AverageRating, m.PopularityScore)
			}
			if v, err := s.CatalogVersion(ctx); err != nil || v != ch.Version {
				t.Errorf("%s: change version %d, store at %d (%v)", what, ch.Version, v, err)
			}
		}
		r, created, ch, err := s.RateMovieChange(ctx, u.ID, movie, 4, "fine")
		if err != nil || !created || r.Username != "exact" || !r.RatedAt.Equal(now) || r.ID == 0 {
			t.Fatalf("first rating: %+v created %v: %v", r, created, err)
		}
		check("new rating", ch, 0, 4)
		// Rated at the epoch: weight 1.
		if ch.Rating.Popularity != 4.0/5 || ch.Rating.Count != 1 || ch.Rating.Average != 4 {
			t.Errorf("a first rating of 4 at the epoch: %+v, want count 1, average 4, popularity 0.8", *ch.Rating)
		}
		if e, err := s.PopularityEpoch(ctx); err != nil || !e.Equal(now) {
			t.Errorf("epoch stored by the first write: %v (%v), want %v", e, err, now)
		}
		later := now.Add(48 * time.Hour)
		s.SetClock(func() time.Time { return later })
		r2, created, ch, err := s.RateMovieChange(ctx, u.ID, movie, 2.5, "")
		if err != nil || created || r2.ID != r.ID || !r2.RatedAt.Equal(now) || !r2.UpdatedAt.Equal(later) {
			t.Fatalf("new score: %+v created %v: %v", r2, created, err)
		}
		check("new score", ch, 4, 2.5)
		ch, err = s.DeleteRatingChange(ctx, u.ID, movie)
		if err != nil {
			t.Fatal(err)
		}
		check("deletion", ch, 2.5, 0)
		if ch.Rating.Count != 0 || ch.Rating.Popularity != 0 || ch.Rating.Average != 0 {
			t.Errorf("deleting the only rating left %+v", *ch.Rating)
		}
		if _, err := s.DeleteRatingChange(ctx, u.ID, movie); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("deleting it again: %v, want ErrNotFound", err)
		}
		if _, _, _, err := s.RateMovieChange(ctx, u.ID, 999999, 3, ""); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("rating an unknown movie: %v, want ErrNotFound", err)
		}
		if _, err := s.DeleteRatingChange(ctx, u.ID, 999999); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("deleting a rating of an unknown movie: %v, want ErrNotFound", err)
		}
	})
}

// TestIncrementalAggregates runs a random sequence of rating writes on a
// few movies and compares the incrementally kept aggregates with a
// computation from scratch.
func TestIncrementalAggregates(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(3, 5))
		var users []int64
		for _, u := range ds.Users { // they have ratings already
			users = append(users, u.ID)
		}
		for i := range 4 {
			users = append(users, newUser(t, s, fmt.Sprintf("random%d", i)).ID)
		}
		movies := []int64{1, 2, 6, 7} // 6 has no ratings in the fixture
		clock := time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)
		s.SetClock(func() time.Time { return clock })
		for range 400 {
			// Up to ~5 years past the data set, with microseconds.
			clock = clock.Add(time.Duration(r.IntN(10*24))*time.Hour + time.Duration(r.IntN(1e6))*time.Microsecond)
			u, m := users[r.IntN(len(users))], movies[r.IntN(len(movies))]
			if r.IntN(3) == 0 {
				if err := s.DeleteRating(ctx, u, m); err != nil && !errors.Is(err, movierec.ErrNotFound) {
					t.Fatal(err)
				}
				continue
			}
			if _, _, err := s.RateMovie(ctx, u, m, float64(1+r.IntN(10))/2, ""); err != nil {
				t.Fatal(err)
			}
		}
		checkFromScratch(t, s)
	})
}

// checkFromScratch compares every movie's stored aggregates with a
// computation from its ratings: count, total and average exactly,
// popularity within 1e-9 relative.
func checkFromScratch(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	epoch, err := s.PopularityEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	totals := map[int64]float64{}
	rows, err := s.Conn().Query(ctx, `SELECT id, rating_total FROM movies`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var total float64
		if err := rows.Scan(&id, &total); err != nil {
			t.Fatal(err)
		}
		totals[id] = total
	}
	rows.Close()
	for _, m := range allMovies(t, s) {
		page, err := s.MovieRatings(ctx, m.ID, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		var total, pop float64
		for _, r := range page.Items {
			total += r.Score
			pop += r.Score / 5 * math.Pow(2, r.RatedAt.Sub(epoch).Seconds()/(sqlstore.PopularityHalfLifeDays*86400))
		}
		n := len(page.Items)
		var avg float64
		if n > 0 {
			avg = total / float64(n)
		}
		if m.RatingCount != n || m.AverageRating != avg || totals[m.ID] != total {
			t.Errorf("movie %d: count %d, average %v, total %v; want %d, %v, %v", m.ID, m.RatingCount, m.AverageRating, totals[m.ID], n, avg, total)
		}
		if (n == 0 && m.PopularityScore != 0) || math.Abs(m.PopularityScore-pop) > 1e-9*pop {
			t.Errorf("movie %d: popularity %v, want %v", m.ID, m.PopularityScore, pop)
		}
	}
}

// TestCatalogSnapshot checks the bulk loads against Movie, Genres and
// Tags for every movie.
func TestCatalogSnapshot(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		// Writes on top of the import: a movie without ratings, ratings
		// near the end of the data set, a genre and a tag on no movie.
		s.SetClock(func() time.Time { return time.Date(2021, 1, 20, 10, 30, 0, 123456000, time.UTC) })
		u := newUser(t, s, "snapper")
		if _, err := s.CreateMovie(ctx, movierec.Movie{Title: "Unrated", Genres: []movierec.Genre{{Name: "Drama"}, {Name: "Comedy"}}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{1, 6} {
			if _, _, err := s.RateMovie(ctx, u.ID, id, 4.5, "fresh"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateGenre(ctx, movierec.Genre{Name: "Empty", Description: "Nothing here."}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateTag(ctx, movierec.Tag{Name: "unused"}); err != nil {
			t.Fatal(err)
		}
		const window = 30 * 24 * time.Hour
		snap, err := s.CatalogSnapshot(ctx, window)
		if err != nil {
			t.Fatal(err)
		}
		if v := catalogVersion(t, s); snap.Version != v {
			t.Errorf("Version = %d, want %d", snap.Version, v)
		}
		gp, err := s.Genres(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for i := range gp.Items {
			gp.Items[i].MovieCount = 0
		}
		if !reflect.DeepEqual(snap.Genres, gp.Items) {
			t.Errorf("Genres = %+v, want %+v", snap.Genres, gp.Items)
		}
		tp, err := s.Tags(ctx, "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tp.Items {
			tp.Items[i].MovieCount = 0
		}
		if !reflect.DeepEqual(snap.Tags, tp.Items) {
			t.Errorf("Tags = %+v, want %+v", snap.Tags, tp.Items)
		}

		all := allMovies(t, s)
		recent := map[int64][]time.Time{}
		var newest time.Time
		for _, m := range all {
			page, err := s.MovieRatings(ctx, m.ID, 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Items {
				recent[m.ID] = append(recent[m.ID], r.RatedAt)
				if r.RatedAt.After(newest) {
					newest = r.RatedAt
				}
			}
		}
		since := newest.Add(-window)
		for id, times := range recent {
			times = slices.DeleteFunc(times, func(at time.Time) bool { return at.Before(since) })
			slices.SortFunc(times, time.Time.Compare)
			recent[id] = times
		}
		if !snap.Newest.Equal(newest) || !snap.Since.Equal(since) {
			t.Errorf("Newest, Since = %v, %v; want %v, %v", snap.Newest, snap.Since, newest, since)
		}
		if len(snap.Movies) != len(all) {
			t.Fatalf("%d movies, want %d", len(snap.Movies), len(all))
		}
		var withRecent int
		check := func(t *testing.T, got movierec.CatalogMovie, since time.Time) {
			t.Helper()
			want, err := s.Movie(ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Movie, want) {
				t.Errorf("movie %d:\n got %+v\nwant %+v", got.ID, got.Movie, want)
			}
			var wantRecent []time.Time
			for _, at := range recent[got.ID] {
				if !at.Before(since) {
					wantRecent = append(wantRecent, at)
				}
			}
			if !slices.EqualFunc(got.Recent, wantRecent, time.Time.Equal) {
				t.Errorf("movie %d: Recent %v, want %v", got.ID, got.Recent, wantRecent)
			}
			if len(wantRecent) > 0 {
				withRecent++
			}
		}
		for i, m := range snap.Movies {
			if i > 0 && snap.Movies[i-1].ID >= m.ID {
				t.Errorf("movies out of ID order at %d", i)
			}
			check(t, m, snap.Since)
		}
		if withRecent < 3 {
			t.Errorf("only %d movies have recent ratings; the test wants more", withRecent)
		}

		t.Run("CatalogMovies", func(t *testing.T) {
			// More IDs than one batch, unknown ones, duplicates, any order.
			var ids []int64
			for id := int64(1200); id >= 1; id-- {
				ids = append(ids, id)
			}
			ids = append(ids, 3, 424242, 3)
			re, err := s.CatalogMovies(ctx, snap.Since, ids)
			if err != nil {
				t.Fatal(err)
			}
			if !re.Newest.Equal(newest) || !re.Since.Equal(snap.Since) || re.Version != snap.Version || re.Genres != nil || re.Tags != nil {
				t.Errorf("newest %v, since %v, version %d, genres %v, tags %v; want %v, %v, %d, nil, nil",
					re.Newest, re.Since, re.Version, re.Genres, re.Tags, newest, snap.Since, snap.Version)
			}
			if !reflect.DeepEqual(re.Movies, snap.Movies) {
				t.Errorf("CatalogMovies differs from the snapshot")
			}
			later := newest.Add(-time.Hour)
			re, err = s.CatalogMovies(ctx, later, []int64{6, 1, 424242})
			if err != nil {
				t.Fatal(err)
			}
			if got := re.Movies; len(got) != 2 || got[0].ID != 1 || got[1].ID != 6 {
				t.Fatalf("CatalogMovies(1, 6, 424242) = %d movies", len(got))
			}
			for _, m := range re.Movies {
				check(t, m, later)
			}
			if re, err := s.CatalogMovies(ctx, later, nil); err != nil || len(re.Movies) != 0 || re.Version != snap.Version {
				t.Errorf("CatalogMovies of nothing = %+v, %v", re, err)
			}
			// The version follows the log: a write moves it.
			if _, err := s.CreateTag(ctx, movierec.Tag{Name: "versioned"}); err != nil {
				t.Fatal(err)
			}
			if re, err := s.CatalogMovies(ctx, later, []int64{1}); err != nil || re.Version != catalogVersion(t, s) || re.Version <= snap.Version {
				t.Errorf("CatalogMovies after a write: version %d, %v; want %d", re.Version, err, catalogVersion(t, s))
			}
		})
	})
	t.Run("Empty", func(t *testing.T) {
		storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
			snap, err := s.CatalogSnapshot(context.Background(), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Version != 0 || len(snap.Movies) != 0 || len(snap.Genres) != 0 || !snap.Newest.IsZero() || !snap.Since.IsZero() {
				t.Errorf("snapshot of an empty store = %+v", snap)
			}
			if e, err := s.PopularityEpoch(context.Background()); err != nil || e.IsZero() {
				t.Errorf("PopularityEpoch of an empty store = %v, %v", e, err)
			}
		})
	})
}

// TestCatalogFollowsChanges keeps a catalog as an in-memory reader would:
// a snapshot, then, round after round, a few random writes and the
// changes after its version applied, rating writes from the payload they
// carry and the rest by reloading the movies they touch. After every
// round it must equal a fresh snapshot, to the bit: every write that
// changes a movie is in the log, and a rating write's payload holds the
// aggregates exactly as stored.
func TestCatalogFollowsChanges(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		const window = 90 * 24 * time.Hour
		snap, err := s.CatalogSnapshot(ctx, window)
		if err != nil {
			t.Fatal(err)
		}
		s.SetClock(func() time.Time { return snap.Newest.Add(-time.Hour) })
		version := snap.Version
		movies := map[int64]movierec.CatalogMovie{}
		for _, m := range snap.Movies {
			movies[m.ID] = m
		}
		r := rand.New(rand.NewPCG(9, 9))
		var applied int
		for round := range 25 {
			storetest.CatalogWrites(t, s, r, 12)
			changes := changesAfter(t, s, version)
			reload := map[int64]bool{}
			var ratings []movierec.CatalogChange
			for _, c := range changes {
				version = c.Version
				switch c.Kind {
				case movierec.ChangeMovie:
					if c.Rating != nil {
						ratings = append(ratings, c)
					} else {
						reload[c.ID] = true
					}
				case movierec.ChangeGenre, movierec.ChangeTag:
					// A renamed or deleted genre or tag changes the
					// movies that carry it.
					for id, m := range movies {
						if slices.ContainsFunc(m.Genres, func(g movierec.Genre) bool { return c.Kind == movierec.ChangeGenre && g.ID == c.ID }) ||
							slices.ContainsFunc(m.Tags, func(tg movierec.TagCount) bool { return c.Kind == movierec.ChangeTag && tg.ID == c.ID }) {
							reload[id] = true
						}
					}
				default:
					t.Fatalf("unexpected change %+v", c)
				}
			}
			// Rating writes to movies that are not reloaded anyway apply
			// in log order.
			for _, c := range ratings {
				if m, ok := movies[c.ID]; ok && !reload[c.ID] {
					movies[c.ID] = withRating(m, *c.Rating, snap.Since)
					applied++
				} else {
					reload[c.ID] = true
				}
			}
			ids := slices.Collect(maps.Keys(reload))
			re, err := s.CatalogMovies(ctx, snap.Since, ids)
			if err != nil {
				t.Fatal(err)
			}
			if re.Version != version {
				t.Errorf("round %d: reload at version %d, newest change %d", round, re.Version, version)
			}
			for _, id := range ids {
				delete(movies, id)
			}
			for _, m := range re.Movies {
				movies[m.ID] = m
			}
			fresh, err := s.CatalogSnapshot(ctx, window)
			if err != nil {
				t.Fatal(err)
			}
			if fresh.Version != version {
				t.Errorf("round %d: fresh snapshot at version %d, newest change %d", round, fresh.Version, version)
			}
			if len(movies) != len(fresh.Movies) {
				t.Errorf("round %d: followed catalog has %d movies, the store %d", round, len(movies), len(fresh.Movies))
			}
			for _, want := range fresh.Movies {
				if m, ok := movies[want.ID]; !ok || !reflect.DeepEqual(m.Movie, want.Movie) {
					t.Fatalf("round %d: movie %d:\n got %+v\nwant %+v", round, want.ID, m.Movie, want.Movie)
				}
			}
		}
		for _, want := range allMovies(t, s) {
			m, err := s.Movie(ctx, want.ID)
			if err != nil || !reflect.DeepEqual(movies[want.ID].Movie, m) {
				t.Errorf("movie %d: the followed catalog differs from Movie (%v)", want.ID, err)
			}
		}
		if applied < 20 {
			t.Errorf("only %d rating writes were applied from their payloads; the test wants more", applied)
		}
		checkFromScratch(t, s)
	})
}

// withRating applies a rating write's payload to m as an in-memory reader
// would: the aggregates from the payload, the old score out of the
// distribution and the new one in, and a new rating's time in Recent
// when it is at or after since (a deleted rating's time out of it).
func withRating(m movierec.CatalogMovie, r movierec.RatingChange, since time.Time) movierec.CatalogMovie {
	m.RatingCount, m.AverageRating, m.PopularityScore = r.Count, r.Average, r.Popularity
	m.RatingDistribution = maps.Clone(m.RatingDistribution)
	key := func(score float64) string { return strconv.FormatFloat(score, 'f', 1, 64) }
	if r.OldScore > 0 {
		m.RatingDistribution[key(r.OldScore)]--
	}
	if r.NewScore > 0 {
		m.RatingDistribution[key(r.NewScore)]++
	}
	switch {
	case r.OldScore == 0 && !r.RatedAt.Before(since):
		i, _ := slices.BinarySearchFunc(m.Recent, r.RatedAt, time.Time.Compare)
		m.Recent = slices.Insert(slices.Clone(m.Recent), i, r.RatedAt)
	case r.NewScore == 0:
		if i, found := slices.BinarySearchFunc(m.Recent, r.RatedAt, time.Time.Compare); found {
			m.Recent = slices.Delete(slices.Clone(m.Recent), i, i+1)
		}
	}
	return m
}

// TestCatalogChangeRatings: the change of a rating created, re-scored and
// deleted carries the scores before and after, the rating's rated_at, and
// the movie's aggregates exactly as its row stores them after the write.
func TestCatalogChangeRatings(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		u := newUser(t, s, "payload")
		clock := time.Date(2021, 3, 4, 5, 6, 7, 891234000, time.UTC)
		s.SetClock(func() time.Time { return clock })
		// A fixture rating (rated long before the clock) to re-score and
		// delete.
		fr := ds.Ratings[0]
		// check reads the one change after version and compares it with
		// want and with the movie's row.
		check := func(t *testing.T, version *int64, movieID int64, want movierec.RatingChange) {
			t.Helper()
			got := changesAfter(t, s, *version)
			if len(got) != 1 || got[0].Kind != movierec.ChangeMovie || got[0].ID != movieID || got[0].Rating == nil {
				t.Fatalf("changes %+v; want one ChangeMovie of %d with a rating payload", got, movieID)
			}
			*version = got[0].Version
			m, err := s.Movie(ctx, movieID)
			if err != nil {
				t.Fatal(err)
			}
			want.Count, want.Average, want.Popularity = m.RatingCount, m.AverageRating, m.PopularityScore
			r := *got[0].Rating
			if r.OldScore != want.OldScore || r.NewScore != want.NewScore || !r.RatedAt.Equal(want.RatedAt) || r.Count != want.Count ||
				math.Float64bits(r.Average) != math.Float64bits(want.Average) || math.Float64bits(r.Popularity) != math.Float64bits(want.Popularity) {
				t.Errorf("payload %+v, want %+v", r, want)
			}
		}
		version := catalogVersion(t, s)
		steps := []struct {
			name  string
			movie int64
			write func() error
			want  movierec.RatingChange // aggregates from the movie's row
		}{
			{"Create", 6, func() error { _, _, err := s.RateMovie(ctx, u.ID, 6, 4, ""); return err },
				movierec.RatingChange{OldScore: 0, NewScore: 4, RatedAt: clock}},
			{"Replace", 6, func() error {
				clock = clock.Add(time.Hour) // a new score keeps the rating's time
				_, _, err := s.RateMovie(ctx, u.ID, 6, 2.5, "second thoughts")
				return err
			}, movierec.RatingChange{OldScore: 4, NewScore: 2.5, RatedAt: clock}},
			{"Delete", 6, func() error { return s.DeleteRating(ctx, u.ID, 6) },
				movierec.RatingChange{OldScore: 2.5, NewScore: 0, RatedAt: clock}}, // the movie has no rating left
			{"CreateOnRated", 1, func() error { _, _, err := s.RateMovie(ctx, u.ID, 1, 0.5, ""); return err },
				movierec.RatingChange{OldScore: 0, NewScore: 0.5, RatedAt: clock.Add(time.Hour)}}, // after Replace's hour
			{"ReplaceFixture", fr.MovieID, func() error {
				_, _, err := s.RateMovie(ctx, fr.UserID, fr.MovieID, 5, "")
				return err
			}, movierec.RatingChange{OldScore: fr.Score, NewScore: 5, RatedAt: fr.RatedAt}},
			{"DeleteFixture", fr.MovieID, func() error { return s.DeleteRating(ctx, fr.UserID, fr.MovieID) },
				movierec.RatingChange{OldScore: 5, NewScore: 0, RatedAt: fr.RatedAt}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				if err := st.write(); err != nil {
					t.Fatal(err)
				}
				check(t, &version, st.movie, st.want)
			})
		}
		if m, err := s.Movie(ctx, 6); err != nil || m.RatingCount != 0 || m.AverageRating != 0 || m.PopularityScore != 0 {
			t.Errorf("movie 6 after its only rating went: %+v, %v", m, err)
		}
		// Other writes carry no payload.
		if _, err := s.UpdateMovie(ctx, movierec.Movie{ID: 6, Title: "Six"}); err != nil {
			t.Fatal(err)
		}
		if got := changesAfter(t, s, version); len(got) != 1 || got[0].Rating != nil {
			t.Errorf("UpdateMovie recorded %+v", got)
		}
	})
}
