package catalog

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/movierec/movierec"
)

// syntheticSnapshot makes a catalog shaped like MovieLens 25M: movies with
// Zipf-like rating counts (about ratings in all), 20 genres, tags with a
// long tail, and the last month's ratings for trending.
func syntheticSnapshot(movies, tags, ratings int, seed uint64) movierec.CatalogSnapshot {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"star", "love", "night", "dark", "lord", "king", "city", "dead", "man", "war", "girl", "day",
		"life", "story", "blue", "last", "world", "time", "house", "road", "wars", "rings", "summer", "river",
		"ghost", "secret", "the", "of", "and", "return", "little", "big", "american", "fire", "ice", "heart"}
	genreNames := []string{"Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
		"Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
		"Western", "(no genres listed)"}
	snap := movierec.CatalogSnapshot{Version: 1}
	for i, n := range genreNames {
		snap.Genres = append(snap.Genres, movierec.Genre{ID: int64(i + 1), Name: n})
	}
	for i := range tags {
		snap.Tags = append(snap.Tags, movierec.Tag{ID: int64(i + 1), Name: fmt.Sprintf("%s %s %d", words[r.IntN(len(words))], words[r.IntN(len(words))], i)})
	}
	newest := time.Date(2019, 11, 21, 0, 0, 0, 0, time.UTC)
	snap.Newest, snap.Since = newest, newest.Add(-30*24*time.Hour)
	// Zipf weights: movie k gets ratings ∝ 1/(k+10)^1.1.
	weights := make([]float64, movies)
	var sum float64
	for k := range weights {
		weights[k] = 1 / math.Pow(float64(k+10), 1.1)
		sum += weights[k]
	}
	recentTotal := ratings / 250
	for k := range movies {
		year := 1900 + r.IntN(120)
		title := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
		if r.IntN(2) == 0 {
			title += " " + words[r.IntN(len(words))]
		}
		m := movierec.CatalogMovie{Movie: movierec.Movie{ID: int64(k + 1), Title: fmt.Sprintf("%s (%d)", title, year),
			ReleaseYear: &year, CreatedAt: newest, UpdatedAt: newest}}
		if r.IntN(3) > 0 {
			v := float64(10+r.IntN(85)) / 10
			m.IMDbRating = &v
		}
		count := int(float64(ratings) * weights[k] / sum)
		m.RatingCount = count
		m.RatingDistribution = map[string]int{}
		if count > 0 {
			var total float64
			for i := range movierec.RatingScores {
				m.RatingDistribution[movierec.RatingScores[i]] = 0
			}
			left := count
			for left > 0 {
				n := min(left, 1+r.IntN(max(1, count/8)))
				i := r.IntN(10)
				m.RatingDistribution[movierec.RatingScores[i]] += n
				total += float64(n) * float64(i+1) / 2
				left -= n
			}
			m.AverageRating = total / float64(count)
			m.PopularityScore = float64(count) * m.AverageRating / 5 * (0.2 + 0.8*r.Float64())
		}
		for _, g := range r.Perm(len(genreNames))[:1+r.IntN(3)] {
			m.Genres = append(m.Genres, movierec.Genre{ID: int64(g + 1), Name: genreNames[g]})
		}
		for range min(count/50, 30) {
			t := tags * int(math.Pow(r.Float64(), 3)*1000) / 1000
			m.Tags = append(m.Tags, movierec.TagCount{Tag: movierec.Tag{ID: int64(t + 1)}, Count: 1 + r.IntN(20)})
		}
		m.Tags = slices.CompactFunc(m.Tags, func(a, b movierec.TagCount) bool { return a.ID == b.ID })
		for range int(float64(recentTotal) * weights[k] / sum) {
			m.Recent = append(m.Recent, snap.Since.Add(time.Duration(r.Int64N(int64(30*24*time.Hour)))))
		}
		sort.Slice(m.Recent, func(i, j int) bool { return m.Recent[i].Before(m.Recent[j]) })
		snap.Movies = append(snap.Movies, m)
	}
	return snap
}

var (
	bigOnce sync.Once
	big     *Catalog
)

// bigCatalog is a 62,000-movie catalog (MovieLens 25M's shape), built once.
func bigCatalog(b *testing.B) *Catalog {
	bigOnce.Do(func() {
		snap := syntheticSnapshot(62000, 20000, 25_000_000, 42)
		big = New(nil, Options{})
		big.st = newState(snap, big.opts.Window)
		big.st.sortNames()
	})
	return big
}

func fp(v float64) *float64 { return &v }

// listShapes are the list requests of the 62k-movie targets.
var listShapes = []struct {
	name string
	f    movierec.MovieFilter
}{
	{"default", movierec.MovieFilter{Limit: 20}},
	{"genre_by_average", movierec.MovieFilter{Genres: []string{"Comedy"}, MinRatingCount: 20,
		Ordering: []movierec.Order{{Field: movierec.OrderAverageRating, Desc: true}}, Limit: 20}},
	{"two_genres_years_title", movierec.MovieFilter{Genres: []string{"Drama", "Romance"}, YearGTE: 1990, YearLTE: 2010,
		Ordering: []movierec.Order{{Field: movierec.OrderTitle}}, Limit: 20}},
	{"imdb_and_popularity", movierec.MovieFilter{IMDbRatingGTE: fp(7), PopularityGTE: fp(10),
		Ordering: []movierec.Order{{Field: movierec.OrderReleaseDate, Desc: true}, {Field: movierec.OrderTitle}}, Limit: 50}},
	{"tag", movierec.MovieFilter{Tags: []string{"star wars 0"}, Limit: 20}},
	{"genre_id_page_10", movierec.MovieFilter{GenreID: 8, Offset: 180, Limit: 20}},
	{"search_common", movierec.MovieFilter{Search: "star", Limit: 20}},
	{"search_two_words", movierec.MovieFilter{Search: "lord of", Limit: 20}},
	{"search_short", movierec.MovieFilter{Search: "e", Limit: 20}},
	{"search_ordered", movierec.MovieFilter{Search: "night", Ordering: []movierec.Order{{Field: movierec.OrderRatingCount, Desc: true}}, Limit: 20}},
	{"deep_page_title", movierec.MovieFilter{Ordering: []movierec.Order{{Field: movierec.OrderTitle}}, Offset: 50000, Limit: 100}},
	{"deep_page_default", movierec.MovieFilter{Offset: 30000, Limit: 100}},
}

// runLatency runs op from 10 goroutines and reports the mean and the p50,
// p99 of one call (milliseconds).
func runLatency(b *testing.B, op func()) {
	b.SetParallelism(max(1, 10/max(1, testingProcs())))
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t := time.Now()
			op()
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

func testingProcs() int { return runtimeProcs }

// BenchmarkList62k: every list shape at 62,000 movies, 10 concurrent
// callers (go test -bench List62k -run ^$ ./catalog/).
func BenchmarkList62k(b *testing.B) {
	c := bigCatalog(b)
	ctx := context.Background()
	for _, s := range listShapes {
		b.Run(s.name, func(b *testing.B) {
			runLatency(b, func() {
				if _, err := c.ListMovies(ctx, s.f); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	b.Run("popular", func(b *testing.B) {
		runLatency(b, func() { c.PopularMovies(ctx, 50) })
	})
	b.Run("trending_week", func(b *testing.B) {
		runLatency(b, func() { c.TrendingMovies(ctx, 7*24*time.Hour, 50) })
	})
	b.Run("top_rated", func(b *testing.B) {
		runLatency(b, func() { c.TopRatedMovies(ctx, 10, 50) })
	})
	b.Run("tags_search", func(b *testing.B) {
		runLatency(b, func() { c.Tags(ctx, "wars", 0, 20) })
	})
	b.Run("detail", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 1))
		var mu sync.Mutex
		runLatency(b, func() {
			mu.Lock()
			id := int64(1 + r.IntN(62000))
			mu.Unlock()
			if _, err := c.Movie(ctx, id); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkApply62k: applying one changed movie (a rating write) to the
// 62,000-movie catalog under its write lock.
func BenchmarkApply62k(b *testing.B) {
	c := bigCatalog(b)
	r := rand.New(rand.NewPCG(2, 2))
	c.mu.RLock()
	base := make([]*entry, 0, 100)
	for i := range 100 {
		base = append(base, c.st.movies[i*600])
	}
	c.mu.RUnlock()
	b.ResetTimer()
	for i := range b.N {
		e := *base[i%len(base)]
		e.movie.RatingCount++
		e.movie.PopularityScore += r.Float64()
		c.mu.Lock()
		c.st.putMovie(&e)
		c.mu.Unlock()
	}
}

// BenchmarkLoad62k: building the index from a loaded snapshot.
func BenchmarkLoad62k(b *testing.B) {
	snap := syntheticSnapshot(62000, 20000, 25_000_000, 42)
	b.ResetTimer()
	for range b.N {
		st := newState(snap, 30*24*time.Hour)
		st.sortNames()
	}
}
