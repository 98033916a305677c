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
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/storetest"
)

// The OpenAPI tests check openapi.json three ways: against the registered
// routes (no undocumented route, no stale documentation), as a document
// (it parses and its schemas compile as JSON Schema 2020-12), and against
// real responses of a server on a SQLite store holding the fixture data.

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

// response returns the documented response of o for status, and the
// pointer of its application/json schema.
func (d *oaDoc) response(o oaOp, status int) (resp map[string]any, schemaPtr string, err error) {
	responses, _ := o.op["responses"].(map[string]any)
	key := strconv.Itoa(status)
	if _, ok := responses[key]; !ok {
		if _, ok := responses["default"]; !ok {
			return nil, "", fmt.Errorf("%v documents no %d response", o, status)
		}
		key = "default"
	}
	ptr, resp, err := d.object(o.ptr + oaPtr("responses", key))
	if err != nil {
		return nil, "", err
	}
	schemaPtr = ptr + oaPtr("content", "application/json", "schema")
	if _, ok := d.at(schemaPtr); !ok {
		return nil, "", fmt.Errorf("%v: the %s response has no application/json schema", o, key)
	}
	return resp, schemaPtr, nil
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
	for _, pattern := range New(oaCatalog{}, oaLogger()).Routes() {
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
	ts := httptest.NewServer(New(oaCatalog{}, oaLogger()))
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
	})

	components, _ := doc.root["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for _, name := range []string{"MovieListItem", "MovieDetail", "Genre", "Tag", "TagCount", "GenreRef",
		"PaginatedMovieList", "PaginatedGenreList", "PaginatedTagList", "PopularMovieList",
		"TrendingMovieList", "TopRatedMovieList", "Health", "Error", "ApiRoot"} {
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
					if !p.required || p.schema["type"] != "integer" {
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
			if _, ok := responses["200"]; !ok {
				t.Errorf("no 200 response")
			}
			for code := range responses {
				status, _ := strconv.Atoi(code)
				_, ptr, err := doc.response(o, status)
				if err != nil {
					t.Errorf("response %s: %v", code, err)
					continue
				}
				if _, err := doc.compile(ptr); err != nil {
					t.Errorf("response %s: compile schema: %v", code, err)
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
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return oaResult{status: res.StatusCode, header: res.Header, body: body}
}

// check validates a response against what the document says about method
// and target: the status is documented, the body matches its schema and
// the documented headers are present. Requests to undocumented paths
// must be the contract's 404 error.
func (d *oaDoc) check(method, target string, res oaResult) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("Content-Type %q, want application/json", res.header.Get("Content-Type"))
	}
	var resp map[string]any
	var schemaPtr string
	if o, ok := d.match(method, u.Path); ok {
		if resp, schemaPtr, err = d.response(o, res.status); err != nil {
			return err
		}
	} else if ops := d.matchPath(u.Path); len(ops) > 0 {
		// A documented path, another method: every operation documents
		// the 405 its path answers.
		if res.status != http.StatusMethodNotAllowed {
			return fmt.Errorf("status %d on a path without %s, want 405", res.status, method)
		}
		if resp, schemaPtr, err = d.response(ops[0], res.status); err != nil {
			return err
		}
	} else {
		if res.status != http.StatusNotFound {
			return fmt.Errorf("status %d on an undocumented path, want 404", res.status)
		}
		var ptr string
		if ptr, resp, err = d.object("/components/responses/NotFound"); err != nil {
			return err
		}
		schemaPtr = ptr + oaPtr("content", "application/json", "schema")
	}
	headers, _ := resp["headers"].(map[string]any)
	for name := range headers {
		if res.header.Get(name) == "" {
			return fmt.Errorf("documented header %s is missing", name)
		}
	}
	schema, err := d.compile(schemaPtr)
	if err != nil {
		return fmt.Errorf("compile %s: %v", schemaPtr, err)
	}
	body, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	if err := schema.Validate(body); err != nil {
		return fmt.Errorf("body does not match %s:\n%#v", schemaPtr, err)
	}
	return nil
}

// oaFixture is a server on a SQLite store loaded with the fixture data,
// and IDs read from its list endpoints.
type oaFixture struct {
	ts             *httptest.Server
	genreID, tagID int64
}

func oaOpenFixture(t *testing.T) oaFixture {
	t.Helper()
	store := storetest.OpenSQLite(t)
	if _, err := store.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
		t.Fatalf("Import: %v", err)
	}
	f := oaFixture{ts: httptest.NewServer(New(store, oaLogger()))}
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

// TestOpenAPIResponses validates real responses against the document.
func TestOpenAPIResponses(t *testing.T) {
	doc := oaEmbedded(t)
	f := oaOpenFixture(t)
	fixture := f.ts

	servers := map[string]*httptest.Server{"fixture": fixture}
	newServer := func(name string, c Catalog, ready bool) {
		s := New(c, oaLogger())
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

	g, tg := strconv.FormatInt(f.genreID, 10), strconv.FormatInt(f.tagID, 10)
	type tc struct {
		server     string // "" is the fixture server
		method     string // "" is GET
		target     string
		status     int
		minResults int // the body's results hold at least this many
	}
	tests := []tc{
		// Every documented operation.
		{target: "/api/", status: 200},
		{target: "/api/?format=json", status: 200},
		{target: "/api/schema/", status: 200},
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
		{target: "/api/nope/", status: 404},
		{target: "/nope", status: 404},
		{target: "/", status: 404},

		// 405: a documented path, another method.
		{method: http.MethodPost, target: "/api/movies/", status: 405},
		{method: http.MethodDelete, target: "/api/movies/1/", status: 405},
		{method: http.MethodPut, target: "/api/movies/genres/" + g + "/", status: 405},
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
	}

	covered := map[string]bool{}
	for _, tt := range tests {
		if tt.server == "" {
			tt.server = "fixture"
		}
		if tt.method == "" {
			tt.method = http.MethodGet
		}
		name := tt.method + " " + tt.target
		if tt.server != "fixture" {
			name = tt.server + " " + name
		}
		t.Run(name, func(t *testing.T) {
			ts := servers[tt.server]
			res := oaDo(t, ts.Client(), tt.method, ts.URL+tt.target)
			if res.status != tt.status {
				t.Errorf("%s %s: status %d, want %d: %s", tt.method, tt.target, res.status, tt.status, oaTrunc(res.body))
			}
			if err := doc.check(tt.method, ts.URL+tt.target, res); err != nil {
				t.Errorf("%s %s: status %d: %v\nbody: %s", tt.method, tt.target, res.status, err, oaTrunc(res.body))
			}
			if tt.minResults > 0 {
				var page struct {
					Results []json.RawMessage `json:"results"`
				}
				if err := json.Unmarshal(res.body, &page); err != nil || len(page.Results) < tt.minResults {
					t.Errorf("%s %s: %d results (err %v), want at least %d", tt.method, tt.target, len(page.Results), err, tt.minResults)
				}
			}
		})
		if u, err := url.Parse(tt.target); err == nil && tt.status == http.StatusOK {
			if o, ok := doc.match(tt.method, u.Path); ok {
				covered[o.String()] = true
			}
		}
	}
	t.Run("every operation is exercised", func(t *testing.T) {
		for _, o := range doc.operations() {
			if !covered[o.String()] {
				t.Errorf("%v: no test request gets a 200 from it", o)
			}
		}
	})
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

	c := f.ts.Client()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.op.path
			switch {
			case strings.HasPrefix(path, "/api/movies/genres/"):
				path = strings.ReplaceAll(path, "{id}", strconv.FormatInt(f.genreID, 10))
			case strings.HasPrefix(path, "/api/movies/tags/"):
				path = strings.ReplaceAll(path, "{id}", strconv.FormatInt(f.tagID, 10))
			default:
				path = strings.ReplaceAll(path, "{id}", "1")
			}
			_, _, err := doc.response(tt.op, http.StatusBadRequest)
			want400 := tt.invalid && err == nil
			target := f.ts.URL + path + "?" + tt.query
			res := oaDo(t, c, http.MethodGet, target)
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
type oaCatalog struct{ err error }

var _ Catalog = oaCatalog{}

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
