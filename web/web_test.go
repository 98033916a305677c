package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
	"github.com/movierec/movierec/web"
)

// site is a server with the web app mounted, and a browser-like client
// (cookies kept, redirects not followed).
type site struct {
	t     *testing.T
	url   string
	store *sqlstore.Store
	c     *http.Client
}

func newSite(t *testing.T) *site {
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(context.Background(), storetest.Fixture(30), nil); err != nil {
		t.Fatal(err)
	}
	c := catalog.New(s, catalog.Options{})
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	cs := catalog.NewStore(s, c, nil)
	accounts := storetest.Accounts(t, s)
	srv := api.New(cs, accounts, slog.New(slog.DiscardHandler), api.Options{Versions: cs.Catalog})
	srv.SetWeb(web.New(srv, accounts, slog.New(slog.DiscardHandler)))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	return &site{t: t, url: ts.URL, store: s, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get fetches a page: status, body.
func (s *site) get(path string) (*http.Response, string) {
	s.t.Helper()
	res, err := s.c.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

// post sends a form as the page at from does, with its CSRF token.
func (s *site) post(from, path string, form url.Values) (*http.Response, string) {
	s.t.Helper()
	_, page := s.get(from)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		s.t.Fatalf("no CSRF field on %s", from)
	}
	form.Set("csrf", m[1])
	return s.postRaw(path, form)
}

func (s *site) postRaw(path string, form url.Values) (*http.Response, string) {
	s.t.Helper()
	res, err := s.c.PostForm(s.url+path, form)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (s *site) signup(name string) {
	s.t.Helper()
	res, body := s.post("/signup/", "/signup/", url.Values{"username": {name}, "email": {name + "@example.com"},
		"password": {"a long secret"}, "password_confirm": {"a long secret"}})
	if res.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("sign up: %d %s", res.StatusCode, body)
	}
}

// TestPagesAndHeaders: the pages answer with HTML under a strict CSP; the
// token cookies are HttpOnly and SameSite=Lax; an unknown movie is a 404
// page; JSON clients still get the API at / and under /api/.
func TestPagesAndHeaders(t *testing.T) {
	s := newSite(t)
	for _, p := range []string{"/", "/movies/", "/movies/?search=a&ordering=title", "/movies/1/", "/popular/",
		"/trending/", "/top-rated/", "/login/", "/signup/"} {
		res, body := s.get(p)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s: %d %q CSP %q", p, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Security-Policy"))
		}
	}
	if res, body := s.get("/movies/99999/"); res.StatusCode != 404 || !strings.Contains(body, "Not found") {
		t.Errorf("unknown movie: %d", res.StatusCode)
	}
	if res, _ := s.get("/movies/?release_date__year=soon"); res.StatusCode != 400 {
		t.Errorf("a bad filter: %d, want the API's 400 shown", res.StatusCode)
	}
	if res, _ := s.get("/static/app.css"); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res, _ := s.get("/api/nothing/"); res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("an unknown API path: %d %q, want the API's JSON 404", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s.signup("cookies")
	res, _ := s.post("/login/", "/login/", url.Values{"username": {"cookies"}, "password": {"a long secret"}})
	lines := res.Header.Values("Set-Cookie")
	if len(lines) < 2 {
		t.Fatalf("login set %d cookies", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, "HttpOnly") || !strings.Contains(l, "SameSite=Lax") {
			t.Errorf("cookie %q is not HttpOnly and SameSite=Lax", l)
		}
	}
}

// TestFormsNeedTheirCSRFToken: a form posted without the token its page
// carries (as another site would) is refused with 403 and writes nothing.
func TestFormsNeedTheirCSRFToken(t *testing.T) {
	s := newSite(t)
	s.signup("victim")
	res, _ := s.postRaw("/movies/1/rate/", url.Values{"score": {"0.5"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("rating without a CSRF token: %d", res.StatusCode)
	}
	res, _ = s.postRaw("/movies/1/rate/", url.Values{"score": {"0.5"}, "csrf": {strings.Repeat("0", 32)}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("rating with a wrong CSRF token: %d", res.StatusCode)
	}
	u, err := s.store.UserByUsername(context.Background(), "victim")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.Rating(context.Background(), u.ID, 1); err == nil {
		t.Errorf("a refused form stored a rating")
	}
	res, _ = s.post("/movies/1/", "/movies/1/rate/", url.Values{"score": {"4.5"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/movies/1/?done=rated" {
		t.Fatalf("rating with the page's token: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if r, err := s.store.Rating(context.Background(), u.ID, 1); err != nil || r.Score != 4.5 {
		t.Errorf("stored rating %+v, %v", r, err)
	}
	if _, body := s.get("/movies/1/"); !strings.Contains(body, "Your rating is saved.") && !strings.Contains(body, "Change rating") {
		t.Errorf("the movie page does not show the rating")
	}
	if _, body := s.get("/me/ratings/"); !strings.Contains(body, "You gave it 4.5") {
		t.Errorf("my ratings does not list it")
	}
}

// TestFormErrorsAreMessages: the API's refusals come back as messages on
// the form, with its status, the visitor's input kept (never the
// password); a redirect after login stays on this site.
func TestFormErrorsAreMessages(t *testing.T) {
	s := newSite(t)
	res, body := s.post("/signup/", "/signup/", url.Values{"username": {"x"}, "email": {"not-an-email"},
		"password": {"short"}, "password_confirm": {"different"}})
	if res.StatusCode != 400 || !strings.Contains(body, "password confirm: The two password fields didn") ||
		!strings.Contains(body, `value="not-an-email"`) || strings.Contains(body, "short") {
		t.Errorf("bad sign-up: %d\n%s", res.StatusCode, body)
	}
	res, body = s.post("/login/", "/login/", url.Values{"username": {"ghost"}, "password": {"nope nope"}})
	if res.StatusCode != 401 || !strings.Contains(body, "Invalid username or password.") {
		t.Errorf("bad login: %d", res.StatusCode)
	}
	s.signup("traveller")
	s.post("/", "/logout/", url.Values{})
	for next, want := range map[string]string{"/movies/2/": "/movies/2/", "https://evil.example/": "/", "//evil.example/x": "/", "/\\evil": "/"} {
		res, _ := s.post("/login/", "/login/", url.Values{"username": {"traveller"}, "password": {"a long secret"}, "next": {next}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("login with next=%q: %d to %q, want %q", next, res.StatusCode, res.Header.Get("Location"), want)
		}
	}
}

// TestLogoutEndsTheSession: signing out revokes the session in the
// store, not just the cookies.
func TestLogoutEndsTheSession(t *testing.T) {
	s := newSite(t)
	s.signup("leaver")
	u, _ := url.Parse(s.url)
	var refresh string
	for _, c := range s.c.Jar.Cookies(u) {
		if c.Name == "mr_refresh" {
			refresh = c.Value
		}
	}
	if refresh == "" {
		t.Fatal("no refresh cookie after sign-up")
	}
	if res, _ := s.post("/", "/logout/", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if _, body := s.get("/"); strings.Contains(body, "Sign out") {
		t.Errorf("still signed in after signing out")
	}
	res, err := http.Post(s.url+"/api/auth/token/refresh/", "application/json", strings.NewReader(`{"refresh":"`+refresh+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("the signed-out session's refresh token still works: %d", res.StatusCode)
	}
}

// TestFavouritesAndWatched: the favourite button says what it did, and
// the visitor's favourites and watched movies have pages of their own.
func TestFavouritesAndWatched(t *testing.T) {
	s := newSite(t)
	s.signup("collector")
	res, _ := s.post("/movies/2/", "/movies/2/favorite/", url.Values{})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/movies/2/?done=favorited" {
		t.Fatalf("favourite: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if _, body := s.get("/movies/2/?done=favorited"); !strings.Contains(body, "Added to your favourites.") {
		t.Errorf("no note after favouriting")
	}
	_, title := s.get("/movies/2/")
	name := regexp.MustCompile(`<h1>([^<]+)`).FindStringSubmatch(title)[1]
	if _, body := s.get("/me/favorites/"); !strings.Contains(body, strings.TrimSpace(name)) {
		t.Errorf("my favourites does not list %q", name)
	}
	if res, _ := s.post("/movies/2/", "/movies/2/favorite/", url.Values{}); res.Header.Get("Location") != "/movies/2/?done=unfavorited" {
		t.Errorf("second toggle: %q", res.Header.Get("Location"))
	}
	if _, body := s.get("/me/favorites/"); strings.Contains(body, strings.TrimSpace(name)) {
		t.Errorf("my favourites still lists %q", name)
	}
	s.post("/movies/3/", "/movies/3/watch/", url.Values{})
	_, title = s.get("/movies/3/")
	name = regexp.MustCompile(`<h1>([^<]+)`).FindStringSubmatch(title)[1]
	if _, body := s.get("/me/watched/"); !strings.Contains(body, strings.TrimSpace(name)) {
		t.Errorf("watched does not list %q", name)
	}
	s.post("/", "/logout/", url.Values{})
	if res, _ := s.get("/me/favorites/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("favourites signed out: %d, want a redirect to sign in", res.StatusCode)
	}
}

// TestDatabaseOutageKeepsVisitorsSignedIn: while the database is gone, a
// visitor whose access token has expired cannot be renewed, but the page
// still answers and the cookies stay, so they are signed in again once
// it is back; a refresh token the API refuses ends them.
func TestDatabaseOutageKeepsVisitorsSignedIn(t *testing.T) {
	s := newSite(t)
	s.signup("patient")
	u, _ := url.Parse(s.url)
	// The access token has expired (the browser dropped its cookie).
	s.c.Jar.SetCookies(u, []*http.Cookie{{Name: "mr_access", Value: "", Path: "/", MaxAge: -1}})
	s.store.Close()
	res, _ := s.get("/")
	if res.StatusCode != 200 {
		t.Errorf("home during the outage: %d", res.StatusCode)
	}
	for _, l := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, "mr_refresh=;") {
			t.Errorf("the outage cleared the refresh cookie: %q", l)
		}
	}
	// A refresh token the API refuses (here: not one at all) is cleared.
	s2 := newSite(t)
	s2.c.Jar.SetCookies(mustURL(t, s2.url), []*http.Cookie{{Name: "mr_refresh", Value: "bogus.token", Path: "/"}})
	res, _ = s2.get("/")
	cleared := false
	for _, l := range res.Header.Values("Set-Cookie") {
		cleared = cleared || strings.HasPrefix(l, "mr_refresh=;")
	}
	if !cleared {
		t.Errorf("a refused refresh token was kept: %v", res.Header.Values("Set-Cookie"))
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
