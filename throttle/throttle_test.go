package throttle

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock; it only moves when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// headers writes d's headers through an httptest.ResponseRecorder and returns
// what a client would receive.
func headers(t *testing.T, d Decision) http.Header {
	t.Helper()
	rec := httptest.NewRecorder()
	d.SetHeaders(rec.Header())
	rec.WriteHeader(http.StatusOK)
	return rec.Result().Header
}

// intHeader parses header name from h; -1 means absent.
func intHeader(t *testing.T, h http.Header, name string) int {
	t.Helper()
	v := h.Get(name)
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("header %s = %q: %v", name, v, err)
	}
	return n
}

// tokens returns the tokens key holds in l now (N for an unknown key).
func tokens(l *Limiter, key string) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tokensLocked(key, l.now())
}

func size(l *Limiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func ceilSec(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func TestParseLimit(t *testing.T) {
	good := []struct {
		in   string
		want Limit
	}{
		{"5/min", Limit{5, time.Minute}},
		{"3/minute", Limit{3, time.Minute}},
		{"3/minutes", Limit{3, time.Minute}},
		{"100/hour", Limit{100, time.Hour}},
		{"100/h", Limit{100, time.Hour}},
		{"10/s", Limit{10, time.Second}},
		{"10/second", Limit{10, time.Second}},
		{"10/sec", Limit{10, time.Second}},
		{"2/day", Limit{2, 24 * time.Hour}},
		{"5/90s", Limit{5, 90 * time.Second}},
		{"5/1m30s", Limit{5, 90 * time.Second}},
		{" 5 / MIN ", Limit{5, time.Minute}},
		{"0", Limit{}},
		{"off", Limit{}},
		{"OFF", Limit{}},
		{"0/min", Limit{}},
	}
	for _, tc := range good {
		got, err := ParseLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v, nil", tc.in, got, err, tc.want)
		}
	}
	bad := []string{
		"", "5", "min", "/min", "5/", "-5/min", "+5/min", "5.5/min", "x/min",
		"5/fortnight", "5/ms", "5/0s", "5/-1m", "5/min/s", "99999999999999999999/s",
		"on", "00x",
	}
	for _, in := range bad {
		got, err := ParseLimit(in)
		if err == nil {
			t.Errorf("ParseLimit(%q) = %v, nil; want error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseLimit(%q) error %q does not name the value", in, err)
		}
	}
}

func TestLimitStringRoundTrip(t *testing.T) {
	for _, l := range []Limit{{}, {5, time.Minute}, {7, 90 * time.Second}, {1, time.Hour}} {
		got, err := ParseLimit(l.String())
		if err != nil || got != l {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", l.String(), got, err, l)
		}
	}
}

func TestNewPanicsOnInvalidLimit(t *testing.T) {
	for _, l := range []Limit{{-1, time.Minute}, {5, 0}, {5, -time.Second}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", l)
				}
			}()
			New(l, nil)
		}()
	}
}

func TestBurstThenRefusal(t *testing.T) {
	for _, lim := range []Limit{
		{5, time.Minute},
		{3, time.Minute},
		{10, time.Second},
		{7, 90 * time.Second}, // Per/N = 12.857142857s, not whole
		{1, time.Hour},
	} {
		t.Run(lim.String(), func(t *testing.T) {
			c := newClock()
			l := New(lim, c.Now)
			step := lim.Per / time.Duration(lim.N)

			for i := range lim.N {
				d := l.Allow("k")
				want := lim.N - 1 - i
				if !d.Allowed || d.Limit != lim.N || d.Remaining != want || d.RetryAfter != 0 {
					t.Fatalf("call %d: %+v; want allowed, Limit %d, Remaining %d", i+1, d, lim.N, want)
				}
				h := headers(t, d)
				wantReset := lim.Per * time.Duration(i+1) / time.Duration(lim.N)
				if got := intHeader(t, h, "X-RateLimit-Limit"); got != lim.N {
					t.Errorf("call %d: X-RateLimit-Limit = %d, want %d", i+1, got, lim.N)
				}
				if got := intHeader(t, h, "X-RateLimit-Remaining"); got != want {
					t.Errorf("call %d: X-RateLimit-Remaining = %d, want %d", i+1, got, want)
				}
				if got := intHeader(t, h, "X-RateLimit-Reset"); got != ceilSec(wantReset) {
					t.Errorf("call %d: X-RateLimit-Reset = %d, want %d", i+1, got, ceilSec(wantReset))
				}
				if got := intHeader(t, h, "Retry-After"); got != -1 {
					t.Errorf("call %d: Retry-After = %d on an allowed request", i+1, got)
				}
			}

			// Refused, repeatedly: hammering must not extend the block.
			for i := range 20 {
				d := l.Allow("k")
				if d.Allowed || d.Remaining != 0 || absDur(d.RetryAfter-step) > time.Nanosecond ||
					absDur(d.Reset-lim.Per) > time.Nanosecond {
					t.Fatalf("refusal %d: %+v; want refused, RetryAfter %v, Reset %v", i+1, d, step, lim.Per)
				}
				h := headers(t, d)
				if got := intHeader(t, h, "Retry-After"); got != ceilSec(step) {
					t.Errorf("Retry-After = %d, want %d", got, ceilSec(step))
				}
				if got := intHeader(t, h, "X-RateLimit-Remaining"); got != 0 {
					t.Errorf("X-RateLimit-Remaining = %d, want 0", got)
				}
				if got := intHeader(t, h, "X-RateLimit-Reset"); got != ceilSec(lim.Per) {
					t.Errorf("X-RateLimit-Reset = %d, want %d", got, ceilSec(lim.Per))
				}
			}

			// Halfway through the wait, still refused with half the wait left.
			c.Advance(step / 2)
			d := l.Allow("k")
			if d.Allowed || absDur(d.RetryAfter-(step-step/2)) > time.Nanosecond {
				t.Fatalf("halfway: %+v; want refused with RetryAfter %v", d, step-step/2)
			}
			// Exactly when RetryAfter said, one request gets through.
			c.Advance(d.RetryAfter)
			if d := l.Allow("k"); !d.Allowed || d.Remaining != 0 {
				t.Fatalf("after RetryAfter: %+v; want allowed with Remaining 0", d)
			}
			if d := l.Allow("k"); d.Allowed {
				t.Fatalf("second call after RetryAfter: %+v; want refused", d)
			}
		})
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestRefillAfterWindow(t *testing.T) {
	for _, lim := range []Limit{{5, time.Minute}, {3, time.Minute}, {100, time.Hour}, {7, 90 * time.Second}, {10, time.Second}} {
		t.Run(lim.String(), func(t *testing.T) {
			c := newClock()
			l := New(lim, c.Now)
			for range 3 { // several windows: float error must not build up
				for i := range lim.N {
					if d := l.Allow("k"); !d.Allowed {
						t.Fatalf("call %d of burst: %+v", i+1, d)
					}
				}
				if d := l.Allow("k"); d.Allowed {
					t.Fatalf("call past burst allowed: %+v", d)
				}
				c.Advance(lim.Per - time.Millisecond)
				if d := l.Allow("k"); !d.Allowed || d.Remaining != lim.N-2 {
					// Almost a full window: all but the last token are back.
					t.Fatalf("just before the window ends: %+v; want allowed with Remaining %d", d, lim.N-2)
				}
				c.Advance(lim.Per)
				if d := l.Allow("k"); !d.Allowed || d.Remaining != lim.N-1 ||
					absDur(d.Reset-lim.Per/time.Duration(lim.N)) > time.Nanosecond {
					t.Fatalf("after a full window: %+v; want allowed, full burst minus one", d)
				}
				c.Advance(lim.Per) // full again for the next round
			}
		})
	}
}

func TestIndependentKeys(t *testing.T) {
	c := newClock()
	l := New(Limit{2, time.Minute}, c.Now)
	steps := []struct {
		key       string
		allowed   bool
		remaining int
	}{
		{"a", true, 1},
		{"a", true, 0},
		{"a", false, 0},
		{"b", true, 1},
		{"a", false, 0},
		{"b", true, 0},
		{"c", true, 1},
		{"b", false, 0},
	}
	for i, s := range steps {
		d := l.Allow(s.key)
		if d.Allowed != s.allowed || d.Remaining != s.remaining {
			t.Errorf("step %d Allow(%q) = %+v; want Allowed %v Remaining %d", i, s.key, d, s.allowed, s.remaining)
		}
	}
}

func TestDisabled(t *testing.T) {
	for name, l := range map[string]*Limiter{
		"zero limit":  New(Limit{}, nil),
		"parsed off":  New(mustParse(t, "off"), nil),
		"nil limiter": nil,
	} {
		t.Run(name, func(t *testing.T) {
			for i := range 1000 {
				d := l.Allow("k")
				if d != (Decision{Allowed: true}) {
					t.Fatalf("call %d: %+v; want Decision{Allowed: true}", i, d)
				}
				if h := headers(t, d); len(h) != 0 {
					t.Fatalf("disabled decision wrote headers %v", h)
				}
			}
			if got := l.Limit(); !got.Disabled() {
				t.Errorf("Limit() = %v, want disabled", got)
			}
		})
	}
}

func mustParse(t *testing.T, s string) Limit {
	t.Helper()
	l, err := ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSetHeaders(t *testing.T) {
	tests := []struct {
		d                              Decision
		limit, remaining, reset, retry int // -1: header absent
	}{
		{Decision{Allowed: true, Limit: 5, Remaining: 4, Reset: 12 * time.Second}, 5, 4, 12, -1},
		{Decision{Allowed: true, Limit: 5, Remaining: 4, Reset: 12*time.Second + 1}, 5, 4, 13, -1},
		{Decision{Allowed: false, Limit: 5, RetryAfter: 12 * time.Second, Reset: time.Minute}, 5, 0, 60, 12},
		{Decision{Allowed: false, Limit: 5, RetryAfter: 11*time.Second + 1, Reset: time.Minute}, 5, 0, 60, 12},
		{Decision{Allowed: false, Limit: 10, RetryAfter: time.Nanosecond, Reset: 100 * time.Millisecond}, 10, 0, 1, 1},
		{Decision{Allowed: false, Limit: 10}, 10, 0, 0, 1},                          // Retry-After at least 1
		{Decision{Allowed: true, Limit: 3, Remaining: -2}, 3, 0, 0, -1},             // never negative
		{Decision{Allowed: false, Limit: 0, RetryAfter: time.Hour}, -1, -1, -1, -1}, // disabled
		{Decision{Allowed: true}, -1, -1, -1, -1},
	}
	for _, tc := range tests {
		h := headers(t, tc.d)
		got := []int{
			intHeader(t, h, "X-RateLimit-Limit"),
			intHeader(t, h, "X-RateLimit-Remaining"),
			intHeader(t, h, "X-RateLimit-Reset"),
			intHeader(t, h, "Retry-After"),
		}
		want := []int{tc.limit, tc.remaining, tc.reset, tc.retry}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%+v: headers (limit, remaining, reset, retry-after) = %v, want %v", tc.d, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	const addr, user = "203.0.113.7", "alice"
	type want struct {
		allowed   bool
		limit     int
		remaining int
		retry     time.Duration
		addrLeft  float64 // tokens left afterwards
		userLeft  float64
	}
	tests := []struct {
		name               string
		addrUsed, userUsed int // tokens taken beforehand
		want               want
	}{
		// addr: 5/min (12s a token), user: 3/min (20s a token).
		{"both fresh", 0, 0, want{true, 3, 2, 0, 4, 2}},
		{"addr tighter", 4, 0, want{true, 5, 0, 0, 0, 2}},
		{"user tighter", 1, 2, want{true, 3, 0, 0, 3, 0}},
		{"equal remaining", 3, 1, want{true, 5, 1, 0, 1, 1}},
		{"user exhausted", 0, 3, want{false, 3, 0, 20 * time.Second, 5, 0}},
		{"addr exhausted", 5, 0, want{false, 5, 0, 12 * time.Second, 0, 3}},
		{"both exhausted", 5, 3, want{false, 3, 0, 20 * time.Second, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			byAddr := New(Limit{5, time.Minute}, c.Now)
			byUser := New(Limit{3, time.Minute}, c.Now)
			for range tc.addrUsed {
				byAddr.Allow(addr)
			}
			for range tc.userUsed {
				byUser.Allow(user) // e.g. from other addresses
			}
			// Both orders must give the same answer; the first call must
			// not change the state the second one sees if refused.
			for _, pairs := range [][]Pair{
				{{byAddr, addr}, {byUser, user}},
				{{byUser, user}, {byAddr, addr}},
			} {
				d := Check(pairs...)
				w := tc.want
				if d.Allowed != w.allowed || d.Limit != w.limit || d.Remaining != w.remaining || d.RetryAfter != w.retry {
					t.Errorf("Check = %+v; want Allowed %v Limit %d Remaining %d RetryAfter %v",
						d, w.allowed, w.limit, w.remaining, w.retry)
				}
				if got := tokens(byAddr, addr); got != w.addrLeft {
					t.Errorf("addr tokens left = %v, want %v", got, w.addrLeft)
				}
				if got := tokens(byUser, user); got != w.userLeft {
					t.Errorf("user tokens left = %v, want %v", got, w.userLeft)
				}
				if !w.allowed {
					h := headers(t, d)
					if got := intHeader(t, h, "Retry-After"); got != ceilSec(w.retry) {
						t.Errorf("Retry-After = %d, want %d", got, ceilSec(w.retry))
					}
				}
				if w.allowed {
					break // the second order would see a changed state
				}
			}
		})
	}
}

func TestCheckDisabledAndDuplicates(t *testing.T) {
	c := newClock()
	on := New(Limit{2, time.Minute}, c.Now)
	off := New(Limit{}, c.Now)

	if d := Check(); d != (Decision{Allowed: true}) {
		t.Errorf("Check() = %+v", d)
	}
	if d := Check(Pair{off, "x"}, Pair{nil, "y"}); d != (Decision{Allowed: true}) {
		t.Errorf("Check(all disabled) = %+v", d)
	}
	// Disabled pairs are ignored in the result.
	d := Check(Pair{off, "x"}, Pair{on, "k"}, Pair{nil, "y"})
	if !d.Allowed || d.Limit != 2 || d.Remaining != 1 {
		t.Errorf("Check(off, on, nil) = %+v; want Limit 2 Remaining 1", d)
	}
	// The same pair twice needs two tokens; only one is left, so it is
	// refused and nothing is taken.
	d = Check(Pair{on, "k"}, Pair{on, "k"})
	if d.Allowed || d.RetryAfter != 30*time.Second {
		t.Errorf("Check(k, k) with 1 token = %+v; want refused, RetryAfter 30s", d)
	}
	if got := tokens(on, "k"); got != 1 {
		t.Errorf("tokens after refused duplicate = %v, want 1", got)
	}
	d = Check(Pair{on, "j"}, Pair{on, "j"})
	if !d.Allowed || d.Remaining != 0 || tokens(on, "j") != 0 {
		t.Errorf("Check(j, j) with 2 tokens = %+v, tokens %v; want allowed, 0 left", d, tokens(on, "j"))
	}
}

func TestCheckPrefersFewerRemaining(t *testing.T) {
	// Fewer Remaining beats a longer Reset: the per-second limiter is left
	// with 1 token (full in 0.5s), the per-minute one with 4 (full in 12s).
	c := newClock()
	perMin := New(Limit{5, time.Minute}, c.Now)
	perSec := New(Limit{2, time.Second}, c.Now)
	d := Check(Pair{perMin, "a"}, Pair{perSec, "b"})
	want := Decision{Allowed: true, Limit: 2, Remaining: 1, Reset: 500 * time.Millisecond}
	if d != want {
		t.Errorf("Check = %+v, want %+v", d, want)
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		remote string
		xff    []string
		trust  bool
		want   string
	}{
		{"192.0.2.1:1234", nil, false, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"203.0.113.9"}, false, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"203.0.113.9"}, true, "203.0.113.9"},
		{"192.0.2.1:1234", []string{"203.0.113.9, 10.0.0.1"}, true, "203.0.113.9"},
		{"192.0.2.1:1234", []string{" 203.0.113.9 ,10.0.0.1"}, true, "203.0.113.9"},
		{"192.0.2.1:1234", []string{"garbage, 203.0.113.9"}, true, "203.0.113.9"},
		{"192.0.2.1:1234", []string{"unknown", "203.0.113.9"}, true, "203.0.113.9"},
		{"192.0.2.1:1234", []string{"garbage"}, true, "192.0.2.1"},
		{"192.0.2.1:1234", []string{""}, true, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"999.1.1.1, <script>"}, true, "192.0.2.1"},
		{"192.0.2.1:1234", nil, true, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"203.0.113.9:8080"}, true, "203.0.113.9"},
		{"192.0.2.1:1234", []string{"2001:DB8:0:0:0:0:0:1"}, true, "2001:db8::1"},
		{"192.0.2.1:1234", []string{"[2001:db8::1]:443"}, true, "2001:db8::1"},
		{"192.0.2.1:1234", []string{"[2001:db8::1]"}, true, "2001:db8::1"},
		{"192.0.2.1:1234", []string{"::ffff:203.0.113.9"}, true, "203.0.113.9"},
		{"[2001:0db8:0000::0001]:443", nil, false, "2001:db8::1"},
		{"[2001:db8::1]:443", []string{"198.51.100.2"}, false, "2001:db8::1"},
		{"[fe80::1%eth0]:443", nil, false, "fe80::1"},
		{"[::ffff:192.0.2.1]:80", nil, false, "192.0.2.1"},
		{"192.0.2.1", nil, false, "192.0.2.1"}, // no port
		{"2001:db8::1", nil, false, "2001:db8::1"},
		{"not-an-ip:80", nil, false, "not-an-ip"},
		{"", nil, false, ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, tc.trust); got != tc.want {
			t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q, trust %v) = %q, want %q",
				tc.remote, tc.xff, tc.trust, got, tc.want)
		}
	}
}

func TestConcurrentOneKey(t *testing.T) {
	for _, n := range []int{1, 5, 37} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			c := newClock() // frozen: never advanced
			l := New(Limit{n, time.Minute}, c.Now)
			var wg sync.WaitGroup
			var mu sync.Mutex
			allowed := 0
			for range 100 {
				wg.Go(func() {
					if l.Allow("k").Allowed {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if allowed != n {
				t.Errorf("%d of 100 concurrent calls allowed, want exactly %d", allowed, n)
			}
		})
	}
}

func TestConcurrentCheck(t *testing.T) {
	// Opposite pair orders in parallel: must not deadlock and must be
	// all-or-nothing across the two limiters.
	c := newClock()
	byAddr := New(Limit{10, time.Minute}, c.Now)
	byUser := New(Limit{7, time.Minute}, c.Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 100 {
		wg.Go(func() {
			pairs := []Pair{{byAddr, "a"}, {byUser, "u"}}
			if i%2 == 1 {
				pairs[0], pairs[1] = pairs[1], pairs[0]
			}
			if Check(pairs...).Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 7 {
		t.Errorf("%d allowed, want 7", allowed)
	}
	if got := tokens(byAddr, "a"); got != 3 {
		t.Errorf("address tokens left = %v, want 3 (refusals must not consume)", got)
	}
}

func TestPruneKeepsMapBounded(t *testing.T) {
	const keys = 100_000
	c := newClock()
	l := New(Limit{5, time.Minute}, c.Now)
	for i := range keys {
		l.Allow("k" + strconv.Itoa(i))
	}
	// Nothing is full yet, so sweeps so far must have kept every key.
	if got := size(l); got != keys {
		t.Fatalf("map size before the window passed = %d, want %d", got, keys)
	}

	c.Advance(time.Minute / 2)
	for range 5 {
		l.Allow("recent") // empty: still not full when the rest are
	}
	c.Advance(time.Minute / 2)

	calls := 0
	for size(l) > 10 {
		l.Allow("hot")
		calls++
		if calls > keys+minSweepCalls {
			t.Fatalf("map size still %d after %d calls", size(l), calls)
		}
	}
	l.mu.Lock()
	_, recent := l.keys["recent"]
	_, hot := l.keys["hot"]
	peak := l.peak
	l.mu.Unlock()
	if !recent || !hot {
		t.Errorf("sweep forgot keys whose bucket is not full: recent %v, hot %v", recent, hot)
	}
	if peak > 10 {
		t.Errorf("peak = %d after shrinking; want the map reallocated", peak)
	}
	// A forgotten key starts again with a full bucket.
	if d := l.Allow("k1"); !d.Allowed || d.Remaining != 4 {
		t.Errorf("Allow(forgotten key) = %+v; want full bucket", d)
	}
}

func TestSweepForgetsOnlyFullBuckets(t *testing.T) {
	c := newClock()
	l := New(Limit{4, time.Minute}, c.Now) // a token every 15s
	l.Allow("one")                         // full again 15s later
	for range 4 {
		l.Allow("all") // full again 60s later
	}
	tests := []struct {
		advance time.Duration
		want    []string
	}{
		{0, []string{"all", "one"}},
		{15*time.Second - time.Microsecond, []string{"all", "one"}},
		{time.Microsecond, []string{"all"}},
		{45*time.Second - 2*time.Microsecond, []string{"all"}},
		{time.Microsecond, []string{"all"}},
		{time.Microsecond, nil},
	}
	for i, tc := range tests {
		c.Advance(tc.advance)
		l.mu.Lock()
		l.sweepLocked(c.Now())
		got := slices.Sorted(maps.Keys(l.keys))
		l.mu.Unlock()
		if !slices.Equal(got, tc.want) {
			t.Errorf("step %d: keys after sweep = %v, want %v", i, got, tc.want)
		}
	}
}
