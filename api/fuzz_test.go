package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// Fuzzing: hostile input never gets a 5xx, on either backend, and a
// refused write leaves the store as it was. `go test` runs the seeds
// below; .ci/run fuzzes each target for a few seconds; run one longer
// with
//
//	go test -run '^$' -fuzz '^FuzzMovieListQuery$' -fuzztime 5m ./api/

// fuzzServer is one backend's server as serve builds it (the in-memory
// catalog in front of the store), with a user's access token.
type fuzzServer struct {
	name    string
	store   *sqlstore.Store
	handler http.Handler
	token   string
	userID  int64
}

// fuzzServers returns a server per backend (PostgreSQL when configured).
func fuzzServers(f *testing.F) []fuzzServer {
	f.Helper()
	var out []fuzzServer
	for _, b := range storetest.Backends() {
		s := b.Open(f)
		if _, err := s.Import(context.Background(), storetest.Fixture(30), nil); err != nil {
			f.Fatal(err)
		}
		cat := catalog.New(s, catalog.Options{})
		if err := cat.Load(context.Background()); err != nil {
			f.Fatal(err)
		}
		cs := catalog.NewStore(s, cat, nil)
		eng := engine.New(cs, engine.DefaultConfig(), slog.New(slog.DiscardHandler))
		if _, err := eng.Train(context.Background(), nil); err != nil {
			f.Fatal(err)
		}
		accounts := storetest.Accounts(f, s)
		srv := api.New(cs, accounts, slog.New(slog.DiscardHandler), api.Options{Versions: cat, Recommender: eng})
		_, tok, err := accounts.Register(context.Background(), authRegistration("fuzzer"))
		if err != nil {
			f.Fatal(err)
		}
		u, err := s.UserByUsername(context.Background(), "fuzzer")
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, fuzzServer{name: b.Name, store: s, handler: srv.Handler(), token: tok.Access, userID: u.ID})
	}
	return out
}

// serveRaw sends a request whose query string is raw, exactly as given
// (httptest.NewRequest would refuse some of what a client can send).
func serveRaw(h http.Handler, method, path, raw, token string, body []byte) *httptest.ResponseRecorder {
	req := (&http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: raw}, Header: http.Header{},
		Host: "example.com", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}).WithContext(context.Background())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// fuzzPaths are the routes that read query parameters (lists, search,
// rankings, rating lists, recommendations).
var fuzzPaths = []string{
	"/api/movies/", "/api/movies/genres/", "/api/movies/genres/1/movies/", "/api/movies/tags/",
	"/api/movies/tags/1/movies/", "/api/movies/popular/", "/api/movies/trending/", "/api/movies/top-rated/",
	"/api/ratings/movies/1/ratings/", "/api/ratings/my-ratings/", "/api/recommendations/movies/1/similar/",
	"/api/recommendations/for-me/", "/api/movies/1/",
}

func FuzzMovieListQuery(f *testing.F) {
	for _, seed := range []string{
		"", "page=2&page_size=5", "genre=Drama&genre=Comedy&ordering=-average_rating,title",
		"search=star&ordering=-popularity_score", "search=%00", "search=" + strings.Repeat("e", 300),
		"genre=" + strings.Repeat("x&genre=", 12) + "x", "page=99999999999999999999", "page=-1&page_size=0",
		"page=9999999&page_size=100", "min_rating_count=-1", "release_date__year__gte=abc",
		"imdb_rating__gte=NaN&popularity_score__lte=1e309", "ordering=,,", "ordering=-title,-title",
		"%zz", "a=%", "limit=0", "limit=1000000", "period=century", "period=week&limit=5", "tag=%C0%AF",
		"search=%E2%80%AE%F0%9F%8E%AC", "page_size=100&page=3&genre=Drama&tag=funny&min_user_rating=4.5",
		"format=json", "page=1&page=2",
	} {
		f.Add(seed)
	}
	servers := fuzzServers(f)
	f.Fuzz(func(t *testing.T, raw string) {
		for _, s := range servers {
			for _, path := range fuzzPaths {
				w := serveRaw(s.handler, "GET", path, raw, s.token, nil)
				if w.Code >= 500 {
					t.Fatalf("%s: GET %s?%s answered %d: %s", s.name, path, raw, w.Code, w.Body.String())
				}
			}
		}
	})
}

func FuzzRatingBody(f *testing.F) {
	for _, seed := range []string{
		`{"score": 4}`, `{"score": 4.5, "review": "fine"}`, `{"score": "4"}`, `{"score": 1e400}`, `{"score": null}`,
		`{"score": 0}`, `{"score": 5.5}`, `{"score": 4.25}`, `[]`, `{"score": 4, "score": 5}`, `{"id": 3, "score": 4}`,
		"{\"score\": 4, \"review\": \"\xff\xfe\"}", `{"review": "` + strings.Repeat("r", 6000) + `", "score": 3}`,
		strings.Repeat("[", 10000), `{"score": 4}{"score": 5}`, `{"score": -0}`, `{"score": 4e0}`, "", "null",
		`{"score": 4, "movie_id": 2}`, `{"score": 4, "extra": {"a": [1, 2, {"b": null}]}}`,
	} {
		f.Add([]byte(seed))
	}
	servers := fuzzServers(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, s := range servers {
			before, beforeErr := s.store.Rating(context.Background(), s.userID, 1)
			for _, method := range []string{"POST", "PUT"} {
				w := serveRaw(s.handler, method, "/api/ratings/movies/1/rate/", "", s.token, body)
				if w.Code >= 500 {
					t.Fatalf("%s: %s rate %q answered %d: %s", s.name, method, body, w.Code, w.Body.String())
				}
				if w.Code >= 400 { // refused: nothing stored changed
					after, afterErr := s.store.Rating(context.Background(), s.userID, 1)
					if (beforeErr == nil) != (afterErr == nil) || after.Score != before.Score || after.Review != before.Review {
						t.Fatalf("%s: a refused rating (%d) changed the stored one: %+v → %+v", s.name, w.Code, before, after)
					}
				} else {
					before, beforeErr = s.store.Rating(context.Background(), s.userID, 1)
				}
			}
		}
	})
}

func FuzzRegisterBody(f *testing.F) {
	for _, seed := range []string{
		`{"username": "ann", "email": "ann@example.com", "password": "correct horse"}`,
		`{"username": "ann", "email": "ann@example.com", "password": "correct horse", "password_confirm": "x"}`,
		`{"username": "", "email": "", "password": ""}`, `{"username": "a\u0000b", "email": "x@y", "password": "p"}`,
		`{"username": ["a"], "email": 1, "password": true}`, `{"username": "` + strings.Repeat("u", 500) + `"}`,
		`{"username": "bob", "email": "bob@example.com", "password": "` + strings.Repeat("p", 100_000) + `"}`,
		"{", `{"is_staff": true, "username": "eve", "email": "eve@example.com", "password": "correct horse"}`,
	} {
		f.Add([]byte(seed))
	}
	servers := fuzzServers(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, s := range servers {
			w := serveRaw(s.handler, "POST", "/api/auth/register/", "", "", body)
			if w.Code >= 500 {
				t.Fatalf("%s: register %q answered %d: %s", s.name, body, w.Code, w.Body.String())
			}
			if w.Code == http.StatusCreated && strings.Contains(w.Body.String(), `"is_staff":true`) {
				t.Fatalf("%s: registration made a staff account: %s", s.name, w.Body.String())
			}
		}
	})
}

// authRegistration is a valid registration for name.
func authRegistration(name string) auth.Registration {
	return auth.Registration{Username: name, Email: name + "@example.com", Password: "correct horse"}
}
