package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// abOutput is what ApacheBench 2.3 printed for `ab -n 50 -c 5` on this
// machine (against a small Python server).
const abOutput = `This is ApacheBench, Version 2.3 <$Revision$>
Benchmarking 127.0.0.1 (be patient).....done

Server Software:        SimpleHTTP/0.6
Concurrency Level:      5
Time taken for tests:   0.098 seconds
Complete requests:      50
Failed requests:        0
Total transferred:      127100 bytes
Requests per second:    511.27 [#/sec] (mean)
Time per request:       9.780 [ms] (mean)
Time per request:       1.956 [ms] (mean, across all concurrent requests)

Connection Times (ms)
              min  mean[+/-sd] median   max
Connect:        0    0   0.1      0       1
Total:          3    9   2.7     10      14

Percentage of the requests served within a certain time (ms)
  50%     10
  66%     11
  95%     13
  99%     14
 100%     15 (longest request)
`

func TestParseAB(t *testing.T) {
	res, err := parseAB(abOutput)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 50 || res.Failed != 0 || res.RPS != 511.27 {
		t.Errorf("counts: %+v", res)
	}
	if res.P50 != 10*time.Millisecond || res.P95 != 13*time.Millisecond || res.P99 != 14*time.Millisecond || res.Max != 15*time.Millisecond {
		t.Errorf("percentiles: %+v", res)
	}
	withFailures := strings.Replace(abOutput, "Failed requests:        0", "Failed requests:        3\nNon-2xx responses:      7", 1)
	if res, err := parseAB(withFailures); err != nil || res.Failed != 3 || res.Non2xx != 7 {
		t.Errorf("failures: %+v, %v", res, err)
	}
	if _, err := parseAB("apr_socket_recv: Connection refused (111)\n"); err == nil {
		t.Error("an ab error message parsed as a report")
	}
}

// countingServer answers 200, or 500 for /bad, and records what it saw.
type countingServer struct {
	hits, conns, gzipAsked atomic.Int64
	*httptest.Server
}

func newCountingServer(t *testing.T) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if r.Header.Get("Accept-Encoding") == "gzip" {
			s.gzipAsked.Add(1)
		}
		if r.URL.Path == "/bad" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func TestAttackCountsAnswersAndErrors(t *testing.T) {
	s := newCountingServer(t)
	var n atomic.Int64
	gen := func(r *rand.Rand) Request {
		if n.Add(1)%10 == 0 {
			return Request{URL: s.URL + "/bad"}
		}
		return Request{URL: s.URL + "/ok"}
	}
	var told atomic.Bool
	run := attack(context.Background(), "t", gen, loadSpec{conns: 4, duration: 400 * time.Millisecond, gzip: true}, 1,
		func(uint64, uint64, time.Duration) { told.Store(true) })
	if run.Requests == 0 || run.Requests != run.Answered || int64(run.Answered) != s.hits.Load() {
		t.Fatalf("requests %d, answered %d, server saw %d", run.Requests, run.Answered, s.hits.Load())
	}
	if run.Codes[500] == 0 || run.Errors != run.Codes[500] || run.Codes[200]+run.Codes[500] != run.Requests {
		t.Errorf("codes %v, errors %d", run.Codes, run.Errors)
	}
	if run.RPS <= 0 || run.P50 <= 0 || run.P50 > run.P99 || run.P99 > run.Max {
		t.Errorf("rates and percentiles: %+v", run)
	}
	if s.gzipAsked.Load() != s.hits.Load() {
		t.Errorf("gzip asked on %d of %d requests", s.gzipAsked.Load(), s.hits.Load())
	}
	// net/http may dial a spare connection when a request finds none idle for
	// an instant (it keeps the spare), so the bound is loose; without
	// keep-alive there is one connection per request (hundreds here).
	if c := s.conns.Load(); c > 8 || c*10 > s.hits.Load() {
		t.Errorf("%d connections for 4 workers and %d requests: connections are not kept alive", c, s.hits.Load())
	}
	if !told.Load() {
		t.Error("progress was never told")
	}
	if len(run.ErrorSamples) == 0 {
		t.Error("no error sample for the 500s")
	}
}

// The ab shape: exactly n requests, each on a new connection, no gzip.
func TestAttackFixedCountNoKeepAlive(t *testing.T) {
	s := newCountingServer(t)
	gen := func(*rand.Rand) Request { return Request{URL: s.URL + "/"} }
	run := attack(context.Background(), "ab", gen, loadSpec{conns: 10, requests: 120, noKeepAlive: true}, 1, nil)
	if run.Requests != 120 || s.hits.Load() != 120 {
		t.Fatalf("requests %d, server saw %d; want 120", run.Requests, s.hits.Load())
	}
	if s.conns.Load() != 120 {
		t.Errorf("%d connections for 120 requests without keep-alive", s.conns.Load())
	}
	if s.gzipAsked.Load() != 0 {
		t.Errorf("gzip asked %d times", s.gzipAsked.Load())
	}
}

func TestAttackSkipsTheStart(t *testing.T) {
	s := newCountingServer(t)
	gen := func(*rand.Rand) Request { return Request{URL: s.URL + "/"} }
	run := attack(context.Background(), "t", gen, loadSpec{conns: 2, duration: 500 * time.Millisecond, skip: 250 * time.Millisecond}, 1, nil)
	if run.Requests == 0 || run.Requests >= run.Answered {
		t.Errorf("kept %d of %d answers: the first 250 ms were not left out", run.Requests, run.Answered)
	}
	if run.Elapsed > 450*time.Millisecond { // ~250 ms; the whole run would be 500 ms or more
		t.Errorf("measured span %s is longer than the part after the skip", run.Elapsed)
	}
}

func TestBarePage(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"count":1}`))
	zw.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
			return
		}
		io.WriteString(w, `{"count":1}`)
	}))
	defer origin.Close()
	page, err := FetchBarePage(context.Background(), origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	bare := httptest.NewServer(page)
	defer bare.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, enc := range []string{"", "gzip"} {
		req, _ := http.NewRequest(http.MethodGet, bare.URL+"/api/movies/", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := []byte(`{"count":1}`)
		if enc == "gzip" {
			want = gz.Bytes()
		}
		if !bytes.Equal(body, want) || resp.Header.Get("Content-Encoding") != enc || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Accept-Encoding %q: %q %v", enc, body, resp.Header)
		}
	}

	// An origin that does not compress cannot be the gzip baseline.
	plainOnly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }))
	defer plainOnly.Close()
	if _, err := FetchBarePage(context.Background(), plainOnly.URL); err == nil {
		t.Error("a page without a gzip answer was accepted")
	}
}

func testFixture() *Fixture {
	f := &Fixture{
		Movies:    []int64{5, 7, 9, 11},
		Genres:    []Genre{{ID: 1, Name: "Drama", MovieCount: 30}, {ID: 2, Name: "Film-Noir", MovieCount: 3}},
		Words:     []string{"heat", "alien"},
		ListCount: 45,
		Users:     []Account{{Username: "a", Password: "p", Token: "t1"}, {Username: "b", Password: "p", Token: "t2"}},
	}
	f.movieCDF = harmonicCDF(len(f.Movies))
	return f
}

func TestMixedWriteShare(t *testing.T) {
	f := testFixture()
	base := func(*rand.Rand) string { return "http://x" }
	for _, share := range []float64{0, 0.05} {
		gen := mixedScenario(share).gen(f, base)
		r := rand.New(rand.NewPCG(1, 2))
		writes, recs := 0, 0
		const n = 40000
		for range n {
			req := gen(r)
			switch {
			case req.Method == http.MethodPost:
				writes++
				if !strings.Contains(req.URL, "/rate/") || req.Header.Get("Authorization") == "" {
					t.Fatalf("write %+v", req)
				}
			case strings.Contains(req.URL, "/for-me/"):
				recs++
			case !strings.HasPrefix(req.URL, "http://x/api/"):
				t.Fatalf("read %+v", req)
			}
		}
		if got := float64(writes) / n; got < share*0.9 || got > share*1.1 {
			t.Errorf("write share %g: %.4f of requests were writes", share, got)
		}
		if got := float64(recs) / n / (1 - share); got < 0.06 || got > 0.08 {
			t.Errorf("recommendations were %.3f of reads, want 0.07", got)
		}
	}
	sum := 0.0
	for _, m := range mixedReads {
		sum += m.share
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("read shares sum to %g", sum)
	}
}

func TestListPagesStayInRange(t *testing.T) {
	f := testFixture() // 45 movies: 3 pages of 20
	r := rand.New(rand.NewPCG(3, 4))
	seen := map[int]int{}
	for range 3000 {
		seen[listPage(r, (f.ListCount+19)/20)]++
	}
	if len(seen) != 3 || seen[1] <= seen[2] || seen[2] <= seen[3] {
		t.Errorf("pages drawn: %v (want 1..3, first more often)", seen)
	}
	if p := listPage(r, 0); p != 1 {
		t.Errorf("empty catalog: page %d", p)
	}
}

// sampleReport is a full run's shape with made-up numbers.
func sampleReport(listWarmCPURatio float64) *Report {
	rep := &Report{Started: time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), Machine: "test machine", Setup: []string{"backend: test"}}
	for _, c := range []int{10, 50, 200} {
		for i, sc := range endpointScenarios() {
			rep.Endpoints = append(rep.Endpoints, Result{
				Measurement: Measurement{Scenario: sc.Name, Conns: c, Requests: 1000, RPS: float64(1000 * (i + 1)),
					P50: time.Millisecond, P95: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond, Codes: map[int]uint64{200: 1000}},
				Scenario: sc, Baseline: 20000, Ratio: float64(i+1) / 20, CPUPerRequest: 40 * time.Microsecond, CPURatio: listWarmCPURatio,
			})
		}
		for _, gz := range []bool{false, true} {
			rep.Bare = append(rep.Bare, Result{Measurement: Measurement{Scenario: "bare", Conns: c, Requests: 5000, RPS: 20000}, Scenario: bareScenario(gz)})
		}
	}
	for _, w := range []float64{0, 0.01, 0.05} {
		rep.Mixed = append(rep.Mixed, Result{Measurement: Measurement{Conns: 200, Requests: 900, RPS: 900 * (1 - 5*w), P99: 50 * time.Millisecond}, Scenario: mixedScenario(w), Ratio: 0.3})
	}
	return rep
}

func TestChecks(t *testing.T) {
	rep := sampleReport(0.9)
	byWhat := map[string]Check{}
	for _, c := range checks(rep, Options{}) {
		byWhat[c.What] = c
	}
	if c := byWhat["errors, every run"]; !c.Pass {
		t.Errorf("no errors, yet %+v", c)
	}
	if c := byWhat["warm list, gzip, share of bare by throughput (lowest over connection counts)"]; c.Pass || !strings.HasPrefix(c.Got, "0.05") {
		t.Errorf("warm list at 0.05 of bare: %+v", c)
	}
	if c := byWhat["warm list, gzip, share of bare by server CPU per answer (lowest)"]; !c.Pass {
		t.Errorf("warm list at 0.9 of bare by CPU: %+v", c)
	}
	if c := byWhat["mixed-5% at 200 connections, p99"]; !c.Pass {
		t.Errorf("mixed p99 50 ms: %+v", c)
	}
	if c, ok := byWhat["list, cache off, p99 at 50 connections"]; !ok || !strings.Contains(c.Want, "SQLite") {
		t.Errorf("a SQLite run's PostgreSQL target should say so: %+v", c)
	}

	// One 500 anywhere fails the errors check.
	rep.Endpoints[3].Errors, rep.Endpoints[3].Codes = 1, map[int]uint64{200: 999, 500: 1}
	for _, c := range checks(rep, Options{}) {
		if c.What == "errors, every run" && (c.Pass || !strings.Contains(c.Got, "500×1")) {
			t.Errorf("one 500: %+v", c)
		}
	}
}

func TestShortGuardFloors(t *testing.T) {
	fails := func(rep *Report) []string {
		var out []string
		for _, c := range checks(rep, Options{Short: true}) {
			if !c.Pass {
				out = append(out, c.What)
			}
		}
		return out
	}
	if f := fails(sampleReport(0.9)); len(f) != 0 {
		t.Errorf("healthy run failed: %v", f)
	}
	// The warm list costing ten times the bare handler's CPU is a gross
	// regression, whatever the throughput ratio says.
	bad := sampleReport(0.9)
	for i := range bad.Endpoints {
		if bad.Endpoints[i].Scenario.Name == "list-warm" {
			bad.Endpoints[i].CPURatio = 0.1
		}
	}
	f := fails(bad)
	if len(f) != 3 || !strings.Contains(f[0], "list-warm at") {
		t.Errorf("regressed warm list: failing checks %v", f)
	}
	// Without CPU figures (servers not ours) the throughput ratio counts.
	remote := sampleReport(0)
	for i := range remote.Endpoints {
		remote.Endpoints[i].CPUPerRequest = 0
	}
	if f := fails(remote); len(f) == 0 {
		t.Error("throughput ratios of 0.05 passed the list-warm floor")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	rep := sampleReport(0.9)
	rep.Checks = checks(rep, Options{})
	rep.AB = &ABResult{Command: "ab -n 1000 -c 10 http://x/api/movies/", Tool: "ab", Requests: 1000, RPS: 3000, P99: 4 * time.Millisecond}
	if err := rep.WriteFiles(dir, "movierec bench"); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Targets", "### 200 connections", "| recommendations-warm |", "## The seed guide's load test",
		"## Mixed workload", "| 5% | 200 |", "![latency](latency.svg)", "![throughput](throughput.svg)", "![mixed](mixed.svg)", "**FAIL**"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, name := range []string{"latency.svg", "throughput.svg", "mixed.svg"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(data))
		var root struct{ XMLName xml.Name }
		if err := d.Decode(&root); err != nil || root.XMLName.Local != "svg" {
			t.Errorf("%s is not an SVG document: %v %v", name, root.XMLName, err)
		}
		if !bytes.Contains(data, []byte("<text")) {
			t.Errorf("%s has no text (axes, legend)", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "results.json")); err != nil {
		t.Error(err)
	}
}

func TestCPUTime(t *testing.T) {
	pid := os.Getpid()
	t0, ok := cpuTime([]int{pid})
	if !ok {
		t.Skip("no /proc here")
	}
	// Burn some CPU, then the figure must have grown.
	var wg sync.WaitGroup
	deadline := time.Now().Add(100 * time.Millisecond)
	wg.Add(1)
	go func() {
		defer wg.Done()
		x := 0
		for time.Now().Before(deadline) {
			x++
		}
		_ = x
	}()
	wg.Wait()
	t1, _ := cpuTime([]int{pid})
	if t1 <= t0 {
		t.Errorf("CPU time did not grow: %s then %s", t0, t1)
	}
	if _, ok := cpuTime([]int{1 << 30}); ok {
		t.Error("a process that does not exist has a CPU time")
	}
	if _, ok := cpuTime(nil); ok {
		t.Error("no processes have a CPU time")
	}
}

func TestPct(t *testing.T) {
	for share, want := range map[float64]string{0: "0%", 0.01: "1%", 0.05: "5%", 0.005: "0.5%"} {
		if got := pct(share); got != want {
			t.Errorf("pct(%g) = %q, want %q", share, got, want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	env := childEnv([]string{"PATH=/bin", "DATABASE_URL=postgres://other", "MOVIEREC_ADMIN_ADDR=127.0.0.1:9", "MOVIEREC_LOG_LEVEL=warn"},
		map[string]string{"DATABASE_URL": "sqlite:///tmp/x.db", "MOVIEREC_ADDR": "127.0.0.1:1"})
	got := strings.Join(env, " ")
	for _, want := range []string{"PATH=/bin", "DATABASE_URL=sqlite:///tmp/x.db", "MOVIEREC_ADDR=127.0.0.1:1", "MOVIEREC_LOG_LEVEL=warn"} {
		if !strings.Contains(got, want) {
			t.Errorf("child environment lacks %s: %s", want, got)
		}
	}
	for _, gone := range []string{"postgres://other", "MOVIEREC_ADMIN_ADDR"} {
		if strings.Contains(got, gone) {
			t.Errorf("child environment keeps %s (servers would collide or measure another database): %s", gone, got)
		}
	}
	if pt := passedThrough([]string{"MOVIEREC_LOG_LEVEL=warn", "HOME=/root"}, nil); len(pt) != 1 || pt[0] != "MOVIEREC_LOG_LEVEL=warn" {
		t.Errorf("passed through: %v", pt)
	}
}

// findDataUsers finds the last of a data set's contiguous user IDs through
// the staff route, signed in as the staff account.
func TestFindDataUsers(t *testing.T) {
	for _, n := range []int{0, 1, 2, 37, 64, 610, 162000} {
		var asked atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/auth/login/" {
				io.WriteString(w, `{"access": "staff-token"}`)
				return
			}
			asked.Add(1)
			var id int
			if _, err := fmt.Sscanf(r.URL.Path, "/api/recommendations/users/%d/", &id); err != nil || r.Header.Get("Authorization") != "Bearer staff-token" {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			if id < 1 || id > n {
				http.Error(w, `{"error": "not found"}`, http.StatusNotFound)
				return
			}
			io.WriteString(w, `{"results": []}`)
		}))
		f := &Fixture{}
		err := f.findDataUsers(context.Background(), api{base: srv.URL, client: srv.Client()}, "staff:secret")
		srv.Close()
		if err != nil || f.DataUsers != n || f.StaffToken != "staff-token" {
			t.Errorf("%d users: found %d (token %q), %v", n, f.DataUsers, f.StaffToken, err)
		}
		if asked.Load() > 40 {
			t.Errorf("%d users: %d probes", n, asked.Load())
		}
	}
	if err := (&Fixture{}).findDataUsers(context.Background(), api{base: "http://127.0.0.1:1", client: http.DefaultClient}, "no-colon"); err == nil {
		t.Error("a staff account without a password was taken")
	}
}
