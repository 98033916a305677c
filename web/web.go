// Package web is movierec's web app: server-rendered pages (html/template,
// no script needed) to browse and search the catalog, open a movie, sign
// up and in, rate, favourite and mark movies watched, and see what is
// recommended and why.
//
// Every page is made from the JSON API's own answers: the app calls the
// API handler in process for each read and write, so it shows the same
// data, applies the same validation and throttles, and turns the same
// errors into messages on the page. The visitor's tokens live in HttpOnly,
// SameSite=Lax cookies (Secure behind TLS), and every form carries a CSRF
// token matched against a cookie of its own.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie names.
const (
	accessCookie  = "mr_access"
	refreshCookie = "mr_refresh"
	csrfCookie    = "mr_csrf"
)

// csp keeps everything on this origin; posters may come from elsewhere.
const csp = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Sessions checks access tokens (auth.Service, whose cache of live
// sessions makes a check free of database queries once warm).
type Sessions interface {
	Authenticate(ctx context.Context, token string) (auth.Principal, error)
}

// App is the web app. It serves every path it is given; mount it where
// the API has no route.
type App struct {
	api      http.Handler
	sessions Sessions
	log      *slog.Logger
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the web app calling api (the API's handler) in process and
// checking visitors' tokens with sessions (the API's accounts service).
func New(api http.Handler, sessions Sessions, log *slog.Logger) *App {
	a := &App{api: api, sessions: sessions, log: log, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	funcs := template.FuncMap{
		"stars": stars, "score": func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
		"avg": func(v *float64) string {
			if v == nil {
				return "no ratings yet"
			}
			return strconv.FormatFloat(*v, 'f', 2, 64)
		},
		"key":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"join": strings.Join, "scores": func() []float64 { return []float64{5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5} },
		"pct": func(n, total int) int {
			if total == 0 {
				return 0
			}
			return n * 100 / total
		},
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		a.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	static, _ := fs.Sub(staticFS, "static")
	a.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	a.mux.HandleFunc("GET /{$}", a.home)
	a.mux.HandleFunc("GET /movies/{$}", a.browse)
	a.mux.HandleFunc("GET /movies/{id}/{$}", a.movie)
	a.mux.HandleFunc("POST /movies/{id}/rate/{$}", a.rate)
	a.mux.HandleFunc("POST /movies/{id}/favorite/{$}", a.favorite)
	a.mux.HandleFunc("POST /movies/{id}/watch/{$}", a.watch)
	a.mux.HandleFunc("GET /popular/{$}", a.ranking("popular"))
	a.mux.HandleFunc("GET /trending/{$}", a.ranking("trending"))
	a.mux.HandleFunc("GET /top-rated/{$}", a.ranking("top-rated"))
	a.mux.HandleFunc("GET /me/ratings/{$}", a.myRatings)
	a.mux.HandleFunc("GET /me/favorites/{$}", a.myMovies("My favourites", "/api/ratings/my-favorites/"))
	a.mux.HandleFunc("GET /me/watched/{$}", a.myMovies("Watched", "/api/ratings/my-watchlist/"))
	a.mux.HandleFunc("GET /signup/{$}", a.signupForm)
	a.mux.HandleFunc("POST /signup/{$}", a.signup)
	a.mux.HandleFunc("GET /login/{$}", a.loginForm)
	a.mux.HandleFunc("POST /login/{$}", a.login)
	a.mux.HandleFunc("POST /logout/{$}", a.logout)
	return a
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP serves the app's pages, and a page saying so for anything else.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if _, pattern := a.mux.Handler(r); pattern == "" {
		v := a.visitor(w, r)
		a.render(w, r, v, "message", http.StatusNotFound, map[string]any{"Title": "Not found",
			"Text": "There is no page here."})
		return
	}
	a.mux.ServeHTTP(w, r)
}

// visitor is who is asking: signed in (with a live access token) or not,
// and the CSRF token their forms carry.
type visitor struct {
	User  *auth.Principal
	Token string
	CSRF  string
}

// visitor reads the cookies: the access token, renewed with the refresh
// token when it has expired; and the CSRF token, made on the first visit.
func (a *App) visitor(w http.ResponseWriter, r *http.Request) *visitor {
	v := &visitor{}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		v.CSRF = c.Value
	} else {
		b := make([]byte, 16)
		rand.Read(b)
		v.CSRF = hex.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v.CSRF, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	}
	ctx := r.Context()
	if c, err := r.Cookie(accessCookie); err == nil && c.Value != "" {
		p, err := a.sessions.Authenticate(ctx, c.Value)
		if err == nil {
			v.User, v.Token = &p, c.Value
			return v
		}
		if movierec.ErrorCode(err) != movierec.EUNAUTHORIZED {
			// The database cannot tell now (an outage): this page is
			// served signed out, the cookies stay for the next one.
			return v
		}
	}
	// No access token, or it expired: renew it once with the refresh
	// token. (Two pages loading at that moment may both try; the second
	// finds its token rotated out, which ends the session as a possible
	// theft: the visitor signs in again.)
	if c, err := r.Cookie(refreshCookie); err == nil && c.Value != "" {
		var t tokens
		err := a.call(ctx, r, "POST", "/api/auth/token/refresh/", nil, "", map[string]string{"refresh": c.Value}, &t)
		if err == nil {
			var p auth.Principal
			if p, err = a.sessions.Authenticate(ctx, t.Access); err == nil {
				setTokens(w, r, t)
				v.User, v.Token = &p, t.Access
				return v
			}
		}
		// Only a refusal ends the session here; an outage keeps the
		// cookies for the next page.
		if refused(err) {
			clearTokens(w, r)
		}
	}
	return v
}

// refused reports whether err says the credentials were refused (401),
// from the API or from Sessions.
func refused(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusUnauthorized
	}
	return movierec.ErrorCode(err) == movierec.EUNAUTHORIZED
}

// secure says whether cookies must be Secure: the visitor reached us over
// TLS, directly or through a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func setTokens(w http.ResponseWriter, r *http.Request, t tokens) {
	http.SetCookie(w, &http.Cookie{Name: accessCookie, Value: t.Access, Path: "/", MaxAge: 3600, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	http.SetCookie(w, &http.Cookie{Name: refreshCookie, Value: t.Refresh, Path: "/", MaxAge: 7 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
}

func clearTokens(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{accessCookie, refreshCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	}
}

// form parses a POST form and checks its CSRF token against the cookie;
// false means the answer (403) is written.
func (a *App) form(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(csrfCookie)
	if r.ParseForm() != nil || err != nil || len(c.Value) != 32 ||
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		v := a.visitor(w, r)
		a.render(w, r, v, "message", http.StatusForbidden, map[string]any{"Title": "Form expired",
			"Text": "This form was not sent from this site's current page. Go back, reload the page and try again."})
		return false
	}
	return true
}

// render writes page with data (and the visitor, under .V).
func (a *App) render(w http.ResponseWriter, r *http.Request, v *visitor, page string, status int, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["V"] = v
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status != 0 && status != http.StatusOK {
		w.WriteHeader(status)
	}
	if err := a.pages[page].Execute(w, data); err != nil {
		a.log.ErrorContext(r.Context(), "web: rendering a page", slog.String("page", page), slog.Any("err", err))
	}
}

// fail shows an API error (or any other) as a page with the right status.
func (a *App) fail(w http.ResponseWriter, r *http.Request, v *visitor, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		a.log.ErrorContext(r.Context(), "web: internal error", slog.Any("err", err))
		ae = &apiError{Status: http.StatusInternalServerError, Message: "Something went wrong on our side."}
	}
	title := "Sorry"
	switch ae.Status {
	case http.StatusNotFound:
		title = "Not found"
	case http.StatusUnauthorized:
		title = "Please sign in"
	case http.StatusTooManyRequests:
		title = "Slow down"
	case http.StatusServiceUnavailable:
		title = "Try again in a moment"
	}
	a.render(w, r, v, "message", ae.Status, map[string]any{"Title": title, "Lines": ae.Lines()})
}

// localPath returns next when it is a path on this site, else "/".
func localPath(next string) string {
	if u, err := url.Parse(next); err == nil && next != "" && strings.HasPrefix(next, "/") &&
		!strings.HasPrefix(next, "//") && u.Host == "" && u.Scheme == "" && !strings.Contains(next, "\\") {
		return next
	}
	return "/"
}

// stars draws a score as five stars, a half star included.
func stars(v float64) string {
	full := int(v)
	s := strings.Repeat("★", full)
	if v-float64(full) >= 0.5 {
		s += "⯪"
		full++
	}
	return s + strings.Repeat("☆", 5-full)
}

// pageContext bounds a page's API calls.
func pageContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}
