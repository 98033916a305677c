package api

import (
	"context"
	"net/http"

	"github.com/movierec/movierec/cache"
	"strconv"
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
	// MovieVersion is the version of a movie's last change;
	// TaxonomyVersion that of the last genre or tag change.
	MovieVersion(id int64) int64
	TaxonomyVersion() int64
	// EnsureFresh applies changes committed by this or other instances
	// that this one has not applied yet; EnsureFreshMovie those that
	// concern one movie's answers.
	EnsureFresh(ctx context.Context) error
	EnsureFreshMovie(ctx context.Context, id int64) error
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

// uncachedWhenVersioned caches h the old way without a catalog, and not at
// all with one: the public ratings list shows usernames, which profile
// edits change without a catalog version, and it is one indexed query.
func (s *Server) uncachedWhenVersioned(p cache.Policy, h http.HandlerFunc) http.HandlerFunc {
	if s.versions != nil {
		return h
	}
	return s.cached(p, nil, h)
}
