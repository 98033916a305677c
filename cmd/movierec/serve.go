package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/throttle"
	"github.com/movierec/movierec/web"
	"github.com/redis/go-redis/v9"
)

// serve runs the HTTP API until ctx is cancelled, then shuts down
// gracefully: readiness flips to 503, in-flight requests get
// cfg.ShutdownGrace to finish, and the pool is closed.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info("database ready", slog.String("backend", store.Dialect()), slog.String("url", redactURL(cfg.DatabaseURL)))
	if fill := cfg.DemoData == "always" || (cfg.DemoData == "auto" && store.Dialect() == "sqlite"); fill {
		page, err := store.ListMovies(ctx, movierec.MovieFilter{Limit: 1})
		if err != nil {
			return err
		}
		if page.Count == 0 {
			log.Info("empty database: loading the demo catalog (MOVIEREC_DEMO_DATA=never turns this off)")
			res, err := importDemo(ctx, store, demodata.DefaultOptions(), newProgress(os.Stderr))
			if err != nil {
				return fmt.Errorf("demo data: %w", err)
			}
			log.Info("demo catalog loaded", slog.Int("movies", res.Movies), slog.Int("ratings", res.Ratings),
				slog.Duration("took", res.Elapsed.Round(time.Millisecond)))
		}
	}

	if msg := secretKeyWarning(cfg, store.Dialect()); msg != "" {
		log.Warn(msg)
	}
	accounts, err := newAccounts(ctx, cfg, store)
	if err != nil {
		return err
	}
	metrics := observe.NewMetrics()
	obs := &observe.DBObserver{Metrics: metrics, Log: log, Debug: cfg.Debug, Slow: cfg.SlowQuery}
	if store.Dialect() == "postgres" {
		obs.Explain = observe.Explain(store.Unobserved())
	}
	store.Observe(obs)
	metrics.RegisterPool(store.PoolStats)
	metrics.RegisterReplicas(store.ReplicaStats)
	answers, closeCache, err := newCache(ctx, cfg, store, metrics, log)
	if err != nil {
		return err
	}
	// Logout and password changes reach every instance at once: through
	// Redis when configured, else through PostgreSQL's LISTEN/NOTIFY.
	var bus auth.Bus
	if answers.Shared() {
		bus = answers
	} else if store.Dialect() == "postgres" {
		if bus, err = postgres.NewBus(store, log); err != nil {
			return err
		}
	}
	if bus != nil {
		if err := accounts.ShareRevocations(ctx, bus); err != nil {
			log.Warn("sharing session revocations failed; other instances see them within a minute until it recovers",
				slog.Any("err", err))
		}
	}
	defer closeCache()
	cs, stopCatalog, err := startCatalog(ctx, cfg, store, answers, log)
	if err != nil {
		return err
	}
	defer stopCatalog()
	eng := engine.New(cs, serveEngine(cfg, log), log)
	metrics.RegisterModel(func() (observe.ModelInfo, bool) {
		m := eng.Model()
		if m == nil {
			return observe.ModelInfo{}, false
		}
		return observe.ModelInfo{Version: m.Version(), TrainedAt: m.TrainedAt(), TrainingDuration: m.TrainingDuration()}, true
	})
	engineCtx, stopEngine := context.WithCancel(ctx)
	engineDone := make(chan struct{})
	go func() { defer close(engineDone); eng.Run(engineCtx) }()
	defer func() { stopEngine(); <-engineDone }()
	var throttles throttle.Store
	if answers.Shared() {
		throttles = answers // N instances allow the limits, not N times them
	}
	srv := api.New(cs, accounts, log, api.Options{ThrottleStore: throttles, LoginLimit: cfg.LoginLimit, Versions: cs.Catalog,
		RegisterLimit: cfg.RegisterLimit, PasswordLimit: cfg.PasswordLimit, TrustProxy: cfg.TrustProxy, CORSOrigins: cfg.CORSOrigins, Recommender: eng, Metrics: metrics, HideMetrics: !cfg.PublicMetrics,
		Cache: answers, Policies: cfg.CacheTTL,
		AccessLog: cfg.AccessLog, AccessLogSample: cfg.AccessLogSample, AccessLogSlow: cfg.AccessLogSlow,
		Database: databaseState(store)})
	srv.SetWeb(web.New(srv, accounts, log)) // pages for people, made through the API in process
	if cfg.AdminAddr != "" {
		admin, err := serveAdmin(cfg.AdminAddr, metrics, log)
		if err != nil {
			return err
		}
		defer admin.Close()
	}
	hs := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The connections still open, for the end of the drain below, and
	// "Connection: close" on every answer once the listener is closed.
	var conns sync.Map
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed || st == http.StateHijacked {
			conns.Delete(c)
		} else {
			conns.Store(c, st)
		}
	}
	var closing atomic.Bool
	handler := hs.Handler
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if closing.Load() {
			w.Header().Set("Connection", "close")
		}
		handler.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	listeners := []net.Listener{ln}
	log.Info("movierec listening", slog.String("url", "http://"+displayAddr(ln.Addr())+"/api/"))
	if cfg.Socket != "" {
		uln, err := listenUnix(cfg.Socket)
		if err != nil {
			ln.Close()
			return err
		}
		listeners = append(listeners, uln)
		log.Info("movierec listening", slog.String("socket", cfg.Socket))
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errc <- hs.Serve(l) }()
	}
	select {
	case err := <-errc:
		for _, l := range listeners {
			l.Close()
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("delay", cfg.ShutdownDelay), slog.Duration("grace", cfg.ShutdownGrace))
	// Keep serving as before while balancers that poll notice /readyz
	// failing. Keep-alive stays on: turning it off closes idle connections
	// at once, under clients that may be sending a request into them, and
	// makes every later request open a connection of its own, some of which
	// the closing listener would reset; a proxy cannot retry a POST it has
	// sent into either (deploy/nginx/movierec.conf, rolling-restart.sh).
	srv.SetReady(false)
	time.Sleep(cfg.ShutdownDelay)
	// Refuse new connections (a proxy retries those safely), answer what
	// still arrives on open ones with "Connection: close", and wait for the
	// clients to close the idle ones (nginx does within its keepalive_timeout)
	// before Shutdown closes the rest: it closes idle connections, and ones
	// whose request it has read but not started, without an answer.
	closing.Store(true)
	for _, l := range listeners {
		l.Close()
	}
	for range listeners {
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
	for wait := time.Now().Add(drainIdle); time.Now().Before(wait); time.Sleep(5 * time.Millisecond) {
		n := 0
		conns.Range(func(_, _ any) bool { n++; return false })
		if n == 0 {
			break
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close() // the grace period is over: drop what is still running
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// listenUnix listens on a Unix socket at path, replacing a socket file a
// previous process left there (never any other kind of file). The socket
// is made connectable by every user: restrict who may reach it with the
// permissions of its directory (deploy/README.md).
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("MOVIEREC_SOCKET %s: exists and is not a socket", path)
		}
		os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("MOVIEREC_SOCKET: %w", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		l.Close()
		return nil, fmt.Errorf("MOVIEREC_SOCKET: %w", err)
	}
	return l, nil
}

// drainIdle bounds how long serve waits, after closing its listener, for
// clients to close their keep-alive connections.
const drainIdle = 3 * time.Second

// displayAddr turns a wildcard listen address into one a person can click.
func displayAddr(a net.Addr) string {
	s := a.String()
	for _, wild := range []string{"[::]:", "0.0.0.0:"} {
		if port, ok := strings.CutPrefix(s, wild); ok {
			return "localhost:" + port
		}
	}
	return s
}

// serveAdmin starts the admin listener: /metrics and net/http/pprof,
// kept off the public port.
func serveAdmin(addr string, metrics *observe.Metrics, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	log.Info("admin listener (metrics, pprof)", slog.String("url", "http://"+displayAddr(ln.Addr())+"/metrics"))
	return hs, nil
}

// newCache builds the answer cache: in process, in front of Redis when
// REDIS_URL is set. A Redis that is down at start is not fatal: reads go
// to the database until it answers. Its Redis keys are namespaced by the
// database (see redisNamespace).
func newCache(ctx context.Context, cfg config, store *sqlstore.Store, metrics *observe.Metrics, log *slog.Logger) (*cache.Cache, func(), error) {
	if !cfg.Cache {
		return nil, func() {}, nil
	}
	opts := cache.Options{Log: log,
		OnResult: func(policy string, o cache.Outcome) {
			result := map[cache.Outcome]string{cache.HitLocal: "hit", cache.HitRedis: "hit", cache.Revalidated: "hit", cache.Miss: "miss", cache.Bypass: "error"}[o]
			metrics.CacheRequests.WithLabelValues(policy, result).Inc()
		},
		OnRedisError: metrics.RedisErrors.Inc,
	}
	closeFn := func() {}
	if cfg.RedisURL != "" {
		ro, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		// Fail fast: a slow Redis must not slow every request.
		ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.MaxRetries = 250*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond, -1
		ns, err := redisNamespace(ctx, store)
		if err != nil {
			return nil, nil, err
		}
		opts.Prefix = ns
		client := redis.NewClient(ro)
		opts.Redis = client
		closeFn = func() { client.Close() }
		log.Info("caching in process and in Redis", slog.String("redis", redactURL(cfg.RedisURL)))
	} else {
		log.Info("caching in process (set REDIS_URL to share the cache between instances)")
	}
	c, err := cache.New(opts)
	return c, closeFn, err
}

// redisNamespaceKey is the settings key of the database's Redis namespace.
const redisNamespaceKey = "redis_namespace"

// redisNamespace is the prefix of every Redis key of the instances of one
// database: a random ID that the first instance stores in the database's
// settings. Without it, a database created again (or another deployment)
// behind the same Redis would find the old one's catalog version marker
// (ahead of all its versions: every fresh read would catch up from the
// database) and its cached answers under generation counters that went
// on counting.
func redisNamespace(ctx context.Context, store *sqlstore.Store) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id, err := store.Setting(ctx, redisNamespaceKey, hex.EncodeToString(b))
	if err != nil {
		return "", fmt.Errorf("the database's Redis namespace: %w", err)
	}
	return "db:" + id + ":", nil
}

// serveEngine is the engine configuration of serve: training runs in a
// child process ("movierec train" at nice cfg.TrainNice) unless
// MOVIEREC_TRAIN_PROCESS=inline. Measured on 2 cores under read load
// (README): p99 9-10 ms quiet, 243 ms while training in process (its
// CPU-bound goroutines and its garbage stall the request goroutines),
// 24 ms while a child process trains.
//
// Training in serve leaves a core to requests: unless
// MOVIEREC_TRAIN_WORKERS says otherwise it uses one core fewer than the
// machine has (at least one), and the child runs with GOMAXPROCS set to
// that, so gonum's LAPACK and the garbage collector stay within it too,
// and with a soft memory limit (childMemoryLimit).
func serveEngine(cfg config, log *slog.Logger) engine.Config {
	c := cfg.Engine
	if c.Train.Workers == 0 {
		c.Train.Workers = serveTrainWorkers(runtime.NumCPU())
	}
	cfg.Engine = c
	if cfg.TrainProcess == "child" {
		c.Trainer = childTrainer(cfg, log)
	}
	return c
}

// childMemoryLimit is the child trainer's soft memory limit (GOMEMLIMIT)
// unless serve's environment sets one: near it the garbage collector runs
// more often instead of letting garbage double the heap. It is not a cap.
// At 25M ratings on one core the child peaked at 4.3 GB without it and
// 3.2 GB with it (README).
const childMemoryLimit = "3GiB"

// serveTrainWorkers is serve's default training parallelism on a machine
// of cpus cores: all but one.
func serveTrainWorkers(cpus int) int { return max(1, cpus-1) }

// childTrainer runs "movierec train" on the same database in a child
// process at a lower CPU priority and waits for it.
func childTrainer(cfg config, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, exe, "train")
		workers := strconv.Itoa(cfg.Engine.Train.Workers)
		env := os.Environ()
		if os.Getenv("GOMEMLIMIT") == "" {
			env = append(env, "GOMEMLIMIT="+childMemoryLimit)
		}
		cmd.Env = append(env, "DATABASE_URL="+cfg.DatabaseURL,
			"MOVIEREC_TRAIN_WORKERS="+workers, "GOMAXPROCS="+workers,
			// What a test binary standing in for movierec runs (see TestMain).
			"MOVIEREC_MAIN_ARGS=train")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, cfg.TrainNice); err != nil {
			log.Warn("could not lower the trainer's priority", slog.Any("err", err))
		}
		if err := cmd.Wait(); err != nil {
			tail := out.String()
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return fmt.Errorf("movierec train (child process): %w: %s", err, tail)
		}
		log.Info("model trained by a child process", slog.Duration("took", time.Since(start).Round(time.Millisecond)),
			slog.Int("nice", cfg.TrainNice))
		return nil
	}
}

// databaseState reports the pools and replicas /health/ shows (nil on
// SQLite, which has neither).
func databaseState(store *sqlstore.Store) func() api.DatabaseState {
	if store.Dialect() != "postgres" {
		return nil
	}
	pool := func(p sqlstore.PoolStats) api.PoolState {
		return api.PoolState{Acquired: p.Acquired, Idle: p.Idle, Total: p.Total, Max: p.Max}
	}
	return func() api.DatabaseState {
		st := api.DatabaseState{Pool: pool(store.PoolStats())}
		for _, r := range store.ReplicaStats() {
			st.Replicas = append(st.Replicas, api.ReplicaState{Name: r.Name, State: r.State, LagSeconds: r.Lag.Seconds(),
				Version: r.Version, Reads: r.Reads, Fallbacks: r.Fallbacks, Pool: pool(r.Pool), Error: r.Err})
		}
		return st
	}
}
