package catalog_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/storetest"
)

// TestStampsHoldOnlyWhileTheAnswerDoes: answers are read under Track; after
// each round of writes (ratings mostly, some movie edits, creations and
// deletions, now and then a genre; some rounds a burst of them on a few
// movies), every stamp that says its answer still
// holds must be right: the answer made again is identical. Both outcomes
// must occur, or the stamps would be useless (always false) or untested
// (always true).
func TestStampsHoldOnlyWhileTheAnswerDoes(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	c := loaded(t, s)
	r := mrand.New(mrand.NewPCG(7, 8))

	type tracked struct {
		name   string
		answer func(ctx context.Context) any
		stamp  movierec.Stamp
		last   any
	}
	make := func(name string, answer func(ctx context.Context) any) *tracked {
		tctx, stampOf := c.Catalog.Track(ctx)
		tr := &tracked{name: name, answer: answer, last: answer(tctx)}
		if tr.stamp = stampOf(); tr.stamp == nil {
			t.Fatalf("%s: no stamp", name)
		}
		return tr
	}
	var all []*tracked
	for i := range 250 {
		f := randomFilter(r)
		f.Search = ""
		all = append(all, make(fmt.Sprintf("list %d %+v", i, f), func(ctx context.Context) any {
			p, err := c.ListMovies(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}))
	}
	all = append(all, make("popular", func(ctx context.Context) any {
		ms, err := c.PopularMovies(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}), make("genres", func(ctx context.Context) any {
		p, err := c.Genres(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}), make("tags", func(ctx context.Context) any {
		p, err := c.Tags(ctx, "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}))

	users := []int64{1, 2, 3, 4, 5}
	later := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { later = later.Add(time.Hour); return later })
	kept, dropped := 0, 0
	for round := range 48 {
		n, movies := 1+r.IntN(3), fixtureMovies
		if round%4 == 3 {
			// A burst on a few movies, each changed many times: stamps
			// check the net change of each movie (netChanges).
			n, movies = 65+r.IntN(40), 12
		}
		for i := range n {
			movie := int64(1 + r.IntN(movies))
			var err error
			switch k := r.IntN(40); {
			case k < 30:
				_, _, err = c.RateMovie(ctx, users[r.IntN(len(users))], movie, float64(1+r.IntN(10))/2, "")
			case k < 35:
				err = c.DeleteRating(ctx, users[r.IntN(len(users))], movie)
			case k < 37:
				m, gerr := c.Movie(ctx, movie)
				if gerr != nil {
					continue
				}
				m.Title = fmt.Sprintf("Renamed %d", round)
				_, err = c.UpdateMovie(ctx, m)
			case k < 38:
				_, err = c.CreateMovie(ctx, movierec.Movie{Title: fmt.Sprintf("New %d", round), Genres: []movierec.Genre{{Name: "Drama"}}})
			case k < 39:
				err = c.DeleteMovie(ctx, movie)
			default:
				_, err = c.CreateGenre(ctx, movierec.Genre{Name: fmt.Sprintf("Genre %d.%d", round, i)})
			}
			if err != nil && movierec.ErrorCode(err) != movierec.ENOTFOUND {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if err := c.Catalog.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tr := range all {
			next, ok := tr.stamp.Revalidate()
			now := tr.answer(ctx)
			if ok {
				kept++
				if !reflect.DeepEqual(now, tr.last) {
					t.Fatalf("round %d, %s: the stamp says the answer holds, but it changed\nwas %+v\nnow %+v", round, tr.name, tr.last, now)
				}
				tr.stamp = next
				continue
			}
			dropped++
			*tr = *make(tr.name, tr.answer)
		}
	}
	t.Logf("%d answers kept, %d made again", kept, dropped)
	if kept == 0 || dropped == 0 {
		t.Fatalf("%d answers kept, %d made again: both must happen", kept, dropped)
	}
}

// TestUntrackedReads: answers a stamp cannot check get none.
func TestUntrackedReads(t *testing.T) {
	ctx := context.Background()
	c := loaded(t, storetest.OpenSQLite(t))
	for name, read := range map[string]func(ctx context.Context) error{
		"search": func(ctx context.Context) error {
			_, err := c.ListMovies(ctx, movierec.MovieFilter{Search: "alpha"})
			return err
		},
		"detail": func(ctx context.Context) error { _, err := c.Movie(ctx, 1); return err },
		"list then trending": func(ctx context.Context) error {
			if _, err := c.ListMovies(ctx, movierec.MovieFilter{}); err != nil {
				return err
			}
			_, err := c.TrendingMovies(ctx, 7*24*time.Hour, 10)
			return err
		},
		"top rated": func(ctx context.Context) error { _, err := c.TopRatedMovies(ctx, 1, 10); return err },
		"stats":     func(ctx context.Context) error { _, err := c.MovieRatingStats(ctx, 1); return err },
		"nothing":   func(ctx context.Context) error { return nil },
	} {
		tctx, stampOf := c.Catalog.Track(ctx)
		if err := read(tctx); err != nil {
			t.Fatal(err)
		}
		if st := stampOf(); st != nil {
			t.Errorf("%s: got a stamp", name)
		}
	}
}
