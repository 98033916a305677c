package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/movielens"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// BenchmarkEndpoints measures whole requests (routing, validation, SQL,
// JSON) against ml-latest-small on each backend, without a network:
//
//	go test -run '^$' -bench Endpoints -benchmem ./api/
func BenchmarkEndpoints(b *testing.B) {
	dir := storetest.MovieLensDir(b)
	ds, err := movielens.Read(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			s := backend.Open(b)
			if _, err := s.Import(context.Background(), ds, nil); err != nil {
				b.Fatal(err)
			}
			b.Run("sql", func(b *testing.B) { benchPaths(b, s, s, api.DefaultOptions()) })
			b.Run("catalog", func(b *testing.B) {
				cs := servingStore(b, s)
				opts := api.DefaultOptions()
				opts.Versions = cs.Catalog
				benchPaths(b, s, cs, opts)
			})
		})
	}
}

// benchPaths serves the benchmark's requests from store (s itself, or s
// behind the in-memory catalog).
func benchPaths(b *testing.B, s *sqlstore.Store, store api.Store, opts api.Options) {
	h := api.New(store, storetest.Accounts(b, s), slog.New(slog.DiscardHandler), opts)
	for _, bc := range []struct{ name, path string }{
		{"list", "/api/movies/"},
		{"list_page_100", "/api/movies/?page=20&page_size=100"},
		{"list_filtered", "/api/movies/?genre=comedy&release_date__year__gte=1990&ordering=-average_rating&min_rating_count=10"},
		{"search", "/api/movies/?search=star"},
		{"detail", "/api/movies/1/"},
		{"top_rated", "/api/movies/top-rated/"},
		{"trending", "/api/movies/trending/"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d", bc.path, w.Code)
				}
				io.Copy(io.Discard, w.Body)
			}
		})
	}
}

// BenchmarkCacheHit measures answers served from the in-process cache tier
// against writing the same bytes straight from memory:
//
//	go test -run '^$' -bench CacheHit -benchmem ./api/
func BenchmarkCacheHit(b *testing.B) {
	s := storetest.OpenSQLite(b)
	if _, err := s.Import(context.Background(), storetest.Fixture(200), nil); err != nil {
		b.Fatal(err)
	}
	c, err := cache.New(cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := api.New(s, storetest.Accounts(b, s), slog.New(slog.DiscardHandler), api.Options{Cache: c})
	for _, path := range []string{"/api/movies/", "/api/movies/1/"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req) // warm
		body := w.Body.Bytes()
		b.Run("cached"+strings.ReplaceAll(path, "/", "_"), func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
		b.Run("memory"+strings.ReplaceAll(path, "/", "_"), func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Write(body)
			}
		})
	}
}
