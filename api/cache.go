package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/rs/cors"

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
// Accept-Encoding; at precompressLevel, as cached answers) in front, and CORS in front of that when
// Options.CORSOrigins allows other origins (preflights are answered
// there; other requests get the Access-Control headers). Cached answers arrive already compressed
// (with Content-Encoding set), and gzhttp passes those through as they
// are.
func (s *Server) Handler() http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.CompressionLevel(precompressLevel))
	if err != nil {
		panic(err) // only for invalid options
	}
	var h http.Handler = wrap(s)
	if len(s.corsOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: s.corsOrigins,
			AllowedMethods: s.methods(),
			AllowedHeaders: []string{"Authorization", "Content-Type", "If-None-Match", "X-Request-ID"},
			ExposedHeaders: []string{"ETag", "Location", "Retry-After", "X-Request-ID", "Server-Timing"},
			MaxAge:         600,
			// Bearer tokens, no cookies: credentials are never needed.
			AllowCredentials: false,
		}).Handler(h)
	}
	return h
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

// gzipETag is the strong validator of the gzip representation of the
// answer tagged tag: `"abc"` becomes `"abc-gzip"`. The two
// representations differ byte for byte, so they need different strong
// tags.
func gzipETag(tag string) string {
	return strings.TrimSuffix(tag, `"`) + `-gzip"`
}

const (
	// precompressMin is the smallest answer kept compressed (gzhttp's
	// MinSize: below it gzip saves nothing worth a packet).
	precompressMin = 1024
	// precompressLevel: answers are compressed once, when cached. Fills
	// are frequent under writes (a list page is made again whenever a
	// write changes it, up to once per coalescing interval) and cheap
	// (from memory), so compressing is a large part of one: on a 4.8 KB
	// list page BestSpeed takes 12 µs against level 5's 23 µs, for 7%
	// more bytes (1,166 against 1,085).
	precompressLevel = gzip.BestSpeed
)

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, precompressLevel)
	return zw
}}

// precompress returns body gzip-compressed.
func precompress(body []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(body)/3 + 64)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(body) // a bytes.Buffer does not fail
	zw.Close()
	gzipWriters.Put(zw)
	return bytes.Clone(buf.Bytes()) // cached for long: no spare capacity
}

// acceptsGzip reports whether the Accept-Encoding fields allow gzip
// (RFC 9110 §12.5.3): "gzip" (or its alias "x-gzip") with a q-value above
// 0, or, when neither is listed, "*" above 0. No field means identity: a
// client that did not ask gets the plain body. A malformed q-value counts
// as 0. The q-value of identity is not weighed against gzip's.
func acceptsGzip(h http.Header) bool {
	gzipQ, anyQ := -1, -1 // -1: not listed; else 0 or 1 (above 0)
	for _, field := range h.Values("Accept-Encoding") {
		for field != "" {
			var item string
			item, field, _ = strings.Cut(field, ",")
			coding, params, _ := strings.Cut(item, ";")
			q := 1
			for params != "" {
				var param string
				param, params, _ = strings.Cut(params, ";")
				name, value, _ := strings.Cut(param, "=")
				if strings.EqualFold(strings.TrimSpace(name), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil || !(f > 0) { // NaN too
						q = 0
					}
				}
			}
			switch coding = strings.TrimSpace(coding); {
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				gzipQ = max(gzipQ, q)
			case coding == "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// addVary lists Accept-Encoding in Vary unless it is already there.
func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return
			}
		}
	}
	h.Add("Vary", "Accept-Encoding")
}

// cached serves a GET route from the cache: shared catalog answers
// (userOf nil) get "public, max-age" for the policy's lifetime; a user's
// answers are cached per user and marked "private, no-store" for HTTP
// caches. Every 200 carries a strong ETag and If-None-Match yields 304.
// version, when set, is part of the key (the recommendation model).
//
// A cached 200 of at least 1 KiB is also kept gzip-compressed (compressed
// once, when it is filled): a client that accepts gzip gets those bytes
// with Content-Encoding: gzip and the tag gzipETag, others the plain body.
// If-None-Match with either representation's tag yields 304: both carry
// the same content, so the copy the client holds is current, and the 304
// names that copy's tag so caches update the response they stored.
func (s *Server) cached(p cache.Policy, userOf func(*http.Request) (int64, bool), h http.HandlerFunc) http.HandlerFunc {
	cacheControl := "public, max-age=" + strconv.Itoa(int(p.TTL.Seconds()))
	if userOf != nil {
		cacheControl = "private, no-store"
	}
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
		var fresh []byte // the answer this request made, when it differs from the one kept
		fill := func(ctx context.Context) (cache.Entry, error) {
			rec := &capture{header: http.Header{}}
			// Concurrent requests for this key wait on this fill: the first
			// client hanging up must not fail theirs.
			h(rec, r.WithContext(context.WithoutCancel(ctx)))
			body := rec.body.Bytes()
			if userOf != nil && rec.status == http.StatusOK && s.cache != nil && bytes.HasSuffix(body, cachedFalse) {
				// Recommendations say whether they came from the cache: the
				// kept copy says so to the requests it serves later.
				fresh = body
				body = append(bytes.TrimSuffix(bytes.Clone(body), cachedFalse), cachedTrue...)
			}
			e := cache.Entry{Status: rec.status, ContentType: rec.header.Get("Content-Type"),
				ETag: etag(body), Body: body}
			// Without a cache nothing is kept: gzhttp compresses as it goes.
			if s.cache != nil && e.Status == http.StatusOK && len(body) >= precompressMin && rec.header.Get("Content-Encoding") == "" {
				e.Gzip, e.GzipETag = precompress(body), gzipETag(e.ETag)
			}
			return e, nil
		}
		var e cache.Entry
		version := ""
		kept := s.versions != nil && s.cache != nil && userOf == nil && keptRoutes[r.Pattern] && r.Header.Get("Authorization") == ""
		if s.versions != nil && !kept {
			// Also with the cache off: this is where reads catch up.
			version = s.catalogVersion(r)
		}
		if s.cache == nil {
			e, _ = fill(r.Context())
		} else {
			var outcome cache.Outcome
			switch key := s.cacheKey(r); {
			case kept:
				e, outcome = s.keptFetch(r, p, key, fill)
			case s.versions == nil:
				e, outcome, _ = s.cache.Fetch(r.Context(), p, scope, key, fill)
			case userOf == nil: // catalog answers: versioned keys, this instance only
				e, outcome, _ = s.cache.FetchLocal(r.Context(), p, key+version, fill)
			default: // a user's answers show catalog data too
				e, outcome, _ = s.cache.Fetch(r.Context(), p, scope, key+version, fill)
			}
			if st := observe.Stats(r.Context()); st != nil {
				st.SetCache(string(outcome))
			}
		}
		if fresh != nil { // this request made the answer: not from the cache
			e = cache.Entry{Status: e.Status, ContentType: e.ContentType, ETag: etag(fresh), Body: fresh}
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
		hdr.Set("Cache-Control", cacheControl)
		tag, other, body := e.ETag, e.GzipETag, e.Body
		gz := e.Gzip != nil && acceptsGzip(r.Header)
		if gz {
			tag, other, body = e.GzipETag, e.ETag, e.Gzip
		}
		if e.Gzip != nil {
			addVary(hdr)
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			held := ""
			switch {
			case matchesETag(inm, tag):
				held = tag
			case other != "" && matchesETag(inm, other):
				held = other // the client holds the other representation
			}
			if held != "" {
				hdr.Set("Etag", held)
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		hdr.Set("Etag", tag) // (canonical spelling: Set copies "ETag")
		if gz {
			hdr.Set("Content-Encoding", "gzip")
		}
		hdr.Set("Content-Type", e.ContentType)
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
}

// The end of a recommendations answer made for the request, and of the
// copy the cache keeps (see recommendationsJSON.Cached).
var cachedFalse, cachedTrue = []byte(`"cached":false}` + "\n"), []byte(`"cached":true}` + "\n")

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
	key := scheme(r) + "://" + r.Host + r.URL.Path + "?" + s.queries.canonical(r.URL.RawQuery)
	if s.recommender != nil && strings.HasPrefix(r.URL.Path, "/api/recommendations/") {
		key += "#" + s.recommender.ModelVersion()
	}
	return key
}

// queryMemo remembers the canonical form (url.Values.Encode: keys sorted,
// escapes normalised) of raw query strings: a server sees the same few
// hundred list pages asked for over and over, and parsing and encoding a
// query again for each request's cache key cost 3-4% of an instance's CPU.
// It keeps about queryMemoMax queries (concurrent inserts may pass it by
// a few) of at most queryMemoLen bytes, a few MB at worst, and starts
// afresh when full, so endless distinct queries cost what they cost
// without it, plus a map insert.
type queryMemo struct {
	m sync.Map // raw query -> canonical
	n atomic.Int64
}

const (
	queryMemoMax = 4096
	queryMemoLen = 512
)

// canonical returns url.ParseQuery(raw)'s Encode (a malformed pair is
// dropped, as r.URL.Query() drops it).
func (q *queryMemo) canonical(raw string) string {
	if raw == "" {
		return ""
	}
	if len(raw) > queryMemoLen {
		values, _ := url.ParseQuery(raw)
		return values.Encode()
	}
	if v, ok := q.m.Load(raw); ok {
		return v.(string)
	}
	values, _ := url.ParseQuery(raw)
	enc := values.Encode()
	if q.n.Add(1) > queryMemoMax {
		q.m.Clear()
		q.n.Store(1)
	}
	q.m.Store(raw, enc)
	return enc
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

// invalidatingWriter sends a write route's answer (see route.writes):
// when it succeeds, the answers it changes stop being served, on every
// instance, before the response is sent: every catalog answer (unless
// they are versioned by the in-memory catalog), and the caller's own
// (recommendations).
type invalidatingWriter struct {
	http.ResponseWriter
	versioned bool
	ctx       context.Context
	cache     *cache.Cache
	who       auth.Principal
	done      bool
}

func (w *invalidatingWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		if code < 300 {
			if !w.versioned { // versioned catalog answers need no invalidation
				w.cache.Invalidate(w.ctx, cache.Scope{})
			}
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
