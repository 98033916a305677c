// Package bench is movierec's load-test harness, behind `movierec bench`.
//
// It starts movierec servers as processes of their own (or targets running
// ones by URL) and a bare net/http server that writes the same bytes as a warm
// list page, runs bounded scenarios against them with vegeta
// (github.com/tsenart/vegeta) as the load generator, interleaving the
// scenarios with the bare baseline so that load from elsewhere on the machine
// hits both, and reports throughput, latency percentiles and errors beside the
// seed guide's targets, as ratios to the baseline, in Markdown and SVG.
package bench

import (
	"context"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request is one HTTP request of a scenario.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Generator makes a scenario's next request from r. Generators are called
// from many goroutines at once, each call with a random source of its own,
// so they must not change shared state.
type Generator func(r *rand.Rand) Request

// Measurement is what one load run measured.
type Measurement struct {
	Scenario string
	Conns    int
	// Elapsed is the measured span: from the first kept request's start to
	// the last one's end.
	Elapsed  time.Duration
	Requests uint64
	// Answered counts every answer of the run, the unmeasured start's too.
	Answered uint64
	// Errors counts transport errors and answers outside 2xx/3xx.
	Errors uint64
	// Codes counts answers by HTTP status (0: no answer).
	Codes map[int]uint64
	// ErrorSamples holds up to three distinct error messages.
	ErrorSamples []string
	// RPS is successful answers per second.
	RPS                float64
	P50, P95, P99, Max time.Duration
}

// Progress is told about a run while it goes: requests answered so far,
// errors so far and time since the run began.
type Progress func(requests, errors uint64, elapsed time.Duration)

// loadSpec bounds one run: either a duration or a number of requests.
type loadSpec struct {
	conns    int
	duration time.Duration // when requests is 0
	requests uint64        // stop after this many requests (the ab shape)
	// skip is an unmeasured start: answers to requests begun in it are not
	// counted (connections open, caches of the first pages fill).
	skip time.Duration
	// gzip sends "Accept-Encoding: gzip" with every request that has no
	// Accept-Encoding of its own; otherwise requests ask for none.
	gzip bool
	// noKeepAlive opens a new connection for every request (as ab does).
	noKeepAlive bool
}

// newClient is the load generator's HTTP client: keep-alive connections, no
// transparent decompression (bodies are read and dropped as they come, as
// wrk and ab do), no redirects followed.
func newClient(conns int, timeout time.Duration, keepAlive bool) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
			DisableKeepAlives:   !keepAlive,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// attack runs gen closed-loop with spec.conns requests in flight (each
// connection sends its next request when the previous answer is read), and
// returns what was measured. ctx cancels the run; a cancelled run returns
// what it measured so far.
func attack(ctx context.Context, name string, gen Generator, spec loadSpec, seed uint64, progress Progress) Measurement {
	conns := max(spec.conns, 1)
	client := newClient(conns, 30*time.Second, !spec.noKeepAlive)
	defer client.CloseIdleConnections()
	attacker := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(conns)),
		vegeta.MaxWorkers(uint64(conns)),
		vegeta.MaxBody(0),
	)
	var calls atomic.Uint64
	rngs := sync.Pool{New: func() any {
		n := calls.Add(1)
		return rand.New(rand.NewPCG(seed, n))
	}}
	targeter := func(t *vegeta.Target) error {
		r := rngs.Get().(*rand.Rand)
		req := gen(r)
		rngs.Put(r)
		t.Method, t.URL, t.Body = req.Method, req.URL, req.Body
		if t.Method == "" {
			t.Method = http.MethodGet
		}
		t.Header = req.Header
		if spec.gzip && (t.Header == nil || t.Header.Get("Accept-Encoding") == "") {
			t.Header = t.Header.Clone()
			if t.Header == nil {
				t.Header = http.Header{}
			}
			t.Header.Set("Accept-Encoding", "gzip")
		}
		return nil
	}
	var pacer vegeta.Pacer = vegeta.Rate{}
	duration := spec.duration
	if spec.requests > 0 {
		pacer = countPacer(spec.requests)
		duration = 0
	}
	stop := context.AfterFunc(ctx, func() { attacker.Stop() })
	defer stop()

	var m vegeta.Metrics
	codes := map[int]uint64{}
	var errs, answered uint64
	began := time.Now()
	var lastTell time.Time
	for res := range attacker.Attack(vegeta.Targeter(targeter), pacer, duration, name) {
		answered++
		if res.Error != "" {
			errs++
		}
		if progress != nil && time.Since(lastTell) >= 200*time.Millisecond {
			lastTell = time.Now()
			progress(answered, errs, time.Since(began))
		}
		if spec.skip > 0 && res.Timestamp.Sub(began) < spec.skip {
			continue
		}
		codes[int(res.Code)]++
		m.Add(res)
	}
	m.Close()
	run := Measurement{
		Scenario: name,
		Conns:    conns,
		Elapsed:  m.Duration + m.Wait,
		Requests: m.Requests,
		Answered: answered,
		Codes:    codes,
		RPS:      m.Throughput,
		P50:      m.Latencies.P50,
		P95:      m.Latencies.P95,
		P99:      m.Latencies.P99,
		Max:      m.Latencies.Max,
	}
	for code, n := range codes {
		if code < 200 || code >= 400 {
			run.Errors += n
		}
	}
	for _, e := range m.Errors {
		if len(run.ErrorSamples) == 3 {
			break
		}
		run.ErrorSamples = append(run.ErrorSamples, e)
	}
	return run
}

// codeList renders status counts as "200×1234 500×2", lowest status first.
func codeList(codes map[int]uint64) string {
	var b []byte
	for i, k := range slices.Sorted(maps.Keys(codes)) {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(k), 10)
		b = append(b, "×"...)
		b = strconv.AppendUint(b, codes[k], 10)
	}
	return string(b)
}

// countPacer sends requests as fast as the connections allow and stops
// after its number of them.
type countPacer uint64

// Pace never waits, and stops at the count.
func (c countPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	return 0, hits >= uint64(c)
}

// Rate is unbounded (0, as vegeta's own infinite rate reports).
func (countPacer) Rate(time.Duration) float64 { return 0 }
