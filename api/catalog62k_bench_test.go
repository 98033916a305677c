package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/storetest"
)

// BenchmarkCatalog62k serves every list shape, rankings and detail over
// loopback HTTP from a catalog of 62,000 movies (MovieLens 25M's movie
// count) with 1.5M ratings, the answer cache off, 10 concurrent clients,
// and reports p50/p99 per request. Building the data set takes minutes,
// so it runs only when MOVIEREC_BENCH_62K names a directory to keep the
// SQLite file in (reused on the next run):
//
//	MOVIEREC_BENCH_62K=/tmp/bench62k go test -run '^$' -bench Catalog62k -benchtime 2000x -timeout 60m ./api/
func BenchmarkCatalog62k(b *testing.B) {
	dir := os.Getenv("MOVIEREC_BENCH_62K")
	if dir == "" {
		b.Skip("MOVIEREC_BENCH_62K is not set")
	}
	ctx := context.Background()
	path := filepath.Join(dir, "catalog62k.db")
	_, statErr := os.Stat(path)
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if statErr != nil {
		start := time.Now()
		ds := demodata.Generate(demodata.Options{Movies: 62000, Users: 162000, Ratings: 1_500_000, Seed: 25})
		if _, err := s.Import(ctx, ds, nil); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated and imported in %v", time.Since(start).Round(time.Second))
	}
	start := time.Now()
	cs := servingStore(b, s)
	b.Logf("catalog loaded in %v", time.Since(start).Round(time.Millisecond))
	opts := api.DefaultOptions()
	opts.Versions = cs.Catalog
	ts := httptest.NewServer(api.New(cs, storetest.Accounts(b, s), slog.New(slog.DiscardHandler), opts).Handler())
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}
	for _, bc := range []struct{ name, path string }{
		{"list", "/api/movies/"},
		{"list_genre_by_average", "/api/movies/?genre=comedy&ordering=-average_rating&min_rating_count=20"},
		{"list_two_genres_years_title", "/api/movies/?genre=drama&genre=romance&release_date__year__gte=1990&release_date__year__lte=2010&ordering=title"},
		{"list_imdb_popularity_two_keys", "/api/movies/?imdb_rating__gte=7&popularity_score__gte=1&ordering=-release_date,title&page_size=50"},
		{"list_deep_page", "/api/movies/?page=600&page_size=100&ordering=title"},
		{"genre_movies_page_10", "/api/movies/genres/3/movies/?page=10"},
		{"tag_movies", "/api/movies/tags/1/movies/"},
		{"search_word", "/api/movies/?search=night"},
		{"search_two_words", "/api/movies/?search=the%20last"},
		{"search_one_letter", "/api/movies/?search=e"},
		{"popular", "/api/movies/popular/"},
		{"trending_week", "/api/movies/trending/"},
		{"top_rated", "/api/movies/top-rated/"},
		{"tags_search", "/api/movies/tags/?search=a"},
		{"detail", "/api/movies/%d/"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var mu sync.Mutex
			var lat []time.Duration
			var n int
			next := func() (int, bool) {
				mu.Lock()
				defer mu.Unlock()
				n++
				return n, n <= b.N
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for i, ok := next(); ok; i, ok = next() {
						path := bc.path
						if bc.name == "detail" {
							path = fmt.Sprintf(bc.path, 1+(i*7919)%62000)
						}
						t := time.Now()
						res, err := client.Get(ts.URL + path)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						mine = append(mine, time.Since(t))
						if res.StatusCode != http.StatusOK {
							b.Errorf("%s: %d", path, res.StatusCode)
							return
						}
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
