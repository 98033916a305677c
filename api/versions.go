package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/cache"
)

// Versions is what an in-memory catalog (catalog.Catalog) tells the answer
// cache. When the server has one, cached catalog answers are keyed by the
// versions of the data they were made from instead of being invalidated
// by writes: a rating of one movie changes that movie's key at once and
// the keys of lists within the catalog's coalescing interval, and leaves
// every other movie's answers alone.
type Versions interface {
	// Version is the newest change applied; ListVersion follows it at most
	// once per coalescing interval.
	Version() int64
	ListVersion() int64
	// MovieVersion is the version a movie's data reflects;
	// TaxonomyVersion that of the last genre or tag change.
	MovieVersion(id int64) int64
	TaxonomyVersion() int64
	// EnsureFresh applies changes committed by this or other instances
	// that this one has not applied yet; EnsureFreshMovie those that
	// concern one movie's answers.
	EnsureFresh(ctx context.Context) error
	EnsureFreshMovie(ctx context.Context, id int64) error
	// Track records the catalog reads made with the returned context; the
	// function returns a stamp of them (nil when they cannot be checked),
	// which tells later whether the answer made from them still holds.
	Track(ctx context.Context) (context.Context, func() movierec.Stamp)
}

// Routes whose public answers are kept across list versions while the
// catalog's changes leave them as they were (see keptFetch): their
// handlers read only what a stamp can check (movie list pages, genres,
// tags).
var keptRoutes = map[string]bool{
	"GET /api/movies/{$}":                    true,
	"GET /api/movies/popular/{$}":            true,
	"GET /api/movies/genres/{$}":             true,
	"GET /api/movies/genres/{id}/movies/{$}": true,
	"GET /api/movies/tags/{$}":               true,
	"GET /api/movies/tags/{id}/movies/{$}":   true,
}

// keptFetch serves a public list answer of a keptRoutes route: cached at
// the list version, and when that moves, checked against the changes
// applied since and served again if they did not touch it, so a stream
// of writes costs a list page a recomputation only when a write changed
// it. fill makes the answer with ctx.
func (s *Server) keptFetch(r *http.Request, p cache.Policy, key string, fill func(context.Context) (cache.Entry, error)) (cache.Entry, cache.Outcome) {
	e, outcome, _ := s.cache.FetchKept(r.Context(), p, key, s.versions.ListVersion(),
		func(ctx context.Context) (cache.Entry, cache.Check, error) {
			tctx, stampOf := s.versions.Track(ctx)
			e, err := fill(tctx)
			return e, checkOf(stampOf()), err
		})
	return e, outcome
}

// checkOf adapts a stamp to the cache's Check (nil for nil).
func checkOf(st movierec.Stamp) cache.Check {
	if st == nil {
		return nil
	}
	return func() (cache.Check, bool) {
		next, ok := st.Revalidate()
		if !ok {
			return nil, false
		}
		return checkOf(next), true
	}
}

// Routes whose answers belong to one movie: they show a write at once, on
// every instance.
var movieScoped = map[string]bool{
	"GET /api/movies/{id}/{$}":                 true,
	"GET /api/ratings/movies/{id}/stats/{$}":   true,
	"GET /api/ratings/movies/{id}/ratings/{$}": true,
}

// catalogVersion is the part of a cache key that names the catalog data
// an answer is made from. A movie's own answers, and any request of an
// authenticated caller (who may have just written), first catch up with
// other instances' writes; lists otherwise use the coalesced list version.
func (s *Server) catalogVersion(r *http.Request) string {
	scoped := movieScoped[r.Pattern]
	id, idErr := pathID(r)
	var err error
	switch {
	case r.Header.Get("Authorization") != "":
		err = s.versions.EnsureFresh(r.Context())
	case scoped && idErr == nil:
		err = s.versions.EnsureFreshMovie(r.Context(), id)
	}
	if err != nil {
		s.log.DebugContext(r.Context(), "catalog freshness check failed; serving what this instance has", "err", err)
	}
	if scoped {
		if idErr == nil {
			return "#m" + strconv.FormatInt(s.versions.MovieVersion(id), 10) + "." + strconv.FormatInt(s.versions.TaxonomyVersion(), 10)
		}
	}
	lv := s.versions.ListVersion()
	if v := s.versions.Version(); r.Header.Get("Authorization") != "" && v != lv {
		// The caller may have just written: newer than the list version.
		return "#a" + strconv.FormatInt(v, 10)
	}
	return "#l" + strconv.FormatInt(lv, 10)
}

// unlessVersioned is p without a catalog (answers cached the old way) and
// no caching with one: the public ratings list shows usernames, which
// profile edits change without a catalog version, and it is one indexed
// query.
func (s *Server) unlessVersioned(p *cache.Policy) *cache.Policy {
	if s.versions != nil {
		return nil
	}
	return p
}
