package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/movielens"
)

const smallDir = "../../shared/data/movielens/ml-latest-small"

// fromMovieLens converts the parser's Dataset into the recommender's: Items
// carry the title, release year, genre names, tags (most used first, ties
// alphabetical) and the number of ratings.
func fromMovieLens(src *movierec.Dataset) *Dataset {
	type tagCount struct {
		tag string
		n   int
	}
	tags := make(map[int64]map[string]int)
	for _, t := range src.Tags {
		if tags[t.MovieID] == nil {
			tags[t.MovieID] = make(map[string]int)
		}
		tags[t.MovieID][t.Tag]++
	}
	counts := make(map[int64]int)
	ds := &Dataset{Interactions: make([]Interaction, len(src.Ratings))}
	for i, r := range src.Ratings {
		ds.Interactions[i] = Interaction{UserID: r.UserID, MovieID: r.MovieID, Score: r.Score, At: r.RatedAt}
		counts[r.MovieID]++
	}
	for _, mv := range src.Movies {
		it := Item{ID: mv.ID, Title: mv.Title, Genres: mv.GenreNames(), RatingCount: counts[mv.ID],
			Popularity: mv.PopularityScore}
		if mv.ReleaseYear != nil {
			it.Year = *mv.ReleaseYear
		}
		var tc []tagCount
		for t, n := range tags[mv.ID] {
			tc = append(tc, tagCount{t, n})
		}
		slices.SortFunc(tc, func(a, b tagCount) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.tag, b.tag)) })
		for _, t := range tc {
			it.Tags = append(it.Tags, t.tag)
		}
		ds.Items = append(ds.Items, it)
	}
	return ds
}

var small struct {
	once sync.Once
	ds   *Dataset
	err  error
}

// loadSmall reads ml-latest-small once per test binary, skipping when the
// folder is absent.
func loadSmall(tb testing.TB) *Dataset {
	tb.Helper()
	if _, err := os.Stat(smallDir); errors.Is(err, os.ErrNotExist) {
		tb.Skipf("%s is absent", smallDir)
	}
	small.once.Do(func() {
		src, err := movielens.Read(context.Background(), smallDir, nil)
		if err != nil {
			small.err = err
			return
		}
		small.ds = fromMovieLens(src)
	})
	if small.err != nil {
		tb.Fatalf("reading %s: %v", smallDir, small.err)
	}
	return small.ds
}

var smallModel struct {
	once sync.Once
	m    *Model
	err  error
}

// trainedSmall is one model trained on all of ml-latest-small with the
// default configuration, shared by the tests that only read it.
func trainedSmall(tb testing.TB) (*Dataset, *Model) {
	tb.Helper()
	ds := loadSmall(tb)
	smallModel.once.Do(func() {
		smallModel.m, smallModel.err = Train(context.Background(), ds, DefaultConfig(), nil)
	})
	if smallModel.err != nil {
		tb.Fatalf("Train: %v", smallModel.err)
	}
	return ds, smallModel.m
}

var synthGenres = []string{"Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"}

// syntheticDataset makes a small catalogue with a clear structure: movie i
// has genre i%6 (and a second one), users each favour one genre and rate
// mostly its movies, highly, and a few others, lower.
func syntheticDataset(users, items int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 99))
	ds := &Dataset{}
	for i := range items {
		it := Item{
			ID:     int64(1000 + i),
			Title:  fmt.Sprintf("Movie %d", i),
			Year:   1950 + (i*7)%70,
			Genres: []string{synthGenres[i%6], synthGenres[(i/6+1+i%6)%6]},
		}
		if it.Genres[1] == it.Genres[0] {
			it.Genres = it.Genres[:1]
		}
		if i%3 == 0 {
			it.Tags = []string{"tag " + synthGenres[i%6], "common"}
		}
		ds.Items = append(ds.Items, it)
	}
	at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for u := range users {
		fav := u % 6
		n := min(10+rng.IntN(20), items/2)
		seen := map[int]bool{}
		for len(seen) < n {
			var i int
			score := 0.5 + float64(rng.IntN(4))/2
			if rng.Float64() < 0.8 {
				i = fav + 6*rng.IntN(items/6)
				score = 3.5 + float64(rng.IntN(4))/2
			} else {
				i = rng.IntN(items)
			}
			if seen[i] {
				continue
			}
			seen[i] = true
			ds.Interactions = append(ds.Interactions, Interaction{
				UserID: int64(u + 1), MovieID: int64(1000 + i), Score: score,
				At: at.Add(time.Duration(len(ds.Interactions)) * time.Minute),
			})
		}
	}
	for i := range ds.Items {
		for _, x := range ds.Interactions {
			if x.MovieID == ds.Items[i].ID {
				ds.Items[i].RatingCount++
			}
		}
	}
	return ds
}

// sameAnswers checks that a and b give the same recommendations, for every
// algorithm, to each of users (their ratings in ds).
func sameAnswers(t *testing.T, a, b *Model, ds *Dataset, users []int64, limit int, what string) {
	t.Helper()
	for _, user := range users {
		for _, algo := range Algorithms {
			req := Request{History: historyOf(ds, user), Algorithm: algo, Limit: limit}
			x, _ := a.Recommend(req)
			y, _ := b.Recommend(req)
			if !reflect.DeepEqual(x, y) {
				t.Errorf("user %d %s: %s answers differently", user, algo, what)
			}
		}
	}
}
