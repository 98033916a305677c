package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/storetest"
	"github.com/movierec/movierec/throttle"
)

// call sends a request with an optional JSON body and bearer token and
// decodes the JSON answer into out (if non-nil).
func call(t *testing.T, base, method, path, token string, body any, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return res
}

type tokens struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
	User    struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
		IsStaff  bool   `json:"is_staff"`
	} `json:"user"`
}

func (e *env) register(name string) tokens {
	e.t.Helper()
	var tk tokens
	res := call(e.t, e.url, "POST", "/api/auth/register/", "", map[string]string{
		"username": name, "email": name + "@example.com", "password": "correct horse"}, &tk)
	if res.StatusCode != http.StatusCreated || tk.Access == "" {
		e.t.Fatalf("register %s: %d %+v", name, res.StatusCode, tk)
	}
	return tk
}

// staffToken makes a staff account directly in the store and logs it in
// through the API.
func (e *env) staffToken() string {
	e.t.Helper()
	hash, _ := auth.NewHasher(storetest.CheapArgon2).Hash("staff password")
	if _, err := e.store.CreateUser(context.Background(), movierec.User{Username: "staffer", Email: "staff@example.com",
		IsStaff: true, IsActive: true, PasswordHash: hash}); err != nil {
		e.t.Fatal(err)
	}
	var tk tokens
	if res := call(e.t, e.url, "POST", "/api/auth/login/", "", map[string]string{"username": "staffer", "password": "staff password"}, &tk); res.StatusCode != 200 || !tk.User.IsStaff {
		e.t.Fatalf("staff login: %d %+v", res.StatusCode, tk)
	}
	return tk.Access
}

func TestAccountFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		first := e.register("judy")
		var tk tokens
		if res := call(t, e.url, "POST", "/api/auth/login/", "", map[string]string{"username": "Judy", "password": "correct horse"}, &tk); res.StatusCode != 200 || tk.User.Username != "judy" {
			t.Fatalf("login: %d %+v", res.StatusCode, tk)
		}
		var rating struct {
			Score  float64 `json:"score"`
			Review string  `json:"review"`
		}
		if res := call(t, e.url, "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 4.5, "review": "Fun"}, &rating); res.StatusCode != 201 || rating.Score != 4.5 {
			t.Fatalf("rate: %d %+v", res.StatusCode, rating)
		}
		if res := call(t, e.url, "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 3}, &rating); res.StatusCode != 200 || rating.Score != 3 {
			t.Fatalf("re-rate: %d %+v", res.StatusCode, rating)
		}
		call(t, e.url, "PUT", "/api/ratings/movies/4/rate/", tk.Access, map[string]any{"score": 1}, nil)
		var mine struct {
			Count   int `json:"count"`
			Results []struct {
				Movie struct {
					ID int64 `json:"id"`
				} `json:"movie"`
				Score float64 `json:"score"`
			} `json:"results"`
		}
		res := call(t, e.url, "GET", "/api/ratings/my-ratings/", tk.Access, nil, &mine)
		if res.StatusCode != 200 || mine.Count != 2 || mine.Results[0].Movie.ID != 4 || mine.Results[1].Score != 3 {
			t.Fatalf("my-ratings: %d %+v (newest first)", res.StatusCode, mine)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "private, no-store" {
			t.Errorf("my-ratings Cache-Control %q", cc)
		}
		var detail struct {
			RatingCount int `json:"rating_count"`
		}
		before := len(filterRatings(e, 2))
		call(t, e.url, "GET", "/api/movies/2/", "", nil, &detail)
		if detail.RatingCount != before {
			t.Errorf("movie 2 shows %d ratings, the store has %d", detail.RatingCount, before)
		}
		if res := call(t, e.url, "POST", "/api/auth/password/change/", tk.Access, map[string]string{"old_password": "correct horse", "new_password": "battery staple"}, nil); res.StatusCode != 204 {
			t.Fatalf("password change: %d", res.StatusCode)
		}
		var eb errBody
		if res := call(t, e.url, "GET", "/api/ratings/my-ratings/", first.Access, nil, &eb); res.StatusCode != 401 || eb.Error.Code != "NOT_AUTHENTICATED" {
			t.Errorf("old session's token after password change: %d %+v", res.StatusCode, eb)
		}
		if res := call(t, e.url, "POST", "/api/auth/token/refresh/", "", map[string]string{"refresh": first.Refresh}, nil); res.StatusCode != 401 {
			t.Errorf("old session's refresh after password change: %d", res.StatusCode)
		}
		if res := call(t, e.url, "GET", "/api/ratings/my-ratings/", tk.Access, nil, nil); res.StatusCode != 200 {
			t.Errorf("the session that changed the password: %d", res.StatusCode)
		}
		var next tokens
		if res := call(t, e.url, "POST", "/api/auth/token/refresh/", "", map[string]string{"refresh": tk.Refresh}, &next); res.StatusCode != 200 || next.Refresh == tk.Refresh {
			t.Fatalf("refresh: %d %+v", res.StatusCode, next)
		}
		if res := call(t, e.url, "POST", "/api/auth/token/refresh/", "", map[string]string{"refresh": tk.Refresh}, nil); res.StatusCode != 401 {
			t.Errorf("rotated-out refresh token: %d", res.StatusCode)
		}
		login := call(t, e.url, "POST", "/api/auth/login/", "", map[string]string{"username": "judy", "password": "battery staple"}, &tk)
		if login.StatusCode != 200 {
			t.Fatalf("login with the new password: %d", login.StatusCode)
		}
		if res := call(t, e.url, "POST", "/api/auth/logout/", "", map[string]string{"refresh": tk.Refresh}, nil); res.StatusCode != 204 {
			t.Fatalf("logout: %d", res.StatusCode)
		}
		if res := call(t, e.url, "GET", "/api/auth/profile/", tk.Access, nil, nil); res.StatusCode != 401 {
			t.Errorf("access token after logout: %d", res.StatusCode)
		}
	})
}

func filterRatings(e *env, movieID int64) []movierec.Rating {
	p, err := e.store.MovieRatings(context.Background(), movieID, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Items
}

func TestProfile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tk := e.register("kim")
		call(t, e.url, "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 5}, nil)
		var p struct {
			Username           string   `json:"username"`
			FirstName          string   `json:"first_name"`
			TotalRatings       int      `json:"total_ratings"`
			AverageRatingGiven *float64 `json:"average_rating_given"`
			FavoriteGenres     []string `json:"favorite_genres"`
		}
		if res := call(t, e.url, "GET", "/api/auth/profile/", tk.Access, nil, &p); res.StatusCode != 200 || p.TotalRatings != 1 || *p.AverageRatingGiven != 5 {
			t.Fatalf("profile: %d %+v", res.StatusCode, p)
		}
		if m, _ := e.store.Movie(context.Background(), 2); len(p.FavoriteGenres) != len(m.Genres) {
			t.Errorf("favorite_genres %v, movie 2 has %v", p.FavoriteGenres, m.GenreNames())
		}
		if res := call(t, e.url, "PATCH", "/api/auth/profile/", tk.Access, map[string]string{"first_name": "Kim"}, &p); res.StatusCode != 200 || p.FirstName != "Kim" || p.Username != "kim" {
			t.Errorf("patch: %d %+v", res.StatusCode, p)
		}
		var eb errBody
		if res := call(t, e.url, "PUT", "/api/auth/profile/", tk.Access, map[string]string{"first_name": "K"}, &eb); res.StatusCode != 400 || len(eb.Error.Details["username"]) == 0 {
			t.Errorf("PUT without username: %d %+v", res.StatusCode, eb)
		}
		e.register("lee")
		if res := call(t, e.url, "PATCH", "/api/auth/profile/", tk.Access, map[string]string{"username": "LEE"}, &eb); res.StatusCode != 400 || len(eb.Error.Details["username"]) == 0 {
			t.Errorf("taking lee's username: %d %+v", res.StatusCode, eb)
		}
		if res := call(t, e.url, "PATCH", "/api/auth/profile/", tk.Access, map[string]any{"is_staff": true}, &eb); res.StatusCode != 400 || len(eb.Error.Details["is_staff"]) == 0 {
			t.Errorf("making oneself staff: %d %+v", res.StatusCode, eb)
		}
	})
}

// TestAuthorization: a user reaches only their own data, bad tokens are
// 401, only staff write the catalog.
func TestAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		a, b := e.register("alice"), e.register("bob")
		call(t, e.url, "POST", "/api/ratings/movies/2/rate/", b.Access, map[string]any{"score": 2, "review": "B's secret opinion"}, nil)
		call(t, e.url, "POST", "/api/ratings/movies/2/favorite/", b.Access, nil, nil)
		t.Run("OwnDataOnly", func(t *testing.T) {
			var eb errBody
			if res := call(t, e.url, "GET", "/api/ratings/movies/2/rate/", a.Access, nil, &eb); res.StatusCode != 404 {
				t.Errorf("A reading the rating of a movie only B rated: %d", res.StatusCode)
			}
			if res := call(t, e.url, "DELETE", "/api/ratings/movies/2/rate/", a.Access, nil, nil); res.StatusCode != 404 {
				t.Errorf("A deleting on a movie only B rated: %d", res.StatusCode)
			}
			var list page
			for _, path := range []string{"/api/ratings/my-ratings/", "/api/ratings/my-favorites/", "/api/ratings/my-watchlist/"} {
				if res := call(t, e.url, "GET", path, a.Access, nil, &list); res.StatusCode != 200 || list.Count != 0 {
					t.Errorf("A's %s shows %d items", path, list.Count)
				}
			}
			r, err := e.store.Rating(context.Background(), b.User.ID, 2)
			if err != nil || r.Score != 2 {
				t.Errorf("B's rating after A's attempts: %+v, %v", r, err)
			}
		})
		t.Run("ErrBadTokens", func(t *testing.T) {
			for name, token := range map[string]string{
				"tampered": a.Access[:len(a.Access)-3] + "xyz",
				"garbage":  "not-a-token",
				"refresh":  a.Refresh,
			} {
				var eb errBody
				res := call(t, e.url, "GET", "/api/ratings/my-ratings/", token, nil, &eb)
				if res.StatusCode != 401 || eb.Error.Code != "NOT_AUTHENTICATED" || res.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s token: %d %+v", name, res.StatusCode, eb)
				}
			}
			if res := call(t, e.url, "GET", "/api/ratings/my-stats/", "", nil, nil); res.StatusCode != 401 {
				t.Errorf("anonymous my-stats: %d", res.StatusCode)
			}
		})
		t.Run("ErrExpired", func(t *testing.T) {
			e.accounts.SetClock(func() time.Time { return time.Now().Add(auth.AccessTTL + time.Minute) })
			defer e.accounts.SetClock(time.Now)
			if res := call(t, e.url, "GET", "/api/auth/profile/", a.Access, nil, nil); res.StatusCode != 401 {
				t.Errorf("expired token: %d", res.StatusCode)
			}
		})
		t.Run("StaffOnlyWrites", func(t *testing.T) {
			movie := map[string]any{"title": "Staff Pick", "release_date": "2020-05-01", "genres": []string{"Drama"}}
			var eb errBody
			if res := call(t, e.url, "POST", "/api/movies/", "", movie, &eb); res.StatusCode != 401 {
				t.Errorf("anonymous create: %d", res.StatusCode)
			}
			for _, req := range [][2]string{{"POST", "/api/movies/"}, {"PATCH", "/api/movies/1/"}, {"DELETE", "/api/movies/1/"},
				{"POST", "/api/movies/genres/"}, {"DELETE", "/api/movies/tags/1/"}} {
				if res := call(t, e.url, req[0], req[1], a.Access, movie, &eb); res.StatusCode != 403 || eb.Error.Code != "PERMISSION_DENIED" {
					t.Errorf("non-staff %s %s: %d %+v", req[0], req[1], res.StatusCode, eb)
				}
			}
			if _, err := e.store.Movie(context.Background(), 1); err != nil {
				t.Errorf("movie 1 after refused writes: %v", err)
			}
			staff := e.staffToken()
			var created struct {
				ID          int64  `json:"id"`
				ReleaseYear int    `json:"release_year"`
				ReleaseDate string `json:"release_date"`
				Genres      []struct {
					Name string `json:"name"`
				} `json:"genres"`
			}
			res := call(t, e.url, "POST", "/api/movies/", staff, movie, &created)
			if res.StatusCode != 201 || created.ReleaseYear != 2020 || created.ReleaseDate != "2020-05-01" || len(created.Genres) != 1 ||
				res.Header.Get("Location") == "" {
				t.Fatalf("staff create: %d %+v", res.StatusCode, created)
			}
			id := strconv.FormatInt(created.ID, 10)
			var patched struct {
				Title      string   `json:"title"`
				IMDbRating *float64 `json:"imdb_rating"`
				Genres     []any    `json:"genres"`
			}
			if res := call(t, e.url, "PATCH", "/api/movies/"+id+"/", staff, map[string]any{"imdb_rating": 7.5}, &patched); res.StatusCode != 200 ||
				patched.Title != "Staff Pick" || patched.IMDbRating == nil || *patched.IMDbRating != 7.5 || len(patched.Genres) != 1 {
				t.Errorf("staff patch: %d %+v", res.StatusCode, patched)
			}
			if res := call(t, e.url, "PUT", "/api/movies/"+id+"/", staff, map[string]any{"title": "Replaced"}, &patched); res.StatusCode != 200 ||
				patched.IMDbRating != nil || len(patched.Genres) != 0 {
				t.Errorf("staff put clears what it omits: %d %+v", res.StatusCode, patched)
			}
			if res := call(t, e.url, "DELETE", "/api/movies/"+id+"/", staff, nil, nil); res.StatusCode != 204 {
				t.Errorf("staff delete: %d", res.StatusCode)
			}
			if res := call(t, e.url, "GET", "/api/movies/"+id+"/", "", nil, nil); res.StatusCode != 404 {
				t.Errorf("deleted movie: %d", res.StatusCode)
			}
			var g struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			if res := call(t, e.url, "POST", "/api/movies/genres/", staff, map[string]string{"name": "Noir"}, &g); res.StatusCode != 201 || g.Name != "Noir" {
				t.Errorf("create genre: %d %+v", res.StatusCode, g)
			}
			if res := call(t, e.url, "POST", "/api/movies/genres/", staff, map[string]string{"name": "noir"}, &eb); res.StatusCode != 409 || eb.Error.Code != "CONFLICT" || len(eb.Error.Details["name"]) == 0 {
				t.Errorf("duplicate genre: %d %+v", res.StatusCode, eb)
			}
			var tg struct {
				ID int64 `json:"id"`
			}
			call(t, e.url, "POST", "/api/movies/tags/", staff, map[string]string{"name": "cozy"}, &tg)
			if res := call(t, e.url, "PATCH", "/api/movies/tags/"+strconv.FormatInt(tg.ID, 10)+"/", staff, map[string]string{"name": "cosy"}, &g); res.StatusCode != 200 || g.Name != "cosy" {
				t.Errorf("rename tag: %d %+v", res.StatusCode, g)
			}
		})
	})
}

func TestValidationErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tk := e.register("mallory")
		staff := e.staffToken()
		before := snapshotMovie(t, e, 2)
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field               string
		}{
			{"ScoreTooHigh", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 7}, 400, "VALIDATION_ERROR", "score"},
			{"ScoreStep", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 3.3}, 400, "VALIDATION_ERROR", "score"},
			{"ScoreMissing", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"review": "hm"}, 400, "VALIDATION_ERROR", "score"},
			{"ScoreString", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": "5"}, 400, "VALIDATION_ERROR", "score"},
			{"ReviewTooLong", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 4, "review": strings.Repeat("x", movierec.MaxReviewLength+1)}, 400, "VALIDATION_ERROR", "review"},
			{"UnknownField", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 4, "stars": 5}, 400, "VALIDATION_ERROR", "stars"},
			{"ReadOnlyField", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 4, "rated_at": "2020-01-01"}, 400, "VALIDATION_ERROR", "rated_at"},
			{"MalformedJSON", "POST", "/api/ratings/movies/2/rate/", tk.Access, `{"score": 4`, 400, "VALIDATION_ERROR", ""},
			{"NotAnObject", "POST", "/api/ratings/movies/2/rate/", tk.Access, `[1,2]`, 400, "VALIDATION_ERROR", ""},
			{"EmptyBody", "POST", "/api/ratings/movies/2/rate/", tk.Access, nil, 400, "VALIDATION_ERROR", ""},
			{"TooLarge", "POST", "/api/ratings/movies/2/rate/", tk.Access, `{"review": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "PAYLOAD_TOO_LARGE", ""},
			{"UnknownMovie", "POST", "/api/ratings/movies/9999/rate/", tk.Access, map[string]any{"score": 4}, 404, "NOT_FOUND", ""},
			{"WatchNegative", "POST", "/api/ratings/movies/2/watch/", tk.Access, map[string]any{"watch_duration": -5}, 400, "VALIDATION_ERROR", "watch_duration"},
			{"WatchCompletedNull", "POST", "/api/ratings/movies/2/watch/", tk.Access, map[string]any{"completed": nil}, 400, "VALIDATION_ERROR", "completed"},
			{"QueryOnWrite", "POST", "/api/ratings/movies/2/rate/?score=5", tk.Access, map[string]any{"score": 4}, 400, "VALIDATION_ERROR", "score"},
			{"MovieGenresNull", "PATCH", "/api/movies/2/", staff, map[string]any{"genres": nil}, 400, "VALIDATION_ERROR", "genres"},
			{"RegisterNUL", "POST", "/api/auth/register/", "", map[string]any{"username": "nully", "email": "n@example.com", "password": "correct horse", "first_name": "a\u0000"}, 400, "VALIDATION_ERROR", "first_name"},
			{"ReviewNUL", "POST", "/api/ratings/movies/2/rate/", tk.Access, map[string]any{"score": 4, "review": "bad\u0000byte"}, 400, "VALIDATION_ERROR", "review"},
			{"RegisterMissing", "POST", "/api/auth/register/", "", map[string]any{"username": "x"}, 400, "VALIDATION_ERROR", "password"},
			{"RegisterConfirmMismatch", "POST", "/api/auth/register/", "", map[string]any{"username": "twice", "email": "t@example.com", "password": "correct horse", "password_confirm": "correct horsE"}, 400, "VALIDATION_ERROR", "password_confirm"},
			{"RegisterConfirmNull", "POST", "/api/auth/register/", "", map[string]any{"username": "twice", "email": "t@example.com", "password": "correct horse", "password_confirm": nil}, 400, "VALIDATION_ERROR", "password_confirm"},
			{"RegisterDuplicate", "POST", "/api/auth/register/", "", map[string]any{"username": "MALLORY", "email": "new@example.com", "password": "correct horse"}, 400, "VALIDATION_ERROR", "username"},
			{"LoginWrong", "POST", "/api/auth/login/", "", map[string]any{"username": "mallory", "password": "nope"}, 401, "NOT_AUTHENTICATED", ""},
			{"LoginNoUser", "POST", "/api/auth/login/", "", map[string]any{"username": "ghost", "password": "nope"}, 401, "NOT_AUTHENTICATED", ""},
			{"MovieNoTitle", "POST", "/api/movies/", staff, map[string]any{"description": "?"}, 400, "VALIDATION_ERROR", "title"},
			{"MovieBadDate", "POST", "/api/movies/", staff, map[string]any{"title": "T", "release_date": "2020-13-01"}, 400, "VALIDATION_ERROR", "release_date"},
			{"MovieYearMismatch", "POST", "/api/movies/", staff, map[string]any{"title": "T", "release_date": "2020-01-01", "release_year": 2019}, 400, "VALIDATION_ERROR", "release_year"},
			{"MovieBadRating", "PATCH", "/api/movies/2/", staff, map[string]any{"imdb_rating": 11}, 400, "VALIDATION_ERROR", "imdb_rating"},
			{"MovieBadURL", "PATCH", "/api/movies/2/", staff, map[string]any{"poster_url": "javascript:alert(1)"}, 400, "VALIDATION_ERROR", "poster_url"},
			{"MovieUnknownGenre", "PATCH", "/api/movies/2/", staff, map[string]any{"genres": []string{"Drama", "Polka"}}, 400, "VALIDATION_ERROR", "genres"},
			{"MovieReadOnly", "PATCH", "/api/movies/2/", staff, map[string]any{"average_rating": 5}, 400, "VALIDATION_ERROR", "average_rating"},
			{"MovieBlankTitle", "PATCH", "/api/movies/2/", staff, map[string]any{"title": "  "}, 400, "VALIDATION_ERROR", "title"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var eb errBody
				res := call(t, e.url, c.method, c.path, c.token, c.body, &eb)
				if res.StatusCode != c.status || eb.Error.Code != c.code {
					t.Fatalf("got %d %+v, want %d %s", res.StatusCode, eb, c.status, c.code)
				}
				if c.field != "" && len(eb.Error.Details[c.field]) == 0 {
					t.Errorf("details %v do not name %s", eb.Error.Details, c.field)
				}
			})
		}
		t.Run("WrongContentType", func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.url+"/api/ratings/movies/2/rate/", strings.NewReader("score=4"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+tk.Access)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 415 {
				t.Errorf("form body: %d, want 415", res.StatusCode)
			}
		})
		if after := snapshotMovie(t, e, 2); after != before {
			t.Errorf("failed writes changed movie 2:\n%s\n%s", before, after)
		}
	})
}

// TestRegisterLikeTheOriginal: the original API's clients sign up with
// password_confirm, first_name and last_name, and can log in after.
func TestRegisterLikeTheOriginal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var got struct {
			User    map[string]any `json:"user"`
			Access  string         `json:"access"`
			Refresh string         `json:"refresh"`
		}
		res := call(t, e.url, "POST", "/api/auth/register/", "", map[string]string{"username": "drf_client",
			"email": "drf@example.com", "password": "s3cret-enough", "password_confirm": "s3cret-enough",
			"first_name": "Ada", "last_name": "Lovelace"}, &got)
		if res.StatusCode != 201 || got.Access == "" || got.Refresh == "" ||
			got.User["first_name"] != "Ada" || got.User["last_name"] != "Lovelace" {
			t.Fatalf("register with password_confirm: %d %+v", res.StatusCode, got)
		}
		var tk tokens
		if res := call(t, e.url, "POST", "/api/auth/login/", "", map[string]string{"username": "drf_client", "password": "s3cret-enough"}, &tk); res.StatusCode != 200 || tk.Access == "" {
			t.Errorf("login after: %d %+v", res.StatusCode, tk)
		}
		// A refused sign-up creates nothing.
		res = call(t, e.url, "POST", "/api/auth/register/", "", map[string]string{"username": "drf_other",
			"email": "other@example.com", "password": "s3cret-enough", "password_confirm": "different"}, nil)
		if res.StatusCode != 400 {
			t.Fatalf("mismatched confirmation: %d", res.StatusCode)
		}
		if res := call(t, e.url, "POST", "/api/auth/login/", "", map[string]string{"username": "drf_other", "password": "s3cret-enough"}, nil); res.StatusCode != 401 {
			t.Errorf("the refused account can log in: %d", res.StatusCode)
		}
	})
}

// snapshotMovie renders what failed writes must leave alone.
func snapshotMovie(t *testing.T, e *env, id int64) string {
	m, err := e.store.Movie(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m.UpdatedAt = time.Time{}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestFavoritesWatchAndStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tk := e.register("nina")
		var fav map[string]bool
		call(t, e.url, "POST", "/api/ratings/movies/3/favorite/", tk.Access, nil, &fav)
		if !fav["favorited"] {
			t.Errorf("first toggle: %v", fav)
		}
		call(t, e.url, "POST", "/api/ratings/movies/3/favorite/", tk.Access, nil, &fav)
		if fav["favorited"] {
			t.Errorf("second toggle: %v", fav)
		}
		call(t, e.url, "POST", "/api/ratings/movies/3/favorite/", tk.Access, nil, &fav)
		var w struct {
			WatchCount int  `json:"watch_count"`
			Completed  bool `json:"completed"`
		}
		if res := call(t, e.url, "POST", "/api/ratings/movies/5/watch/", tk.Access, nil, &w); res.StatusCode != 201 || w.WatchCount != 1 {
			t.Errorf("watch with no body: %d %+v", res.StatusCode, w)
		}
		if res := call(t, e.url, "POST", "/api/ratings/movies/5/watch/", tk.Access, map[string]any{"completed": true, "watch_duration": 90}, &w); res.StatusCode != 200 || w.WatchCount != 2 || !w.Completed {
			t.Errorf("watch again: %d %+v", res.StatusCode, w)
		}
		call(t, e.url, "POST", "/api/ratings/movies/3/rate/", tk.Access, map[string]any{"score": 4}, nil)
		var st struct {
			TotalRatings   int `json:"total_ratings"`
			TotalFavorites int `json:"total_favorites"`
			TotalWatched   int `json:"total_watched"`
			CompletedCount int `json:"completed_count"`
		}
		call(t, e.url, "GET", "/api/ratings/my-stats/", tk.Access, nil, &st)
		if st.TotalRatings != 1 || st.TotalFavorites != 1 || st.TotalWatched != 1 || st.CompletedCount != 1 {
			t.Errorf("my-stats %+v", st)
		}
		var public struct {
			Count   int `json:"count"`
			Results []struct {
				Username string `json:"username"`
			} `json:"results"`
		}
		call(t, e.url, "GET", "/api/ratings/movies/3/ratings/?page_size=100", "", nil, &public)
		found := false
		for _, r := range public.Results {
			found = found || r.Username == "nina"
		}
		if !found || public.Count != len(filterRatings(e, 3)) {
			t.Errorf("public ratings of movie 3: %+v", public)
		}
		var stats struct {
			Count        int            `json:"count"`
			Distribution map[string]int `json:"distribution"`
		}
		call(t, e.url, "GET", "/api/ratings/movies/3/stats/", "", nil, &stats)
		if stats.Count != public.Count || stats.Distribution["4.0"] == 0 {
			t.Errorf("stats %+v", stats)
		}
		if res := call(t, e.url, "POST", "/api/ratings/movies/5/unwatch/", tk.Access, nil, nil); res.StatusCode != 204 {
			t.Errorf("unwatch: %d", res.StatusCode)
		}
		t.Run("MovieDeletionRemovesUserData", func(t *testing.T) {
			staff := e.staffToken()
			if res := call(t, e.url, "DELETE", "/api/movies/3/", staff, nil, nil); res.StatusCode != 204 {
				t.Fatalf("delete: %d", res.StatusCode)
			}
			call(t, e.url, "GET", "/api/ratings/my-stats/", tk.Access, nil, &st)
			if st.TotalRatings != 0 || st.TotalFavorites != 0 {
				t.Errorf("my-stats after the movie was deleted: %+v", st)
			}
			if res := call(t, e.url, "GET", "/api/ratings/movies/3/stats/", "", nil, nil); res.StatusCode != 404 {
				t.Errorf("stats of a deleted movie: %d", res.StatusCode)
			}
		})
	})
}

// TestThrottling uses a fake clock: login is limited per address, per
// username from one address and (looser) per username from everywhere,
// register per address, reads not at all.
func TestThrottling(t *testing.T) {
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(context.Background(), storetest.Fixture(10), nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	srv := api.New(s, storetest.Accounts(t, s), slog.New(slog.DiscardHandler), api.Options{
		LoginLimit:    throttle.Limit{N: 5, Per: time.Minute},
		RegisterLimit: throttle.Limit{N: 3, Per: time.Minute},
		TrustProxy:    true,
		Now:           func() time.Time { return now },
	})
	send := func(method, path, from string, body any) *httptest.ResponseRecorder {
		data, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	for i := range 3 {
		w := send("POST", "/api/auth/register/", "10.0.0.1", map[string]string{"username": "user" + strconv.Itoa(i), "email": "user" + strconv.Itoa(i) + "@example.com", "password": "correct horse"})
		if w.Code != 201 || w.Header().Get("X-RateLimit-Limit") != "3" || w.Header().Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("register %d: %d, headers %v", i, w.Code, w.Header())
		}
	}
	w := send("POST", "/api/auth/register/", "10.0.0.1", map[string]string{"username": "user9", "email": "user9@example.com", "password": "correct horse"})
	var eb errBody
	json.Unmarshal(w.Body.Bytes(), &eb)
	if w.Code != 429 || eb.Error.Code != "THROTTLED" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("fourth register: %d %+v %v", w.Code, eb, w.Header())
	}
	if _, err := s.UserByUsername(context.Background(), "user9"); err == nil {
		t.Error("the throttled registration created a user")
	}
	if w := send("POST", "/api/auth/register/", "10.0.0.2", map[string]string{"username": "user8", "email": "user8@example.com", "password": "correct horse"}); w.Code != 201 {
		t.Errorf("register from another address: %d", w.Code)
	}
	for i := range 5 {
		if w := send("POST", "/api/auth/login/", "10.0.0.3", map[string]string{"username": "user0", "password": "wrong"}); w.Code != 401 {
			t.Fatalf("login %d: %d", i, w.Code)
		}
	}
	if w := send("POST", "/api/auth/login/", "10.0.0.3", map[string]string{"username": "user1", "password": "correct horse"}); w.Code != 429 {
		t.Errorf("sixth login from one address: %d", w.Code)
	}
	// Five wrong guesses from 10.0.0.3 do not lock user0 out of another
	// address: the per-username limit there is that address's own.
	if w := send("POST", "/api/auth/login/", "10.0.0.4", map[string]string{"username": "USER0", "password": "correct horse"}); w.Code != 200 {
		t.Errorf("user0 from their own address after another address's guesses: %d", w.Code)
	}
	if w := send("POST", "/api/auth/login/", "10.0.0.4", map[string]string{"username": "user1", "password": "correct horse"}); w.Code != 200 {
		t.Errorf("another user from a fresh address: %d", w.Code)
	}
	// Guesses spread over addresses meet the looser per-username limit
	// (4 × 5 a minute from everywhere): 5 + 1 so far, 14 more allowed.
	for i := range 14 {
		from := "10.0.1." + strconv.Itoa(i/4)
		if w := send("POST", "/api/auth/login/", from, map[string]string{"username": "user0", "password": "wrong"}); w.Code != 401 {
			t.Fatalf("spread guess %d from %s: %d", i, from, w.Code)
		}
	}
	if w := send("POST", "/api/auth/login/", "10.0.2.1", map[string]string{"username": "user0", "password": "wrong"}); w.Code != 429 {
		t.Errorf("21st attempt on one username from a new address: %d, want 429", w.Code)
	}
	for i := range 50 {
		if w := send("GET", "/api/movies/", "10.0.0.3", nil); w.Code != 200 {
			t.Fatalf("read %d: %d", i, w.Code)
		}
	}
	now = now.Add(time.Minute)
	if w := send("POST", "/api/auth/login/", "10.0.0.3", map[string]string{"username": "user0", "password": "correct horse"}); w.Code != 200 {
		t.Errorf("login after the window: %d", w.Code)
	}
}

// TestPasswordChangeThrottled: with a stolen access token, guesses of the
// current password through password change are limited per user (each
// costs an argon2id hash); once refused, even the right password waits
// for the window, and nothing changes meanwhile.
func TestPasswordChangeThrottled(t *testing.T) {
	s := storetest.OpenSQLite(t)
	now := time.Now()
	srv := api.New(s, storetest.Accounts(t, s), slog.New(slog.DiscardHandler), api.Options{
		PasswordLimit: throttle.Limit{N: 3, Per: time.Minute},
		Now:           func() time.Time { return now },
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, store: s, url: ts.URL}
	tk := e.register("carol")
	change := func(old string) *http.Response {
		return call(t, e.url, "POST", "/api/auth/password/change/", tk.Access,
			map[string]string{"old_password": old, "new_password": "battery staple"}, nil)
	}
	for i := range 3 {
		if res := change("guess " + strconv.Itoa(i)); res.StatusCode/100 != 4 || res.StatusCode == 429 {
			t.Fatalf("wrong guess %d: %d", i, res.StatusCode)
		}
	}
	if res := change("correct horse"); res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth attempt within the minute: %d, want 429 with Retry-After", res.StatusCode)
	}
	if res := call(t, e.url, "POST", "/api/auth/login/", "", map[string]string{"username": "carol", "password": "correct horse"}, nil); res.StatusCode != 200 {
		t.Errorf("the refused change changed the password: login with the old one %d", res.StatusCode)
	}
	now = now.Add(time.Minute)
	if res := change("correct horse"); res.StatusCode != 204 {
		t.Errorf("change after the window: %d", res.StatusCode)
	}
}

// TestThrottlesSharedAcrossInstances: two instances sharing a Redis share
// the login buckets, so attempts spread over both meet the limit once,
// not twice; with the shared store failing, each instance still limits on
// its own (and answers no 5xx).
func TestThrottlesSharedAcrossInstances(t *testing.T) {
	client, prefix := storetest.Redis(t)
	s := storetest.OpenSQLite(t)
	instance := func(store throttle.Store) *api.Server {
		return api.New(s, storetest.Accounts(t, s), slog.New(slog.DiscardHandler), api.Options{
			LoginLimit: throttle.Limit{N: 3, Per: time.Minute}, TrustProxy: true, ThrottleStore: store})
	}
	shared := func() throttle.Store {
		c, err := cache.New(cache.Options{Redis: client, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var last http.Header
	login := func(srv *api.Server, from, user string) int {
		data, _ := json.Marshal(map[string]string{"username": user, "password": "wrong"})
		req := httptest.NewRequest("POST", "/api/auth/login/", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		last = w.Header()
		return w.Code
	}
	a, b := instance(shared()), instance(shared())
	for i, srv := range []*api.Server{a, b, a} {
		if code := login(srv, "10.9.0.1", "nobody"); code != 401 {
			t.Fatalf("attempt %d: %d, want 401", i+1, code)
		}
		if got, want := last.Get("X-RateLimit-Remaining"), strconv.Itoa(2-i); got != want || last.Get("X-RateLimit-Limit") != "3" {
			t.Errorf("attempt %d: X-RateLimit-Remaining %q (limit %q), want %s of 3 counted across instances",
				i+1, got, last.Get("X-RateLimit-Limit"), want)
		}
	}
	if code := login(b, "10.9.0.1", "nobody"); code != 429 || last.Get("Retry-After") == "" {
		t.Errorf("4th attempt, on the other instance: %d (Retry-After %q), want 429 (the limit is shared)", code, last.Get("Retry-After"))
	}

	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer dead.Close()
	broken, err := cache.New(cache.Options{Redis: dead})
	if err != nil {
		t.Fatal(err)
	}
	c := instance(broken)
	for i := range 3 {
		if code := login(c, "10.9.0.2", "nobody"); code != 401 {
			t.Fatalf("attempt %d with the shared store down: %d, want 401", i+1, code)
		}
	}
	if code := login(c, "10.9.0.2", "nobody"); code != 429 {
		t.Errorf("4th attempt with the shared store down: %d, want 429 from the instance's own buckets", code)
	}
}
