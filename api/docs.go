package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/movierec/movierec"
)

// docsAssetsPath is where the docs page's files are served.
const docsAssetsPath = "/api/docs/assets/"

// docsVendor is the vendored OpenAPI viewer (see docs/vendor/README.md).
const docsVendor = "docs/vendor/swagger-ui-dist-5.35.0"

//go:embed docs/index.html docs/home.html docs/docs.js docs/docs.css
//go:embed docs/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js docs/vendor/swagger-ui-dist-5.35.0/swagger-ui.css
//go:embed docs/vendor/swagger-ui-dist-5.35.0/favicon-32x32.png
var docsFS embed.FS

// docsCSP is the docs page's Content-Security-Policy: everything from this
// server (the viewer calls the API on the same origin for "try it out"),
// no inline scripts; the viewer sets inline styles and shows data: images.
const docsCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// docsAsset is one file of the docs page, with its gzipped form made on
// first use.
type docsAsset struct {
	name, contentType string
	body              []byte
	etag              string
	once              sync.Once
	gz                []byte
}

// docsAssets are the files under /api/docs/assets/, by name.
type docsAssets map[string]*docsAsset

// newDocsAssets reads the embedded docs files.
func newDocsAssets() docsAssets {
	files := map[string]string{
		"docs.js": "docs/docs.js", "docs.css": "docs/docs.css",
		"swagger-ui-bundle.js": docsVendor + "/swagger-ui-bundle.js", "swagger-ui.css": docsVendor + "/swagger-ui.css",
		"favicon-32x32.png": docsVendor + "/favicon-32x32.png",
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
	out := docsAssets{}
	for name, file := range files {
		out[name] = newDocsAsset(name, types[path.Ext(name)], file)
	}
	out["index.html"] = newDocsAsset("index.html", "text/html; charset=utf-8", "docs/index.html")
	out["home.html"] = newDocsAsset("home.html", "text/html; charset=utf-8", "docs/home.html")
	return out
}

func newDocsAsset(name, contentType, file string) *docsAsset {
	b, err := fs.ReadFile(docsFS, file)
	if err != nil {
		panic("api: embedded docs file missing: " + file) // a build error, caught by the tests
	}
	sum := sha256.Sum256(b)
	return &docsAsset{name: name, contentType: contentType, body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// gzipped returns the asset compressed, made once.
func (a *docsAsset) gzipped() []byte {
	a.once.Do(func() {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(a.body)
		w.Close()
		a.gz = buf.Bytes()
	})
	return a.gz
}

// serve writes the asset: 304 for a matching If-None-Match, gzipped when
// the client accepts it (and it is text).
func (a *docsAsset) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if !strings.HasPrefix(a.contentType, "image/") && acceptsGzip(r.Header) {
		body = a.gzipped()
		h.Set("Content-Encoding", "gzip")
	}
	w.Write(body)
}

// docsPage serves GET /api/docs/: the API reference, rendered in the
// browser from /api/schema/ by the vendored Swagger UI.
func (s *Server) docsPage(w http.ResponseWriter, r *http.Request) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", docsCSP)
	w.Header().Set("Referrer-Policy", "same-origin")
	s.docs["index.html"].serve(w, r, "no-cache")
	return nil
}

// home serves GET /: the web app's home page (without the web app, a page
// of links to the API and its reference) or, for a client that asks for
// JSON first, the API root's links.
func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	if prefersJSON(r.Header.Get("Accept")) {
		return s.apiRoot(w, r)
	}
	if s.web != nil {
		s.web.ServeHTTP(w, r)
		return nil
	}
	if err := newQuery(r).err(); err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", docsCSP)
	w.Header().Add("Vary", "Accept")
	s.docs["home.html"].serve(w, r, "no-cache")
	return nil
}

// prefersJSON reports whether an Accept header lists application/json
// before text/html (or without it).
func prefersJSON(accept string) bool {
	j, h := strings.Index(accept, "application/json"), strings.Index(accept, "text/html")
	return j >= 0 && (h < 0 || j < h)
}

// docsAsset serves GET /api/docs/assets/{name}: the page's scripts, styles
// and icon. They change only with the binary, so clients revalidate them
// hourly by ETag.
func (s *Server) docsAsset(w http.ResponseWriter, r *http.Request) error {
	a := s.docs[r.PathValue("name")]
	if a == nil || strings.HasSuffix(a.name, ".html") {
		return movierec.ErrNotFound
	}
	if err := newQuery(r).err(); err != nil {
		return err
	}
	a.serve(w, r, "public, max-age=3600")
	return nil
}
