// Package throttle implements per-key request throttling (for example per
// client address or per username) on top of golang.org/x/time/rate, and the
// X-RateLimit-* and Retry-After response headers that go with it.
//
// Each key gets its own token bucket holding at most N tokens and refilling
// at N tokens per Per. A request takes one token. A refused request takes
// nothing: a client that keeps retrying while blocked does not extend its own
// block, and its bucket refills as if it had stayed quiet.
package throttle

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limit is N requests per Per. A Limit with N == 0 is disabled: it allows
// everything and produces no headers.
type Limit struct {
	N   int
	Per time.Duration
}

// Disabled reports whether l allows everything (N == 0).
func (l Limit) Disabled() bool { return l.N == 0 }

// String returns l in a form ParseLimit accepts, such as "5/1m0s" or "off".
func (l Limit) String() string {
	if l.Disabled() {
		return "off"
	}
	return strconv.Itoa(l.N) + "/" + l.Per.String()
}

var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second,
	"second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute,
	"minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour,
	"hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseLimit parses a limit written as N/unit, such as "5/min", "3/minute",
// "100/hour", "10/s" or "10/second", or as N/duration, such as "5/90s".
// Units are s, sec, second, m, min, minute, h, hr, hour, d and day, each
// also with a plural s; the duration form takes anything time.ParseDuration does. "0", "off" and any
// "0/..." give the disabled Limit{}. Parsing ignores case and surrounding
// space. Errors name the bad value.
func ParseLimit(s string) (Limit, error) {
	bad := func(why string) (Limit, error) {
		return Limit{}, fmt.Errorf("throttle: invalid limit %q: %s", s, why)
	}
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "off" || t == "0" {
		return Limit{}, nil
	}
	num, unit, ok := strings.Cut(t, "/")
	if !ok {
		return bad(`want N/unit such as "5/min", or "off"`)
	}
	num, unit = strings.TrimSpace(num), strings.TrimSpace(unit)
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return bad(fmt.Sprintf("count %q is not a non-negative integer", num))
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return bad(fmt.Sprintf("count %q is out of range", num))
	}
	per, ok := units[unit]
	if !ok {
		per, err = time.ParseDuration(unit)
		if err != nil {
			return bad(fmt.Sprintf("unknown unit %q", unit))
		}
		if per <= 0 {
			return bad(fmt.Sprintf("period %q is not positive", unit))
		}
	}
	if n == 0 {
		return Limit{}, nil
	}
	return Limit{N: n, Per: per}, nil
}

// Tuning for lazy pruning; variables so tests can observe sweeps cheaply.
var (
	// minSweepCalls is the least number of calls between two sweeps.
	minSweepCalls = 1024
	// minShrinkLen is the map size below which a map is never reallocated.
	minShrinkLen = 1024
)

// eps absorbs floating-point error in token counts. rate.Limiter keeps a
// float64 token count, so a bucket that should hold exactly 1 token may hold
// 0.9999999999999999; token counts within eps of an integer count as that
// integer.
const eps = 1e-9

var limiterIDs atomic.Uint64

// Limiter throttles keys independently, one rate.Limiter per key. It is safe
// for concurrent use. It starts no goroutines and needs no Close: keys whose
// bucket is full again are forgotten by occasional sweeps during calls, at
// most one sweep per max(1024, number of keys) calls, so memory stays
// proportional to the keys seen recently and the cost per call is constant
// on average.
type Limiter struct {
	// Shared buckets (see Share); nil: this process's own.
	store Store
	name  string
	onErr func(error)

	lim   Limit
	rate  rate.Limit
	now   func() time.Time
	id    uint64 // lock order for Check
	mu    sync.Mutex
	keys  map[string]*rate.Limiter
	calls int // since the last sweep
	peak  int // largest len(keys) since the map was allocated
}

// New returns a Limiter allowing l.N requests per l.Per for each key, with a
// burst of l.N. now supplies the current time; nil means time.Now. A
// disabled l (N == 0) gives a Limiter that allows everything. New panics if
// l.N is negative or l.Per is not positive for N > 0.
func New(l Limit, now func() time.Time) *Limiter {
	if l.N < 0 || (l.N > 0 && l.Per <= 0) {
		panic(fmt.Sprintf("throttle: invalid limit %d per %v", l.N, l.Per))
	}
	if now == nil {
		now = time.Now
	}
	lim := &Limiter{
		lim:  l,
		now:  now,
		id:   limiterIDs.Add(1),
		keys: make(map[string]*rate.Limiter),
	}
	if l.Disabled() {
		lim.lim.Per = 0
	} else {
		lim.rate = rate.Limit(float64(l.N) / l.Per.Seconds())
	}
	return lim
}

// Store keeps token buckets that several instances share (Redis, through
// cache.Cache). TakeTokens decides one request against the buckets keys,
// bucket i holding n[i] tokens and gaining one every per[i]/n[i]: all or
// nothing, it takes one token from each when every one has one. It
// returns the tokens each bucket holds after the decision.
type Store interface {
	TakeTokens(ctx context.Context, keys []string, n []int, per []time.Duration) (allowed bool, tokens []float64, err error)
}

// storeTimeout bounds a shared decision; past it, or on any error, the
// limiter decides with this process's buckets.
const storeTimeout = 250 * time.Millisecond

// Share makes l keep its buckets in s under name (unique among the
// limiters sharing s), so that N instances together allow l's limit, not
// N times it. When s fails, l falls back to this process's own buckets
// and reports the error to onErr (nil: ignored). Call it before use.
func (l *Limiter) Share(name string, s Store, onErr func(error)) {
	l.name, l.store, l.onErr = name, s, onErr
}

// Limit returns the limit l enforces; a nil l is disabled.
func (l *Limiter) Limit() Limit {
	if l == nil {
		return Limit{}
	}
	return l.lim
}

// Allow takes one token from key's bucket if it has one and reports the
// decision with what the headers need. A refused call takes nothing.
func (l *Limiter) Allow(key string) Decision {
	return Check(Pair{l, key})
}

// Decision is the outcome of Allow or Check.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Limit is the bucket size N; 0 when no enabled limiter took part.
	Limit int
	// Remaining is the number of whole tokens left, never negative.
	Remaining int
	// RetryAfter is how long until the request would be allowed; 0 when
	// Allowed.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
}

// SetHeaders writes X-RateLimit-Limit, X-RateLimit-Remaining,
// X-RateLimit-Reset (seconds until the bucket is full, rounded up) and, when
// d is a refusal, Retry-After (whole seconds, rounded up, at least 1). It
// writes nothing when d.Limit is 0 (throttling disabled).
func (d Decision) SetHeaders(h http.Header) {
	if d.Limit <= 0 {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
	}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// moreRestrictive reports whether a is more restrictive than b: a refusal
// beats an allowance, then fewer Remaining, then a longer RetryAfter, then a
// longer Reset.
func moreRestrictive(a, b Decision) bool {
	switch {
	case a.Allowed != b.Allowed:
		return !a.Allowed
	case a.Remaining != b.Remaining:
		return a.Remaining < b.Remaining
	case a.RetryAfter != b.RetryAfter:
		return a.RetryAfter > b.RetryAfter
	default:
		return a.Reset > b.Reset
	}
}

// Pair names one key of one Limiter for Check.
type Pair struct {
	L   *Limiter
	Key string
}

// Check decides one request against several (limiter, key) pairs at once,
// such as a login checked per client address and per username. It is all
// or nothing: if every pair has a token, it takes one from each and allows;
// otherwise it takes none and refuses. It returns the most restrictive
// decision: a refusal beats an allowance, then fewer Remaining, then a
// longer RetryAfter. A disabled pair (nil *Limiter or N == 0) always allows
// and is left out of the result; with no enabled pair the result is
// Decision{Allowed: true}, which writes no headers. A pair listed twice
// needs two tokens.
func Check(pairs ...Pair) Decision {
	var active []Pair
	for _, p := range pairs {
		if p.L != nil && !p.L.lim.Disabled() {
			active = append(active, p)
		}
	}
	if len(active) == 0 {
		return Decision{Allowed: true}
	}
	if d, ok := checkShared(active); ok {
		return d
	}

	// Lock every limiter involved, in a fixed order, so that the decision
	// and the consumption are atomic across them.
	ls := make([]*Limiter, 0, len(active))
	for _, p := range active {
		ls = append(ls, p.L)
	}
	slices.SortFunc(ls, func(a, b *Limiter) int { return cmp.Compare(a.id, b.id) })
	ls = slices.Compact(ls)
	nows := make(map[*Limiter]time.Time, len(ls))
	for _, l := range ls {
		l.mu.Lock()
		defer l.mu.Unlock()
		nows[l] = l.now()
	}

	// Tokens each pair sees, after what earlier duplicates of it would take.
	tokens := make([]float64, len(active))
	all := true
	for i, p := range active {
		t := p.L.tokensLocked(p.Key, nows[p.L])
		for _, q := range active[:i] {
			if q == p {
				t--
			}
		}
		tokens[i] = t
		all = all && t >= 1
	}

	var d Decision
	found := false
	for i, p := range active {
		l := p.L
		var di Decision
		if all {
			b := l.keys[p.Key]
			if b == nil {
				b = rate.NewLimiter(l.rate, l.lim.N)
				l.keys[p.Key] = b
				l.peak = max(l.peak, len(l.keys))
			}
			// ReserveN always takes the token, even if float error left
			// the bucket a hair short of one.
			b.ReserveN(nows[l], 1)
			di = l.decision(true, tokens[i]-1)
		} else if tokens[i] < 1 {
			di = l.decision(false, tokens[i])
		} else {
			continue // had a token, but another pair refused
		}
		if !found || moreRestrictive(di, d) {
			d, found = di, true
		}
	}

	for _, l := range ls {
		l.calls++
		if l.calls >= max(minSweepCalls, len(l.keys)) {
			l.sweepLocked(nows[l])
		}
	}
	return d
}

// tokensLocked returns the tokens in key's bucket at now, snapped to an
// integer when within eps of one. Unknown keys have a full bucket.
func (l *Limiter) tokensLocked(key string, now time.Time) float64 {
	b := l.keys[key]
	if b == nil {
		return float64(l.lim.N)
	}
	return snap(b.TokensAt(now))
}

func snap(t float64) float64 {
	if r := math.Round(t); math.Abs(t-r) < eps {
		return r
	}
	return t
}

// decision describes a bucket left holding tokens.
func (l *Limiter) decision(allowed bool, tokens float64) Decision {
	tokens = snap(tokens)
	d := Decision{
		Allowed:   allowed,
		Limit:     l.lim.N,
		Remaining: max(int(math.Floor(tokens)), 0),
		Reset:     l.durationFor(float64(l.lim.N) - tokens),
	}
	if !allowed {
		d.Remaining = 0
		d.RetryAfter = max(l.durationFor(1-tokens), time.Nanosecond)
	}
	return d
}

// durationFor returns how long the bucket takes to gain tokens.
func (l *Limiter) durationFor(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(math.Round(tokens * float64(l.lim.Per) / float64(l.lim.N)))
}

// sweepLocked forgets the keys whose bucket is full at now: a full bucket is
// the same as a new one. If the map has shrunk well below its peak it is
// reallocated, since Go maps do not release memory on delete.
func (l *Limiter) sweepLocked(now time.Time) {
	full := float64(l.lim.N)
	for k, b := range l.keys {
		if snap(b.TokensAt(now)) >= full {
			delete(l.keys, k)
		}
	}
	l.calls = 0
	if l.peak > minShrinkLen && len(l.keys) < l.peak/4 {
		m := make(map[string]*rate.Limiter, len(l.keys))
		for k, b := range l.keys {
			m[k] = b
		}
		l.keys = m
		l.peak = len(m)
	}
}

// ClientIP returns the client address of r: the host part of r.RemoteAddr,
// or, when trustProxy is true, the left-most valid IP address in the
// X-Forwarded-For headers, falling back to r.RemoteAddr. Addresses are in
// canonical form (IPv4-mapped IPv6 addresses as IPv4, IPv6 zones dropped),
// so one client always gets the same key. Set trustProxy only behind a proxy
// that overwrites X-Forwarded-For: clients can put anything there. If
// RemoteAddr holds no IP address, its host part is returned unchanged.
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, f := range strings.Split(v, ",") {
				if a, ok := parseIP(strings.TrimSpace(f)); ok {
					return a
				}
			}
		}
	}
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if a, ok := parseIP(host); ok {
		return a
	}
	return host
}

// parseIP parses s as an IP address, with or without a port, and returns
// it in canonical form.
func parseIP(s string) (string, bool) {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return "", false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone("").String(), true
}

// checkShared decides with the shared store when every active limiter
// shares the same one; ok is false when it cannot (then the caller
// decides locally).
func checkShared(active []Pair) (Decision, bool) {
	store := active[0].L.store
	if store == nil {
		return Decision{}, false
	}
	keys := make([]string, len(active))
	n := make([]int, len(active))
	per := make([]time.Duration, len(active))
	for i, p := range active {
		if p.L.store != store {
			return Decision{}, false
		}
		keys[i], n[i], per[i] = p.L.name+":"+p.Key, p.L.lim.N, p.L.lim.Per
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	allowed, tokens, err := store.TakeTokens(ctx, keys, n, per)
	if err != nil {
		if f := active[0].L.onErr; f != nil {
			f(err)
		}
		return Decision{}, false
	}
	var d Decision
	found := false
	for i, p := range active {
		if !allowed && tokens[i] >= 1 {
			continue // had a token, but another bucket refused
		}
		di := p.L.decision(allowed, tokens[i])
		if !found || moreRestrictive(di, d) {
			d, found = di, true
		}
	}
	return d, true
}
