// Package api serves movierec's HTTP API (see shared/spec/API.md) on the
// standard library's ServeMux: one file per resource, errors mapped in
// error.go, the OpenAPI document in openapi.go.
package api

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/throttle"
)

// Catalog is the read side of the movie catalog the API needs.
type Catalog interface {
	ListMovies(ctx context.Context, f movierec.MovieFilter) (movierec.Page[movierec.Movie], error)
	Movie(ctx context.Context, id int64) (movierec.Movie, error)
	MoviesByIDs(ctx context.Context, ids []int64) ([]movierec.Movie, error)
	PopularMovies(ctx context.Context, limit int) ([]movierec.Movie, error)
	TrendingMovies(ctx context.Context, period time.Duration, limit int) ([]movierec.ScoredMovie, error)
	TopRatedMovies(ctx context.Context, minRatings, limit int) ([]movierec.ScoredMovie, error)
	Genres(ctx context.Context, offset, limit int) (movierec.Page[movierec.Genre], error)
	Genre(ctx context.Context, id int64) (movierec.Genre, error)
	Tags(ctx context.Context, search string, offset, limit int) (movierec.Page[movierec.Tag], error)
	Tag(ctx context.Context, id int64) (movierec.Tag, error)
	Ping(ctx context.Context) error
}

// Store is all the storage the API uses; each handler group declares the
// part it needs.
type Store interface {
	Catalog
	CatalogWriter
	Ratings
	Profiles
}

// Options tunes the server. The zero value disables throttling and logs
// every request.
type Options struct {
	// LoginLimit applies per client address and per username from one
	// address, and LoginLimit times UsernameLimitFactor per username from
	// all addresses together (see login); RegisterLimit per client
	// address; PasswordLimit to password changes per user.
	LoginLimit, RegisterLimit, PasswordLimit throttle.Limit
	// ThrottleStore, when set, keeps the throttles' buckets where every
	// instance shares them (Redis), so N instances allow the limits, not
	// N times them; when it fails, each instance limits on its own.
	ThrottleStore throttle.Store
	// TrustProxy takes the client address from X-Forwarded-For.
	TrustProxy bool
	// CORSOrigins are the origins whose browser scripts may call the API
	// (for example "https://app.example.com"; "*" for any). Empty: CORS
	// is off, and browsers keep other origins out.
	CORSOrigins []string
	// Now is the throttling clock (nil: time.Now).
	Now func() time.Time
	// Recommender serves the recommendation routes (nil: they answer 503).
	Recommender Recommender
	// Metrics records request metrics and is served at /metrics (nil: no
	// metrics) unless HideMetrics keeps it off this handler (to serve it
	// on an admin listener only).
	Metrics     *observe.Metrics
	HideMetrics bool
	// Cache keeps answers (nil: none); Policies are their lifetimes
	// (zero: DefaultPolicies).
	Cache    *cache.Cache
	Policies Policies
	// Versions, when set, keys cached catalog answers by the in-memory
	// catalog's versions instead of invalidating them on writes.
	Versions Versions
	// AccessLog chooses the requests that get an access log line (zero:
	// all); under AccessLogSample, one in AccessLogSample (0: 100)
	// ordinary requests does. Except under AccessLogOff, 4xx and 5xx
	// answers, and requests taking AccessLogSlow or longer (0: none is
	// slow), always do.
	AccessLog       AccessLog
	AccessLogSample int
	AccessLogSlow   time.Duration
	// Database, when set, reports the connection pools and read replicas
	// that /health/ shows.
	Database func() DatabaseState
}

// UsernameLimitFactor: one username may be tried this many times the login
// limit per window from all addresses together.
const UsernameLimitFactor = 4

// DefaultOptions are the contract's limits: login 5 per minute per address
// and per username (20 per username from all addresses), register 3 per
// minute per address, password changes 5 per minute per user; and the access log
// of one ordinary request in 100, with every error and every request
// slower than 500ms.
func DefaultOptions() Options {
	return Options{
		LoginLimit:      throttle.Limit{N: 5, Per: time.Minute},
		RegisterLimit:   throttle.Limit{N: 3, Per: time.Minute},
		PasswordLimit:   throttle.Limit{N: 5, Per: time.Minute},
		AccessLog:       AccessLogSample,
		AccessLogSample: 100,
		AccessLogSlow:   500 * time.Millisecond,
	}
}

// Server is the HTTP API.
type Server struct {
	store       Store
	accounts    Accounts
	log         *slog.Logger
	mux         *http.ServeMux
	patterns    []string // the registered route patterns (Routes)
	ready       atomic.Bool
	trustProxy  bool
	recommender Recommender
	metrics     *observe.Metrics
	hideMetrics bool
	docs        docsAssets   // the /api/docs/ page's files
	web         http.Handler // the web app: pages for people (nil: none)
	corsOrigins []string
	// unavailableLog spaces out the log lines of a database outage.
	unavailableLog observe.Every
	cache          *cache.Cache
	versions       Versions
	queries        queryMemo // canonical queries of cache keys
	policies       Policies
	limits         struct{ loginAddr, loginUserAddr, loginUser, register, password *throttle.Limiter }
	access         *accessLog
	database       func() DatabaseState
}

// New returns a Server, ready to serve.
func New(store Store, accounts Accounts, log *slog.Logger, opts Options) *Server {
	s := &Server{store: store, accounts: accounts, log: log, mux: http.NewServeMux(), trustProxy: opts.TrustProxy,
		recommender: opts.Recommender, metrics: opts.Metrics, cache: opts.Cache, versions: opts.Versions, policies: opts.Policies,
		unavailableLog: observe.Every{Interval: unavailableLogEvery}, hideMetrics: opts.HideMetrics,
		docs: newDocsAssets(), corsOrigins: opts.CORSOrigins, database: opts.Database}
	if s.policies == (Policies{}) {
		s.policies = DefaultPolicies()
	}
	s.access = newAccessLog(opts)
	s.limits.loginAddr = throttle.New(opts.LoginLimit, opts.Now)
	s.limits.loginUserAddr = throttle.New(opts.LoginLimit, opts.Now)
	s.limits.loginUser = throttle.New(throttle.Limit{N: opts.LoginLimit.N * UsernameLimitFactor, Per: opts.LoginLimit.Per}, opts.Now)
	s.limits.register = throttle.New(opts.RegisterLimit, opts.Now)
	s.limits.password = throttle.New(opts.PasswordLimit, opts.Now)
	if opts.ThrottleStore != nil {
		var errs observe.Every
		errs.Interval = 30 * time.Second
		onErr := func(err error) {
			if ok, more := errs.Allow(time.Now()); ok {
				log.Warn("shared throttle store failed; limiting per instance", slog.Any("err", err),
					slog.Int("more_since_last_line", more))
			}
		}
		for name, l := range map[string]*throttle.Limiter{"login-addr": s.limits.loginAddr,
			"login-user-addr": s.limits.loginUserAddr, "login-user": s.limits.loginUser,
			"register": s.limits.register, "password": s.limits.password} {
			l.Share(name, opts.ThrottleStore, onErr)
		}
	}
	s.ready.Store(true)
	s.registerRoutes()
	return s
}

func (s *Server) clientIP(r *http.Request) string { return throttle.ClientIP(r, s.trustProxy) }

// SetReady sets what /readyz reports; the server clears it when it starts
// shutting down so load balancers stop sending traffic.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// staticPath is where the web app's files are served.
const staticPath = "/static/"

// SetWeb mounts the web app (package web): it serves what no API route
// does outside /api/, and / for browsers. Call it before serving.
func (s *Server) SetWeb(h http.Handler) { s.web = h }

// Routes lists the registered patterns ("GET /api/movies/{$}"), for the
// OpenAPI test.
func (s *Server) Routes() []string { return s.patterns }

// noSlash lists the paths served without a trailing slash; so are the
// files under docsAssetsPath and the web app's under staticPath.
var noSlash = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// ServeHTTP serves the API: paths without their trailing slash are served
// as if it were there, unmatched routes and methods answer with the JSON
// error body, and panics become a logged 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// "X-Request-Id" is the canonical spelling: Get and Set copy others.
	id := requestID(r.Header.Get("X-Request-Id"))
	log := slog.New(&requestLogHandler{Handler: s.log.Handler(), id: id})
	ctx, stats := observe.WithRequestStats(observe.WithLogger(r.Context(), log))
	r = r.WithContext(ctx)
	w.Header().Set("X-Request-Id", id)
	sw := &statusWriter{ResponseWriter: w, stats: stats, start: start}
	route := "unmatched"
	if s.metrics != nil {
		s.metrics.InFlight.Inc()
	}
	defer func() {
		if v := recover(); v != nil {
			log.ErrorContext(ctx, "panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if sw.status == 0 {
				s.writeError(sw, r, movierec.Errorf(movierec.EINTERNAL, "panic"))
			}
		}
		took := time.Since(start)
		if s.metrics != nil {
			s.metrics.InFlight.Dec()
			s.metrics.RequestDuration.WithLabelValues(route, methodLabel(r.Method), observe.StatusClass(sw.status)).Observe(took.Seconds())
			s.metrics.QueriesPerRequest.WithLabelValues(route).Observe(float64(stats.Queries()))
		}
		if level, stands, ok := s.access.decide(sw.status, took, stats.StoreUnavailable()); ok && log.Enabled(ctx, level) {
			// The path only: query strings are not logged.
			attrs := append(make([]slog.Attr, 0, 9), slog.String("method", r.Method), slog.String("route", route),
				slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", took), slog.Int("queries", stats.Queries()), slog.Duration("db", stats.DBTime()))
			if stands > 1 {
				attrs = append(attrs, slog.Uint64("sampled_1_in", stands))
			}
			log.LogAttrs(ctx, level, "request", attrs...)
		}
	}()
	if p := r.URL.Path; !strings.HasSuffix(p, "/") {
		if trimmed := strings.TrimSuffix(p, "/"); !noSlash[trimmed] && !strings.HasPrefix(p, docsAssetsPath) && !strings.HasPrefix(p, staticPath) {
			r.URL.Path = p + "/"
			if r.URL.RawPath != "" {
				r.URL.RawPath += "/"
			}
		}
	}
	if r.Method == http.MethodOptions {
		// What the path allows (a CORS preflight was answered before).
		if allow := s.allowed(r); allow != "" {
			sw.Header().Set("Allow", allow)
			sw.WriteHeader(http.StatusNoContent)
		} else {
			s.writeError(sw, r, movierec.ErrNotFound)
		}
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		route = pattern
	}
	if s.readOnlySibling(r, pattern) {
		s.methodNotAllowed(sw, r)
		return
	}
	if pattern != "" {
		s.mux.ServeHTTP(sw, r) // (Handler does not set the path values)
		return
	}
	// No route matched: let the mux decide between 404, 405 and a
	// redirect to a cleaned path, then answer in the API's own shape.
	rec := &recordWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		s.methodNotAllowed(sw, r)
	case http.StatusNotFound:
		if s.web != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
			route = "web"
			s.web.ServeHTTP(sw, r)
			return
		}
		s.writeError(sw, r, movierec.ErrNotFound)
	default:
		for k, v := range rec.header {
			sw.Header()[k] = v
		}
		sw.WriteHeader(rec.status)
	}
}

// readOnlySibling reports whether a write matched an {id} route only
// because a read-only route of the same path exists (DELETE
// /api/movies/popular/ is not a movie called "popular").
func (s *Server) readOnlySibling(r *http.Request, pattern string) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || !strings.Contains(pattern, "{id}") {
		return false
	}
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	_, getPattern := s.mux.Handler(get)
	_, path, _ := strings.Cut(pattern, " ")
	_, getPath, _ := strings.Cut(getPattern, " ")
	return getPattern != "" && getPath != path
}

// methodNotAllowed answers 405 with the methods the path allows.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", s.allowed(r))
	s.writeError(w, r, &movierec.Error{Code: codeMethodNotAllowed, Message: "Method \"" + r.Method + "\" not allowed."})
}

// methods are the methods of the route table, in a fixed order: the
// candidates of Allow and what CORS allows.
func (s *Server) methods() []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		for _, p := range s.patterns {
			if strings.HasPrefix(p, m+" ") {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// allowed is the Allow header of r's path: the methods a route serves
// there (HEAD with GET), and OPTIONS; "" when no route serves the path.
func (s *Server) allowed(r *http.Request) string {
	var methods []string
	for _, m := range s.methods() {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && !s.readOnlySibling(probe, pattern) {
			methods = append(methods, m)
			if m == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
	}
	if len(methods) == 0 {
		return ""
	}
	return strings.Join(append(methods, http.MethodOptions), ", ")
}

// statusWriter remembers the status and size of the answer, and adds the
// Server-Timing header (database time and statement count so far, and the
// handler's total) just before the header is sent.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	stats  *observe.RequestStats
	start  time.Time
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.stats != nil {
			w.Header().Set("Server-Timing", w.serverTiming())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// serverTiming is `db;dur=1.234;desc="3 queries", app;dur=2.345`, with
// `, cache;desc="hit-local"` when the answer went through the cache.
func (w *statusWriter) serverTiming() string {
	var buf [128]byte
	b := append(buf[:0], "db;dur="...)
	b = appendMillis(b, w.stats.DBTime())
	b = append(b, `;desc="`...)
	b = strconv.AppendInt(b, int64(w.stats.Queries()), 10)
	b = append(b, ` queries", app;dur=`...)
	b = appendMillis(b, time.Since(w.start))
	if c := w.stats.Cache(); c != "" {
		b = append(b, `, cache;desc="`...)
		b = append(b, c...)
		b = append(b, '"')
	}
	return string(b)
}

// appendMillis appends d in milliseconds with three decimals.
func appendMillis(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recordWriter captures the mux's own fallback answer.
type recordWriter struct {
	header http.Header
	status int
}

func (w *recordWriter) Header() http.Header { return w.header }
func (w *recordWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *recordWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

// methodLabel bounds the method label: clients may send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// requestID keeps a client's X-Request-ID when it is a sane token
// (1–128 of A–Z a–z 0–9 . _ : -) and makes a random one otherwise: 16 hex
// digits. IDs correlate log lines; they are not secrets, so the runtime's
// fast generator will do.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 128 && strings.Trim(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == "" {
		return in
	}
	const digits = "0123456789abcdef"
	var b [16]byte
	for i, n := 0, rand.Uint64(); i < len(b); i, n = i+1, n>>4 {
		b[i] = digits[n&15]
	}
	return string(b[:])
}

// pathID parses the {id} path value; anything but a positive integer is a
// 404, as no such resource can exist; so is a non-canonical spelling
// such as "+5" or "007".
func pathID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != raw {
		return 0, movierec.ErrNotFound
	}
	return id, nil
}

// Links of the API root and of each section's root, name → path.
var (
	rootLinks = map[string]string{
		"movies": "/api/movies/", "popular": "/api/movies/popular/", "trending": "/api/movies/trending/",
		"top_rated": "/api/movies/top-rated/", "genres": "/api/movies/genres/", "tags": "/api/movies/tags/",
		"auth": "/api/auth/", "ratings": "/api/ratings/", "recommendations": "/api/recommendations/",
		"docs": "/api/docs/", "schema": "/api/schema/", "health": "/health/",
	}
	authLinks = map[string]string{
		"register": "/api/auth/register/", "login": "/api/auth/login/", "token_refresh": "/api/auth/token/refresh/",
		"logout": "/api/auth/logout/", "profile": "/api/auth/profile/", "password_change": "/api/auth/password/change/",
	}
	ratingsLinks = map[string]string{
		"my_ratings": "/api/ratings/my-ratings/", "my_favorites": "/api/ratings/my-favorites/",
		"my_watchlist": "/api/ratings/my-watchlist/", "my_stats": "/api/ratings/my-stats/",
		"movie_rate": "/api/ratings/movies/{id}/rate/", "movie_ratings": "/api/ratings/movies/{id}/ratings/",
		"movie_stats": "/api/ratings/movies/{id}/stats/",
	}
	recommendationsLinks = map[string]string{
		"for_me": "/api/recommendations/for-me/", "trending": "/api/recommendations/trending/",
		"similar": "/api/recommendations/movies/{id}/similar/", "user": "/api/recommendations/users/{user_id}/",
	}
)

// apiRoot serves GET /api/: absolute links to every section.
func (s *Server) apiRoot(w http.ResponseWriter, r *http.Request) error {
	return s.sectionRoot(rootLinks)(w, r)
}

// sectionRoot serves a root of links (DRF's browsable roots): absolute
// URLs of the given paths; a path with {id} is a template to fill in.
func (s *Server) sectionRoot(paths map[string]string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := newQuery(r).err(); err != nil {
			return err
		}
		links := make(map[string]string, len(paths))
		for name, path := range paths {
			links[name] = absURL(r, path)
		}
		writeJSON(w, http.StatusOK, links)
		return nil
	}
}
