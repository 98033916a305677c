package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

const fixtureMovies = 40

// env is a running API on a real store loaded with the fixture.
type env struct {
	t        *testing.T
	store    *sqlstore.Store
	accounts *auth.Service
	srv      *api.Server
	url      string
	all      []movierec.Movie // every movie, as the store reports them
}

// forEachBackend runs fn against a server per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		if _, err := s.Import(context.Background(), storetest.Fixture(fixtureMovies), nil); err != nil {
			t.Fatal(err)
		}
		accounts := storetest.Accounts(t, s)
		cs := servingStore(t, s)
		// No throttling here; see TestThrottling.
		srv := api.New(cs, accounts, slog.New(slog.DiscardHandler), api.Options{Versions: cs.Catalog})
		hs := httptest.NewServer(srv)
		t.Cleanup(hs.Close)
		p, err := s.ListMovies(context.Background(), movierec.MovieFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, &env{t: t, store: s, accounts: accounts, srv: srv, url: hs.URL, all: p.Items})
	})
}

// servingStore is s as the server uses it: catalog reads from the
// in-memory catalog, which its writes keep current.
func servingStore(t testing.TB, s *sqlstore.Store) *catalog.Store {
	t.Helper()
	c := catalog.New(s, catalog.Options{})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return catalog.NewStore(s, c, nil)
}

// get requests path and decodes the JSON body into out (if non-nil),
// returning the response.
func (e *env) get(path string, out any) *http.Response {
	return e.do(http.MethodGet, path, out)
}

func (e *env) do(method, path string, out any) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); method != http.MethodHead && ct != "application/json; charset=utf-8" {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return res
}

type item struct {
	ID              int64    `json:"id"`
	Title           string   `json:"title"`
	Genres          []string `json:"genres"`
	PopularityScore float64  `json:"popularity_score"`
	RatingCount     int      `json:"rating_count"`
}

type page struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []item  `json:"results"`
}

type errBody struct {
	Error struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Details map[string][]string `json:"details"`
	} `json:"error"`
}

func itemIDs(items []item) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func TestMovieListPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		want := storetest.MovieIDs(storetest.SortMovies(e.all, movierec.DefaultOrdering))
		var got []int64
		next := "/api/movies/?page_size=15&min_rating_count=0"
		pages := 0
		var prev *string
		for next != "" {
			var p page
			if res := e.get(next, &p); res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", next, res.StatusCode)
			}
			pages++
			if p.Count != fixtureMovies {
				t.Errorf("count %d, want %d", p.Count, fixtureMovies)
			}
			if (pages == 1) != (p.Previous == nil) {
				t.Errorf("page %d: previous %v", pages, p.Previous)
			}
			if pages == 2 && (p.Previous == nil || *p.Previous != e.url+"/api/movies/?min_rating_count=0&page_size=15") {
				t.Errorf("page 2: previous %v: page 1 drops the page parameter and keeps the rest", p.Previous)
			}
			got = append(got, itemIDs(p.Results)...)
			next = ""
			if p.Next != nil {
				u, err := url.Parse(*p.Next)
				if err != nil || !u.IsAbs() || u.Query().Get("page_size") != "15" || u.Query().Get("min_rating_count") != "0" {
					t.Fatalf("next %q: want an absolute URL keeping the filters", *p.Next)
				}
				next = strings.TrimPrefix(*p.Next, e.url)
			}
			prev = p.Previous
		}
		if pages != 3 || prev == nil || !strings.Contains(*prev, "page=2") {
			t.Errorf("walked %d pages, last previous %v; want 3 pages", pages, prev)
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages joined: %v\nwant %v", got, want)
		}
		t.Run("ErrPagePastEnd", func(t *testing.T) {
			var b errBody
			if res := e.get("/api/movies/?page=4&page_size=15", &b); res.StatusCode != http.StatusNotFound || b.Error.Code != "NOT_FOUND" {
				t.Errorf("got %d %+v", res.StatusCode, b)
			}
		})
		t.Run("EmptyFirstPage", func(t *testing.T) {
			var p page
			if res := e.get("/api/movies/?search=no-such-movie", &p); res.StatusCode != http.StatusOK || p.Count != 0 || p.Results == nil || len(p.Results) != 0 {
				t.Errorf("got %d %+v, want 200 with an empty results array", res.StatusCode, p)
			}
		})
	})
}

func TestMovieListOrdering(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var cases []string
		for _, f := range movierec.OrderFields {
			cases = append(cases, f, "-"+f)
		}
		cases = append(cases, "-rating_count,title", "release_date,-imdb_rating")
		for _, ordering := range cases {
			t.Run(ordering, func(t *testing.T) {
				var ord []movierec.Order
				for _, f := range strings.Split(ordering, ",") {
					ord = append(ord, movierec.Order{Field: strings.TrimPrefix(f, "-"), Desc: strings.HasPrefix(f, "-")})
				}
				var p page
				e.get("/api/movies/?page_size=100&ordering="+url.QueryEscape(ordering), &p)
				if want := storetest.MovieIDs(storetest.SortMovies(e.all, ord)); !slices.Equal(itemIDs(p.Results), want) {
					t.Errorf("got %v\nwant %v", itemIDs(p.Results), want)
				}
			})
		}
	})
}

func TestMovieListFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := func(v float64) *float64 { return &v }
		year := 0
		for _, m := range e.all {
			if m.ReleaseYear != nil {
				year = *m.ReleaseYear
			}
		}
		cases := []struct {
			query  string
			filter movierec.MovieFilter
		}{
			{"search=alpha&ordering=-popularity_score", movierec.MovieFilter{Search: "alpha", Ordering: []movierec.Order{{Field: "popularity_score", Desc: true}}}},
			{"search=bending", movierec.MovieFilter{Search: "bending"}},
			{"genre=drama", movierec.MovieFilter{Genres: []string{"drama"}}},
			{"genre=Drama&genre=comedy", movierec.MovieFilter{Genres: []string{"Drama", "comedy"}}},
			{"tag=funny", movierec.MovieFilter{Tags: []string{"funny"}}},
			{"release_date__year=" + strconv.Itoa(year), movierec.MovieFilter{Year: year}},
			{"release_date__year__gte=1990&release_date__year__lte=2000", movierec.MovieFilter{YearGTE: 1990, YearLTE: 2000}},
			{"imdb_rating__gte=4.5&imdb_rating__lte=8", movierec.MovieFilter{IMDbRatingGTE: f(4.5), IMDbRatingLTE: f(8)}},
			{"popularity_score__gte=0.5&popularity_score__lte=3", movierec.MovieFilter{PopularityGTE: f(0.5), PopularityLTE: f(3)}},
			{"min_user_rating=3.5", movierec.MovieFilter{MinAverageRating: f(3.5)}},
			{"min_rating_count=6", movierec.MovieFilter{MinRatingCount: 6}},
			{"genre=drama&min_rating_count=2&ordering=title", movierec.MovieFilter{Genres: []string{"drama"}, MinRatingCount: 2,
				Ordering: []movierec.Order{{Field: "title"}}}},
		}
		for _, c := range cases {
			t.Run(c.query, func(t *testing.T) {
				c.filter.Limit = 100
				want, err := e.store.ListMovies(context.Background(), c.filter)
				if err != nil {
					t.Fatal(err)
				}
				if want.Count == 0 || want.Count == fixtureMovies {
					t.Fatalf("filter %q selects %d movies: the case tests nothing", c.query, want.Count)
				}
				var p page
				if res := e.get("/api/movies/?page_size=100&"+c.query, &p); res.StatusCode != http.StatusOK {
					t.Fatalf("status %d", res.StatusCode)
				}
				if !slices.Equal(itemIDs(p.Results), storetest.MovieIDs(want.Items)) || p.Count != want.Count {
					t.Errorf("got %v (count %d), want %v", itemIDs(p.Results), p.Count, storetest.MovieIDs(want.Items))
				}
			})
		}
	})
}

func TestBadRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		cases := []struct {
			method, path string
			status       int
			code, param  string
		}{
			{"GET", "/api/movies/?page=abc", 400, "VALIDATION_ERROR", "page"},
			{"GET", "/api/movies/?page=0", 400, "VALIDATION_ERROR", "page"},
			{"GET", "/api/movies/?page_size=0", 400, "VALIDATION_ERROR", "page_size"},
			{"GET", "/api/movies/?page_size=101", 400, "VALIDATION_ERROR", "page_size"},
			{"GET", "/api/movies/?page=1&page=2", 400, "VALIDATION_ERROR", "page"},
			{"GET", "/api/movies/?ordering=nope", 400, "VALIDATION_ERROR", "ordering"},
			{"GET", "/api/movies/?ordering=title,-title", 400, "VALIDATION_ERROR", "ordering"},
			{"GET", "/api/movies/?release_date__year=x", 400, "VALIDATION_ERROR", "release_date__year"},
			{"GET", "/api/movies/?imdb_rating__gte=NaN", 400, "VALIDATION_ERROR", "imdb_rating__gte"},
			{"GET", "/api/movies/?popularity_score__lte=Inf", 400, "VALIDATION_ERROR", "popularity_score__lte"},
			{"GET", "/api/movies/?min_rating_count=-1", 400, "VALIDATION_ERROR", "min_rating_count"},
			{"GET", "/api/movies/?colour=blue", 400, "VALIDATION_ERROR", "colour"},
			{"GET", "/api/movies/trending/?period=year", 400, "VALIDATION_ERROR", "period"},
			{"GET", "/api/movies/popular/?limit=1000", 400, "VALIDATION_ERROR", "limit"},
			{"GET", "/api/movies/?" + strings.Repeat("genre=drama&", 11), 400, "VALIDATION_ERROR", "genre"},
			{"GET", "/api/movies/?" + strings.Repeat("tag=slow&", 500), 400, "VALIDATION_ERROR", "tag"},
			{"GET", "/api/movies/top-rated/?min_ratings=zero", 400, "VALIDATION_ERROR", "min_ratings"},
			{"GET", "/api/movies/genres/?page_size=x", 400, "VALIDATION_ERROR", "page_size"},
			{"GET", "/api/movies/1/?page=2", 400, "VALIDATION_ERROR", "page"},
			{"GET", "/api/movies/424242/", 404, "NOT_FOUND", ""},
			{"GET", "/api/movies/abc/", 404, "NOT_FOUND", ""},
			{"GET", "/api/movies/-1/", 404, "NOT_FOUND", ""},
			{"GET", "/api/movies/007/", 404, "NOT_FOUND", ""},
			{"GET", "/api/movies/+5/", 404, "NOT_FOUND", ""},
			{"GET", "/api/movies/?format=xml", 400, "VALIDATION_ERROR", "format"},
			{"GET", "/api/movies/?search=%00", 400, "VALIDATION_ERROR", "search"},
			{"GET", "/api/movies/?genre=a%00b", 400, "VALIDATION_ERROR", "genre"},
			{"GET", "/api/movies/?search=" + strings.Repeat("ab", 101), 400, "VALIDATION_ERROR", "search"},
			{"GET", "/api/movies/?tag=" + strings.Repeat("t", 201), 400, "VALIDATION_ERROR", "tag"},
			{"GET", "/api/movies/tags/?search=a%00", 400, "VALIDATION_ERROR", "search"},
			{"GET", "/api/movies/genres/999/movies/?page=abc", 400, "VALIDATION_ERROR", "page"},
			{"GET", "/api/movies/genres/999/movies/", 404, "NOT_FOUND", ""},
			{"GET", "/api/movies/tags/999/", 404, "NOT_FOUND", ""},
			{"GET", "/api/nothing-here/", 404, "NOT_FOUND", ""},
			{"GET", "/nothing", 404, "NOT_FOUND", ""},
			{"PUT", "/api/movies/genres/1/movies/", 405, "METHOD_NOT_ALLOWED", ""},
			{"POST", "/api/movies/trending/", 405, "METHOD_NOT_ALLOWED", ""},
			{"DELETE", "/api/movies/popular/", 405, "METHOD_NOT_ALLOWED", ""},
			{"PATCH", "/api/movies/genres/", 405, "METHOD_NOT_ALLOWED", ""},
			{"GET", "/api/auth/profile/", 401, "NOT_AUTHENTICATED", ""},
			{"DELETE", "/api/movies/1/?force=1", 401, "NOT_AUTHENTICATED", ""},
			{"GET", "/api/schema/?format=yaml", 400, "VALIDATION_ERROR", "format"},
			{"GET", "/health/?verbose=1", 400, "VALIDATION_ERROR", "verbose"},
			{"GET", "/api/?x=1", 400, "VALIDATION_ERROR", "x"},
		}
		for _, c := range cases {
			t.Run(c.method+" "+c.path, func(t *testing.T) {
				var b errBody
				res := e.do(c.method, c.path, &b)
				if res.StatusCode != c.status || b.Error.Code != c.code || b.Error.Message == "" {
					t.Fatalf("got %d %+v, want %d %s", res.StatusCode, b, c.status, c.code)
				}
				if b.Error.Details == nil {
					t.Errorf("no details object in the error body")
				}
				if c.param != "" && len(b.Error.Details[c.param]) == 0 {
					t.Errorf("details %v do not name %s", b.Error.Details, c.param)
				}
				if c.status == 405 && res.Header.Get("Allow") == "" {
					t.Errorf("405 without an Allow header")
				}
			})
		}
	})
}

func TestTrailingSlashOptional(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, path := range []string{"/api/movies", "/api/movies/1", "/api/movies/genres", "/api/movies/popular", "/health", "/api"} {
			var a, b json.RawMessage
			ra, rb := e.get(path, &a), e.get(path+"/", &b)
			if ra.StatusCode != 200 || rb.StatusCode != 200 || string(a) != string(b) {
				t.Errorf("%s: %d vs %d with a slash", path, ra.StatusCode, rb.StatusCode)
			}
		}
	})
}

func TestMovieDetail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		want, err := e.store.Movie(context.Background(), 2)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			ID     int64  `json:"id"`
			Title  string `json:"title"`
			Genres []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"genres"`
			Tags               []map[string]any `json:"tags"`
			RatingDistribution map[string]int   `json:"rating_distribution"`
			RatingCount        int              `json:"rating_count"`
			CreatedAt          string           `json:"created_at"`
		}
		if res := e.get("/api/movies/2/", &d); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if d.ID != 2 || d.Title != want.Title || len(d.Genres) != len(want.Genres) || len(d.Tags) != len(want.Tags) || d.CreatedAt == "" {
			t.Errorf("detail %+v, want %+v", d, want)
		}
		sum := 0
		for _, k := range movierec.RatingScores {
			n, ok := d.RatingDistribution[k]
			if !ok {
				t.Errorf("distribution lacks %s", k)
			}
			sum += n
		}
		if sum != d.RatingCount || len(d.RatingDistribution) != 10 {
			t.Errorf("distribution %v sums to %d, rating_count %d", d.RatingDistribution, sum, d.RatingCount)
		}
	})
}

func TestGenresAndTagsRoutes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var genres struct {
			Count   int `json:"count"`
			Results []struct {
				ID         int64  `json:"id"`
				Name       string `json:"name"`
				MovieCount int    `json:"movie_count"`
			} `json:"results"`
		}
		e.get("/api/movies/genres/", &genres)
		if genres.Count != len(storetest.FixtureGenres) || len(genres.Results) != genres.Count {
			t.Fatalf("genres %+v", genres)
		}
		g := genres.Results[2]
		var movies page
		e.get("/api/movies/genres/"+itoa(g.ID)+"/movies/?page_size=100&ordering=title", &movies)
		if movies.Count != g.MovieCount || movies.Count == 0 {
			t.Errorf("genre %s lists %d movies, movie_count %d", g.Name, movies.Count, g.MovieCount)
		}
		for _, m := range movies.Results {
			if !slices.Contains(m.Genres, g.Name) {
				t.Errorf("movie %d in genre %s has genres %v", m.ID, g.Name, m.Genres)
			}
		}
		var filtered page
		e.get("/api/movies/?page_size=100&ordering=title&genre="+url.QueryEscape(g.Name), &filtered)
		if !slices.Equal(itemIDs(filtered.Results), itemIDs(movies.Results)) {
			t.Errorf("genre route %v differs from the genre filter %v", itemIDs(movies.Results), itemIDs(filtered.Results))
		}
		var tags struct {
			Count   int `json:"count"`
			Results []struct {
				ID         int64  `json:"id"`
				Name       string `json:"name"`
				MovieCount int    `json:"movie_count"`
			} `json:"results"`
		}
		e.get("/api/movies/tags/?search=FUN", &tags)
		if tags.Count != 1 || tags.Results[0].Name != "funny" {
			t.Fatalf("tag search: %+v", tags)
		}
		var tagMovies page
		e.get("/api/movies/tags/"+itoa(tags.Results[0].ID)+"/movies/", &tagMovies)
		if tagMovies.Count != tags.Results[0].MovieCount || tagMovies.Count == 0 {
			t.Errorf("tag lists %d movies, movie_count %d", tagMovies.Count, tags.Results[0].MovieCount)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRankingRoutes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var popular page
		e.get("/api/movies/popular/?limit=5", &popular)
		if want := storetest.MovieIDs(storetest.SortMovies(e.all, movierec.DefaultOrdering))[:5]; !slices.Equal(itemIDs(popular.Results), want) {
			t.Errorf("popular %v, want %v", itemIDs(popular.Results), want)
		}
		var trending struct {
			Period  string `json:"period"`
			Results []struct {
				ID            int64 `json:"id"`
				RecentRatings int   `json:"recent_ratings"`
			} `json:"results"`
		}
		e.get("/api/movies/trending/?period=month&limit=100", &trending)
		ranked, err := e.store.TrendingMovies(context.Background(), 30*24*3600e9, 100)
		if err != nil {
			t.Fatal(err)
		}
		if trending.Period != "month" || len(trending.Results) != len(ranked) || len(ranked) == 0 {
			t.Fatalf("trending %+v, store has %d", trending, len(ranked))
		}
		for i, r := range trending.Results {
			if r.ID != ranked[i].ID || r.RecentRatings != int(ranked[i].Score) {
				t.Errorf("trending #%d = %+v, want movie %d with %v", i, r, ranked[i].ID, ranked[i].Score)
			}
		}
		var alias json.RawMessage
		var direct json.RawMessage
		e.get("/api/recommendations/trending/?period=month&limit=100", &alias)
		e.get("/api/movies/trending/?period=month&limit=100", &direct)
		if string(alias) != string(direct) {
			t.Errorf("/api/recommendations/trending/ differs from /api/movies/trending/")
		}
		var top struct {
			MinRatings int `json:"min_ratings"`
			Results    []struct {
				ID             int64   `json:"id"`
				WeightedRating float64 `json:"weighted_rating"`
				RatingCount    int     `json:"rating_count"`
			} `json:"results"`
		}
		e.get("/api/movies/top-rated/?min_ratings=5&limit=100", &top)
		if top.MinRatings != 5 || len(top.Results) == 0 {
			t.Fatalf("top rated %+v", top)
		}
		for i, r := range top.Results {
			if r.RatingCount < 5 || (i > 0 && top.Results[i-1].WeightedRating < r.WeightedRating) {
				t.Errorf("top rated #%d = %+v: want ≥5 ratings, descending weighted rating", i, r)
			}
		}
	})
}

func TestHealth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var h map[string]any
		if res := e.get("/health/", &h); res.StatusCode != 200 || h["status"] != "healthy" || h["database"] != "ok" {
			t.Errorf("health %d %v", res.StatusCode, h)
		}
		if res := e.get("/readyz", nil); res.StatusCode != 200 {
			t.Errorf("readyz %d", res.StatusCode)
		}
		e.srv.SetReady(false)
		if res := e.get("/readyz", nil); res.StatusCode != 503 {
			t.Errorf("readyz while shutting down: %d, want 503", res.StatusCode)
		}
		if res := e.get("/healthz", nil); res.StatusCode != 200 {
			t.Errorf("healthz while shutting down: %d, want 200", res.StatusCode)
		}
		e.srv.SetReady(true)
		e.store.Close()
		if res := e.get("/health/", &h); res.StatusCode != 503 || h["status"] != "unhealthy" || res.Header.Get("Retry-After") == "" {
			t.Errorf("health with the database closed: %d %v", res.StatusCode, h)
		}
		if res := e.get("/readyz", nil); res.StatusCode != 503 {
			t.Errorf("readyz with the database closed: %d, want 503", res.StatusCode)
		}
	})
}

func TestAPIRoot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var links map[string]string
		e.get("/api/", &links)
		for _, k := range []string{"movies", "genres", "tags", "popular", "trending", "top_rated", "schema", "health",
			"auth", "ratings", "recommendations", "docs"} {
			u := links[k]
			if !strings.HasPrefix(u, e.url+"/") {
				t.Errorf("link %s = %q", k, u)
				continue
			}
			if k == "docs" { // HTML (TestDocsPage)
				if res, _ := getPage(t, u); res.StatusCode != 200 {
					t.Errorf("link %s answers %d", k, res.StatusCode)
				}
				continue
			}
			if res := e.get(strings.TrimPrefix(u, e.url), nil); res.StatusCode != 200 {
				t.Errorf("link %s answers %d", k, res.StatusCode)
			}
		}
		// Each section root links operations that exist: asked with GET
		// they answer anything but 404 (a POST-only operation 405, a
		// caller's own data 401).
		for _, section := range []string{"auth", "ratings", "recommendations"} {
			var sub map[string]string
			if res := e.get(strings.TrimPrefix(links[section], e.url), &sub); res.StatusCode != 200 || len(sub) < 2 {
				t.Fatalf("%s root: %d %v", section, res.StatusCode, sub)
			}
			for name, u := range sub {
				if !strings.HasPrefix(u, e.url+"/api/"+section+"/") {
					t.Errorf("%s link %s = %q", section, name, u)
					continue
				}
				path := strings.NewReplacer("%7Bid%7D", "1", "%7Buser_id%7D", "1", "{id}", "1", "{user_id}", "1").Replace(strings.TrimPrefix(u, e.url))
				if res := e.get(path, nil); res.StatusCode == 404 {
					t.Errorf("%s link %s (%s) is a 404", section, name, path)
				}
			}
		}
	})
}

// getPage GETs a page that is not JSON and returns the response and body.
func getPage(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, body
}

// TestHome: / answers a browser with an HTML page linking the API and
// its reference, and a JSON client with the API root's links; anything
// else at the top stays a 404.
func TestHome(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		res, page := getPage(t, e.url+"/")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(page), `href="/api/docs/"`) || !strings.Contains(string(page), `href="/api/"`) {
			t.Errorf("GET / for a browser: %d %q %.300s", res.StatusCode, res.Header.Get("Content-Type"), page)
		}
		req, _ := http.NewRequest("GET", e.url+"/", nil)
		req.Header.Set("Accept", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var links map[string]string
		err = json.NewDecoder(res.Body).Decode(&links)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || links["movies"] != e.url+"/api/movies/" || links["docs"] != e.url+"/api/docs/" {
			t.Errorf("GET / for a JSON client: %d %v (%v)", res.StatusCode, links, err)
		}
		var b errBody
		if res := e.get("/index.php", &b); res.StatusCode != 404 || b.Error.Code != "NOT_FOUND" {
			t.Errorf("GET /index.php: %d %+v", res.StatusCode, b)
		}
	})
}

// TestDocsPage: /api/docs/ is an HTML page under a Content-Security-Policy
// whose scripts and styles all come from this server (so it works
// offline), gzipped when asked for, revalidated by ETag.
func TestDocsPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		res, page := getPage(t, e.url+"/api/docs/")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("docs page: %d %q CSP %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Security-Policy"))
		}
		refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
		assets := 0
		for _, m := range refs {
			ref := m[1]
			if strings.HasPrefix(ref, "http:") || strings.HasPrefix(ref, "https:") || strings.HasPrefix(ref, "//") {
				t.Errorf("the page loads %s from elsewhere: it must work offline", ref)
				continue
			}
			if !strings.HasPrefix(ref, "assets/") {
				continue
			}
			assets++
			u := e.url + "/api/docs/" + ref
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			ct := res.Header.Get("Content-Type")
			if res.StatusCode != 200 || res.Header.Get("ETag") == "" || len(body) == 0 {
				t.Errorf("%s: %d, ETag %q, %d bytes", ref, res.StatusCode, res.Header.Get("ETag"), len(body))
				continue
			}
			if strings.HasSuffix(ref, ".js") && !strings.HasPrefix(ct, "text/javascript") ||
				strings.HasSuffix(ref, ".css") && !strings.HasPrefix(ct, "text/css") {
				t.Errorf("%s: Content-Type %q", ref, ct)
			}
			if !strings.HasSuffix(ref, ".png") {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if res.Header.Get("Content-Encoding") != "gzip" || err != nil {
					t.Errorf("%s: not gzipped (%q, %v)", ref, res.Header.Get("Content-Encoding"), err)
				} else if plain, err := io.ReadAll(zr); err != nil || len(plain) <= len(body) {
					t.Errorf("%s: gzip of %d bytes unpacks to %d (%v)", ref, len(body), len(plain), err)
				}
			}
			req.Header.Set("If-None-Match", res.Header.Get("ETag"))
			if res, err := http.DefaultTransport.RoundTrip(req); err != nil || res.StatusCode != 304 {
				t.Errorf("%s with its ETag: %v %v, want 304", ref, res.StatusCode, err)
			} else {
				res.Body.Close()
			}
		}
		if assets < 4 {
			t.Errorf("the page references %d assets, want its viewer's script and style and its own", assets)
		}
		if !strings.Contains(string(page), "assets/swagger-ui-bundle.js") {
			t.Errorf("the page does not load the vendored viewer")
		}
	})
}

// TestSearchRanksTitlesFirst: a search without an ordering lists title
// matches before movies that only carry a matching tag, whatever their
// popularity; an explicit ordering overrides the ranking.
func TestSearchRanksTitlesFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		// Movie 3 is "100% Pure_Fun"; the tag "funny" is on several others.
		var p page
		e.get("/api/movies/?search=fun&page_size=100", &p)
		if p.Count < 2 || p.Results[0].ID != 3 {
			t.Fatalf("search=fun: %v, want the title match (3) first", itemIDs(p.Results))
		}
		want, err := e.store.ListMovies(context.Background(), movierec.MovieFilter{Search: "fun", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(slices.Values(itemIDs(p.Results))); !slices.Equal(got, slices.Sorted(slices.Values(storetest.MovieIDs(want.Items)))) {
			t.Fatalf("search=fun matches %v, SQL says %v", got, storetest.MovieIDs(want.Items))
		}
		e.get("/api/movies/?search=fun&page_size=100&ordering=-rating_count", &p)
		if !slices.Equal(itemIDs(p.Results), storetest.MovieIDs(storetest.SortMovies(want.Items, []movierec.Order{{Field: "rating_count", Desc: true}}))) {
			t.Fatalf("search=fun&ordering=-rating_count: %v", itemIDs(p.Results))
		}
	})
}

// TestPopularityAfterARating: with forward decay a new rating of movie X
// (made today, years after the fixture's ratings) never lowers X's
// popularity_score and leaves every other movie's score and order in
// /popular/ as it was.
func TestPopularityAfterARating(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var before, after page
		e.get("/api/movies/popular/?limit=100", &before)
		if len(before.Results) < 10 {
			t.Fatalf("popular lists %d movies", len(before.Results))
		}
		x := before.Results[len(before.Results)/2]
		tk := e.register("rater")
		if res := call(t, e.url, "POST", "/api/ratings/movies/"+itoa(x.ID)+"/rate/", tk.Access, map[string]any{"score": 0.5}, nil); res.StatusCode != http.StatusCreated {
			t.Fatalf("rating: status %d", res.StatusCode)
		}
		// Read as the writer: read-your-writes (an anonymous list shows it
		// within a second).
		res, body := fetch(t, e, "/api/movies/popular/?limit=100", "", map[string]string{"Authorization": "Bearer " + tk.Access})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("popular as the writer: status %d", res.StatusCode)
		}
		if err := json.Unmarshal(body, &after); err != nil {
			t.Fatal(err)
		}
		scores := map[int64]float64{}
		var others []int64
		for _, it := range after.Results {
			scores[it.ID] = it.PopularityScore
			if it.ID != x.ID {
				others = append(others, it.ID)
			}
		}
		if got, ok := scores[x.ID]; !ok || got <= x.PopularityScore {
			t.Errorf("movie %d: popularity %v before the rating, %v (listed %v) after: it must rise", x.ID, x.PopularityScore, got, ok)
		}
		var want []int64
		for _, it := range before.Results {
			if it.ID == x.ID {
				continue
			}
			if s, ok := scores[it.ID]; ok && s != it.PopularityScore {
				t.Errorf("movie %d's popularity moved from %v to %v on a rating of movie %d", it.ID, it.PopularityScore, s, x.ID)
			}
			want = append(want, it.ID)
		}
		if !slices.Equal(others, want[:len(others)]) {
			t.Errorf("the other movies' order changed:\nbefore %v\nafter  %v", want, others)
		}
	})
}

// TestClientHangUpIs499: a request whose client has gone when its
// database read fails is recorded as 499 (client closed request), not as
// a server error, on both backends.
func TestClientHangUpIs499(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/ratings/movies/1/ratings/", nil)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != 499 {
			t.Fatalf("status %d for a request whose client hung up, want 499 (body %s)", rec.Code, rec.Body)
		}
		// The same request with its client still there is answered.
		rec = httptest.NewRecorder()
		e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/ratings/movies/1/ratings/", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d with the client still there", rec.Code)
		}
	})
}

// TestAllowAndOptions: OPTIONS on every route's path answers 204 with an
// Allow header listing exactly the methods registered for that path (HEAD
// with GET, and OPTIONS), and any other method there is a 405 with the
// same Allow, also where a path looks like an {id} of another route
// (/api/movies/popular/ is not a movie to PUT).
func TestAllowAndOptions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		want := map[string][]string{} // path → methods
		for _, route := range e.srv.Routes() {
			method, path, _ := strings.Cut(route, " ")
			path = strings.TrimSuffix(path, "{$}")
			path = strings.NewReplacer("{id}", "1", "{user_id}", "1", "{name}", "docs.js").Replace(path)
			want[path] = append(want[path], method)
			if method == "GET" {
				want[path] = append(want[path], "HEAD")
			}
		}
		if len(want) < 30 {
			t.Fatalf("only %d paths registered", len(want))
		}
		for path, methods := range want {
			methods = append(methods, "OPTIONS")
			slices.Sort(methods)
			req, _ := http.NewRequest("OPTIONS", e.url+path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := strings.Split(res.Header.Get("Allow"), ", ")
			slices.Sort(got)
			if res.StatusCode != 204 || !slices.Equal(got, methods) {
				t.Errorf("OPTIONS %s: %d Allow %v, want 204 %v", path, res.StatusCode, got, methods)
			}
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				if slices.Contains(methods, m) {
					continue
				}
				var b errBody
				res := e.do(m, path, &b)
				got := strings.Split(res.Header.Get("Allow"), ", ")
				slices.Sort(got)
				if res.StatusCode != 405 || b.Error.Code != "METHOD_NOT_ALLOWED" || !slices.Equal(got, methods) {
					t.Errorf("%s %s: %d %s Allow %v, want 405 %v", m, path, res.StatusCode, b.Error.Code, got, methods)
				}
			}
		}
		req, _ := http.NewRequest("OPTIONS", e.url+"/api/nothing-here/", nil)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 404 {
			t.Errorf("OPTIONS on no route: %v %v, want 404", res.StatusCode, err)
		}
	})
}

// TestCORS: with allowed origins, a browser preflight from one of them is
// answered (methods and the Authorization header allowed) and real
// answers carry Access-Control-Allow-Origin; other origins get none; with
// no origins configured CORS stays off.
func TestCORS(t *testing.T) {
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(context.Background(), storetest.Fixture(10), nil); err != nil {
		t.Fatal(err)
	}
	accounts := storetest.Accounts(t, s)
	serve := func(origins ...string) string {
		ts := httptest.NewServer(api.New(s, accounts, slog.New(slog.DiscardHandler), api.Options{CORSOrigins: origins}).Handler())
		t.Cleanup(ts.Close)
		return ts.URL
	}
	send := func(method, url, origin string, h map[string]string) *http.Response {
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("Origin", origin)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
	on := serve("https://app.example.com")
	res := send("OPTIONS", on+"/api/ratings/movies/1/rate/", "https://app.example.com", preflight)
	if res.StatusCode/100 != 2 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight from an allowed origin: %d %v", res.StatusCode, res.Header)
	}
	res = send("GET", on+"/api/movies/", "https://app.example.com", nil)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Etag") && !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("GET from an allowed origin: %d %v", res.StatusCode, res.Header)
	}
	for _, url := range []string{on, serve()} {
		res = send("OPTIONS", url+"/api/movies/", "https://evil.example", preflight)
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from another origin allowed: %v", res.Header)
		}
		if res = send("GET", url+"/api/movies/", "https://evil.example", nil); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET from another origin: %d %v", res.StatusCode, res.Header)
		}
	}
}

// TestUnratedMoviesHaveNoAverage: a movie nobody rated shows
// "average_rating": null in lists and detail (as in its stats), sorts
// after every rated movie whichever the direction, and matches no
// min_user_rating; its first rating gives it that score as its average.
func TestUnratedMoviesHaveNoAverage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staffToken()
		var created struct {
			ID int64 `json:"id"`
		}
		if res := call(t, e.url, "POST", "/api/movies/", staff, map[string]any{"title": "Nobody Saw This"}, &created); res.StatusCode != 201 {
			t.Fatalf("create: %d", res.StatusCode)
		}
		path := "/api/movies/" + itoa(created.ID) + "/"
		avgOf := func(raw map[string]json.RawMessage) string { return string(raw["average_rating"]) }
		var detail map[string]json.RawMessage
		e.get(path, &detail)
		var stats map[string]json.RawMessage
		e.get("/api/ratings/movies/"+itoa(created.ID)+"/stats/", &stats)
		if avgOf(detail) != "null" || string(stats["average"]) != "null" {
			t.Errorf("unrated movie: detail average_rating %s, stats average %s; want null", avgOf(detail), stats["average"])
		}
		for _, ordering := range []string{"average_rating", "-average_rating"} {
			var p struct {
				Count   int                          `json:"count"`
				Results []map[string]json.RawMessage `json:"results"`
			}
			e.get("/api/movies/?page_size=100&min_rating_count=0&ordering="+ordering, &p)
			var last int64
			for page := 2; len(p.Results) > 0; page++ {
				tail := p.Results[len(p.Results)-1]
				json.Unmarshal(tail["id"], &last)
				nulls := 0
				for i, m := range p.Results {
					if avgOf(m) == "null" {
						nulls++
					} else if nulls > 0 {
						t.Fatalf("ordering=%s: a rated movie (item %d) after an unrated one", ordering, i)
					}
				}
				if page > 1+(p.Count+99)/100 {
					break
				}
				p.Results = nil
				e.get("/api/movies/?page_size=100&min_rating_count=0&ordering="+ordering+"&page="+strconv.Itoa(page), &p)
			}
			if last != created.ID && ordering == "average_rating" {
				// The new movie has the highest id: last among the nulls
				// (ties go by id in the first key's direction).
				t.Errorf("ordering=%s: last item %d, want the unrated movie %d", ordering, last, created.ID)
			}
		}
		var p page
		e.get("/api/movies/?page_size=100&min_rating_count=0&min_user_rating=0&search=Nobody", &p)
		if len(p.Results) != 0 {
			t.Errorf("min_user_rating=0 matched the unrated movie: %v", itemIDs(p.Results))
		}
		tk := e.register("first_rater")
		call(t, e.url, "POST", "/api/ratings/movies/"+itoa(created.ID)+"/rate/", tk.Access, map[string]any{"score": 3.5}, nil)
		e.get(path, &detail)
		if avgOf(detail) != "3.5" {
			t.Errorf("after one rating of 3.5: average_rating %s", avgOf(detail))
		}
	})
}
