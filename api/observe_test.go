package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/storetest"
)

// countingObserver counts statements independently of the one under test.
type countingObserver struct {
	inner *observe.DBObserver
	n     atomic.Int64
}

func (c *countingObserver) Statement(ctx context.Context, sql string, args []any, took time.Duration, err error) {
	c.n.Add(1)
	c.inner.Statement(ctx, sql, args, took, err)
}

// observed starts a server with metrics on a loaded SQLite store and
// returns it with the counting observer and the log buffer.
func observed(t *testing.T) (*httptest.Server, *countingObserver, *bytes.Buffer) {
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := observe.NewMetrics()
	counter := &countingObserver{inner: &observe.DBObserver{Metrics: m, Log: log, Debug: true}}
	s.Observe(counter)
	m.RegisterPool(s.PoolStats)
	ts := httptest.NewServer(api.New(s, storetest.Accounts(t, s), log, api.Options{Metrics: m}))
	t.Cleanup(ts.Close)
	return ts, counter, &logs
}

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

var timingQueries = regexp.MustCompile(`db;dur=[0-9.]+;desc="(\d+) queries", app;dur=[0-9.]+`)

// TestQueriesPerRequest: Server-Timing reports the statements a handler
// really ran, and a list page costs the same few whatever its size.
func TestQueriesPerRequest(t *testing.T) {
	ts, counter, _ := observed(t)
	for _, path := range []string{"/api/movies/?page_size=5", "/api/movies/?page_size=100", "/api/movies/?genre=drama&page_size=40"} {
		before := counter.n.Load()
		res := get(t, ts.URL+path, nil)
		ran := counter.n.Load() - before
		m := timingQueries.FindStringSubmatch(res.Header.Get("Server-Timing"))
		if m == nil {
			t.Fatalf("%s: Server-Timing %q", path, res.Header.Get("Server-Timing"))
		}
		if reported, _ := strconv.Atoi(m[1]); int64(reported) != ran {
			t.Errorf("%s: Server-Timing says %d queries, the store ran %d", path, reported, ran)
		}
		if ran != 3 {
			t.Errorf("%s ran %d statements; a list page is count + page + genres = 3", path, ran)
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// find returns the metric of family name whose labels include want.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func TestMetricsExposition(t *testing.T) {
	ts, counter, _ := observed(t)
	get(t, ts.URL+"/api/movies/", nil)
	get(t, ts.URL+"/api/movies/?page=2", nil)
	get(t, ts.URL+"/api/movies/4242/", nil)
	get(t, ts.URL+"/no/such/route", nil)
	for i := range 3 { // made-up methods must not mint label values
		req, _ := http.NewRequest(fmt.Sprintf("X%d", i), ts.URL+"/nope", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	fams := scrape(t, ts.URL)
	for _, m := range fams["movierec_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" && strings.HasPrefix(l.GetValue(), "X") {
				t.Errorf("method label %q from a client", l.GetValue())
			}
		}
	}
	list := find(fams, "movierec_http_request_duration_seconds", map[string]string{"route": "GET /api/movies/{$}", "method": "GET", "status": "2xx"})
	if list == nil || list.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("list requests: %v", list)
	}
	if m := find(fams, "movierec_http_request_duration_seconds", map[string]string{"route": "GET /api/movies/{id}/{$}", "status": "4xx"}); m == nil {
		t.Error("no 4xx sample for the detail route")
	}
	if m := find(fams, "movierec_http_request_duration_seconds", map[string]string{"route": "unmatched", "status": "4xx"}); m == nil {
		t.Error("unknown paths are not labelled \"unmatched\"")
	}
	for _, f := range fams["movierec_http_request_duration_seconds"].GetMetric() {
		for _, l := range f.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), "4242") {
				t.Errorf("a raw path became a label: %s", l.GetValue())
			}
		}
	}
	q := find(fams, "movierec_db_queries_per_request", map[string]string{"route": "GET /api/movies/{$}"})
	if q == nil || q.GetHistogram().GetSampleSum() != 6 {
		t.Errorf("queries per list request: %v, want a sum of 6 over two pages", q)
	}
	var kinds float64
	for _, m := range fams["movierec_db_query_duration_seconds"].GetMetric() {
		kinds += float64(m.GetHistogram().GetSampleCount())
	}
	if int64(kinds) != counter.n.Load() {
		t.Errorf("statement histogram counts %v, the store ran %d", kinds, counter.n.Load())
	}
	for _, name := range []string{"movierec_http_requests_in_flight", "movierec_db_pool_max_connections", "go_goroutines", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

func TestRequestID(t *testing.T) {
	ts, _, logs := observed(t)
	res := get(t, ts.URL+"/api/movies/1/", map[string]string{"X-Request-ID": "trace-abc.123"})
	if got := res.Header.Get("X-Request-ID"); got != "trace-abc.123" {
		t.Errorf("X-Request-ID %q, want the client's", got)
	}
	lines := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "request_id=trace-abc.123") {
			lines++
		}
	}
	if lines < 2 { // the statements (debug) and the access log
		t.Errorf("%d log lines carry the request ID:\n%s", lines, logs.String())
	}
	res = get(t, ts.URL+"/api/movies/1/", map[string]string{"X-Request-ID": "evil\" id with spaces"})
	if got := res.Header.Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(got) {
		t.Errorf("a bad incoming ID was kept or not replaced: %q", got)
	}
	get(t, ts.URL+"/api/movies/?search=secret-term", nil)
	if strings.Contains(logs.String(), "secret-term") {
		t.Error("the access log contains a query string")
	}
}
