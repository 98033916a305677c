package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
	"github.com/movierec/movierec/throttle"
)

// The OpenAPI tests check openapi.json three ways: against the registered
// routes (no undocumented route, no stale documentation), as a document
// (it parses and its schemas compile as JSON Schema 2020-12), and against
// real responses (and the request bodies that got them) of a server on a
// SQLite store holding the fixture data, with real accounts.

// oaURL is the base URI the document is compiled under; it is never fetched.
const oaURL = "https://movierec.invalid/api/schema/openapi.json"

// oaMethods are the operation keys of an OpenAPI path item.
var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oaDoc is a parsed OpenAPI document with a JSON Schema compiler on it.
type oaDoc struct {
	root map[string]any

	mu      sync.Mutex
	c       *jsonschema.Compiler
	schemas map[string]*jsonschema.Schema
}

func oaLoad(t *testing.T, body []byte) *oaDoc {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse OpenAPI document: %v", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("OpenAPI document is a %T, want an object", v)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(oaURL, v); err != nil {
		t.Fatalf("add OpenAPI document to the compiler: %v", err)
	}
	return &oaDoc{root: root, c: c, schemas: map[string]*jsonschema.Schema{}}
}

// compile compiles the schema at the JSON pointer ptr ("/components/...").
func (d *oaDoc) compile(ptr string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.schemas[ptr]; ok {
		return s, nil
	}
	s, err := d.c.Compile(oaURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	d.schemas[ptr] = s
	return s, nil
}

// oaPtr builds a JSON pointer from unescaped tokens.
func oaPtr(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteString("/")
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return b.String()
}

// at returns the value at the JSON pointer ptr.
func (d *oaDoc) at(ptr string) (any, bool) {
	var v any = d.root
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// object returns the object at ptr, following local $refs; the pointer it
// returns is where the object really is.
func (d *oaDoc) object(ptr string) (string, map[string]any, error) {
	for range 10 {
		v, ok := d.at(ptr)
		if !ok {
			return ptr, nil, fmt.Errorf("%s: not in the document", ptr)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return ptr, nil, fmt.Errorf("%s: %T, want an object", ptr, v)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return ptr, m, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return ptr, nil, fmt.Errorf("%s: $ref %q is not local", ptr, ref)
		}
		ptr = strings.TrimPrefix(ref, "#")
	}
	return ptr, nil, fmt.Errorf("%s: $ref chain too long", ptr)
}

// oaOp is one documented operation.
type oaOp struct {
	path, method string // "/api/movies/{id}/", "get"
	ptr          string // JSON pointer of the operation object
	op           map[string]any
}

func (o oaOp) String() string { return strings.ToUpper(o.method) + " " + o.path }

func (d *oaDoc) operations() []oaOp {
	paths, _ := d.root["paths"].(map[string]any)
	var ops []oaOp
	for p, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range oaMethods {
			if op, ok := item[m].(map[string]any); ok {
				ops = append(ops, oaOp{path: p, method: m, ptr: oaPtr("paths", p, m), op: op})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

// oaParam is a resolved parameter of an operation.
type oaParam struct {
	name, in string
	required bool
	ptr      string // of the parameter object
	schema   map[string]any
}

func (d *oaDoc) params(o oaOp) ([]oaParam, error) {
	list, _ := o.op["parameters"].([]any)
	var out []oaParam
	for i := range list {
		p, err := d.param(o.ptr + oaPtr("parameters", strconv.Itoa(i)))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// param resolves the parameter object at ptr.
func (d *oaDoc) param(ptr string) (oaParam, error) {
	ptr, p, err := d.object(ptr)
	if err != nil {
		return oaParam{}, err
	}
	name, _ := p["name"].(string)
	in, _ := p["in"].(string)
	required, _ := p["required"].(bool)
	schema, _ := p["schema"].(map[string]any)
	if name == "" || in == "" || schema == nil {
		return oaParam{}, fmt.Errorf("%s: parameter needs name, in and schema", ptr)
	}
	return oaParam{name: name, in: in, required: required, ptr: ptr, schema: schema}, nil
}

// oaResponse is a resolved response object of an operation.
type oaResponse struct {
	ptr       string // of the response object
	obj       map[string]any
	schemaPtr string // of its application/json schema; "" for a 204
	// media are the documented media types of a response that is not
	// JSON (the docs page's HTML, scripts, styles); its body is not
	// checked, its Content-Type is.
	media []string
}

// response returns the documented response of o for status. A 204 and a
// 304 document no body; every other response an application/json schema,
// or (pages and files for browsers) only other media types.
func (d *oaDoc) response(o oaOp, status int) (oaResponse, error) {
	responses, _ := o.op["responses"].(map[string]any)
	key := strconv.Itoa(status)
	if _, ok := responses[key]; !ok {
		if _, ok := responses["default"]; !ok {
			return oaResponse{}, fmt.Errorf("%v documents no %d response", o, status)
		}
		key = "default"
	}
	ptr, obj, err := d.object(o.ptr + oaPtr("responses", key))
	if err != nil {
		return oaResponse{}, err
	}
	r := oaResponse{ptr: ptr, obj: obj}
	if status == http.StatusNoContent || status == http.StatusNotModified {
		if _, ok := obj["content"]; ok {
			return oaResponse{}, fmt.Errorf("%v: the %d response documents content", o, status)
		}
		return r, nil
	}
	content, _ := obj["content"].(map[string]any)
	r.media = slices.Sorted(maps.Keys(content))
	if _, json := content["application/json"]; !json && len(content) > 0 {
		return r, nil
	}
	r.schemaPtr = ptr + oaPtr("content", "application/json", "schema")
	if _, ok := d.at(r.schemaPtr); !ok {
		return oaResponse{}, fmt.Errorf("%v: the %s response has no application/json schema", o, key)
	}
	return r, nil
}

// headers resolves the header objects of a response, by name.
func (d *oaDoc) headers(r oaResponse) (map[string]oaHeader, error) {
	out := map[string]oaHeader{}
	hs, _ := r.obj["headers"].(map[string]any)
	for name := range hs {
		ptr, h, err := d.object(r.ptr + oaPtr("headers", name))
		if err != nil {
			return nil, err
		}
		required, _ := h["required"].(bool)
		schema, _ := h["schema"].(map[string]any)
		if schema == nil {
			return nil, fmt.Errorf("%s: header %s has no schema", ptr, name)
		}
		out[name] = oaHeader{required: required, ptr: ptr, schema: schema}
	}
	return out, nil
}

// oaHeader is a resolved header object of a response.
type oaHeader struct {
	required bool
	ptr      string // of the header object
	schema   map[string]any
}

// value converts a header value to what its schema describes: a number
// for integer and number schemas, else the string itself.
func (h oaHeader) value(s string) (any, error) {
	switch h.schema["type"] {
	case "integer", "number":
		return jsonschema.UnmarshalJSON(strings.NewReader(s))
	}
	return s, nil
}

// security reports whether o requires the bearer token.
func (d *oaDoc) security(o oaOp) bool {
	sec, _ := o.op["security"].([]any)
	return len(sec) > 0
}

// match returns the documented operation serving method and request path:
// the path template with the most literal segments wins, as in ServeMux.
// Paths without their trailing slash are served as if it were there.
func (d *oaDoc) match(method, reqPath string) (oaOp, bool) {
	find := func(p string) (oaOp, bool) {
		segs := strings.Split(p, "/")
		var best oaOp
		bestLit := -1
		for _, o := range d.operations() {
			if o.method != strings.ToLower(method) {
				continue
			}
			ts := strings.Split(o.path, "/")
			if len(ts) != len(segs) {
				continue
			}
			lit := 0
			for i, t := range ts {
				if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") && segs[i] != "" {
					continue
				}
				if t != segs[i] {
					lit = -1
					break
				}
				lit++
			}
			if lit > bestLit {
				best, bestLit = o, lit
			}
		}
		return best, bestLit >= 0
	}
	if o, ok := find(reqPath); ok {
		return o, true
	}
	if !strings.HasSuffix(reqPath, "/") {
		return find(reqPath + "/")
	}
	return oaOp{}, false
}

// matchPath is match for any method: the operations documented on the
// path the request would be routed to.
func (d *oaDoc) matchPath(reqPath string) []oaOp {
	var out []oaOp
	for _, m := range oaMethods {
		if o, ok := d.match(m, reqPath); ok {
			out = append(out, o)
		}
	}
	return out
}

// oaRoute splits a ServeMux pattern into its method and OpenAPI path:
// "GET /api/movies/{id}/{$}" is GET "/api/movies/{id}/".
func oaRoute(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		// A pattern without a method serves every method; it must at
		// least be documented for GET.
		method, path = "GET", pattern
	}
	if i := strings.Index(path, "/"); i > 0 {
		path = path[i:] // drop a host
	}
	path = strings.TrimSuffix(path, "{$}")
	path = strings.ReplaceAll(path, "...}", "}")
	return strings.ToUpper(method), path
}

// oaTrunc shortens a body for a failure message.
func oaTrunc(body []byte) string {
	if len(body) > 600 {
		return string(body[:600]) + "..."
	}
	return string(body)
}

func oaLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// oaEmbedded parses the embedded document.
func oaEmbedded(t *testing.T) *oaDoc {
	t.Helper()
	return oaLoad(t, openAPIDocument)
}

// TestOpenAPIRoutes checks that the document and the registered routes
// agree in both directions.
func TestOpenAPIRoutes(t *testing.T) {
	doc := oaEmbedded(t)
	documented := map[string]bool{}
	for _, o := range doc.operations() {
		documented[o.String()] = true
	}
	registered := map[string]bool{}
	for _, pattern := range New(oaCatalog{}, nil, oaLogger(), Options{}).Routes() {
		m, p := oaRoute(pattern)
		registered[m+" "+p] = true
	}
	if len(registered) == 0 {
		t.Fatal("Routes() is empty")
	}
	tests := []struct {
		name       string
		have, want map[string]bool
	}{
		{"registered route is documented", registered, documented},
		{"documented operation is registered", documented, registered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := make([]string, 0, len(tt.have))
			for k := range tt.have {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !tt.want[k] {
					t.Errorf("%s: missing", k)
				}
			}
		})
	}
}

// TestOpenAPIDocument fetches GET /api/schema/ and checks the document: it
// is the embedded one, parses, is OpenAPI 3.1.0, every operation is well
// formed, and every schema in it compiles as JSON Schema 2020-12.
func TestOpenAPIDocument(t *testing.T) {
	ts := httptest.NewServer(New(oaCatalog{}, nil, oaLogger(), Options{}))
	defer ts.Close()
	res := oaDo(t, ts.Client(), http.MethodGet, ts.URL+"/api/schema/")
	if res.status != http.StatusOK {
		t.Fatalf("GET /api/schema/: status %d, want 200: %s", res.status, oaTrunc(res.body))
	}
	if mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("GET /api/schema/: Content-Type %q, want application/json", res.header.Get("Content-Type"))
	}
	if !bytes.Equal(res.body, openAPIDocument) {
		t.Errorf("GET /api/schema/ does not serve the embedded openapi.json")
	}
	doc := oaLoad(t, res.body)

	t.Run("header", func(t *testing.T) {
		for _, c := range []struct{ ptr, want string }{
			{"/openapi", "3.1.0"},
			{"/info/title", "movierec API"},
			{"/info/version", "1.0.0"},
			{"/servers/0/url", "/"},
		} {
			if v, _ := doc.at(c.ptr); v != c.want {
				t.Errorf("%s = %v, want %q", c.ptr, v, c.want)
			}
		}
		if d, _ := doc.at("/info/description"); d == nil || d == "" {
			t.Errorf("/info/description is empty")
		}
		if _, scheme, err := doc.object("/components/securitySchemes/bearerAuth"); err != nil {
			t.Errorf("bearerAuth security scheme: %v", err)
		} else if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
			t.Errorf("bearerAuth security scheme is %v %v, want http bearer", scheme["type"], scheme["scheme"])
		}
		if _, ok := doc.root["security"]; ok {
			t.Errorf("a top-level security requirement would apply to the public operations too")
		}
	})

	components, _ := doc.root["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for _, name := range []string{"MovieListItem", "MovieDetail", "Genre", "Tag", "TagCount", "GenreRef",
		"PaginatedMovieList", "PaginatedGenreList", "PaginatedTagList", "PopularMovieList",
		"TrendingMovieList", "TopRatedMovieList", "Health", "Error", "ApiRoot",
		"User", "AuthTokens", "TokenPair", "Profile", "Rating", "MyRating", "FavoriteToggle", "WatchEntry",
		"MyStats", "PublicRating", "MovieRatingStats", "PaginatedMyRatingList", "PaginatedFavoriteList",
		"PaginatedWatchList", "PaginatedPublicRatingList", "RatingDistribution"} {
		if _, ok := schemas[name]; !ok {
			t.Errorf("components/schemas/%s is missing", name)
		}
	}
	names := make([]string, 0, len(schemas))
	for name := range schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run("schema "+name, func(t *testing.T) {
			if _, err := doc.compile(oaPtr("components", "schemas", name)); err != nil {
				t.Errorf("compile: %v", err)
			}
		})
	}

	tags := map[string]bool{}
	declared, _ := doc.root["tags"].([]any)
	for _, tag := range declared {
		if tag, ok := tag.(map[string]any); ok {
			name, _ := tag["name"].(string)
			tags[name] = true
		}
	}
	opIDs := map[string]string{}
	for _, o := range doc.operations() {
		t.Run(o.String(), func(t *testing.T) {
			id, _ := o.op["operationId"].(string)
			if id == "" {
				t.Errorf("no operationId")
			} else if prev, dup := opIDs[id]; dup {
				t.Errorf("operationId %q is also used by %s", id, prev)
			}
			opIDs[id] = o.String()
			if s, _ := o.op["summary"].(string); s == "" {
				t.Errorf("no summary")
			}
			opTags, _ := o.op["tags"].([]any)
			if len(opTags) == 0 {
				t.Errorf("no tags")
			}
			for _, tag := range opTags {
				if s, _ := tag.(string); !tags[s] {
					t.Errorf("tag %v is not declared in the top-level tags", tag)
				}
			}

			params, err := doc.params(o)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			pathParams := map[string]bool{}
			for _, p := range params {
				if seen[p.in+" "+p.name] {
					t.Errorf("parameter %s %q is given twice", p.in, p.name)
				}
				seen[p.in+" "+p.name] = true
				if _, err := doc.compile(p.ptr + "/schema"); err != nil {
					t.Errorf("parameter %q: compile schema: %v", p.name, err)
				}
				switch p.in {
				case "path":
					pathParams[p.name] = true
					if !p.required || (p.schema["type"] != "integer" && o.path != "/api/docs/assets/{name}") {
						t.Errorf("path parameter %q must be a required integer", p.name)
					}
					if !strings.Contains(o.path, "{"+p.name+"}") {
						t.Errorf("path parameter %q is not in the path", p.name)
					}
				case "query":
					if p.schema["type"] == "array" {
						_, p2, _ := doc.object(p.ptr)
						if p2["style"] != "form" || p2["explode"] != true {
							t.Errorf("repeatable parameter %q needs style form, explode true", p.name)
						}
					}
				default:
					t.Errorf("parameter %q: unexpected in %q", p.name, p.in)
				}
			}
			if !seen["query format"] {
				t.Errorf("the global format parameter is not documented")
			}
			for _, seg := range strings.Split(o.path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok && !pathParams[strings.TrimSuffix(name, "}")] {
					t.Errorf("path parameter %s is not documented", seg)
				}
			}

			responses, _ := o.op["responses"].(map[string]any)
			if !slices.ContainsFunc(slices.Collect(maps.Keys(responses)), func(code string) bool { return strings.HasPrefix(code, "2") }) {
				t.Errorf("no 2xx response")
			}
			for _, code := range slices.Sorted(maps.Keys(responses)) {
				status, _ := strconv.Atoi(code)
				resp, err := doc.response(o, status)
				if err != nil {
					t.Errorf("response %s: %v", code, err)
					continue
				}
				if resp.schemaPtr != "" {
					if _, err := doc.compile(resp.schemaPtr); err != nil {
						t.Errorf("response %s: compile schema: %v", code, err)
					}
				}
				headers, err := doc.headers(resp)
				if err != nil {
					t.Errorf("response %s: %v", code, err)
				}
				for name, h := range headers {
					if _, err := doc.compile(h.ptr + "/schema"); err != nil {
						t.Errorf("response %s: header %s: compile schema: %v", code, name, err)
					}
				}
				// The headers every response of a status must document.
				want := map[int][]string{
					http.StatusMethodNotAllowed:   {"Allow"},
					http.StatusTooManyRequests:    {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
					http.StatusServiceUnavailable: {"Retry-After"},
				}[status]
				if status == http.StatusUnauthorized && doc.security(o) {
					want = []string{"WWW-Authenticate"}
				}
				for _, name := range want {
					if !headers[name].required {
						t.Errorf("response %s: header %s is not documented as required", code, name)
					}
				}
			}

			// Security: authenticated operations name the bearerAuth
			// scheme and document the 401; only they document a 403.
			if sec, ok := o.op["security"]; ok {
				list, _ := sec.([]any)
				if len(list) != 1 || !reflect.DeepEqual(list[0], map[string]any{"bearerAuth": []any{}}) {
					t.Errorf("security is %v, want [{bearerAuth: []}]", sec)
				}
				if _, ok := responses["401"]; !ok {
					t.Errorf("an authenticated operation documents no 401")
				}
			}
			if _, ok := responses["403"]; ok && !doc.security(o) {
				t.Errorf("a 403 is documented, but no security requirement")
			}

			// Request bodies are JSON objects; operations that read one
			// document the 400, 413 and 415 of bad bodies.
			if rb, ok := o.op["requestBody"].(map[string]any); ok {
				content, _ := rb["content"].(map[string]any)
				if len(content) != 1 || content["application/json"] == nil {
					t.Errorf("requestBody content is %v, want application/json only", slices.Sorted(maps.Keys(content)))
				}
				ptr := o.ptr + oaPtr("requestBody", "content", "application/json", "schema")
				if _, err := doc.compile(ptr); err != nil {
					t.Errorf("requestBody: compile schema: %v", err)
				}
				if _, schema, err := doc.object(ptr); err != nil {
					t.Errorf("requestBody: %v", err)
				} else if schema["type"] != "object" || schema["additionalProperties"] != false {
					t.Errorf("requestBody schema must be an object with additionalProperties false")
				}
				for _, code := range []string{"400", "413", "415"} {
					if _, ok := responses[code]; !ok {
						t.Errorf("reads a request body but documents no %s", code)
					}
				}
			}
		})
	}
}

// oaResult is a response read in full.
type oaResult struct {
	status int
	header http.Header
	body   []byte
}

func oaDo(t *testing.T, c *http.Client, method, target string) oaResult {
	t.Helper()
	return oaSend(t, c, method, target, nil, "")
}

// oaSend sends a request with header and body ("" for none).
func oaSend(t *testing.T, c *http.Client, method, target string, header http.Header, body string) oaResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return oaResult{status: res.StatusCode, header: res.Header, body: b}
}

// check validates a response against what the document says about method
// and target: the status is documented, the body matches its schema (a
// 204 has none), the documented required headers are present and every
// documented header sent matches its schema. Requests to undocumented
// paths must be the contract's 404 error.
func (d *oaDoc) check(method, target string, res oaResult) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	var resp oaResponse
	if o, ok := d.match(method, u.Path); ok {
		if resp, err = d.response(o, res.status); err != nil {
			return err
		}
	} else if ops := d.matchPath(u.Path); len(ops) > 0 {
		// A documented path, another method: every operation documents
		// the 405 its path answers.
		if res.status != http.StatusMethodNotAllowed {
			return fmt.Errorf("status %d on a path without %s, want 405", res.status, method)
		}
		if resp, err = d.response(ops[0], res.status); err != nil {
			return err
		}
	} else {
		if res.status != http.StatusNotFound {
			return fmt.Errorf("status %d on an undocumented path, want 404", res.status)
		}
		if resp.ptr, resp.obj, err = d.object("/components/responses/NotFound"); err != nil {
			return err
		}
		resp.schemaPtr = resp.ptr + oaPtr("content", "application/json", "schema")
	}
	headers, err := d.headers(resp)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		h := headers[name]
		v := res.header.Get(name)
		if v == "" {
			if h.required {
				return fmt.Errorf("documented header %s is missing", name)
			}
			continue
		}
		schema, err := d.compile(h.ptr + "/schema")
		if err != nil {
			return fmt.Errorf("compile %s/schema: %v", h.ptr, err)
		}
		val, err := h.value(v)
		if err == nil {
			err = schema.Validate(val)
		}
		if err != nil {
			return fmt.Errorf("header %s: %q does not match %s/schema: %v", name, v, h.ptr, err)
		}
	}
	if len(resp.media) > 0 {
		mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type"))
		if err != nil || !slices.Contains(resp.media, mt) {
			return fmt.Errorf("Content-Type %q, want one of %v", res.header.Get("Content-Type"), resp.media)
		}
		if mt != "application/json" {
			return nil // a page or file for browsers: its body is not checked
		}
	}
	if resp.schemaPtr == "" {
		if len(res.body) != 0 {
			return fmt.Errorf("status %d documents no body, got %d bytes", res.status, len(res.body))
		}
		return nil
	}
	if mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("Content-Type %q, want application/json", res.header.Get("Content-Type"))
	}
	schema, err := d.compile(resp.schemaPtr)
	if err != nil {
		return fmt.Errorf("compile %s: %v", resp.schemaPtr, err)
	}
	body, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	if err := schema.Validate(body); err != nil {
		return fmt.Errorf("body does not match %s:\n%#v", resp.schemaPtr, err)
	}
	return nil
}

// checkRequest checks a JSON request body against the requestBody of the
// operation serving method and target: a body the server accepted (2xx)
// must match the documented schema, and one it refused with a 400 must
// not, unless semantic says the 400 is for something no schema can tell
// (a taken username, a wrong password). Other statuses say nothing about
// the body.
func (d *oaDoc) checkRequest(method, target, body string, status int, semantic bool) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	o, ok := d.match(method, u.Path)
	if !ok {
		return nil
	}
	rb, ok := o.op["requestBody"].(map[string]any)
	if !ok {
		return nil
	}
	accepted := status >= 200 && status < 300
	if !accepted && (status != http.StatusBadRequest || semantic) {
		return nil
	}
	var problem error
	if strings.TrimSpace(body) == "" {
		if required, _ := rb["required"].(bool); required {
			problem = errors.New("the body is required")
		}
	} else {
		ptr := o.ptr + oaPtr("requestBody", "content", "application/json", "schema")
		schema, err := d.compile(ptr)
		if err != nil {
			return fmt.Errorf("compile %s: %v", ptr, err)
		}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err == nil {
			err = schema.Validate(v)
		}
		problem = err
	}
	switch {
	case accepted && problem != nil:
		return fmt.Errorf("status %d, but the request body does not match the documented one: %v", status, problem)
	case !accepted && problem == nil:
		return fmt.Errorf("status 400, but the request body matches the documented one")
	}
	return nil
}

// oaFixture is a server on a SQLite store loaded with the fixture data,
// with the contract's throttling, and IDs read from its list endpoints.
type oaFixture struct {
	ts             *httptest.Server
	store          *sqlstore.Store
	accounts       *auth.Service
	genreID, tagID int64
}

// oaPassword is the password of the users the tests create.
const oaPassword = "open sesame 42"

// user creates an active account with oaPassword directly in the store.
func (f oaFixture) user(t *testing.T, username string, staff bool) movierec.User {
	t.Helper()
	hash, err := auth.NewHasher(storetest.CheapArgon2).Hash(oaPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.store.CreateUser(context.Background(), movierec.User{Username: username, Email: username + "@example.com",
		IsStaff: staff, IsActive: true, PasswordHash: hash})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// login starts a session through the accounts service (not the API, so
// no throttle is touched) and returns its access token.
func (f oaFixture) login(t *testing.T, username string) string {
	t.Helper()
	_, tok, err := f.accounts.Login(context.Background(), username, oaPassword)
	if err != nil {
		t.Fatalf("Login(%q): %v", username, err)
	}
	return tok.Access
}

// concrete fills in the {id} of a documented path: a genre or tag of
// the fixture, else movie 1.
func (f oaFixture) concrete(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/movies/genres/"):
		return strings.ReplaceAll(path, "{id}", strconv.FormatInt(f.genreID, 10))
	case strings.HasPrefix(path, "/api/movies/tags/"):
		return strings.ReplaceAll(path, "{id}", strconv.FormatInt(f.tagID, 10))
	}
	return strings.NewReplacer("{id}", "1", "{user_id}", "1", "{name}", "docs.js").Replace(path)
}

func oaOpenFixture(t *testing.T) oaFixture {
	t.Helper()
	store := storetest.OpenSQLite(t)
	if _, err := store.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
		t.Fatalf("Import: %v", err)
	}
	f := oaFixture{store: store, accounts: storetest.Accounts(t, store)}
	eng := engine.New(store, engine.DefaultConfig(), oaLogger())
	if _, err := eng.Train(context.Background(), nil); err != nil {
		t.Fatalf("Train: %v", err)
	}
	opts := DefaultOptions()
	opts.Recommender = eng
	f.ts = httptest.NewServer(New(store, f.accounts, oaLogger(), opts))
	t.Cleanup(f.ts.Close)
	firstID := func(path string) int64 {
		t.Helper()
		res := oaDo(t, f.ts.Client(), http.MethodGet, f.ts.URL+path)
		var page struct {
			Results []struct {
				ID int64 `json:"id"`
			} `json:"results"`
		}
		if err := json.Unmarshal(res.body, &page); err != nil || res.status != http.StatusOK || len(page.Results) == 0 {
			t.Fatalf("GET %s: status %d, err %v: %s", path, res.status, err, oaTrunc(res.body))
		}
		return page.Results[0].ID
	}
	f.genreID = firstID("/api/movies/genres/")
	f.tagID = firstID("/api/movies/tags/")
	return f
}

// TestOpenAPIResponses validates real responses against the document:
// public reads, then (oaWrites) every write and authenticated operation
// in the order a client would call them, with their errors, then the
// security requirements of every operation. Request bodies are checked
// against the documented requestBody too: what the server accepts must
// match it, and what it refuses with a 400 must not.
func TestOpenAPIResponses(t *testing.T) {
	doc := oaEmbedded(t)
	f := oaOpenFixture(t)
	fixture := f.ts

	servers := map[string]*httptest.Server{"fixture": fixture}
	newServer := func(name string, c Store, ready bool) {
		s := New(c, nil, oaLogger(), Options{})
		s.SetReady(ready)
		ts := httptest.NewServer(s)
		t.Cleanup(ts.Close)
		servers[name] = ts
	}
	// notReady is shutting down; down's store is unavailable; broken's
	// store fails in an unexpected way.
	store := storetest.OpenSQLite(t)
	newServer("notReady", store, false)
	newServer("down", oaCatalog{err: movierec.Errorf(movierec.EUNAVAILABLE, "The database is unavailable.")}, true)
	newServer("broken", oaCatalog{err: errors.New("disk on fire")}, true)
	// throttled allows one registration and one login an hour, so its
	// 429s can be seen without throttling the fixture server.
	tstore := storetest.OpenSQLite(t)
	throttled := httptest.NewServer(New(tstore, storetest.Accounts(t, tstore), oaLogger(),
		Options{RegisterLimit: throttle.Limit{N: 1, Per: time.Hour}, LoginLimit: throttle.Limit{N: 1, Per: time.Hour}}))
	t.Cleanup(throttled.Close)
	servers["throttled"] = throttled

	g, tg := strconv.FormatInt(f.genreID, 10), strconv.FormatInt(f.tagID, 10)
	tests := []oaRequest{
		// Every documented operation.
		{target: "/api/", status: 200},
		{target: "/api/?format=json", status: 200},
		{target: "/api/schema/", status: 200},
		{target: "/api/auth/", status: 200},
		{target: "/api/ratings/", status: 200},
		{target: "/api/recommendations/", status: 200},
		{target: "/api/docs/", status: 200},
		{target: "/", status: 200},
		{target: "/api/docs/assets/swagger-ui-bundle.js", status: 200},
		{target: "/api/docs/assets/nothing.js", status: 404},
		{target: "/api/schema", status: 200},
		{target: "/api/movies/", status: 200, minResults: 20},
		{target: "/api/movies", status: 200, minResults: 20},
		{target: "/api/movies/?page=2&page_size=5", status: 200, minResults: 5},
		{target: "/api/movies/?page=2", status: 200, minResults: 20},
		{target: "/api/movies/?search=a&ordering=-imdb_rating,title", status: 200, minResults: 1},
		{target: "/api/movies/?search=100%25", status: 200, minResults: 1},
		{target: "/api/movies/?genre=drama&genre=Comedy&ordering=release_date", status: 200},
		{target: "/api/movies/?genre=Action", status: 200, minResults: 1},
		{target: "/api/movies/?tag=classic&ordering=-average_rating", status: 200},
		{target: "/api/movies/?release_date__year__gte=1985&release_date__year__lte=2015&imdb_rating__gte=1" +
			"&imdb_rating__lte=9&popularity_score__gte=0&popularity_score__lte=1000&min_user_rating=0.5" +
			"&min_rating_count=1&ordering=rating_count,-created_at,popularity_score&page_size=100", status: 200, minResults: 1},
		{target: "/api/movies/?release_date__year=1999&format=json", status: 200},
		{target: "/api/movies/?min_rating_count=1000", status: 200},
		{target: "/api/movies/1/", status: 200},
		{target: "/api/movies/4/", status: 200}, // no IMDb rating
		{target: "/api/movies/5/", status: 200}, // no year
		{target: "/api/movies/6/", status: 200}, // no ratings
		{target: "/api/movies/7/", status: 200}, // no genres
		{target: "/api/movies/40", status: 200}, // no trailing slash
		{target: "/api/movies/popular/", status: 200, minResults: 40},
		{target: "/api/movies/popular/?limit=5", status: 200, minResults: 5},
		{target: "/api/movies/trending/", status: 200, minResults: 1},
		{target: "/api/movies/trending/?period=month&limit=10", status: 200, minResults: 1},
		{target: "/api/movies/trending/?period=day", status: 200, minResults: 1},
		{target: "/api/movies/top-rated/", status: 200},
		{target: "/api/movies/top-rated/?min_ratings=1&limit=100", status: 200, minResults: 1},
		{target: "/api/movies/genres/", status: 200, minResults: len(storetest.FixtureGenres)},
		{target: "/api/movies/genres/?page=2&page_size=2", status: 200, minResults: 2},
		{target: "/api/movies/genres/" + g + "/", status: 200},
		{target: "/api/movies/genres/" + g + "/movies/", status: 200, minResults: 1},
		{target: "/api/movies/genres/" + g + "/movies/?ordering=title&page=2&page_size=2", status: 200, minResults: 1},
		{target: "/api/movies/tags/", status: 200, minResults: len(storetest.FixtureTags)},
		{target: "/api/movies/tags/?search=FUN&page_size=1", status: 200, minResults: 1},
		{target: "/api/movies/tags/" + tg + "/", status: 200},
		{target: "/api/movies/tags/" + tg + "/movies/?search=a", status: 200},
		{target: "/api/movies/tags/" + tg + "/movies/", status: 200, minResults: 1},
		{target: "/api/recommendations/trending/?period=week", status: 200, minResults: 1},
		{target: "/api/ratings/movies/1/ratings/", status: 200, minResults: 1},
		{target: "/api/ratings/movies/1/ratings/?page=2&page_size=1&format=json", status: 200, minResults: 1},
		{target: "/api/ratings/movies/6/ratings/", status: 200}, // no ratings
		{target: "/api/ratings/movies/1/stats/", status: 200},
		{target: "/api/ratings/movies/6/stats", status: 200}, // no ratings: average null
		{target: "/health/", status: 200},
		{target: "/health", status: 200},
		{target: "/healthz", status: 200},
		{target: "/readyz", status: 200},

		// 400: malformed or unknown query parameters.
		{target: "/api/?page=1", status: 400},
		{target: "/api/movies/?page=abc", status: 400},
		{target: "/api/movies/?page=0&page_size=101", status: 400},
		{target: "/api/movies/?ordering=bogus", status: 400},
		{target: "/api/movies/?ordering=title,-title", status: 400},
		{target: "/api/movies/?imdb_rating__gte=NaN", status: 400},
		{target: "/api/movies/?release_date__year=10000", status: 400},
		{target: "/api/movies/?search=a&search=b", status: 400},
		{target: "/api/movies/?unknown=1", status: 400},
		{target: "/api/movies/1/?page=2", status: 400},
		{target: "/api/movies/popular/?limit=0", status: 400},
		{target: "/api/movies/trending/?period=year", status: 400},
		{target: "/api/movies/top-rated/?min_ratings=0", status: 400},
		{target: "/api/movies/genres/?page_size=abc", status: 400},
		{target: "/api/movies/genres/" + g + "/?x=1", status: 400},
		{target: "/api/movies/genres/" + g + "/movies/?ordering=-", status: 400},
		{target: "/api/movies/tags/?search=a&search=b", status: 400},
		{target: "/api/movies/tags/" + tg + "/?page=1", status: 400},
		{target: "/api/movies/tags/" + tg + "/movies/?limit=5", status: 400},
		{target: "/api/recommendations/trending/?min_ratings=1", status: 400},
		{target: "/api/ratings/movies/1/ratings/?page_size=500", status: 400},
		{target: "/api/ratings/movies/1/stats/?page=1", status: 400},

		// 404: unknown resources, pages past the end, unknown routes.
		{target: "/api/movies/99999/", status: 404},
		{target: "/api/movies/0/", status: 404},
		{target: "/api/movies/abc/", status: 404},
		{target: "/api/movies/?page=999", status: 404},
		{target: "/api/movies/?genre=nonesuch&page=2", status: 404},
		{target: "/api/movies/genres/?page=99", status: 404},
		{target: "/api/movies/genres/99999/", status: 404},
		{target: "/api/movies/genres/99999/movies/", status: 404},
		{target: "/api/movies/genres/" + g + "/movies/?page=99", status: 404},
		{target: "/api/movies/tags/?page=99", status: 404},
		{target: "/api/movies/tags/99999/", status: 404},
		{target: "/api/movies/tags/99999/movies/", status: 404},
		{target: "/api/ratings/movies/99999/ratings/", status: 404},
		{target: "/api/ratings/movies/1/ratings/?page=999", status: 404},
		{target: "/api/ratings/movies/99999/stats/", status: 404},
		{target: "/api/ratings/movies/abc/stats/", status: 404},
		{target: "/api/nope/", status: 404},
		{target: "/nope", status: 404},
		{target: "/index.html", status: 404},

		// 405: a documented path, another method.
		{method: http.MethodPut, target: "/api/movies/", status: 405},
		{method: http.MethodPost, target: "/api/movies/1/", status: 405},
		{method: http.MethodPost, target: "/api/movies/genres/" + g + "/", status: 405},
		{method: http.MethodPut, target: "/api/ratings/movies/1/favorite/", status: 405},
		{method: http.MethodPost, target: "/api/movies/tags/" + tg + "/movies/", status: 405},
		{target: "/api/auth/login/", status: 405},
		{target: "/api/auth/register", status: 405},
		{method: http.MethodDelete, target: "/api/auth/profile/", status: 405},
		{target: "/api/auth/password/change/", status: 405},
		{method: http.MethodPatch, target: "/api/ratings/movies/1/rate/", status: 405},
		{target: "/api/ratings/movies/1/favorite/", status: 405},
		{method: http.MethodDelete, target: "/api/ratings/my-ratings/", status: 405},
		{method: http.MethodPost, target: "/api/ratings/movies/1/stats/", status: 405},
		{method: http.MethodPatch, target: "/api/", status: 405},
		{method: http.MethodPost, target: "/api/schema/", status: 405},
		{method: http.MethodPost, target: "/health/", status: 405},
		{method: http.MethodPost, target: "/healthz", status: 405},
		{method: http.MethodDelete, target: "/readyz", status: 405},

		// 5xx: a server shutting down, a store that is down or broken.
		{server: "notReady", target: "/readyz", status: 503},
		{server: "notReady", target: "/health/", status: 200},
		{server: "down", target: "/health/", status: 503},
		{server: "down", target: "/readyz", status: 503},
		{server: "down", target: "/healthz", status: 200},
		{server: "down", target: "/api/movies/", status: 503},
		{server: "down", target: "/api/movies/1/", status: 503},
		{server: "down", target: "/api/movies/trending/", status: 503},
		{server: "down", target: "/api/movies/genres/1/movies/", status: 503},
		{server: "broken", target: "/api/movies/", status: 500},
		{server: "broken", target: "/api/movies/top-rated/", status: 500},
		{server: "broken", target: "/api/movies/tags/", status: 500},
		{server: "broken", target: "/health/", status: 503},
		{server: "down", target: "/api/ratings/movies/1/ratings/", status: 503},
		{server: "down", target: "/api/ratings/movies/1/stats/", status: 503},
		{server: "broken", target: "/api/ratings/movies/1/ratings/", status: 500},
		{server: "broken", target: "/api/ratings/movies/1/stats/", status: 500},
	}

	r := &oaRunner{doc: doc, servers: servers, covered: map[string]bool{},
		vars: map[string]string{"g": g, "tg": tg}}
	for _, rq := range tests {
		r.run(t, rq)
	}
	t.Run("writes", func(t *testing.T) {
		f.user(t, "oa_staff", true)
		for _, rq := range oaWrites() {
			r.run(t, rq)
		}
	})
	// Every authenticated operation refuses anonymous callers and forged
	// or malformed tokens with a 401, every staff operation a signed-in
	// user who is not staff with a 403, and no other operation answers
	// that user with a 403 or an anonymous caller with a bearer challenge.
	// (The probes use movie 99999, so they change nothing.)
	t.Run("security", func(t *testing.T) {
		for _, o := range doc.operations() {
			m, path := strings.ToUpper(o.method), f.concrete(o.path)
			if !doc.security(o) {
				r.run(t, oaRequest{method: m, target: strings.ReplaceAll(o.path, "{id}", "99999")})
				continue
			}
			r.run(t, oaRequest{method: m, target: path, status: http.StatusUnauthorized})
			r.run(t, oaRequest{method: m, target: path, auth: "tampered:alice2", status: http.StatusUnauthorized})
			r.run(t, oaRequest{method: m, target: path, token: "not a token", status: http.StatusUnauthorized})
			if _, err := doc.response(o, http.StatusForbidden); err == nil {
				r.run(t, oaRequest{method: m, target: path, auth: "alice2", status: http.StatusForbidden})
			} else {
				r.run(t, oaRequest{method: m, target: strings.ReplaceAll(o.path, "{id}", "99999"), auth: "alice2"})
			}
		}
	})
	t.Run("every operation is exercised", func(t *testing.T) {
		for _, o := range doc.operations() {
			if !r.covered[o.String()] {
				t.Errorf("%v: no test request gets a 2xx from it", o)
			}
		}
	})
}

// oaRequest is a request of TestOpenAPIResponses and what it must get.
type oaRequest struct {
	server string // "" is the fixture server
	method string // "" is GET
	target string // "{name}" is replaced by the value saved as name
	// auth names the session whose access token is sent ("" none), or
	// "tampered:" + session for a forged copy of it.
	auth        string
	token       string // a raw Authorization: Bearer token, for malformed ones
	body        string // the request body, "" for none; "{name}" as in target
	contentType string // "" is application/json when there is a body
	status      int    // 0 takes any documented status but 403
	minResults  int    // the body's results hold at least this many
	contains    string // the body contains this
	// semantic marks a 400 for something no schema can tell (a taken
	// name, a wrong password), so the refused body may match the schema.
	semantic bool
	// save keeps top-level fields of the response body: name → field.
	save map[string]string
}

// oaRunner runs oaRequests in order, keeping the values they save and the
// operations that answered with a 2xx.
type oaRunner struct {
	doc     *oaDoc
	servers map[string]*httptest.Server
	vars    map[string]string
	covered map[string]bool
}

func (r *oaRunner) expand(s string) string {
	var pairs []string
	for k, v := range r.vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

func (r *oaRunner) run(t *testing.T, rq oaRequest) {
	t.Helper()
	if rq.server == "" {
		rq.server = "fixture"
	}
	if rq.method == "" {
		rq.method = http.MethodGet
	}
	name := rq.method + " " + rq.target
	if rq.server != "fixture" {
		name = rq.server + " " + name
	}
	if rq.auth != "" {
		name += " as " + rq.auth
	}
	if b := rq.body; b != "" {
		name += " " + b[:min(len(b), 48)]
	}
	t.Run(name, func(t *testing.T) {
		target, body := r.expand(rq.target), r.expand(rq.body)
		header := http.Header{}
		ct := rq.contentType
		if body != "" && ct == "" {
			ct = "application/json"
		}
		if ct != "" {
			header.Set("Content-Type", ct)
		}
		if rq.auth != "" {
			session, forged := strings.CutPrefix(rq.auth, "tampered:")
			token, ok := r.vars[session+".access"]
			if !ok {
				t.Fatalf("no session %q", session)
			}
			if forged {
				token = oaTamper(token)
			}
			header.Set("Authorization", "Bearer "+token)
		}
		if rq.token != "" {
			header.Set("Authorization", "Bearer "+rq.token)
		}
		ts := r.servers[rq.server]
		res := oaSend(t, ts.Client(), rq.method, ts.URL+target, header, body)
		if res.status != rq.status && (rq.status != 0 || res.status == http.StatusForbidden) {
			t.Errorf("status %d, want %d: %s", res.status, rq.status, oaTrunc(res.body))
		}
		if err := r.doc.check(rq.method, ts.URL+target, res); err != nil {
			t.Errorf("status %d: %v\nbody: %s", res.status, err, oaTrunc(res.body))
		}
		if body == "" || ct == "application/json" {
			if err := r.doc.checkRequest(rq.method, target, body, res.status, rq.semantic); err != nil {
				t.Errorf("%v\nrequest body: %s\nresponse body: %s", err, oaTrunc([]byte(body)), oaTrunc(res.body))
			}
		}
		u, _ := url.Parse(target)
		o, documented := r.doc.match(rq.method, u.Path)
		anonymous := rq.auth == "" && rq.token == ""
		if documented && r.doc.security(o) && anonymous && res.status != http.StatusUnauthorized {
			t.Errorf("%v documents the bearer token, but an anonymous request got %d", o, res.status)
		}
		// Every 401 carries WWW-Authenticate (RFC 9110); on the credential
		// endpoints (login, refresh, logout) it is about the credentials
		// sent in the body, so only the other public routes must never
		// ask for a token.
		if documented && !r.doc.security(o) && res.header.Get("WWW-Authenticate") != "" && !strings.HasPrefix(u.Path, "/api/auth/") {
			t.Errorf("%v asks for a token (WWW-Authenticate), but documents no security requirement", o)
		}
		if rq.minResults > 0 {
			var page struct {
				Results []json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal(res.body, &page); err != nil || len(page.Results) < rq.minResults {
				t.Errorf("%d results (err %v), want at least %d", len(page.Results), err, rq.minResults)
			}
		}
		if rq.contains != "" && !strings.Contains(string(res.body), rq.contains) {
			t.Errorf("body does not contain %s: %s", rq.contains, oaTrunc(res.body))
		}
		if len(rq.save) > 0 {
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(res.body))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("cannot save from the body: %v", err)
			}
			for k, field := range rq.save {
				v, ok := m[field]
				if !ok {
					t.Fatalf("cannot save %s: no %q in the body", k, field)
				}
				r.vars[k] = fmt.Sprint(v)
			}
		}
		if documented && res.status == rq.status && res.status >= 200 && res.status < 300 {
			r.covered[o.String()] = true
		}
	})
}

// oaTamper forges an access token (a JWT: header "." payload "." signature) by
// changing a character of its payload, so the signature no longer fits.
func oaTamper(token string) string {
	b := []byte(token)
	i := strings.Index(token, ".") + 10
	if i >= len(b) {
		return token + "x"
	}
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// oaBig is a JSON body larger than the 64 KiB the API reads.
var oaBig = `{"score": 4, "review": "` + strings.Repeat("x", 70<<10) + `"}`

// oaWrites is the story TestOpenAPIResponses tells through every
// operation that writes or needs a user, in order: register, log in,
// refresh, edit the profile, rate, favourite, watch, read one's lists and
// stats, edit the catalog as staff, change the password and log out, with
// the errors of each on the way. The fixture server throttles register to
// 3 and login to 5 a minute per client address: this uses 3 and 5.
func oaWrites() []oaRequest {
	const (
		post, put, patch, del = http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		pw                    = `"correct horse battery"`
		newPw                 = `"brand new secret 7"`
	)
	alice := `{"username": "oa_alice", "email": "alice@example.com", "password": ` + pw + `, "first_name": "Alice"}`
	return []oaRequest{
		// Accounts.
		{method: post, target: "/api/auth/register/", body: alice, status: 201, contains: `"username":"oa_alice"`,
			save: map[string]string{"reg.access": "access", "reg.refresh": "refresh", "reg0.refresh": "refresh"}},
		{method: post, target: "/api/auth/register/", body: `{"username": "OA_Alice", "email": "other@example.com", "password": ` + pw + `}`,
			status: 400, semantic: true, contains: `"username"`},
		{method: post, target: "/api/auth/register/", body: `{"username": "oa_bob", "email": "bob@example.com", "password": ` + pw + `, "is_staff": true}`,
			status: 400, contains: `"is_staff"`},
		{method: post, target: "/api/auth/login/", body: `{"username": "oa_alice", "password": "wrong password"}`, status: 401},
		{method: post, target: "/api/auth/login/", body: `{"username": "oa_alice"}`, status: 400, contains: `"password"`},
		{method: post, target: "/api/auth/login/", body: `{"username": "oa_alice", "password": ` + pw + `}`, contentType: "text/plain", status: 415},
		{method: post, target: "/api/auth/login/", body: oaBig, status: 413},
		{method: post, target: "/api/auth/login/", body: `{"username": "oa_alice", "password": ` + pw + `}`, status: 200,
			save: map[string]string{"alice.access": "access", "alice.refresh": "refresh"}},
		{method: post, target: "/api/auth/login", body: `{"username": "oa_alice", "password": ` + pw + `}`, status: 200,
			save: map[string]string{"alice_b.access": "access"}},
		{method: post, target: "/api/auth/token/refresh/", body: `{"refresh": "{reg.refresh}"}`, status: 200,
			save: map[string]string{"reg.access": "access", "reg.refresh": "refresh"}},
		{target: "/api/auth/profile/", auth: "reg", status: 200},
		// Reusing a rotated refresh token ends its session.
		{method: post, target: "/api/auth/token/refresh/", body: `{"refresh": "{reg0.refresh}"}`, status: 401},
		{target: "/api/auth/profile/", auth: "reg", status: 401},
		{method: post, target: "/api/auth/token/refresh/", body: `{"refresh": "{reg.refresh}"}`, status: 401},
		{method: post, target: "/api/auth/token/refresh/", body: `{"refresh": 5}`, status: 400},
		{method: post, target: "/api/auth/token/refresh/", body: `{}`, status: 400},
		{method: post, target: "/api/auth/token/refresh/", status: 400},

		// The profile.
		{target: "/api/auth/profile/", auth: "alice", status: 200, contains: `"total_ratings":0`},
		{target: "/api/auth/profile", auth: "alice", status: 200},
		{method: put, target: "/api/auth/profile/", auth: "alice", status: 200, contains: `"last_name":"Liddell"`,
			body: `{"username": "oa_alice", "email": "alice@example.org", "first_name": "Alice", "last_name": "Liddell"}`},
		{method: patch, target: "/api/auth/profile/", auth: "alice", body: `{"first_name": "Al"}`, status: 200, contains: `"first_name":"Al"`},
		{method: patch, target: "/api/auth/profile/", auth: "alice", body: `{}`, status: 200},
		{method: patch, target: "/api/auth/profile/", auth: "alice", body: `{"is_staff": true}`, status: 400, contains: `read-only`},
		{method: patch, target: "/api/auth/profile/", auth: "alice", body: `{"email": "not-an-email"}`, status: 400},
		{method: patch, target: "/api/auth/profile/", auth: "alice", body: `{"username": "fixture_1"}`, status: 400, semantic: true},
		{method: put, target: "/api/auth/profile/", auth: "alice", body: `{"first_name": "Alice"}`, status: 400},
		{method: put, target: "/api/auth/profile/", auth: "alice", body: `{"username": "oa_alice"}`, contentType: "application/xml", status: 415},

		// Ratings.
		{target: "/api/ratings/movies/1/rate/", auth: "alice", status: 404},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4.5, "review": "Great fun."}`, status: 201},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4}`, status: 200, contains: `"score":4`},
		{method: put, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 5, "review": "A classic."}`, status: 200},
		{method: put, target: "/api/ratings/movies/2/rate", auth: "alice", body: `{"score": 3.5}`, status: 201},
		{method: post, target: "/api/ratings/movies/3/rate/", auth: "alice", body: `{"score": 0.5, "review": ""}`, status: 201},
		{target: "/api/ratings/movies/1/rate/", auth: "alice", status: 200, contains: `"review":"A classic."`},
		{target: "/api/ratings/movies/1/rate/?format=json", auth: "alice", status: 200},
		{target: "/api/ratings/movies/1/rate/?page=1", auth: "alice", status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 7}`, status: 400, contains: `"score"`},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4.25}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": "4"}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4, "foo": 1}`, status: 400, contains: `unknown field`},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4, "id": 3}`, status: 400, contains: `read-only`},
		{method: put, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4, "rated_at": "2020-01-01T00:00:00Z"}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"review": "no score"}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4, "review": null}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `[{"score": 4}]`, status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4} {"score": 5}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", status: 400},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: `{"score": 4}`, contentType: "text/plain", status: 415},
		{method: post, target: "/api/ratings/movies/1/rate/", auth: "alice", body: oaBig, status: 413},

		// Recommendations, from alice's ratings so far.
		{target: "/api/recommendations/for-me/", auth: "alice", status: 200, contains: `"algorithm_used":"hybrid"`},
		{target: "/api/recommendations/for-me/?algorithm=collaborative&limit=5", auth: "alice", status: 200},
		{target: "/api/recommendations/for-me/?algorithm=content&genre=drama&exclude_rated=false", auth: "alice", status: 200},
		{target: "/api/recommendations/for-me/?algorithm=popularity", auth: "alice", status: 200, contains: `"algorithm":"popularity"`},
		{target: "/api/recommendations/for-me/?algorithm=magic", auth: "alice", status: 400},
		{target: "/api/recommendations/for-me/?limit=0", auth: "alice", status: 400},
		{target: "/api/recommendations/for-me/?exclude_rated=maybe", auth: "alice", status: 400},
		{target: "/api/recommendations/movies/1/similar/", status: 200, contains: `"movie_id":1`},
		{target: "/api/recommendations/movies/1/similar/?limit=3", status: 200},
		{target: "/api/recommendations/movies/424242/similar/", status: 404},
		{target: "/api/recommendations/movies/1/similar/?limit=500", status: 400},
		{method: post, target: "/api/ratings/movies/99999/rate/", auth: "alice", body: `{"score": 3}`, status: 404},
		{method: post, target: "/api/ratings/movies/abc/rate/", auth: "alice", body: `{"score": 3}`, status: 404},
		{target: "/api/ratings/movies/99999/rate/", auth: "alice", status: 404},
		{method: del, target: "/api/ratings/movies/2/rate/", auth: "alice", status: 204},
		{method: del, target: "/api/ratings/movies/2/rate/", auth: "alice", status: 404},
		{method: del, target: "/api/ratings/movies/99999/rate/", auth: "alice", status: 404},
		{target: "/api/ratings/my-ratings/", auth: "alice", status: 200, minResults: 2},
		{target: "/api/ratings/my-ratings/?page=2&page_size=1", auth: "alice", status: 200, minResults: 1},
		{target: "/api/ratings/my-ratings/?page=3", auth: "alice", status: 404},
		{target: "/api/ratings/my-ratings/?page_size=0", auth: "alice", status: 400},
		{target: "/api/ratings/movies/1/ratings/", status: 200, contains: `"username":"oa_alice"`},
		{target: "/api/ratings/movies/1/stats/", status: 200},

		// Favourites.
		{method: post, target: "/api/ratings/movies/1/favorite/", auth: "alice", status: 200, contains: `"favorited":true`},
		{method: post, target: "/api/ratings/movies/3/favorite/", auth: "alice", status: 200, contains: `"favorited":true`},
		{method: post, target: "/api/ratings/movies/3/favorite", auth: "alice", status: 200, contains: `"favorited":false`},
		{method: post, target: "/api/ratings/movies/99999/favorite/", auth: "alice", status: 404},
		{method: post, target: "/api/ratings/movies/1/favorite/?x=1", auth: "alice", status: 400},
		{target: "/api/ratings/my-favorites/", auth: "alice", status: 200, minResults: 1},
		{target: "/api/ratings/my-favorites/?page=2", auth: "alice", status: 404},
		{target: "/api/ratings/my-favorites/?page=x", auth: "alice", status: 400},

		// Watch history.
		{method: post, target: "/api/ratings/movies/1/watch/", auth: "alice", status: 201, contains: `"watch_count":1`},
		{method: post, target: "/api/ratings/movies/1/watch/", auth: "alice", body: `{"watch_duration": 95, "completed": true}`, status: 200, contains: `"watch_count":2`},
		{method: post, target: "/api/ratings/movies/2/watch/", auth: "alice", body: `{"watch_duration": null}`, status: 201},
		{method: post, target: "/api/ratings/movies/3/watch/", auth: "alice", body: `{}`, status: 201},
		{method: post, target: "/api/ratings/movies/1/watch/", auth: "alice", body: `{"watch_duration": 5000}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/watch/", auth: "alice", body: `{"watch_duration": -1}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/watch/", auth: "alice", body: `{"completed": "yes"}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/watch/", auth: "alice", body: `{"watched_at": "2020-01-01T00:00:00Z"}`, status: 400},
		{method: post, target: "/api/ratings/movies/1/watch/", auth: "alice", body: `{}`, contentType: "text/plain", status: 415},
		{method: post, target: "/api/ratings/movies/99999/watch/", auth: "alice", body: `{}`, status: 404},
		{method: post, target: "/api/ratings/movies/2/unwatch/", auth: "alice", status: 204},
		{method: post, target: "/api/ratings/movies/2/unwatch/", auth: "alice", status: 404},
		{method: post, target: "/api/ratings/movies/2/unwatch/?page=1", auth: "alice", status: 400},
		{target: "/api/ratings/my-watchlist/", auth: "alice", status: 200, minResults: 2},
		{target: "/api/ratings/my-watchlist/?page=2", auth: "alice", status: 404},
		{target: "/api/ratings/my-watchlist/?page_size=101", auth: "alice", status: 400},
		{target: "/api/ratings/my-stats/", auth: "alice", status: 200, contains: `"total_watched":2`},
		{target: "/api/ratings/my-stats/?format=json", auth: "alice", status: 200},
		{target: "/api/ratings/my-stats/?format=xml", auth: "alice", status: 400},
		{target: "/api/auth/profile/", auth: "alice", status: 200, contains: `"total_ratings":2`},

		// The catalog, as staff.
		{method: post, target: "/api/auth/login/", body: `{"username": "oa_staff", "password": "` + oaPassword + `"}`, status: 200,
			contains: `"is_staff":true`, save: map[string]string{"staff.access": "access"}},
		{method: post, target: "/api/movies/", auth: "alice", body: `{"title": "Not Yours"}`, status: 403},
		{target: "/api/recommendations/users/1/?limit=3", auth: "staff", status: 200},
		{target: "/api/recommendations/users/424242/", auth: "staff", status: 404},
		{target: "/api/recommendations/users/abc/", auth: "staff", status: 404},
		{method: post, target: "/api/movies/", auth: "staff", status: 201, contains: `"release_year":2001`,
			body: `{"title": "OA Test Movie", "description": "Made by the OpenAPI test.", "release_date": "2001-02-03",
				"duration": 101, "imdb_rating": 7.5, "poster_url": "https://example.com/p.jpg", "trailer_url": null,
				"imdb_id": "tt0114709", "tmdb_id": 862, "genres": ["Comedy"]}`,
			save: map[string]string{"movie": "id"}},
		{method: post, target: "/api/movies", auth: "staff", body: `{"title": "OA Minimal Movie"}`, status: 201},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": ""}`, status: 400},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"description": "no title"}`, status: 400},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "genres": ["Nonesuch"]}`, status: 400, semantic: true},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "genres": "Comedy"}`, status: 400},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "release_year": 1999, "release_date": "2001-01-01"}`, status: 400, semantic: true},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "release_date": "01/02/2001"}`, status: 400},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "rating_count": 5}`, status: 400, contains: `read-only`},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "poster_url": "ftp://example.com/p.jpg"}`, status: 400},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "duration": 0}`, status: 400},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X", "imdb_rating": 11}`, status: 400},
		{method: post, target: "/api/movies/", auth: "staff", body: `{"title": "X"}`, contentType: "text/plain", status: 415},
		{method: post, target: "/api/movies/", auth: "staff", body: oaBig, status: 413},
		{target: "/api/movies/{movie}/", status: 200, contains: `"name":"Comedy"`},
		{method: put, target: "/api/movies/{movie}/", auth: "staff", body: `{"title": "OA Test Movie (cut)", "genres": ["drama", "Sci-Fi"]}`,
			status: 200, contains: `"release_date":null`},
		{method: patch, target: "/api/movies/{movie}/", auth: "staff", body: `{"imdb_rating": 8.1, "release_date": "1999-12-31"}`,
			status: 200, contains: `"release_year":1999`},
		{method: patch, target: "/api/movies/{movie}", auth: "staff", body: `{}`, status: 200},
		{method: patch, target: "/api/movies/{movie}/", auth: "staff", body: `{"imdb_id": "bogus"}`, status: 400},
		{method: patch, target: "/api/movies/{movie}/", auth: "staff", body: `{"title": null}`, status: 400},
		{method: put, target: "/api/movies/{movie}/", auth: "staff", body: `{"genres": []}`, status: 400},
		{method: put, target: "/api/movies/99999/", auth: "staff", body: `{"title": "X"}`, status: 404},
		{method: patch, target: "/api/movies/99999/", auth: "staff", body: `{"title": "X"}`, status: 404},
		{method: post, target: "/api/ratings/movies/{movie}/rate/", auth: "alice", body: `{"score": 2}`, status: 201},
		{method: del, target: "/api/movies/{movie}/", auth: "staff", status: 204},
		{method: del, target: "/api/movies/{movie}/", auth: "staff", status: 404},
		{target: "/api/movies/{movie}/", status: 404},
		{target: "/api/ratings/movies/{movie}/stats/", status: 404},

		{method: post, target: "/api/movies/genres/", auth: "staff", body: `{"name": "OA Genre", "description": "Made by the OpenAPI test."}`,
			status: 201, contains: `"movie_count":0`, save: map[string]string{"genre": "id"}},
		{method: post, target: "/api/movies/genres/", auth: "staff", body: `{"name": "oa genre"}`, status: 409},
		{method: post, target: "/api/movies/genres/", auth: "staff", body: `{"description": "no name"}`, status: 400},
		{method: post, target: "/api/movies/genres/", auth: "staff", body: `{"name": "X"}`, contentType: "text/plain", status: 415},
		{method: put, target: "/api/movies/genres/{genre}/", auth: "staff", body: `{"name": "OA Genre 2"}`, status: 200, contains: `"description":""`},
		{method: patch, target: "/api/movies/genres/{genre}/", auth: "staff", body: `{"description": "Patched."}`, status: 200, contains: `"name":"OA Genre 2"`},
		{method: patch, target: "/api/movies/genres/{genre}/", auth: "staff", body: `{"movie_count": 1}`, status: 400, contains: `read-only`},
		{method: patch, target: "/api/movies/genres/{genre}/", auth: "staff", body: `{"name": "  "}`, status: 400},
		{method: patch, target: "/api/movies/genres/{genre}/", auth: "staff", body: `{"name": "comedy"}`, status: 409},
		{method: put, target: "/api/movies/genres/99999/", auth: "staff", body: `{"name": "X"}`, status: 404},
		{target: "/api/movies/genres/{genre}/", status: 200},
		{method: del, target: "/api/movies/genres/{genre}/", auth: "staff", status: 204},
		{method: del, target: "/api/movies/genres/{genre}", auth: "staff", status: 404},

		{method: post, target: "/api/movies/tags/", auth: "staff", body: `{"name": "oa-tag"}`, status: 201, save: map[string]string{"tag": "id"}},
		{method: post, target: "/api/movies/tags/", auth: "staff", body: `{"name": "OA-TAG"}`, status: 409},
		{method: post, target: "/api/movies/tags/", auth: "staff", body: `{}`, status: 400},
		{method: put, target: "/api/movies/tags/{tag}/", auth: "staff", body: `{"name": "oa-tag-2"}`, status: 200, contains: `"name":"oa-tag-2"`},
		{method: patch, target: "/api/movies/tags/{tag}/", auth: "staff", body: `{}`, status: 200},
		{method: patch, target: "/api/movies/tags/{tag}/", auth: "staff", body: `{"id": 3}`, status: 400, contains: `read-only`},
		{method: patch, target: "/api/movies/tags/{tag}/", auth: "staff", body: `{"name": 3}`, status: 400},
		{method: patch, target: "/api/movies/tags/99999/", auth: "staff", body: `{}`, status: 404},
		{method: del, target: "/api/movies/tags/{tag}/", auth: "staff", status: 204},
		{method: del, target: "/api/movies/tags/99999/", auth: "staff", status: 404},

		// The password, then logging out.
		{method: post, target: "/api/auth/password/change/", auth: "alice", body: `{"old_password": "wrong password", "new_password": ` + newPw + `}`,
			status: 400, semantic: true, contains: `"old_password"`},
		{method: post, target: "/api/auth/password/change/", auth: "alice", body: `{"old_password": ` + pw + `, "new_password": "1234"}`, status: 400},
		{method: post, target: "/api/auth/password/change/", auth: "alice", body: `{"old_password": ` + pw + `, "new_password": "123456789"}`,
			status: 400, semantic: true},
		{method: post, target: "/api/auth/password/change/", auth: "alice", body: `{"old_password": ` + pw + `}`, status: 400},
		{method: post, target: "/api/auth/password/change/", auth: "alice", body: `{"old_password": ` + pw + `, "new_password": ` + newPw + `}`, status: 204},
		{target: "/api/auth/profile/", auth: "alice", status: 200},   // the caller's session stays
		{target: "/api/auth/profile/", auth: "alice_b", status: 401}, // every other one ends
		{method: post, target: "/api/auth/login/", body: `{"username": "oa_alice", "password": ` + newPw + `}`, status: 200,
			save: map[string]string{"alice2.access": "access"}},
		{method: post, target: "/api/auth/logout/", body: `{"refresh": "{alice.refresh}"}`, status: 204},
		{target: "/api/auth/profile/", auth: "alice", status: 401},
		{method: post, target: "/api/auth/logout/", body: `{"refresh": "{alice.refresh}"}`, status: 401},
		{method: post, target: "/api/auth/logout/", body: `{"refresh": "not a token"}`, status: 401},
		{method: post, target: "/api/auth/logout/", body: `{}`, status: 400},
		{method: post, target: "/api/auth/logout/", body: `{"refresh": "{alice.refresh}"}`, contentType: "text/plain", status: 415},
		{target: "/api/auth/profile/", auth: "alice2", status: 200},

		// Throttling, on a server allowing one registration and one
		// login an hour.
		{server: "throttled", method: post, target: "/api/auth/register/", status: 201,
			body: `{"username": "oa_carol", "email": "carol@example.com", "password": ` + pw + `}`},
		{server: "throttled", method: post, target: "/api/auth/register/", status: 429,
			body: `{"username": "oa_dave", "email": "dave@example.com", "password": ` + pw + `}`},
		{server: "throttled", method: post, target: "/api/auth/login/", body: `{"username": "oa_carol", "password": ` + pw + `}`, status: 200},
		{server: "throttled", method: post, target: "/api/auth/login/", body: `{"username": "oa_carol", "password": ` + pw + `}`, status: 429},
	}
}

// TestOpenAPIQueryParameters checks the documented query parameters
// against the handlers: every documented parameter is accepted with valid
// values, values outside its schema are a 400 where the operation
// documents one, and undocumented parameters are a 400 likewise.
func TestOpenAPIQueryParameters(t *testing.T) {
	doc := oaEmbedded(t)
	f := oaOpenFixture(t)

	type tc struct {
		name    string
		op      oaOp
		query   string
		invalid bool // expect 400 when the operation documents it
	}
	var tests []tc
	opParams := map[string][]oaParam{}
	// elsewhere holds a valid query of every query parameter documented
	// anywhere: sent to an operation that does not document it, it must be
	// rejected like any unknown parameter, so a parameter a handler reads
	// but the document omits for it is caught.
	elsewhere := map[string]string{}
	note := func(params []oaParam) {
		for _, p := range params {
			if valid, _ := oaValues(p.schema); p.in == "query" && len(valid) > 0 && elsewhere[p.name] == "" {
				elsewhere[p.name] = oaQuery(p.name, valid[0])
			}
		}
	}
	components, _ := doc.root["components"].(map[string]any)
	shared, _ := components["parameters"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(shared)) {
		p, err := doc.param(oaPtr("components", "parameters", name))
		if err != nil {
			t.Fatal(err)
		}
		note([]oaParam{p})
	}
	for _, o := range doc.operations() {
		params, err := doc.params(o)
		if err != nil {
			t.Fatal(err)
		}
		opParams[o.String()] = params
		note(params)
	}
	for _, o := range doc.operations() {
		if o.method != "get" {
			continue
		}
		params := opParams[o.String()]
		add := func(query string, invalid bool) {
			tests = append(tests, tc{name: o.String() + "?" + query, op: o, query: query, invalid: invalid})
		}
		add("oa_undocumented=1", true)
		for _, name := range slices.Sorted(maps.Keys(elsewhere)) {
			if query := elsewhere[name]; !slices.ContainsFunc(params, func(p oaParam) bool { return p.in == "query" && p.name == name }) {
				add(query, true)
			}
		}
		for _, p := range params {
			if p.in != "query" {
				continue
			}
			valid, invalid := oaValues(p.schema)
			for _, vs := range valid {
				add(oaQuery(p.name, vs), false)
			}
			for _, vs := range invalid {
				add(oaQuery(p.name, vs), true)
			}
		}
	}

	// Authenticated operations are called as a (staff) user who rated a
	// movie.
	u := f.user(t, "oa_query", true)
	header := http.Header{"Authorization": {"Bearer " + f.login(t, "oa_query")}}
	if _, _, err := f.store.RateMovie(context.Background(), u.ID, 1, 4, "Fine."); err != nil {
		t.Fatal(err)
	}
	c := f.ts.Client()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := f.concrete(tt.op.path)
			_, err := doc.response(tt.op, http.StatusBadRequest)
			want400 := tt.invalid && err == nil
			target := f.ts.URL + path + "?" + tt.query
			var h http.Header
			if doc.security(tt.op) {
				h = header
			}
			res := oaSend(t, c, http.MethodGet, target, h, "")
			switch got400 := res.status == http.StatusBadRequest; {
			case want400 && !got400:
				t.Errorf("GET %s: status %d, want 400: %s", path+"?"+tt.query, res.status, oaTrunc(res.body))
			case !want400 && got400:
				t.Errorf("GET %s: status 400, want the parameter accepted: %s", path+"?"+tt.query, oaTrunc(res.body))
			}
			if err := doc.check(http.MethodGet, target, res); err != nil {
				t.Errorf("GET %s: status %d: %v\nbody: %s", path+"?"+tt.query, res.status, err, oaTrunc(res.body))
			}
		})
	}
}

// oaValues returns values a query parameter's schema allows and values it
// rejects; each value is the list of values of one request.
func oaValues(schema map[string]any) (valid, invalid [][]string) {
	str := func(v any) string { return fmt.Sprint(v) }
	seen := map[string]bool{}
	one := func(vs ...string) {
		for _, v := range vs {
			if !seen[v] {
				seen[v] = true
				valid = append(valid, []string{v})
			}
		}
	}
	bad := func(vs ...string) {
		for _, v := range vs {
			invalid = append(invalid, []string{v})
		}
	}
	if def, ok := schema["default"]; ok {
		one(str(def))
	}
	if enum, ok := schema["enum"].([]any); ok {
		for _, v := range enum {
			one(str(v))
		}
		bad("zzz")
	}
	switch schema["type"] {
	case "integer":
		one("1")
		bad("abc", "1.5")
		if lo, ok := schema["minimum"].(json.Number); ok {
			n, _ := lo.Int64()
			one(strconv.FormatInt(n, 10))
			bad(strconv.FormatInt(n-1, 10))
		}
		if hi, ok := schema["maximum"].(json.Number); ok {
			n, _ := hi.Int64()
			one(strconv.FormatInt(n, 10))
			bad(strconv.FormatInt(n+1, 10))
		}
	case "number":
		one("0", "2.5", "-1")
		bad("abc", "NaN", "Inf")
	case "string":
		if _, ok := schema["enum"]; !ok && schema["pattern"] == nil {
			one("a", "Toy Story")
		}
		if schema["pattern"] != nil {
			bad("zzz", "-")
		}
	case "array":
		valid = append(valid, []string{"drama"}, []string{"drama", "comedy"})
	}
	if schema["type"] != "array" && len(valid) > 0 {
		// A single-valued parameter given twice is a 400.
		invalid = append(invalid, []string{valid[0][0], valid[0][0]})
	}
	return valid, invalid
}

func oaQuery(name string, values []string) string {
	q := url.Values{name: values}
	return q.Encode()
}

// oaCatalog is a Catalog that fails every call with err (or serves
// nothing when err is nil).
// oaCatalog fails every catalog read with err; its other methods are
// never called.
type oaCatalog struct {
	Store
	err error
}

var _ Store = oaCatalog{}

func (c oaCatalog) ListMovies(context.Context, movierec.MovieFilter) (movierec.Page[movierec.Movie], error) {
	return movierec.Page[movierec.Movie]{Items: []movierec.Movie{}}, c.err
}

func (c oaCatalog) Movie(context.Context, int64) (movierec.Movie, error) {
	if c.err == nil {
		return movierec.Movie{}, movierec.ErrNotFound
	}
	return movierec.Movie{}, c.err
}

func (c oaCatalog) PopularMovies(context.Context, int) ([]movierec.Movie, error) {
	return []movierec.Movie{}, c.err
}

func (c oaCatalog) TrendingMovies(context.Context, time.Duration, int) ([]movierec.ScoredMovie, error) {
	return []movierec.ScoredMovie{}, c.err
}

func (c oaCatalog) TopRatedMovies(context.Context, int, int) ([]movierec.ScoredMovie, error) {
	return []movierec.ScoredMovie{}, c.err
}

func (c oaCatalog) Genres(context.Context, int, int) (movierec.Page[movierec.Genre], error) {
	return movierec.Page[movierec.Genre]{Items: []movierec.Genre{}}, c.err
}

func (c oaCatalog) Genre(context.Context, int64) (movierec.Genre, error) {
	if c.err == nil {
		return movierec.Genre{}, movierec.ErrNotFound
	}
	return movierec.Genre{}, c.err
}

func (c oaCatalog) Tags(context.Context, string, int, int) (movierec.Page[movierec.Tag], error) {
	return movierec.Page[movierec.Tag]{Items: []movierec.Tag{}}, c.err
}

func (c oaCatalog) Tag(context.Context, int64) (movierec.Tag, error) {
	if c.err == nil {
		return movierec.Tag{}, movierec.ErrNotFound
	}
	return movierec.Tag{}, c.err
}

func (c oaCatalog) Ping(context.Context) error { return c.err }

func (c oaCatalog) MovieRatings(context.Context, int64, int, int) (movierec.Page[movierec.Rating], error) {
	if c.err == nil {
		return movierec.Page[movierec.Rating]{}, movierec.ErrNotFound
	}
	return movierec.Page[movierec.Rating]{}, c.err
}

func (c oaCatalog) MovieRatingStats(context.Context, int64) (movierec.RatingStats, error) {
	if c.err == nil {
		return movierec.RatingStats{}, movierec.ErrNotFound
	}
	return movierec.RatingStats{}, c.err
}

// TestRouteTableMatchesDocument: what the route table declares about each
// operation is what the document says of it: an operation needs the
// bearer token exactly when its route is not public, staff-only routes
// document their 403, and only routes that change something (not GETs)
// invalidate cached answers.
func TestRouteTableMatchesDocument(t *testing.T) {
	doc := oaEmbedded(t)
	ops := map[string]oaOp{}
	for _, o := range doc.operations() {
		ops[o.String()] = o
	}
	s := New(oaCatalog{}, nil, oaLogger(), Options{})
	seen := map[string]bool{}
	for _, rt := range s.routes() {
		if seen[rt.pattern] {
			t.Errorf("%s is declared twice", rt.pattern)
		}
		seen[rt.pattern] = true
		m, p := oaRoute(rt.pattern)
		o, ok := ops[m+" "+p]
		if !ok {
			t.Errorf("%s: not documented", rt.pattern)
			continue
		}
		if got, want := doc.security(o), rt.access != anyone; got != want {
			t.Errorf("%s: the document says bearer token required = %v, the route table %v", rt.pattern, got, want)
		}
		if rt.access == staffOnly {
			if _, err := doc.response(o, http.StatusForbidden); err != nil {
				t.Errorf("%s is staff-only but documents no 403: %v", rt.pattern, err)
			}
		}
		if rt.writes && m == http.MethodGet {
			t.Errorf("%s: a GET marked as a write", rt.pattern)
		}
		if rt.scope != nil && (rt.cache == nil || rt.access == anyone) {
			t.Errorf("%s: per-user caching needs a cache policy and a caller", rt.pattern)
		}
	}
}
