package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/sqlstore"
)

const dashboardFile = "grafana/movierec.json"

// dsRef is the datasource every panel, target and query variable must use:
// the dashboard's datasource variable, which an import can also fill in.
const dsRef = "${DS_PROMETHEUS}"

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *datasource `json:"datasource"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []target    `json:"targets"`
	Panels     []panel     `json:"panels"` // a collapsed row's panels
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasource     `json:"datasource"`
}

// queryText is a query variable's query: a string or {"query": "..."}.
func (v variable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows: the top-level panels and those inside
// collapsed rows.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

func (d dashboard) variable(name string) (variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return variable{}, false
}

func TestDashboardShape(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q, uid %q: want both", d.Title, d.UID)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want a Grafana 10+ schema (>= 36)", d.SchemaVersion)
	}
	if v, ok := d.variable("DS_PROMETHEUS"); !ok || v.Type != "datasource" || v.queryText() != "prometheus" {
		t.Errorf("want a datasource variable DS_PROMETHEUS of type prometheus, got %+v (found %v)", v, ok)
	}
	if v, ok := d.variable("route"); !ok || !strings.HasPrefix(v.queryText(), "label_values(movierec_http_request_duration_seconds_count") ||
		!strings.HasSuffix(v.queryText(), ", route)") {
		t.Errorf("want a route variable from label_values(movierec_http_request_duration_seconds_count, route), got %q", v.queryText())
	}

	defined := map[string]bool{
		"__rate_interval": true, "__interval": true, "__interval_ms": true,
		"__range": true, "__range_s": true, "__range_ms": true,
	}
	for _, v := range d.Templating.List {
		defined[v.Name] = true
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != dsRef) {
			t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, dsRef)
		}
	}
	checkVars := func(where, s string) {
		for _, m := range varRef.FindAllStringSubmatch(s, -1) {
			if !defined[m[1]] {
				t.Errorf("%s: %q uses undefined variable $%s", where, s, m[1])
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			checkVars("variable "+v.Name, v.queryText())
		}
	}

	ids := map[int]string{}
	for _, p := range d.allPanels() {
		if p.Title == "" {
			t.Errorf("panel %d (%s) has no title", p.ID, p.Type)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos == nil {
			t.Errorf("panel %q has no gridPos", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != dsRef || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want prometheus %s", p.Title, p.Datasource, dsRef)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
			}
			if tg.Datasource != nil && tg.Datasource.UID != dsRef {
				t.Errorf("panel %q target %s: datasource %+v, want %s", p.Title, tg.RefID, tg.Datasource, dsRef)
			}
			checkVars(fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr)
		}
	}
}

var varRef = regexp.MustCompile(`\$\{?(\w+)`)

// TestDashboardMetrics checks every metric and label the dashboard's
// queries use against what observe registers.
func TestDashboardMetrics(t *testing.T) {
	d := loadDashboard(t)
	cat := gatherCatalog(t)
	used := map[string]bool{}
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			names, errs := checkExpr(tg.Expr, cat)
			for _, err := range errs {
				t.Errorf("panel %q target %s: %v\n\t%s", p.Title, tg.RefID, err, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		names, errs := checkVariableQuery(v.queryText(), cat)
		for _, err := range errs {
			t.Errorf("variable %s: %v\n\t%s", v.Name, err, v.queryText())
		}
		for _, n := range names {
			used[n] = true
		}
	}
	// The panels the dashboard exists for.
	for _, n := range []string{
		"movierec_http_request_duration_seconds", "movierec_http_requests_in_flight",
		"movierec_db_queries_per_request", "movierec_db_query_duration_seconds", "movierec_db_query_errors_total",
		"movierec_cache_requests_total", "movierec_db_pool_acquired_connections", "movierec_db_pool_max_connections",
		"movierec_db_pool_waits_total", "movierec_db_pool_wait_seconds_total",
		"movierec_model_age_seconds", "movierec_model_training_duration_seconds",
		"go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "go_goroutines",
	} {
		if !used[n] {
			t.Errorf("no panel charts %s", n)
		}
	}
}

// TestCheckerCatchesMistakes keeps the checks above honest: each broken
// query must be reported, and each sound one must not.
func TestCheckerCatchesMistakes(t *testing.T) {
	cat := gatherCatalog(t)
	good := []string{
		`histogram_quantile(0.95, sum by (le, route) (rate(movierec_http_request_duration_seconds_bucket{job=~"$job", route=~"$route"}[$__rate_interval])))`,
		`sum(rate(movierec_cache_requests_total{result="hit"}[5m])) by (policy)`,
		`movierec_db_pool_acquired_connections / movierec_db_pool_max_connections`,
		`go_gc_duration_seconds{quantile="0.5"}`,
		`movierec_model_info{version!=""}`,
	}
	for _, e := range good {
		if _, errs := checkExpr(e, cat); len(errs) > 0 {
			t.Errorf("%s: unexpected %v", e, errs)
		}
	}
	bad := []string{
		`rate(movierec_http_request_duration_second_count[5m])`,                                  // typo in the name
		`sum by (path) (rate(movierec_http_request_duration_seconds_count[5m]))`,                 // no such label
		`rate(movierec_http_request_duration_seconds_count{code="500"}[5m])`,                     // no such label
		`sum by (le, kind) (rate(movierec_db_query_errors_total[5m]))`,                           // le on a counter
		`sum(rate(movierec_cache_requests_total[5m])) by (route)`,                                // trailing by
		`movierec_http_request_duration_seconds`,                                                 // bare histogram
		`rate(movierec_redis_errors_total_count[5m])`,                                            // suffix on a counter
		`histogram_quantil(0.9, sum by (le) (rate(movierec_db_queries_per_request_bucket[5m])))`, // function typo
		`sum(rate(movierec_db_query_errors_total{kind="select"}[5m])`,                            // unbalanced
		`{__name__="go_goroutines"}`,                                                             // no metric name
	}
	for _, e := range bad {
		if _, errs := checkExpr(e, cat); len(errs) == 0 {
			t.Errorf("%s: no error reported", e)
		}
	}
	if _, errs := checkVariableQuery(`label_values(movierec_http_request_duration_seconds_count, routes)`, cat); len(errs) == 0 {
		t.Error("label_values with an unknown label: no error reported")
	}
}

// family is one gathered metric family.
type family struct {
	typ    string // COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED
	labels map[string]bool
}

type catalog struct {
	families map[string]family
	// noProcess is set where the process collector exports nothing (it
	// reads /proc), so process_* names cannot be checked.
	noProcess bool
}

// gatherCatalog registers everything the server registers, with stubs,
// touches each vector so its family is exported, and gathers.
func gatherCatalog(t *testing.T) catalog {
	t.Helper()
	m := observe.NewMetrics()
	m.RegisterPool(func() sqlstore.PoolStats { return sqlstore.PoolStats{} })
	m.RegisterReplicas(func() []sqlstore.ReplicaStats {
		return []sqlstore.ReplicaStats{{Name: "db2:5432/movierec", State: "ok"}}
	})
	m.RegisterModel(func() (observe.ModelInfo, bool) {
		return observe.ModelInfo{Version: "v", TrainedAt: time.Now()}, true
	})
	m.RequestDuration.WithLabelValues("GET /x", "GET", "2xx").Observe(0.01)
	m.QueriesPerRequest.WithLabelValues("GET /x").Observe(1)
	m.QueryDuration.WithLabelValues("select").Observe(0.001)
	m.QueryErrors.WithLabelValues("select").Inc()
	m.CacheRequests.WithLabelValues("movies", "hit").Inc()
	m.InFlight.Set(0)
	m.RedisErrors.Add(0)

	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog{families: map[string]family{}, noProcess: true}
	for _, mf := range mfs {
		f := family{typ: mf.GetType().String(), labels: map[string]bool{}}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				f.labels[lp.GetName()] = true
			}
		}
		cat.families[mf.GetName()] = f
		if strings.HasPrefix(mf.GetName(), "process_") {
			cat.noProcess = false
		}
	}
	if cat.noProcess {
		t.Log("the process collector exported nothing here: process_* metrics are not checked")
	}
	return cat
}

// targetLabels are attached by Prometheus when it scrapes.
var targetLabels = map[string]bool{"job": true, "instance": true}

// metricRef is a series name as a query spells it, resolved to its family.
type metricRef struct {
	name, family, suffix string
	f                    family
	skip                 bool // unknown here, not checkable
}

func (c catalog) resolve(name string) (metricRef, error) {
	r := metricRef{name: name, family: name}
	if f, ok := c.families[name]; ok {
		r.f = f
		if f.typ == "HISTOGRAM" {
			return r, fmt.Errorf("%s is a histogram: use %[1]s_bucket, %[1]s_sum or %[1]s_count", name)
		}
		return r, nil
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		f, ok := c.families[base]
		if !ok {
			break
		}
		if f.typ == "HISTOGRAM" || (f.typ == "SUMMARY" && suf != "_bucket") {
			return metricRef{name: name, family: base, suffix: suf, f: f}, nil
		}
		return r, fmt.Errorf("%s: %s is a %s, it has no %s series", name, base, strings.ToLower(f.typ), suf)
	}
	if c.noProcess && strings.HasPrefix(name, "process_") {
		r.skip = true
		return r, nil
	}
	return r, fmt.Errorf("unknown metric %s (not registered by observe)", name)
}

func (r metricRef) hasLabel(l string) bool {
	switch {
	case r.skip, targetLabels[l], r.f.labels[l]:
		return true
	case l == "le":
		return r.f.typ == "HISTOGRAM" && r.suffix == "_bucket"
	case l == "quantile":
		return r.f.typ == "SUMMARY" && r.suffix == ""
	}
	return false
}

// checkVariableQuery checks a Grafana label_values(selector, label) query.
func checkVariableQuery(q string, c catalog) ([]string, []error) {
	inner, hasPrefix := strings.CutPrefix(strings.TrimSpace(q), "label_values(")
	inner, hasSuffix := strings.CutSuffix(inner, ")")
	if !hasPrefix || !hasSuffix {
		return nil, []error{fmt.Errorf("want label_values(selector, label)")}
	}
	i := strings.LastIndex(inner, ",")
	if i < 0 {
		return nil, []error{fmt.Errorf("want label_values(selector, label)")}
	}
	sel, label := strings.TrimSpace(inner[:i]), strings.TrimSpace(inner[i+1:])
	names, errs := checkExpr(sel, c)
	if len(errs) > 0 {
		return names, errs
	}
	toks, _ := lex(sel)
	if len(toks) == 0 || toks[0].kind != tIdent {
		return names, []error{fmt.Errorf("want a metric name in %q", sel)}
	}
	if r, err := c.resolve(toks[0].text); err == nil && !r.hasLabel(label) {
		errs = append(errs, fmt.Errorf("%s has no label %q", toks[0].text, label))
	}
	return names, errs
}

// --- A small PromQL reader: enough to find metric names, matchers and
// grouping labels, and where each grouping applies.

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tRange // [5m], [$__rate_interval], [1h:5m]
	tVar   // $job
	tPunct
)

type token struct {
	kind tokKind
	text string
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || ('0' <= c && c <= '9') }

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, token{tString, s[i+1 : j]})
			i = j + 1
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated range at %d", i)
			}
			toks = append(toks, token{tRange, s[i : i+j+1]})
			i += j + 1
		case c == '$':
			j := i + 1
			brace := j < len(s) && s[j] == '{'
			if brace {
				j++
			}
			k := j
			for k < len(s) && isIdent(s[k]) {
				k++
			}
			toks = append(toks, token{tVar, s[j:k]})
			if brace {
				k++
			}
			i = k
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j]})
			i = j
		case '0' <= c && c <= '9' || c == '.':
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j]})
			i = j
		default:
			if i+1 < len(s) && strings.ContainsRune("=!<>", rune(c)) && strings.ContainsRune("=~", rune(s[i+1])) {
				toks = append(toks, token{tPunct, s[i : i+2]})
				i += 2
				continue
			}
			toks = append(toks, token{tPunct, string(c)})
			i++
		}
	}
	return toks, nil
}

var aggregations = setOf("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
	"bottomk", "topk", "quantile", "limitk", "limit_ratio")

var functions = setOf("abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
	"avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time",
	"day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv",
	"double_exponential_smoothing", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
	"histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "hour",
	"idelta", "increase", "info", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
	"mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
	"present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin", "sinh",
	"sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
	"sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year")

var grouping = setOf("by", "without", "on", "ignoring", "group_left", "group_right")

var keywords = setOf("bool", "offset", "and", "or", "unless", "atan2")

func setOf(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

type selector struct {
	name     string
	pos      int // token index
	matchers []string
}

type clause struct {
	kw         string
	labels     []string
	from, to   int // token range the labels must exist in
	anyOperand bool
}

// checkExpr reads a PromQL expression and reports the metric names it
// uses and every problem: unknown metrics or functions, and labels that
// the metrics they are matched or grouped on do not have.
func checkExpr(expr string, c catalog) (names []string, errs []error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, []error{err}
	}
	// Matching parentheses.
	match := make([]int, len(toks))
	var stack []int
	for i, tk := range toks {
		if tk.kind != tPunct {
			continue
		}
		switch tk.text {
		case "(":
			stack = append(stack, i)
		case ")":
			if len(stack) == 0 {
				return nil, []error{fmt.Errorf("unbalanced )")}
			}
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			match[o], match[i] = i, o
		}
	}
	if len(stack) > 0 {
		return nil, []error{fmt.Errorf("unbalanced (")}
	}
	punct := func(i int, s string) bool {
		return i >= 0 && i < len(toks) && toks[i].kind == tPunct && toks[i].text == s
	}

	var sels []selector
	var clauses []clause
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		if tk.kind == tPunct && tk.text == "{" {
			errs = append(errs, fmt.Errorf("selector without a metric name"))
			for i < len(toks) && !punct(i, "}") {
				i++
			}
			continue
		}
		if tk.kind != tIdent {
			continue
		}
		switch {
		case grouping[tk.text]:
			cl := clause{kw: tk.text}
			if !punct(i+1, "(") {
				if tk.text == "group_left" || tk.text == "group_right" {
					continue
				}
				errs = append(errs, fmt.Errorf("%s without a label list", tk.text))
				continue
			}
			end := match[i+1]
			for j := i + 2; j < end; j++ {
				switch {
				case toks[j].kind == tIdent:
					cl.labels = append(cl.labels, toks[j].text)
				case punct(j, ","):
				default:
					errs = append(errs, fmt.Errorf("%s: unexpected %q in label list", tk.text, toks[j].text))
				}
			}
			switch tk.text {
			case "by", "without":
				switch {
				case punct(end+1, "("): // sum by (l) (expr)
					cl.from, cl.to = end+1, match[end+1]
				case punct(i-1, ")"): // sum(expr) by (l)
					cl.from, cl.to = match[i-1], i-1
				default:
					errs = append(errs, fmt.Errorf("%s: cannot tell which expression it groups", tk.text))
					continue
				}
			case "on", "ignoring":
				cl.from, cl.to = 0, len(toks)-1
			default:
				cl.from, cl.to, cl.anyOperand = 0, len(toks)-1, true
			}
			clauses = append(clauses, cl)
			i = end
		case keywords[tk.text]:
		case punct(i+1, "("):
			if !functions[tk.text] && !aggregations[tk.text] {
				errs = append(errs, fmt.Errorf("unknown function %s", tk.text))
			}
		case aggregations[tk.text] && i+1 < len(toks) && toks[i+1].kind == tIdent && grouping[toks[i+1].text]:
		default:
			sel := selector{name: tk.text, pos: i}
			if punct(i+1, "{") {
				j := i + 2
				for ; j < len(toks) && !punct(j, "}"); j++ {
					if punct(j, ",") {
						continue
					}
					if toks[j].kind != tIdent || j+2 >= len(toks) || toks[j+1].kind != tPunct || toks[j+2].kind != tString {
						errs = append(errs, fmt.Errorf("%s: cannot read matcher at %q", tk.text, toks[j].text))
						break
					}
					sel.matchers = append(sel.matchers, toks[j].text)
					j += 2
				}
				i = j
			}
			sels = append(sels, sel)
		}
	}

	refs := map[int]metricRef{}
	for _, s := range sels {
		r, err := c.resolve(s.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		refs[s.pos] = r
		if !slices.Contains(names, r.family) {
			names = append(names, r.family)
		}
		for _, l := range s.matchers {
			if !r.hasLabel(l) {
				errs = append(errs, fmt.Errorf("%s has no label %q (matcher)", s.name, l))
			}
		}
	}
	for _, cl := range clauses {
		for _, l := range cl.labels {
			var missing []string
			in := 0
			for _, s := range sels {
				r, ok := refs[s.pos]
				if !ok || s.pos < cl.from || s.pos > cl.to {
					continue
				}
				in++
				if !r.hasLabel(l) {
					missing = append(missing, s.name)
				}
			}
			if in == 0 {
				continue
			}
			if len(missing) > 0 && (!cl.anyOperand || len(missing) == in) {
				sort.Strings(missing)
				errs = append(errs, fmt.Errorf("%s (%s): no label %q on %s", cl.kw, strings.Join(cl.labels, ", "), l,
					strings.Join(missing, ", ")))
			}
		}
	}
	sort.Strings(names)
	return names, errs
}
