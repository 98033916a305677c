package api

import (
	"net/http"

	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/cache"
)

// handler serves one route. p is the caller on routes that need one (the
// zero Principal on public routes). An error it returns is written by
// serveRoute through writeError, the one place errors meet HTTP; a
// handler writes only successful answers.
type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// access says who may call a route.
type access uint8

const (
	anyone    access = iota // public
	signedIn                // a user with a valid access token (else 401)
	staffOnly               // a staff user (401 anonymous, 403 others)
)

// route is one operation of the API, declared once in routes. The mux,
// Routes (and through it the OpenAPI coverage test), Allow, OPTIONS and
// the methods CORS allows all come from that table.
type route struct {
	pattern string // "GET /api/movies/{$}"
	access  access
	// cache keeps answers for this policy (nil: not cached); scope, when
	// set, keeps them per user (whose answer it is, false: not cached).
	cache *cache.Policy
	scope func(*http.Request) (int64, bool)
	// writes marks a write: once it succeeds, the cached answers it
	// changes stop being served, on every instance, before it answers.
	writes bool
	serve  handler
}

// public adapts a handler that needs no caller.
func public(h func(w http.ResponseWriter, r *http.Request) error) handler {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error { return h(w, r) }
}

// routes is the API, one line per operation.
func (s *Server) routes() []route {
	list, popular, detail, recs := &s.policies.List, &s.policies.Popular, &s.policies.Detail, &s.policies.Recommendations
	genre, tag := saveNamed(s, s.genreResource()), saveNamed(s, s.tagResource())
	return []route{
		{pattern: "GET /{$}", serve: public(s.home)},
		{pattern: "GET /api/{$}", serve: public(s.apiRoot)},
		{pattern: "GET /api/schema/{$}", serve: public(s.schema)},
		{pattern: "GET /api/docs/{$}", serve: public(s.docsPage)},
		{pattern: "GET " + docsAssetsPath + "{name}", serve: public(s.docsAsset)},
		{pattern: "GET /api/auth/{$}", serve: public(s.sectionRoot(authLinks))},
		{pattern: "GET /api/ratings/{$}", serve: public(s.sectionRoot(ratingsLinks))},
		{pattern: "GET /api/recommendations/{$}", serve: public(s.sectionRoot(recommendationsLinks))},

		{pattern: "GET /api/movies/{$}", cache: list, serve: public(s.listMovies)},
		{pattern: "POST /api/movies/{$}", access: staffOnly, writes: true, serve: s.createMovie},
		{pattern: "GET /api/movies/{id}/{$}", cache: detail, serve: public(s.getMovie)},
		{pattern: "PUT /api/movies/{id}/{$}", access: staffOnly, writes: true, serve: s.updateMovie},
		{pattern: "PATCH /api/movies/{id}/{$}", access: staffOnly, writes: true, serve: s.updateMovie},
		{pattern: "DELETE /api/movies/{id}/{$}", access: staffOnly, writes: true, serve: s.deleteByID(s.store.DeleteMovie)},
		{pattern: "GET /api/movies/popular/{$}", cache: popular, serve: public(s.popularMovies)},
		{pattern: "GET /api/movies/trending/{$}", cache: popular, serve: public(s.trendingMovies)},
		{pattern: "GET /api/movies/top-rated/{$}", cache: popular, serve: public(s.topRatedMovies)},
		{pattern: "GET /api/movies/genres/{$}", cache: list, serve: public(s.listGenres)},
		{pattern: "POST /api/movies/genres/{$}", access: staffOnly, writes: true, serve: genre},
		{pattern: "GET /api/movies/genres/{id}/{$}", cache: detail, serve: public(s.getGenre)},
		{pattern: "PUT /api/movies/genres/{id}/{$}", access: staffOnly, writes: true, serve: genre},
		{pattern: "PATCH /api/movies/genres/{id}/{$}", access: staffOnly, writes: true, serve: genre},
		{pattern: "DELETE /api/movies/genres/{id}/{$}", access: staffOnly, writes: true, serve: s.deleteByID(s.store.DeleteGenre)},
		{pattern: "GET /api/movies/genres/{id}/movies/{$}", cache: list, serve: public(s.genreMovies)},
		{pattern: "GET /api/movies/tags/{$}", cache: list, serve: public(s.listTags)},
		{pattern: "POST /api/movies/tags/{$}", access: staffOnly, writes: true, serve: tag},
		{pattern: "GET /api/movies/tags/{id}/{$}", cache: detail, serve: public(s.getTag)},
		{pattern: "PUT /api/movies/tags/{id}/{$}", access: staffOnly, writes: true, serve: tag},
		{pattern: "PATCH /api/movies/tags/{id}/{$}", access: staffOnly, writes: true, serve: tag},
		{pattern: "DELETE /api/movies/tags/{id}/{$}", access: staffOnly, writes: true, serve: s.deleteByID(s.store.DeleteTag)},
		{pattern: "GET /api/movies/tags/{id}/movies/{$}", cache: list, serve: public(s.tagMovies)},

		{pattern: "POST /api/auth/register/{$}", serve: public(s.register)},
		{pattern: "POST /api/auth/login/{$}", serve: public(s.login)},
		{pattern: "POST /api/auth/token/refresh/{$}", serve: public(s.refreshToken)},
		{pattern: "POST /api/auth/logout/{$}", serve: public(s.logout)},
		{pattern: "GET /api/auth/profile/{$}", access: signedIn, serve: s.getProfile},
		// A username shows in cached public rating lists.
		{pattern: "PUT /api/auth/profile/{$}", access: signedIn, writes: true, serve: s.updateProfile},
		{pattern: "PATCH /api/auth/profile/{$}", access: signedIn, writes: true, serve: s.updateProfile},
		{pattern: "POST /api/auth/password/change/{$}", access: signedIn, serve: s.changePassword},

		{pattern: "GET /api/ratings/movies/{id}/rate/{$}", access: signedIn, serve: s.movieRating(s.getRating)},
		{pattern: "POST /api/ratings/movies/{id}/rate/{$}", access: signedIn, writes: true, serve: s.movieRating(s.rateMovie)},
		{pattern: "PUT /api/ratings/movies/{id}/rate/{$}", access: signedIn, writes: true, serve: s.movieRating(s.rateMovie)},
		{pattern: "DELETE /api/ratings/movies/{id}/rate/{$}", access: signedIn, writes: true, serve: s.movieRating(s.deleteRating)},
		{pattern: "GET /api/ratings/my-ratings/{$}", access: signedIn, serve: myList(s, s.store.UserRatings, newMyRatingJSON)},
		{pattern: "POST /api/ratings/movies/{id}/favorite/{$}", access: signedIn, serve: s.movieRating(s.toggleFavorite)},
		{pattern: "GET /api/ratings/my-favorites/{$}", access: signedIn, serve: myList(s, s.store.Favorites, newFavoriteJSON)},
		{pattern: "POST /api/ratings/movies/{id}/watch/{$}", access: signedIn, serve: s.movieRating(s.watch)},
		{pattern: "POST /api/ratings/movies/{id}/unwatch/{$}", access: signedIn, serve: s.movieRating(s.unwatch)},
		{pattern: "GET /api/ratings/my-watchlist/{$}", access: signedIn, serve: myList(s, s.store.WatchHistory, newWatchJSON)},
		{pattern: "GET /api/ratings/my-stats/{$}", access: signedIn, serve: s.myStats},
		{pattern: "GET /api/ratings/movies/{id}/ratings/{$}", cache: s.unlessVersioned(list), serve: public(s.movieRatings)},
		{pattern: "GET /api/ratings/movies/{id}/stats/{$}", cache: list, serve: public(s.movieStats)},

		{pattern: "GET /api/recommendations/for-me/{$}", access: signedIn, cache: recs, scope: s.callerID, serve: s.forMe},
		{pattern: "GET /api/recommendations/users/{user_id}/{$}", access: staffOnly, cache: recs, scope: s.pathUserID, serve: s.forUser},
		{pattern: "GET /api/recommendations/movies/{id}/similar/{$}", cache: detail, serve: public(s.similarMovies)},
		{pattern: "GET /api/recommendations/trending/{$}", cache: popular, serve: public(s.trendingMovies)},
		{pattern: "GET /health/{$}", serve: public(s.health)},
		{pattern: "GET /healthz", serve: public(s.healthz)},
		{pattern: "GET /readyz", serve: public(s.readyz)},
	}
}

// registerRoutes builds the mux from the route table.
func (s *Server) registerRoutes() {
	for _, rt := range s.routes() {
		s.patterns = append(s.patterns, rt.pattern)
		s.mux.Handle(rt.pattern, s.serveRoute(rt))
	}
	if s.metrics != nil && !s.hideMetrics {
		s.mux.Handle("GET /metrics", s.metrics.Handler())
		s.patterns = append(s.patterns, "GET /metrics")
	}
}

// serveRoute is a route's handler: the caller checked as its access says,
// the write's invalidation armed, the answer cached as its policy says,
// and the handler's error written.
func (s *Server) serveRoute(rt route) http.HandlerFunc {
	h := func(w http.ResponseWriter, r *http.Request) {
		var p auth.Principal
		if rt.access != anyone {
			w.Header().Set("Cache-Control", "private, no-store")
			var err error
			p, err = s.principal(r)
			if err == nil && rt.access == staffOnly && !p.IsStaff {
				err = errStaffOnly
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if rt.writes && s.cache != nil {
			w = &invalidatingWriter{ResponseWriter: w, ctx: r.Context(), cache: s.cache, who: p, versioned: s.versions != nil}
		}
		if err := rt.serve(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	}
	if rt.cache != nil {
		return s.cached(*rt.cache, rt.scope, h)
	}
	return h
}
