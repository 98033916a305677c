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
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// cachedServer starts an API with an answer cache on s (c nil: a fresh
// in-process cache) and an in-memory catalog kept current as in
// production: its own writes at once, other instances' through the
// change-log poll, and, when c shares Redis, through the version other
// instances publish there.
func cachedServer(t *testing.T, s *sqlstore.Store, c *cache.Cache) *env {
	return startCached(t, s, c, true)
}

// startCached is cachedServer; versioned false serves without the
// in-memory catalog (every answer through the generation-keyed tiers).
func startCached(t *testing.T, s *sqlstore.Store, c *cache.Cache, versioned bool) *env {
	if c == nil {
		var err error
		if c, err = cache.New(cache.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	var store api.Store = s
	var engStore engine.Store = s
	opts := api.Options{Cache: c}
	if versioned {
		copts := catalog.Options{Poll: 20 * time.Millisecond, Coalesce: 100 * time.Millisecond, Shared: true}
		if c.Shared() {
			copts.Probe = c.CatalogVersion
		}
		cat := catalog.New(s, copts)
		if err := cat.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go cat.Run(ctx)
		t.Cleanup(cancel)
		cs := catalog.NewStore(s, cat, nil)
		cs.Published = c.PublishCatalogVersion
		store, engStore, opts.Versions = cs, cs, cat
	}
	eng := engine.New(engStore, engine.DefaultConfig(), slog.New(slog.DiscardHandler))
	if _, err := eng.Train(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	opts.Recommender = eng
	accounts := storetest.Accounts(t, s)
	srv := api.New(store, accounts, slog.New(slog.DiscardHandler), opts)
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
	res, err := rawTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// rawTransport shows answers as sent: it neither asks for gzip nor
// decompresses (http.DefaultTransport does both unless told not to).
var rawTransport = &http.Transport{DisableCompression: true}

// cachedFlag reads "cached" from a recommendations answer (plain or
// gzipped).
func cachedFlag(t *testing.T, body []byte) bool {
	t.Helper()
	if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	var v struct {
		Cached *bool `json:"cached"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Cached == nil {
		t.Fatalf("no cached flag in %.200s (%v)", body, err)
	}
	return *v.Cached
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
			// Recommendations say whether they came from the cache.
			same := strings.Replace(string(body2), `"cached":true}`, `"cached":false}`, 1) == string(body1)
			if first.StatusCode != 200 || second.StatusCode != 200 || !same {
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

// checkWritesVisible writes through a and reads through b: a movie's own
// answers show a write at once; so does any list read carrying the
// writer's credentials (read-your-writes); an anonymous list shows it
// within a second.
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
	listShows(t, b, "/api/movies/?ordering=-rating_count&page_size=100", staff, "Retitled Six", "the list still shows the old title")
	var g struct{ ID int64 }
	call(t, a.url, "POST", "/api/movies/genres/", staff, map[string]string{"name": "Mumblecore"}, &g)
	listShows(t, b, "/api/movies/genres/", staff, "Mumblecore", "a new genre is missing from the genre list")
	call(t, a.url, "PATCH", "/api/movies/genres/"+itoa(g.ID)+"/", staff, map[string]string{"name": "Mumblecore Revival"}, nil)
	listShows(t, b, "/api/movies/genres/", staff, "Mumblecore Revival", "a renamed genre keeps its old name in the genre list")
	warm("/api/movies/tags/")
	var tg struct{ ID int64 }
	call(t, a.url, "POST", "/api/movies/tags/", staff, map[string]string{"name": "slow-burn"}, &tg)
	listShows(t, b, "/api/movies/tags/", staff, "slow-burn", "a new tag is missing from the tag list")
	call(t, a.url, "DELETE", "/api/movies/tags/"+itoa(tg.ID)+"/", staff, nil, nil)
	within(t, time.Second, "a deleted tag is still listed", func() bool {
		_, body := fetch(t, b, "/api/movies/tags/", "", nil)
		return !strings.Contains(string(body), "slow-burn")
	})
	var count struct{ Count int }
	_, body = fetch(t, b, "/api/movies/?page_size=1", "", nil)
	json.Unmarshal(body, &count)
	call(t, a.url, "POST", "/api/movies/", staff, map[string]any{"title": "Freshly Added"}, nil)
	var after struct{ Count int }
	_, body = fetchAs(t, b, "/api/movies/?page_size=1", staff)
	json.Unmarshal(body, &after)
	if after.Count != count.Count+1 {
		t.Errorf("after creating a movie the writer's list counts %d, want %d", after.Count, count.Count+1)
	}
	within(t, time.Second, "an anonymous list does not count the new movie", func() bool {
		_, body = fetch(t, b, "/api/movies/?page_size=1", "", nil)
		json.Unmarshal(body, &after)
		return after.Count == count.Count+1
	})
	call(t, a.url, "PUT", "/api/ratings/movies/6/rate/", tk.Access, map[string]any{"score": 2}, nil)
	if n, _ := detail(); n != n0+1 {
		t.Errorf("after a PUT rating: %d, want %d", n, n0+1)
	}
	call(t, a.url, "DELETE", "/api/movies/6/", staff, nil, nil)
	if n, _ := detail(); n != -1 {
		t.Error("a deleted movie is still served")
	}
}

// listShows checks that path (read through e) shows want at once for the
// writer (whose credentials it sends) and within a second for everyone.
func listShows(t *testing.T, e *env, path, writer, want, problem string) {
	t.Helper()
	if _, body := fetchAs(t, e, path, writer); !strings.Contains(string(body), want) {
		t.Error(problem + " (the writer's own read)")
	}
	within(t, time.Second, problem+" (an anonymous read, after a second)", func() bool {
		_, body := fetch(t, e, path, "", nil)
		return strings.Contains(string(body), want)
	})
}

// fetchAs GETs path with the writer's bearer token. Catalog reads are
// public: the token only marks the request as the writer's.
func fetchAs(t *testing.T, e *env, path, token string) (*http.Response, []byte) {
	t.Helper()
	return fetch(t, e, path, "", map[string]string{"Authorization": "Bearer " + token})
}

// within retries ok until it holds or d has passed, then reports problem.
func within(t *testing.T, d time.Duration, problem string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Error(problem)
			return
		}
		time.Sleep(10 * time.Millisecond)
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
	checkWritesVisible(t, a, b)
}

// TestTwoInstancesOnePostgres: two servers on one PostgreSQL database and
// no Redis: the database's change log tells B about A's writes (a movie's
// own answers at once, lists within a second).
func TestTwoInstancesOnePostgres(t *testing.T) {
	sa, sb := storetest.OpenPair(t, "postgres")
	if _, err := sa.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
		t.Fatal(err)
	}
	checkWritesVisible(t, cachedServer(t, sa, nil), cachedServer(t, sb, nil))
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
	// A user's answers are keyed by the catalog's list version, which the
	// writes move once the coalescing window (100 ms here) ends; on a busy
	// machine it may move between alice's two reads, and her second read
	// then rightly misses: try again (a few times at most) until it does
	// not. Bob must never get her answer, in any round.
	var a1, a2 []byte
	var resA *http.Response
	for round := 0; round < 5; round++ {
		_, a1 = fetch(t, e, "/api/recommendations/for-me/", alice.Access, nil)
		resB, b1 := fetch(t, e, "/api/recommendations/for-me/", bob.Access, nil)
		uncached := func(b []byte) string { return strings.Replace(string(b), `"cached":true`, `"cached":false`, 1) }
		if uncached(a1) == uncached(b1) || round == 0 && cacheOutcome(resB) != "miss" {
			t.Fatalf("bob got alice's cached answer (%q)", cacheOutcome(resB))
		}
		resA, a2 = fetch(t, e, "/api/recommendations/for-me/", alice.Access, nil)
		if cacheOutcome(resA) == "hit-local" {
			break
		}
		time.Sleep(200 * time.Millisecond) // let the list version settle
	}
	// The answer says whether it came from the cache; otherwise it is the
	// same.
	if cachedFlag(t, a1) || !cachedFlag(t, a2) {
		t.Errorf("cached: %v on the first read, %v on the second; want false then true", cachedFlag(t, a1), cachedFlag(t, a2))
	}
	if strings.Replace(string(a2), `"cached":true`, `"cached":false`, 1) != string(a1) || cacheOutcome(resA) != "hit-local" {
		t.Errorf("alice's second read: %q", cacheOutcome(resA))
	}
	if _, a3 := fetch(t, e, "/api/recommendations/for-me/", alice.Access, map[string]string{"Accept-Encoding": "gzip"}); !cachedFlag(t, a3) {
		t.Errorf("a gzipped hit says it was not cached")
	}
	call(t, e.url, "POST", "/api/ratings/movies/4/rate/", alice.Access, map[string]any{"score": 1}, nil)
	if res, body := fetch(t, e, "/api/recommendations/for-me/", alice.Access, nil); cacheOutcome(res) != "miss" || cachedFlag(t, body) {
		t.Errorf("alice's recommendations after her rating: %q, cached %v; want a fresh answer", cacheOutcome(res), cachedFlag(t, body))
	}
	if res, _ := fetch(t, e, "/api/recommendations/for-me/", "", nil); res.StatusCode != 401 {
		t.Errorf("anonymous for-me: %d", res.StatusCode)
	}
}

// fetchWith is fetch with any header, including repeated fields.
func fetchWith(t *testing.T, e *env, path string, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	req.Header = h
	res, err := rawTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("broken gzip: %v", err)
	}
	return plain
}

func varies(res *http.Response) bool {
	return slices.ContainsFunc(res.Header.Values("Vary"), func(v string) bool { return strings.Contains(v, "Accept-Encoding") })
}

// TestPrecompressedAnswers: a cached answer of 1 KiB or more is kept
// gzip-compressed next to the plain body; a client that accepts gzip gets
// those bytes (which decompress to exactly the plain body) with their own
// ETag, any other client the plain body, and either tag revalidates.
func TestPrecompressedAnswers(t *testing.T) {
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(context.Background(), storetest.Fixture(200), nil); err != nil {
		t.Fatal(err)
	}
	e := cachedServer(t, s, nil)
	// 100 movies: compressed, still more than net/http buffers before it
	// would switch to chunked encoding (a dropped Content-Length shows).
	const path = "/api/movies/?page_size=100"
	gz := map[string]string{"Accept-Encoding": "gzip"}

	first, zbody := fetch(t, e, path, "", gz) // the miss that fills is served compressed too
	if first.StatusCode != 200 || first.Header.Get("Content-Encoding") != "gzip" || cacheOutcome(first) != "miss" {
		t.Fatalf("first gzip request: %d %q %q", first.StatusCode, first.Header.Get("Content-Encoding"), cacheOutcome(first))
	}
	plainRes, plain := fetch(t, e, path, "", nil)
	plainTag := plainRes.Header.Get("ETag")
	gzipTag := strings.TrimSuffix(plainTag, `"`) + `-gzip"`
	if !bytes.Equal(gunzip(t, zbody), plain) {
		t.Fatal("the compressed miss does not decompress to the plain answer")
	}

	t.Run("GzipClient", func(t *testing.T) {
		res, body := fetch(t, e, path, "", gz)
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || !varies(res) || len(res.Header.Values("Vary")) != 1 {
			t.Fatalf("%d, Content-Encoding %q, Vary %q", res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Values("Vary"))
		}
		if got := gunzip(t, body); !bytes.Equal(got, plain) {
			t.Errorf("decompressed body (%d bytes) is not the plain answer (%d bytes)", len(got), len(plain))
		}
		if !bytes.Equal(body, zbody) {
			t.Error("a hit sent other compressed bytes than the fill")
		}
		// gzhttp passed the stored bytes through: no second encoding, our
		// Content-Length kept (so not re-buffered into a chunked answer).
		if res.ContentLength != int64(len(body)) || len(res.TransferEncoding) != 0 || len(body) >= len(plain) {
			t.Errorf("Content-Length %d, Transfer-Encoding %q, %d bytes against %d plain", res.ContentLength, res.TransferEncoding, len(body), len(plain))
		}
		if tag := res.Header.Get("ETag"); tag != gzipTag || tag == plainTag {
			t.Errorf("ETag %q, want %q (the plain answer's is %q)", tag, gzipTag, plainTag)
		}
		if cacheOutcome(res) != "hit-local" || !strings.Contains(res.Header.Get("Server-Timing"), `desc="0 queries"`) {
			t.Errorf("Server-Timing %q", res.Header.Get("Server-Timing"))
		}
		if res.Header.Get("Cache-Control") != "public, max-age=900" || res.Header.Get("X-Request-ID") == "" {
			t.Errorf("Cache-Control %q, X-Request-ID %q", res.Header.Get("Cache-Control"), res.Header.Get("X-Request-ID"))
		}
	})

	t.Run("PlainClient", func(t *testing.T) {
		res, body := fetch(t, e, path, "", nil)
		if res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, plain) || res.Header.Get("ETag") != plainTag || !varies(res) {
			t.Errorf("Content-Encoding %q, ETag %q, Vary %q, same body %v", res.Header.Get("Content-Encoding"),
				res.Header.Get("ETag"), res.Header.Values("Vary"), bytes.Equal(body, plain))
		}
		if cacheOutcome(res) != "hit-local" {
			t.Errorf("outcome %q", cacheOutcome(res))
		}
	})

	t.Run("AcceptEncoding", func(t *testing.T) {
		for _, c := range []struct {
			fields []string
			gzip   bool
		}{
			{[]string{"gzip"}, true},
			{[]string{"gzip, deflate, br, zstd"}, true},
			{[]string{"GZIP;Q=0.5"}, true},
			{[]string{"x-gzip"}, true},
			{[]string{"br;q=1.0, gzip;q=0.8, *;q=0.1"}, true},
			{[]string{"*"}, true},
			{[]string{"br", "gzip"}, true}, // two field lines
			{[]string{"gzip;q=0"}, false},
			{[]string{"gzip; q=0.000, br"}, false},
			{[]string{"*;q=1, gzip;q=0"}, false},
			{[]string{"identity"}, false},
			{[]string{"*;q=0"}, false},
			{[]string{"gzip;q=nonsense"}, false},
			{[]string{"gzipped, xgzip"}, false},
			{[]string{""}, false},
			{nil, false},
		} {
			h := http.Header{}
			for _, f := range c.fields {
				h.Add("Accept-Encoding", f)
			}
			res, body := fetchWith(t, e, path, h)
			if got := res.Header.Get("Content-Encoding") == "gzip"; got != c.gzip {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q", c.fields, res.Header.Get("Content-Encoding"))
			} else if !c.gzip && !bytes.Equal(body, plain) && res.Header.Get("Content-Encoding") == "" {
				t.Errorf("Accept-Encoding %q: the plain body differs", c.fields)
			}
		}
	})

	t.Run("NotModified", func(t *testing.T) {
		for _, c := range []struct {
			acceptEncoding, ifNoneMatch string
			status                      int
			etag                        string
		}{
			{"gzip", gzipTag, 304, gzipTag},
			{"", plainTag, 304, plainTag},
			{"gzip", "W/" + gzipTag, 304, gzipTag},
			{"gzip", `"other", ` + gzipTag, 304, gzipTag},
			{"gzip", "*", 304, gzipTag},
			// Either representation's tag: the client's copy is current
			// and the 304 names it.
			{"gzip", plainTag, 304, plainTag},
			{"", gzipTag, 304, gzipTag},
			{"gzip", `"other"`, 200, gzipTag},
			{"", `"other"`, 200, plainTag},
		} {
			h := map[string]string{"If-None-Match": c.ifNoneMatch}
			if c.acceptEncoding != "" {
				h["Accept-Encoding"] = c.acceptEncoding
			}
			res, body := fetch(t, e, path, "", h)
			if res.StatusCode != c.status || res.Header.Get("ETag") != c.etag {
				t.Errorf("Accept-Encoding %q, If-None-Match %s: %d ETag %s, want %d %s", c.acceptEncoding, c.ifNoneMatch,
					res.StatusCode, res.Header.Get("ETag"), c.status, c.etag)
			}
			if c.status == 304 && (len(body) != 0 || res.Header.Get("Content-Encoding") != "" || !varies(res) ||
				res.Header.Get("Cache-Control") == "") {
				t.Errorf("If-None-Match %s: 304 with %d bytes, Content-Encoding %q, Vary %q, Cache-Control %q", c.ifNoneMatch,
					len(body), res.Header.Get("Content-Encoding"), res.Header.Values("Vary"), res.Header.Get("Cache-Control"))
			}
		}
	})

	t.Run("SmallAnswer", func(t *testing.T) {
		fetch(t, e, "/api/movies/?page_size=1", "", nil)
		res, body := fetch(t, e, "/api/movies/?page_size=1", "", gz)
		if len(body) >= 1024 {
			t.Fatalf("the answer is %d bytes; this test needs one under 1 KiB", len(body))
		}
		if res.Header.Get("Content-Encoding") != "" || strings.HasSuffix(res.Header.Get("ETag"), `-gzip"`) {
			t.Errorf("a %d-byte answer was compressed: %q %q", len(body), res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
		}
	})

	t.Run("CacheOff", func(t *testing.T) {
		srv := api.New(s, e.accounts, slog.New(slog.DiscardHandler), api.Options{})
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()
		off := &env{t: t, url: ts.URL}
		plainRes, plain := fetch(t, off, path, "", nil)
		res, body := fetch(t, off, path, "", gz)
		// gzhttp compresses as it goes and leaves the tag as it is.
		if res.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, body), plain) || res.Header.Get("ETag") != plainRes.Header.Get("ETag") {
			t.Errorf("without a cache: Content-Encoding %q, ETag %q", res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
		}
	})
}

// TestPrecompressedThroughRedis: the compressed representation travels
// through the Redis tier: a second instance serves the first one's bytes.
func TestPrecompressedThroughRedis(t *testing.T) {
	client, prefix := storetest.Redis(t)
	path := filepath.Join(t.TempDir(), "shared.db")
	sa := loadedSQLite(t, path)
	if _, err := sa.Import(context.Background(), storetest.Fixture(200), nil); err != nil {
		t.Fatal(err)
	}
	sb := loadedSQLite(t, path)
	ca, _ := cache.New(cache.Options{Redis: client, Prefix: prefix})
	cb, _ := cache.New(cache.Options{Redis: client, Prefix: prefix})
	// Without the in-memory catalog every answer goes through Redis (with
	// it, only users' answers do; catalog answers stay in process).
	a, b := startCached(t, sa, ca, false), startCached(t, sb, cb, false)
	h := map[string]string{"Host": "movierec.example", "Accept-Encoding": "gzip"}
	resA, zA := fetch(t, a, "/api/movies/?page_size=50", "", h)
	resB, zB := fetch(t, b, "/api/movies/?page_size=50", "", h)
	if cacheOutcome(resA) != "miss" || cacheOutcome(resB) != "hit-redis" {
		t.Fatalf("outcomes %q then %q, want miss then hit-redis", cacheOutcome(resA), cacheOutcome(resB))
	}
	if resB.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(zA, zB) || resB.Header.Get("ETag") != resA.Header.Get("ETag") {
		t.Errorf("B: Content-Encoding %q, ETag %q (A's %q), same bytes %v", resB.Header.Get("Content-Encoding"),
			resB.Header.Get("ETag"), resA.Header.Get("ETag"), bytes.Equal(zA, zB))
	}
	delete(h, "Accept-Encoding")
	resP, plain := fetch(t, b, "/api/movies/?page_size=50", "", h)
	if resP.Header.Get("Content-Encoding") != "" || !bytes.Equal(gunzip(t, zB), plain) {
		t.Errorf("B's plain answer: Content-Encoding %q, or the gzip bytes do not decompress to it", resP.Header.Get("Content-Encoding"))
	}
}

// TestListsKeptAcrossWrites: a rating changes the list version, yet a
// cached list page the rating does not touch is served again as it was
// (same ETag, "hit-revalidated"), while the page that shows the rated
// movie is made again and shows the rating.
func TestListsKeptAcrossWrites(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		if _, err := s.Import(context.Background(), storetest.Fixture(60), nil); err != nil {
			t.Fatal(err)
		}
		e := cachedServer(t, s, nil)
		const shows = "/api/movies/?ordering=-rating_count&page_size=5"
		var top page
		res, body := fetch(t, e, shows, "", nil)
		if err := json.Unmarshal(body, &top); err != nil || res.StatusCode != 200 || len(top.Results) == 0 {
			t.Fatalf("%s: status %d, %v", shows, res.StatusCode, err)
		}
		x := top.Results[0]
		// A title page without x, well after it in rating_count order too.
		var other string
		var otherTag string
		for p := 1; other == ""; p++ {
			path := "/api/movies/?ordering=title&page_size=5&page=" + itoa(int64(p))
			var pg page
			res, body := fetch(t, e, path, "", nil)
			if res.StatusCode != 200 {
				t.Fatalf("no title page without movie %d", x.ID)
			}
			json.Unmarshal(body, &pg)
			if !slices.ContainsFunc(pg.Results, func(it item) bool { return it.ID == x.ID }) {
				other, otherTag = path, res.Header.Get("Etag")
			}
		}
		if res, _ := fetch(t, e, other, "", nil); cacheOutcome(res) != "hit-local" {
			t.Fatalf("%s again: cache %q, want hit-local", other, cacheOutcome(res))
		}

		tk := e.register("rater")
		if res := call(t, e.url, "POST", "/api/ratings/movies/"+itoa(x.ID)+"/rate/", tk.Access, map[string]any{"score": 4}, nil); res.StatusCode != http.StatusCreated {
			t.Fatalf("rating: status %d", res.StatusCode)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			res, _ := fetch(t, e, other, "", nil)
			if o := cacheOutcome(res); o != "hit-local" {
				if o != "hit-revalidated" || res.Header.Get("Etag") != otherTag {
					t.Fatalf("%s after an unrelated rating: cache %q, ETag %s (was %s); want hit-revalidated, same ETag", other, o, res.Header.Get("Etag"), otherTag)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still a plain hit 3s after a rating (the list version did not move)", other)
			}
			time.Sleep(20 * time.Millisecond)
		}
		res, body = fetch(t, e, shows, "", nil)
		var now page
		json.Unmarshal(body, &now)
		if o := cacheOutcome(res); o != "miss" {
			t.Errorf("%s shows the rated movie: cache %q, want miss", shows, o)
		}
		if len(now.Results) == 0 || now.Results[0].ID != x.ID || now.Results[0].RatingCount != x.RatingCount+1 {
			t.Errorf("%s: first %+v, want movie %d with %d ratings", shows, now.Results, x.ID, x.RatingCount+1)
		}
	})
}
