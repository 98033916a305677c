package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options configures a bench run. Zero values take the defaults of
// `movierec bench` (see Defaults).
type Options struct {
	// Command makes the command that runs `movierec ARGS...`: the bench
	// starts servers, tools and the bare baseline with it (normally
	// exec.Command(os.Executable(), args...)). Its Env, if any, comes
	// before the bench's own variables.
	Command func(args ...string) *exec.Cmd
	// Env is the environment the started processes inherit (MOVIEREC_*
	// variables in it reach the servers; the report lists them).
	Env []string

	// Data is a MovieLens directory to import; Ratings > 0 generates a
	// data set of that many ratings instead (movierec demo-data -out).
	Data    string
	Ratings int
	// Postgres is a PostgreSQL server URL: the bench creates a fresh
	// database on it and drops it at the end. Empty: SQLite in a temp dir.
	Postgres string
	// Redis is the servers' REDIS_URL (empty: the in-process cache).
	Redis string
	// Instances is how many servers of each kind (1 or 2) share the
	// database; load is spread over them.
	Instances int

	// URLs, when set, are running servers to measure instead of starting
	// any (their answer cache as configured). UncachedURLs are servers of
	// the same database with MOVIEREC_CACHE=false, for the scenarios that
	// measure the work behind an answer; without them those run on URLs.
	URLs, UncachedURLs []string

	// Conns are the connection counts of the endpoint scenarios.
	Conns []int
	// Duration is one endpoint run's length; MixedDuration one mixed run's,
	// at MixedConns connections, for each of WriteShares.
	Duration      time.Duration
	MixedDuration time.Duration
	MixedConns    int
	WriteShares   []float64
	// NoMixed leaves the mixed workload out (for runs about endpoints).
	NoMixed bool
	// Scenarios, when set, keeps only the endpoint scenarios named (none
	// of them for ["none"]); the mixed workload runs whatever it says.
	Scenarios []string
	// Users is how many accounts are registered for logins, rating writes
	// and recommendations, each with RatingsPerUser ratings.
	Users, RatingsPerUser int
	// Staff is "NAME:PASSWORD" of a staff account of the servers at URLs,
	// for the scenario that asks for the data set's users' recommendations
	// (recommendations-data); without it that scenario is left out there.
	// Servers the bench starts get a staff account of their own.
	Staff string
	// Short is the regression guard: a subset at one connection count,
	// about a minute in all, checked against floors (see guardFloors).
	Short bool
	// Seed makes the request sequences repeatable.
	Seed uint64
	// TempDir holds databases, data and logs (default: a new one, removed
	// at the end unless KeepTemp).
	TempDir  string
	KeepTemp bool
	// Progress gets a live progress line (rewritten in place when
	// Terminal) and the stage messages.
	Progress io.Writer
	Terminal bool
}

// Defaults fills the zero fields of o: the full run, or the short guard.
func (o Options) Defaults() Options {
	if o.Instances == 0 {
		o.Instances = 1
	}
	if o.Short {
		o.Conns = orSlice(o.Conns, []int{10})
		o.Duration = or(o.Duration, 1500*time.Millisecond)
		o.MixedDuration = or(o.MixedDuration, 3*time.Second)
		o.MixedConns = or(o.MixedConns, 50)
		o.WriteShares = orSlice(o.WriteShares, []float64{0, 0.05})
		o.Users = or(o.Users, 20)
	} else {
		o.Conns = orSlice(o.Conns, []int{10, 50, 200})
		o.Duration = or(o.Duration, 5*time.Second)
		o.MixedDuration = or(o.MixedDuration, 60*time.Second)
		o.MixedConns = or(o.MixedConns, 200)
		o.WriteShares = orSlice(o.WriteShares, []float64{0, 0.01, 0.05})
		o.Users = or(o.Users, 100)
	}
	o.RatingsPerUser = or(o.RatingsPerUser, 10)
	o.Seed = or(o.Seed, 42)
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func orSlice[T any](v, def []T) []T {
	if len(v) == 0 {
		return def
	}
	return v
}

// Result is one measured run with its scenario and its ratio to the bare
// baseline measured around it.
type Result struct {
	Measurement
	Scenario Scenario
	// Baseline is the bare server's throughput (same encoding and
	// connections) in the runs just before and after this one, averaged.
	Baseline float64
	// Ratio is RPS / Baseline.
	Ratio float64
	// ReadOnlyRatio is, for a mixed run with writes, its throughput over
	// the read-only mixed run's.
	ReadOnlyRatio float64
	// CPUPerRequest is the CPU time the servers that answered spent per
	// answer over the whole run (user + system, from /proc; 0 when the
	// servers are not the bench's own processes). Unlike throughput it does
	// not depend on how much of the machine the load generator takes.
	CPUPerRequest time.Duration
	// CPURatio is the bare baseline's CPU per answer over this run's (the
	// share of bare by server cost).
	CPURatio float64
}

// Report is everything a bench run measured.
type Report struct {
	Started time.Time
	Took    time.Duration
	Machine string
	// Setup describes what was measured (backend, data, servers).
	Setup []string
	Short bool
	// AB is the seed guide's load test (ab -n 1000 -c 10 on the list).
	AB *ABResult
	// Endpoints, Mixed and Bare are the runs, in the order they ran.
	Endpoints, Mixed, Bare []Result
	// Postgres says the servers ran on PostgreSQL (some targets are
	// PostgreSQL's).
	Postgres bool
	// Checks are the targets, each passed or not.
	Checks []Check
}

// ErrRegression is returned (wrapped) by a short run that finds a gross
// regression.
var ErrRegression = errors.New("bench: regression")

// runner carries one bench run's state.
type runner struct {
	opts    Options
	fix     *Fixture
	srv     *servers
	rep     *Report
	total   int // runs planned, for the progress line
	started int
	seq     uint64
}

// Run performs a bench run and returns its report. A short run whose
// checks fail returns the report and an error wrapping ErrRegression.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts = opts.Defaults()
	rep := &Report{Started: time.Now(), Machine: machine(), Short: opts.Short}
	r := &runner{opts: opts, rep: rep}
	scenarios := endpointScenarios()
	if opts.Short {
		scenarios = shortScenarios(scenarios)
	}
	if len(opts.Scenarios) > 0 {
		var err error
		if scenarios, err = pickScenarios(scenarios, opts.Scenarios); err != nil {
			return nil, err
		}
	}
	tmp := opts.TempDir
	if tmp == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "movierec-bench-"); err != nil {
			return nil, err
		}
		if !opts.KeepTemp {
			defer os.RemoveAll(tmp)
		}
	}
	srv, err := r.startServers(ctx, tmp)
	if srv != nil {
		defer srv.close()
	}
	if err != nil {
		return nil, err
	}
	r.srv = srv
	rep.Postgres = srv.postgres
	rep.Setup = srv.setup

	r.say("reading the catalog through the API")
	prefix := "bench" + strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36) + "_"
	r.fix, err = loadFixture(ctx, srv.cached[0], fixtureOptions{users: opts.Users, ratingsPerUser: opts.RatingsPerUser, prefix: prefix, staff: srv.staff}, r.say)
	if err != nil {
		return nil, err
	}
	rep.Setup = append(rep.Setup, fmt.Sprintf("%d accounts registered for the run, %d ratings each; requests pick among the %d most-rated movies (Zipf), %d genres, %d title words; similar-any among %d movies drawn evenly from the catalog",
		len(r.fix.Users), opts.RatingsPerUser, len(r.fix.Movies), len(r.fix.Genres), len(r.fix.Words), len(r.fix.Sample)))
	if r.fix.DataUsers > 0 {
		rep.Setup = append(rep.Setup, fmt.Sprintf("recommendations-data asks for users 1..%d of the data set (the last ID with an answer)", r.fix.DataUsers))
	} else if i := slices.IndexFunc(scenarios, func(s Scenario) bool { return s.staff }); i >= 0 {
		scenarios = slices.Delete(scenarios, i, i+1)
		rep.Setup = append(rep.Setup, "recommendations-data left out: no staff account (-staff NAME:PASSWORD)")
	}

	r.total = 1 + len(opts.Conns)*(len(scenarios)+2*(1+(len(scenarios)+groupSize-1)/groupSize)) + 2 + 3*len(opts.WriteShares)
	if opts.NoMixed {
		r.total -= 2 + 3*len(opts.WriteShares)
	}
	if !opts.Short {
		r.total++ // ab
	}

	r.say("warming up (read-only mixed load)")
	warm := max(2*time.Second, opts.Duration)
	r.measure(ctx, mixedScenario(0), loadSpec{conns: 50, duration: warm, gzip: true})
	for _, sc := range scenarios {
		if sc.Name == "recommendations-warm" { // fill every user's cached answer
			r.total++
			r.measure(ctx, sc, loadSpec{conns: 10, duration: min(warm, 2*time.Second), gzip: true})
		}
	}

	if !opts.Short {
		r.say("the seed guide's load test: ab -n 1000 -c 10 " + srv.cached[0] + "/api/movies/")
		r.started++
		ab, err := runAB(ctx, srv.cached[0]+"/api/movies/", r.opts.Seed)
		if err != nil {
			return nil, err
		}
		rep.AB = &ab
	}

	for _, c := range opts.Conns {
		res, err := r.block(ctx, scenarios, c, opts.Duration, groupSize)
		if err != nil {
			return nil, err
		}
		rep.Endpoints = append(rep.Endpoints, res...)
	}
	if !opts.NoMixed {
		mixed := make([]Scenario, len(opts.WriteShares))
		for i, w := range opts.WriteShares {
			mixed[i] = mixedScenario(w)
		}
		res, err := r.block(ctx, mixed, opts.MixedConns, opts.MixedDuration, 1)
		if err != nil {
			return nil, err
		}
		for i := range res {
			if len(res) > 0 && res[0].Scenario.Name == "mixed-0%" && res[0].RPS > 0 {
				res[i].ReadOnlyRatio = res[i].RPS / res[0].RPS
			}
		}
		rep.Mixed = res
	}
	r.clearLine()
	rep.Took = time.Since(rep.Started)
	rep.Checks = checks(rep, opts)
	if opts.Short {
		for _, c := range rep.Checks {
			if !c.Pass {
				return rep, fmt.Errorf("%w: %s: %s (want %s)", ErrRegression, c.What, c.Got, c.Want)
			}
		}
	}
	return rep, ctx.Err()
}

// groupSize is how many scenario runs come between two baseline runs.
const groupSize = 4

// block runs scenarios at conns connections, each for d, with the bare
// baseline (plain and gzip) before the first and after every group.
func (r *runner) block(ctx context.Context, scs []Scenario, conns int, d time.Duration, group int) ([]Result, error) {
	before := r.bare(ctx, conns, d)
	var out, pending []Result
	for i, sc := range scs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pending = append(pending, r.measure(ctx, sc, loadSpec{conns: conns, duration: d, gzip: sc.Gzip, skip: skipOf(d)}))
		if len(pending) == group || i == len(scs)-1 {
			after := r.bare(ctx, conns, d)
			for _, p := range pending {
				b0, b1 := before[p.Scenario.Gzip], after[p.Scenario.Gzip]
				p.Baseline = (b0.RPS + b1.RPS) / 2
				if p.Baseline > 0 {
					p.Ratio = p.RPS / p.Baseline
				}
				if cpu := (b0.CPUPerRequest + b1.CPUPerRequest) / 2; cpu > 0 && p.CPUPerRequest > 0 {
					p.CPURatio = float64(cpu) / float64(p.CPUPerRequest)
				}
				out = append(out, p)
			}
			pending, before = nil, after
		}
	}
	return out, nil
}

// skipOf is the unmeasured start of a run of length d.
func skipOf(d time.Duration) time.Duration { return min(d/10, time.Second) }

// bare measures the baseline, plain and gzip, by gzip.
func (r *runner) bare(ctx context.Context, conns int, d time.Duration) map[bool]Result {
	d = min(d, 5*time.Second)
	out := map[bool]Result{}
	for _, gz := range []bool{false, true} {
		res := r.measure(ctx, bareScenario(gz), loadSpec{conns: conns, duration: d, gzip: gz, skip: skipOf(d)})
		out[gz] = res
		r.rep.Bare = append(r.rep.Bare, res)
	}
	return out
}

// measure runs one scenario against its servers.
func (r *runner) measure(ctx context.Context, sc Scenario, spec loadSpec) Result {
	r.started++
	r.seq++
	bases := r.srv.uncached
	switch {
	case strings.HasPrefix(sc.Name, "bare-"):
		bases = []string{r.srv.bare}
	case sc.Cached:
		bases = r.srv.cached
	}
	base := func(rr *rand.Rand) string {
		if len(bases) == 1 {
			return bases[0]
		}
		return bases[rr.IntN(len(bases))]
	}
	label := fmt.Sprintf("[%d/%d] %s c=%d", r.started, r.total, sc.Name, spec.conns)
	progress := func(n, errs uint64, el time.Duration) {
		if r.opts.Terminal {
			fmt.Fprintf(r.opts.Progress, "\r\033[K%s  %4.1fs/%s  %d requests  %.0f req/s  %d errors", label, el.Seconds(), spec.duration, n, float64(n)/el.Seconds(), errs)
		}
	}
	pids := r.srv.pids[bases[0]]
	for _, b := range bases[1:] {
		pids = append(pids, r.srv.pids[b]...)
	}
	cpu0, cpuOK := cpuTime(pids)
	run := attack(ctx, sc.Name, sc.gen(r.fix, base), spec, r.opts.Seed+r.seq, progress)
	res := Result{Measurement: run, Scenario: sc}
	if cpu1, ok := cpuTime(pids); ok && cpuOK && run.Answered > 0 {
		res.CPUPerRequest = (cpu1 - cpu0) / time.Duration(run.Answered)
	}
	r.clearLine()
	fmt.Fprintf(r.opts.Progress, "%s: %.0f req/s, p50 %s, p99 %s, %d errors", label, run.RPS, ms(run.P50), ms(run.P99), run.Errors)
	if res.CPUPerRequest > 0 {
		fmt.Fprintf(r.opts.Progress, ", server CPU %s/request", us(res.CPUPerRequest))
	}
	fmt.Fprintln(r.opts.Progress)
	return res
}

func (r *runner) clearLine() {
	if r.opts.Terminal {
		fmt.Fprint(r.opts.Progress, "\r\033[K")
	}
}

func (r *runner) say(msg string) {
	r.clearLine()
	fmt.Fprintf(r.opts.Progress, "bench: %s\n", msg)
}

// shortScenarios is the guard's subset.
func shortScenarios(all []Scenario) []Scenario {
	keep := map[string]bool{"list-warm": true, "list-warm-plain": true, "list": true, "detail": true, "similar": true, "recommendations": true, "login": true, "rate": true}
	var out []Scenario
	for _, s := range all {
		if keep[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

// pickScenarios keeps the scenarios named ("none": no scenario).
func pickScenarios(all []Scenario, names []string) ([]Scenario, error) {
	if len(names) == 1 && names[0] == "none" {
		return nil, nil
	}
	var out []Scenario
	for _, n := range names {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			known := make([]string, len(all))
			for j, s := range all {
				known[j] = s.Name
			}
			return nil, fmt.Errorf("bench: no scenario %q (there are %s, or none)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// servers are the servers a run measures and what it started for them.
type servers struct {
	cached, uncached []string
	// staff is "NAME:PASSWORD" of a staff account ("" if none).
	staff string
	bare  string
	// pids are the processes behind each base URL (the bench's own).
	pids     map[string][]int
	postgres bool
	setup    []string
	procs    []*proc
	cleanup  []func()
}

func (s *servers) close() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop(15 * time.Second)
	}
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

// startServers prepares the database, trains, and starts the servers and the
// bare baseline; with opts.URLs only the baseline.
func (r *runner) startServers(ctx context.Context, tmp string) (*servers, error) {
	o := r.opts
	s := &servers{pids: map[string][]int{}}
	if len(o.URLs) > 0 {
		s.cached = o.URLs
		s.uncached = o.UncachedURLs
		s.staff = o.Staff
		s.setup = append(s.setup, "servers: running at "+strings.Join(o.URLs, ", ")+" (as configured there)")
		if len(s.uncached) == 0 {
			s.uncached = o.URLs
			s.setup = append(s.setup, `"cache off" scenarios ran on the same servers (no -url-nocache given), so they may be answered from a cache`)
		} else {
			s.setup = append(s.setup, "cache-off scenarios: "+strings.Join(s.uncached, ", "))
		}
		return s, r.startBare(ctx, s, tmp)
	}
	if o.Command == nil {
		return s, errors.New("bench: no way to start movierec (Options.Command)")
	}
	dbURL := "sqlite://" + filepath.Join(tmp, "bench.db")
	backend := "SQLite (embedded default), " + filepath.Join(tmp, "bench.db")
	if o.Postgres != "" {
		name := fmt.Sprintf("movierec_bench_%d", os.Getpid())
		u, drop, err := createPostgresDB(ctx, o.Postgres, name)
		if err != nil {
			return s, err
		}
		s.cleanup = append(s.cleanup, drop)
		dbURL, backend, s.postgres = u, "PostgreSQL, fresh database "+name+" (dropped at the end)", true
	}
	cache := "in-process answer cache"
	if o.Redis != "" {
		cache = "Redis " + o.Redis + " and the in-process cache"
	}
	toolEnv := childEnv(o.Env, map[string]string{"DATABASE_URL": dbURL, "MOVIEREC_DEMO_DATA": "never"})
	data := o.Data
	if o.Ratings > 0 {
		data = filepath.Join(tmp, "data")
		r.say(fmt.Sprintf("generating a MovieLens-shaped data set of %d ratings", o.Ratings))
		if err := runTool(ctx, "demo-data", o.Command("demo-data", "-ratings", strconv.Itoa(o.Ratings), "-out", data), toolEnv, logPath(tmp, "demo-data")); err != nil {
			return s, err
		}
	}
	if data == "" {
		return s, errors.New("bench: no data set: give a MovieLens directory or a number of ratings to generate")
	}
	r.say("importing " + data)
	t0 := time.Now()
	if err := runTool(ctx, "import", o.Command("import", "movielens", data), toolEnv, logPath(tmp, "import")); err != nil {
		return s, err
	}
	importTook := time.Since(t0)
	r.say("training the recommendation model")
	t0 = time.Now()
	if err := runTool(ctx, "train", o.Command("train"), toolEnv, logPath(tmp, "train")); err != nil {
		return s, err
	}
	trainTook := time.Since(t0)
	staffPass := fmt.Sprintf("bench-staff-%d-password", os.Getpid())
	mk := o.Command("user", "create", "--username", "benchstaff", "--email", "benchstaff@bench.invalid", "--staff")
	mk.Stdin = strings.NewReader(staffPass + "\n")
	if err := runTool(ctx, "user", mk, toolEnv, logPath(tmp, "user")); err != nil {
		return s, err
	}
	s.staff = "benchstaff:" + staffPass
	set := map[string]string{
		"DATABASE_URL":                 dbURL,
		"MOVIEREC_DEMO_DATA":           "never",
		"MOVIEREC_THROTTLE_LOGIN":      "off",
		"MOVIEREC_THROTTLE_REGISTER":   "off",
		"MOVIEREC_TRAIN_INTERVAL":      "0",
		"MOVIEREC_TRAIN_AFTER_RATINGS": "0",
	}
	if o.Redis != "" {
		set["REDIS_URL"] = o.Redis
	}
	for _, cached := range []bool{true, false} {
		for i := range o.Instances {
			addr, err := freeAddr()
			if err != nil {
				return s, err
			}
			env := map[string]string{"MOVIEREC_ADDR": addr}
			for k, v := range set {
				env[k] = v
			}
			name := fmt.Sprintf("server-%d", i)
			if !cached {
				env["MOVIEREC_CACHE"] = "false"
				name = fmt.Sprintf("server-nocache-%d", i)
			}
			p, err := startProc(name, o.Command("serve"), childEnv(o.Env, env), logPath(tmp, name))
			if err != nil {
				return s, err
			}
			s.procs = append(s.procs, p)
			base := "http://" + addr
			s.pids[base] = []int{p.cmd.Process.Pid}
			if cached {
				s.cached = append(s.cached, base)
			} else {
				s.uncached = append(s.uncached, base)
			}
		}
	}
	r.say("waiting for the servers to be ready with the model")
	for i, p := range s.procs {
		base := append(append([]string{}, s.cached...), s.uncached...)[i]
		if err := waitReady(ctx, p, base, "/health/", 2*time.Minute, hasModel); err != nil {
			return s, err
		}
	}
	s.setup = append(s.setup,
		"backend: "+backend+"; "+cache,
		fmt.Sprintf("data: %s, imported in %s, model trained in %s (`movierec import movielens`, `movierec train`)", data, importTook.Round(100*time.Millisecond), trainTook.Round(100*time.Millisecond)),
		fmt.Sprintf("servers: %d × `movierec serve` in the default configuration (answer cache on) and %d × with MOVIEREC_CACHE=false, all on that database; except MOVIEREC_THROTTLE_LOGIN=off and MOVIEREC_THROTTLE_REGISTER=off (the load comes from one address) and MOVIEREC_TRAIN_INTERVAL=0, MOVIEREC_TRAIN_AFTER_RATINGS=0 (no training during the measurement)", o.Instances, o.Instances),
	)
	if pt := passedThrough(o.Env, set); len(pt) > 0 {
		s.setup = append(s.setup, "also from the environment: "+strings.Join(pt, " "))
	}
	return s, r.startBare(ctx, s, tmp)
}

// startBare starts the bare baseline as a process of its own, serving the
// first cached server's /api/movies/ bytes.
func (r *runner) startBare(ctx context.Context, s *servers, tmp string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	if r.opts.Command == nil {
		return errors.New("bench: no way to start the bare baseline (Options.Command)")
	}
	p, err := startProc("bare", r.opts.Command("bench", "-bare-addr", addr, "-bare-from", s.cached[0]+"/api/movies/"), r.opts.Env, logPath(tmp, "bare"))
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	s.bare = "http://" + addr
	s.pids[s.bare] = []int{p.cmd.Process.Pid}
	return waitReady(ctx, p, s.bare, "/api/movies/", 30*time.Second, nil)
}

// machine describes this machine for the report.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					mem = fmt.Sprintf(", %.0f GiB RAM", kb/(1<<20))
				}
			}
		}
	}
	kernel := ""
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(data))
	}
	return fmt.Sprintf("%s, %d CPUs%s%s, %s", cpu, runtime.NumCPU(), mem, kernel, runtime.Version())
}
