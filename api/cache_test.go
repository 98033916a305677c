package api_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// cachedServer starts an API with an answer cache on s (c nil: a fresh
// in-process cache).
func cachedServer(t *testing.T, s *sqlstore.Store, c *cache.Cache) *env {
	if c == nil {
		var err error
		if c, err = cache.New(cache.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	eng := engine.New(s, engine.DefaultConfig(), slog.New(slog.DiscardHandler))
	if _, err := eng.Train(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	accounts := storetest.Accounts(t, s)
	srv := api.New(s, accounts, slog.New(slog.DiscardHandler), api.Options{Cache: c, Recommender: eng})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, store: s, accounts: accounts, srv: srv, url: ts.URL}
}

func loadedSQLite(t *testing.T, path string) *sqlstore.Store {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fetch GETs path and returns the response and its body.
func fetch(t *testing.T, e *env, path, token string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req) // no transparent gzip
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func cacheOutcome(res *http.Response) string {
	st := res.Header.Get("Server-Timing")
	if i := strings.Index(st, `cache;desc="`); i >= 0 {
		rest := st[i+len(`cache;desc="`):]
		return rest[:strings.Index(rest, `"`)]
	}
	return ""
}

func TestCachePoliciesAndHeaders(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		if _, err := s.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
			t.Fatal(err)
		}
		e := cachedServer(t, s, nil)
		tk := e.register("viewer")
		for _, c := range []struct {
			path, token, cacheControl string
			cached                    bool
		}{
			{"/api/movies/?page_size=5", "", "public, max-age=900", true},
			{"/api/movies/genres/", "", "public, max-age=900", true},
			{"/api/movies/2/", "", "public, max-age=3600", true},
			{"/api/movies/popular/", "", "public, max-age=600", true},
			{"/api/movies/trending/?period=month", "", "public, max-age=600", true},
			{"/api/recommendations/movies/2/similar/", "", "public, max-age=3600", true},
			{"/api/recommendations/for-me/", tk.Access, "private, no-store", true},
			{"/api/ratings/my-ratings/", tk.Access, "private, no-store", false},
			{"/api/auth/profile/", tk.Access, "private, no-store", false},
		} {
			first, body1 := fetch(t, e, c.path, c.token, nil)
			second, body2 := fetch(t, e, c.path, c.token, nil)
			if first.StatusCode != 200 || second.StatusCode != 200 || string(body1) != string(body2) {
				t.Fatalf("%s: %d %d", c.path, first.StatusCode, second.StatusCode)
			}
			if cc := second.Header.Get("Cache-Control"); cc != c.cacheControl {
				t.Errorf("%s: Cache-Control %q, want %q", c.path, cc, c.cacheControl)
			}
			if c.cached && (cacheOutcome(first) != "miss" || cacheOutcome(second) != "hit-local" || !strings.Contains(second.Header.Get("Server-Timing"), `desc="0 queries"`)) {
				t.Errorf("%s: outcomes %q then %q (%s)", c.path, cacheOutcome(first), cacheOutcome(second), second.Header.Get("Server-Timing"))
			}
			if !c.cached && cacheOutcome(second) != "" {
				t.Errorf("%s: user data went through the cache", c.path)
			}
		}
		t.Run("ETag", func(t *testing.T) {
			res, _ := fetch(t, e, "/api/movies/3/", "", nil)
			tag := res.Header.Get("ETag")
			if !strings.HasPrefix(tag, `"`) || strings.HasPrefix(tag, "W/") {
				t.Fatalf("ETag %q is not strong", tag)
			}
			res, body := fetch(t, e, "/api/movies/3/", "", map[string]string{"If-None-Match": tag})
			if res.StatusCode != 304 || len(body) != 0 || res.Header.Get("ETag") != tag {
				t.Errorf("If-None-Match: %d, %d bytes", res.StatusCode, len(body))
			}
			if res, _ := fetch(t, e, "/api/movies/3/", "", map[string]string{"If-None-Match": `"other"`}); res.StatusCode != 200 {
				t.Errorf("stale ETag: %d", res.StatusCode)
			}
		})
		t.Run("Gzip", func(t *testing.T) {
			res, body := fetch(t, e, "/api/movies/?page_size=50", "", map[string]string{"Accept-Encoding": "gzip"})
			if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("large list: encoding %q vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
			}
			zr, err := gzip.NewReader(strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			var page struct{ Count int }
			if json.Unmarshal(plain, &page) != nil || page.Count != 40 {
				t.Errorf("gzipped body does not decode: %.80s", plain)
			}
			if res, _ := fetch(t, e, "/healthz", "", map[string]string{"Accept-Encoding": "gzip"}); res.Header.Get("Content-Encoding") != "" {
				t.Error("a tiny answer was compressed")
			}
			if res, _ := fetch(t, e, "/api/movies/?page_size=50", "", nil); res.Header.Get("Content-Encoding") != "" {
				t.Error("compressed for a client that did not ask")
			}
		})
	})
}

// TestInvalidationAfterWrites: every kind of write is visible in the very
// next read.
func TestInvalidationAfterWrites(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		if _, err := s.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
			t.Fatal(err)
		}
		e := cachedServer(t, s, nil)
		checkWritesVisible(t, e, e)
	})
}

// checkWritesVisible writes through a and reads through b.
func checkWritesVisible(t *testing.T, a, b *env) {
	tk := a.register("writer")
	staff := a.staffToken()
	detail := func() (int, string) {
		var d struct {
			RatingCount int    `json:"rating_count"`
			Title       string `json:"title"`
		}
		res, body := fetch(t, b, "/api/movies/6/", "", nil)
		if res.StatusCode == 404 {
			return -1, ""
		}
		json.Unmarshal(body, &d)
		return d.RatingCount, d.Title
	}
	warm := func(path string) { fetch(t, b, path, "", nil); fetch(t, b, path, "", nil) }
	warm("/api/movies/6/")
	warm("/api/movies/?ordering=-rating_count&page_size=100")
	warm("/api/movies/genres/")
	warm("/api/ratings/movies/6/stats/")
	n0, _ := detail()

	call(t, a.url, "POST", "/api/ratings/movies/6/rate/", tk.Access, map[string]any{"score": 5}, nil)
	if n, _ := detail(); n != n0+1 {
		t.Errorf("after a rating: detail shows %d ratings, want %d", n, n0+1)
	}
	var stats struct{ Count int }
	_, body := fetch(t, b, "/api/ratings/movies/6/stats/", "", nil)
	json.Unmarshal(body, &stats)
	if stats.Count != n0+1 {
		t.Errorf("after a rating: stats show %d", stats.Count)
	}
	call(t, a.url, "DELETE", "/api/ratings/movies/6/rate/", tk.Access, nil, nil)
	if n, _ := detail(); n != n0 {
		t.Errorf("after deleting the rating: %d, want %d", n, n0)
	}
	call(t, a.url, "PATCH", "/api/movies/6/", staff, map[string]any{"title": "Retitled Six"}, nil)
	if _, title := detail(); title != "Retitled Six" {
		t.Errorf("after a staff edit: title %q", title)
	}
	_, body = fetch(t, b, "/api/movies/?ordering=-rating_count&page_size=100", "", nil)
	if !strings.Contains(string(body), "Retitled Six") {
		t.Error("the list still shows the old title")
	}
	var g struct{ ID int64 }
	call(t, a.url, "POST", "/api/movies/genres/", staff, map[string]string{"name": "Mumblecore"}, &g)
	if _, body := fetch(t, b, "/api/movies/genres/", "", nil); !strings.Contains(string(body), "Mumblecore") {
		t.Error("a new genre is missing from the genre list")
	}
	call(t, a.url, "PATCH", "/api/movies/genres/"+itoa(g.ID)+"/", staff, map[string]string{"name": "Mumblecore Revival"}, nil)
	if _, body := fetch(t, b, "/api/movies/genres/", "", nil); !strings.Contains(string(body), "Mumblecore Revival") {
		t.Error("a renamed genre keeps its old name in the genre list")
	}
	warm("/api/movies/tags/")
	var tg struct{ ID int64 }
	call(t, a.url, "POST", "/api/movies/tags/", staff, map[string]string{"name": "slow-burn"}, &tg)
	if _, body := fetch(t, b, "/api/movies/tags/", "", nil); !strings.Contains(string(body), "slow-burn") {
		t.Error("a new tag is missing from the tag list")
	}
	call(t, a.url, "DELETE", "/api/movies/tags/"+itoa(tg.ID)+"/", staff, nil, nil)
	if _, body := fetch(t, b, "/api/movies/tags/", "", nil); strings.Contains(string(body), "slow-burn") {
		t.Error("a deleted tag is still listed")
	}
	var count struct{ Count int }
	_, body = fetch(t, b, "/api/movies/?page_size=1", "", nil)
	json.Unmarshal(body, &count)
	call(t, a.url, "POST", "/api/movies/", staff, map[string]any{"title": "Freshly Added"}, nil)
	var after struct{ Count int }
	_, body = fetch(t, b, "/api/movies/?page_size=1", "", nil)
	json.Unmarshal(body, &after)
	if after.Count != count.Count+1 {
		t.Errorf("after creating a movie the list counts %d, want %d", after.Count, count.Count+1)
	}
	call(t, a.url, "PUT", "/api/ratings/movies/6/rate/", tk.Access, map[string]any{"score": 2}, nil)
	if n, _ := detail(); n != n0+1 {
		t.Errorf("after a PUT rating: %d, want %d", n, n0+1)
	}
	call(t, a.url, "DELETE", "/api/movies/6/", staff, nil, nil)
	if n, _ := detail(); n != -1 {
		t.Error("a deleted movie is still served")
	}
}

// TestTwoInstancesShareRedis: two servers on one database and one Redis;
// a write through A is visible through B's next read.
func TestTwoInstancesShareRedis(t *testing.T) {
	client, prefix := storetest.Redis(t)
	path := filepath.Join(t.TempDir(), "shared.db")
	sa := loadedSQLite(t, path)
	if _, err := sa.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
		t.Fatal(err)
	}
	sb := loadedSQLite(t, path)
	ca, _ := cache.New(cache.Options{Redis: client, Prefix: prefix})
	cb, _ := cache.New(cache.Options{Redis: client, Prefix: prefix})
	a, b := cachedServer(t, sa, ca), cachedServer(t, sb, cb)
	// Behind one load balancer both instances see the same Host.
	lb := map[string]string{"Host": "movierec.example"}
	fetch(t, a, "/api/movies/2/", "", lb)
	if res, _ := fetch(t, b, "/api/movies/2/", "", lb); cacheOutcome(res) != "hit-redis" {
		t.Errorf("B's first read of what A cached: %q, want hit-redis", cacheOutcome(res))
	}
	checkWritesVisible(t, a, b)
}

// TestCacheKeepsUsersApart: a user's cached recommendations are never
// served to another user.
func TestCacheKeepsUsersApart(t *testing.T) {
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(context.Background(), demodata.Generate(demodata.Options{Movies: 200, Users: 30, Ratings: 2000, Seed: 4}), nil); err != nil {
		t.Fatal(err)
	}
	e := cachedServer(t, s, nil)
	alice, bob := e.register("alice"), e.register("bob")
	for _, id := range []string{"1", "2", "3"} {
		call(t, e.url, "POST", "/api/ratings/movies/"+id+"/rate/", alice.Access, map[string]any{"score": 5}, nil)
	}
	_, a1 := fetch(t, e, "/api/recommendations/for-me/", alice.Access, nil)
	resB, b1 := fetch(t, e, "/api/recommendations/for-me/", bob.Access, nil)
	if string(a1) == string(b1) || cacheOutcome(resB) != "miss" {
		t.Errorf("bob got alice's cached answer (%q)", cacheOutcome(resB))
	}
	resA, a2 := fetch(t, e, "/api/recommendations/for-me/", alice.Access, nil)
	if string(a1) != string(a2) || cacheOutcome(resA) != "hit-local" {
		t.Errorf("alice's second read: %q", cacheOutcome(resA))
	}
	call(t, e.url, "POST", "/api/ratings/movies/4/rate/", alice.Access, map[string]any{"score": 1}, nil)
	if res, _ := fetch(t, e, "/api/recommendations/for-me/", alice.Access, nil); cacheOutcome(res) != "miss" {
		t.Errorf("alice's recommendations after her rating: %q, want a fresh answer", cacheOutcome(res))
	}
	if res, _ := fetch(t, e, "/api/recommendations/for-me/", "", nil); res.StatusCode != 401 {
		t.Errorf("anonymous for-me: %d", res.StatusCode)
	}
}
