package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/observe"
)

// Policies are the lifetimes of cached answers (the seed guide's numbers).
type Policies struct {
	List, Popular, Detail, Recommendations cache.Policy
}

// DefaultPolicies: movie lists 15 minutes, popular and trending 10, movie
// detail 1 hour, a user's recommendations 30 minutes.
func DefaultPolicies() Policies {
	return Policies{
		List:            cache.Policy{Name: "list", TTL: 15 * time.Minute},
		Popular:         cache.Policy{Name: "popular", TTL: 10 * time.Minute},
		Detail:          cache.Policy{Name: "detail", TTL: time.Hour},
		Recommendations: cache.Policy{Name: "recommendations", TTL: 30 * time.Minute},
	}
}

// Handler is the server with gzip (above 1 KiB, with Vary:
// Accept-Encoding) in front.
func (s *Server) Handler() http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024))
	if err != nil {
		panic(err) // only for invalid options
	}
	return wrap(s)
}

// capture records a handler's answer so it can be cached and replayed.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// etag is a strong validator of body.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// cached serves a GET route from the cache: shared catalog answers
// (userOf nil) get "public, max-age" for the policy's lifetime; a user's
// answers are cached per user and marked "private, no-store" for HTTP
// caches. Every 200 carries a strong ETag and If-None-Match yields 304.
// version, when set, is part of the key (the recommendation model).
func (s *Server) cached(p cache.Policy, userOf func(*http.Request) (int64, bool), h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var scope cache.Scope
		if userOf != nil {
			uid, ok := userOf(r)
			if !ok { // not allowed or not found: let the handler answer
				h(w, r)
				return
			}
			scope.UserID = uid
		}
		fill := func(context.Context) (cache.Entry, error) {
			rec := &capture{header: http.Header{}}
			// Concurrent requests for this key wait on this fill: the first
			// client hanging up must not fail theirs.
			h(rec, r.WithContext(context.WithoutCancel(r.Context())))
			return cache.Entry{Status: rec.status, ContentType: rec.header.Get("Content-Type"),
				ETag: etag(rec.body.Bytes()), Body: rec.body.Bytes()}, nil
		}
		var e cache.Entry
		if s.cache == nil {
			e, _ = fill(r.Context())
		} else {
			var outcome cache.Outcome
			e, outcome, _ = s.cache.Fetch(r.Context(), p, scope, s.cacheKey(r), fill)
			if st := observe.Stats(r.Context()); st != nil {
				st.SetCache(string(outcome))
			}
		}
		hdr := w.Header()
		if e.Status != http.StatusOK {
			hdr.Set("Content-Type", e.ContentType)
			if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusUnauthorized {
				s.replayErrorHeaders(hdr, e.Status)
			}
			w.WriteHeader(e.Status)
			w.Write(e.Body)
			return
		}
		if userOf != nil {
			hdr.Set("Cache-Control", "private, no-store")
		} else {
			hdr.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(p.TTL.Seconds())))
		}
		hdr.Set("ETag", e.ETag)
		if matchesETag(r.Header.Get("If-None-Match"), e.ETag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		hdr.Set("Content-Type", e.ContentType)
		hdr.Set("Content-Length", strconv.Itoa(len(e.Body)))
		w.WriteHeader(http.StatusOK)
		w.Write(e.Body)
	}
}

// replayErrorHeaders restores the headers writeError sets.
func (s *Server) replayErrorHeaders(h http.Header, status int) {
	switch status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="movierec"`)
	}
}

// matchesETag implements If-None-Match (a list, or *).
func matchesETag(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == tag || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

// cacheKey identifies an answer: scheme and host (pagination links are
// absolute), path, the canonical query, and the served model's version.
func (s *Server) cacheKey(r *http.Request) string {
	key := scheme(r) + "://" + r.Host + r.URL.Path + "?" + r.URL.Query().Encode()
	if s.recommender != nil && strings.HasPrefix(r.URL.Path, "/api/recommendations/") {
		key += "#" + s.recommender.ModelVersion()
	}
	return key
}

// callerID is the scope of the caller's own answers (for-me).
func (s *Server) callerID(r *http.Request) (int64, bool) {
	p, err := s.principal(r)
	return p.UserID, err == nil
}

// pathUserID is the scope of /recommendations/users/{user_id}/, for staff.
func (s *Server) pathUserID(r *http.Request) (int64, bool) {
	p, err := s.principal(r)
	if err != nil || !p.IsStaff {
		return 0, false
	}
	id, err := strconv.ParseInt(r.PathValue("user_id"), 10, 64)
	return id, err == nil && id > 0
}

type principalKey struct{}

// invalidates wraps a write route: when it succeeds, the answers it
// changes stop being served, on every instance, before the response is
// sent: every catalog answer, and the caller's own (recommendations).
func (s *Server) invalidates(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cache == nil {
			h(w, r)
			return
		}
		holder := new(auth.Principal)
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, holder))
		h(&invalidatingWriter{ResponseWriter: w, ctx: r.Context(), cache: s.cache, who: holder}, r)
	}
}

// rememberPrincipal lets invalidates know whose answers a write changed.
func rememberPrincipal(ctx context.Context, p auth.Principal) {
	if holder, ok := ctx.Value(principalKey{}).(*auth.Principal); ok {
		*holder = p
	}
}

type invalidatingWriter struct {
	http.ResponseWriter
	ctx   context.Context
	cache *cache.Cache
	who   *auth.Principal
	done  bool
}

func (w *invalidatingWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		if code < 300 {
			w.cache.Invalidate(w.ctx, cache.Scope{})
			if w.who.UserID != 0 {
				w.cache.Invalidate(w.ctx, cache.Scope{UserID: w.who.UserID})
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *invalidatingWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
