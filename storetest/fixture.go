package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/movierec/movierec"
)

// FixtureGenres and FixtureTags are the names Fixture uses.
var (
	FixtureGenres = []string{"Action", "Comedy", "Drama", "Sci-Fi", "Thriller"}
	FixtureTags   = []string{"classic", "funny", "mind-bending", "slow"}
)

// Fixture returns a small, deterministic catalog with every kind of value
// the filters and orderings care about: missing years, dates and IMDb
// ratings, ties, movies without ratings, genres or tags, and a title with
// LIKE metacharacters. Movie IDs are 1..movies.
func Fixture(movies int) *movierec.Dataset {
	r := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := &movierec.Dataset{}
	words := []string{"Alpha", "bravo", "Charlie", "delta", "Echo", "foxtrot", "Golf", "hotel"}
	for i := 1; i <= movies; i++ {
		m := movierec.Movie{
			ID:          int64(i),
			Title:       fmt.Sprintf("%s %s %d", words[r.IntN(len(words))], words[r.IntN(len(words))], i),
			Description: fmt.Sprintf("Movie number %d.", i),
		}
		if i == 3 {
			m.Title = "100% Pure_Fun"
		}
		if i%5 != 0 { // every fifth movie has no year
			y := 1980 + r.IntN(40)
			m.ReleaseYear = &y
			if i%3 != 0 {
				d := time.Date(y, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
				m.ReleaseDate = &d
			}
		}
		if i%4 != 0 {
			v := float64(10+r.IntN(80)) / 10
			m.IMDbRating = &v
		}
		if i%7 != 0 { // every seventh movie has no genre
			picked := r.Perm(len(FixtureGenres))[:1+r.IntN(3)]
			slices.Sort(picked)
			for _, g := range picked {
				m.Genres = append(m.Genres, movierec.Genre{Name: FixtureGenres[g]})
			}
		}
		ds.Movies = append(ds.Movies, m)
	}
	users := 12
	for u := 1; u <= users; u++ {
		ds.Users = append(ds.Users, movierec.DatasetUser{ID: int64(u), Username: fmt.Sprintf("fixture_%d", u)})
		for _, mi := range r.Perm(movies)[:movies/3+r.IntN(movies/3)] {
			if (mi+1)%6 == 0 { // every sixth movie has no ratings
				continue
			}
			ds.Ratings = append(ds.Ratings, movierec.DatasetRating{
				UserID: int64(u), MovieID: int64(mi + 1),
				Score:   float64(1+r.IntN(10)) / 2,
				RatedAt: base.Add(time.Duration(r.IntN(400*24)) * time.Hour),
			})
		}
		for k := 0; k < 3; k++ {
			ds.Tags = append(ds.Tags, movierec.DatasetTag{
				UserID: int64(u), MovieID: int64(1 + r.IntN(movies)),
				Tag: FixtureTags[r.IntN(len(FixtureTags))], TaggedAt: base.Add(time.Duration(u*k) * time.Hour),
			})
		}
	}
	ds.Tags = uniqueTags(ds.Tags)
	return ds
}

func uniqueTags(tags []movierec.DatasetTag) []movierec.DatasetTag {
	type key struct {
		u, m int64
		t    string
	}
	seen := map[key]bool{}
	out := tags[:0]
	for _, t := range tags {
		k := key{t.UserID, t.MovieID, t.Tag}
		if !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out
}
