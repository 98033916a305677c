package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/catalog"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/throttle"
)

// config is everything the binary reads from its environment, once, in
// main. Flags override the matching variables.
type config struct {
	Addr        string             // MOVIEREC_ADDR, default ":8000"
	DatabaseURL string             // DATABASE_URL, default "sqlite://movierec.db"
	RedisURL    string             // REDIS_URL, default unset (in-process cache only)
	DBMinConns  int32              // MOVIEREC_DB_MIN_CONNS, default 5 (PostgreSQL)
	DBMaxConns  int32              // MOVIEREC_DB_MAX_CONNS, default 20 (PostgreSQL)
	DBWriters   int32              // MOVIEREC_DB_RATING_WRITERS, default 4: rating writes at once (sqlstore.LimitRatingWriters)
	DBDeadlines sqlstore.Deadlines // MOVIEREC_DB_STATEMENT_TIMEOUT (5s), MOVIEREC_DB_LONG_TIMEOUT (1h: imports, catalog loads, training)
	// DATABASE_REPLICA_URLS: PostgreSQL read replicas (comma-separated);
	// MOVIEREC_DB_REPLICA_MAX_LAG (5s): a replica further behind takes no
	// reads; MOVIEREC_DB_REPLICA_CHECK (1s): how often replicas are checked.
	ReplicaURLs                    []string
	ReplicaMaxLag, ReplicaInterval time.Duration
	DemoData                       string            // MOVIEREC_DEMO_DATA: auto (empty SQLite only), always, never
	LogLevel                       slog.Level        // MOVIEREC_LOG_LEVEL: debug, info, warn, error
	LogFormat                      string            // MOVIEREC_LOG_FORMAT: text or json
	ShutdownGrace                  time.Duration     // MOVIEREC_SHUTDOWN_GRACE, default 10s
	ShutdownDelay                  time.Duration     // MOVIEREC_SHUTDOWN_DELAY, default 0: keep serving, not ready, this long before closing
	SecretKey                      string            // MOVIEREC_SECRET_KEY: token signing key; unset = generated once and kept in the database
	LoginLimit                     throttle.Limit    // MOVIEREC_THROTTLE_LOGIN, default 5/min (per address and per username)
	RegisterLimit                  throttle.Limit    // MOVIEREC_THROTTLE_REGISTER, default 3/min (per address)
	PasswordLimit                  throttle.Limit    // MOVIEREC_THROTTLE_PASSWORD, default 5/min (password changes per user)
	TrustProxy                     bool              // MOVIEREC_TRUST_PROXY: take client addresses from X-Forwarded-For
	CORSOrigins                    []string          // MOVIEREC_CORS_ORIGINS: origins allowed to call the API from browsers (comma-separated; unset = CORS off)
	Argon2                         auth.Argon2Params // MOVIEREC_ARGON2_MEMORY_KIB (12288), MOVIEREC_ARGON2_TIME (2)
	Cache                          bool              // MOVIEREC_CACHE (true): cache answers
	CacheTTL                       api.Policies      // MOVIEREC_CACHE_TTL_{LIST,POPULAR,DETAIL,RECOMMENDATIONS}: 15m, 10m, 1h, 30m
	Debug                          bool              // MOVIEREC_DEBUG=1: debug logs with every SQL statement and its duration
	SlowQuery                      time.Duration     // MOVIEREC_SLOW_QUERY (200ms): log slower statements (0 = off)
	AdminAddr                      string            // MOVIEREC_ADMIN_ADDR: listener for /metrics and /debug/pprof (unset = none)
	Socket                         string            // MOVIEREC_SOCKET: also serve the API on this Unix socket (a proxy on the same host; unset = none)
	PublicMetrics                  bool              // MOVIEREC_PUBLIC_METRICS: /metrics on the public port too (default: only without MOVIEREC_ADMIN_ADDR)
	// MOVIEREC_ACCESS_LOG (sample): all, sample, errors or off;
	// MOVIEREC_ACCESS_LOG_SAMPLE (100): under sample, one line per N
	// ordinary requests; MOVIEREC_ACCESS_LOG_SLOW (500ms): slower requests
	// are always logged (0 = none counts as slow).
	AccessLog       api.AccessLog
	AccessLogSample int
	AccessLogSlow   time.Duration
	// Catalog: MOVIEREC_CATALOG_POLL (250ms): how often the change log is
	// read besides notifications; MOVIEREC_CATALOG_COALESCE (500ms): how
	// long list answers may lag behind an applied write;
	// MOVIEREC_CATALOG_PROBE_GAP (1ms): the shortest time between two
	// freshness checks of an instance (0: none; at most maxProbeGap).
	Catalog catalog.Options
	// Engine: MOVIEREC_TRAIN_INTERVAL (1h), MOVIEREC_TRAIN_AFTER_RATINGS
	// (1000), MOVIEREC_TRAIN_POLL (30s), MOVIEREC_TRAIN_SEED,
	// MOVIEREC_TRAIN_WORKERS (0: all cores for "movierec train", all but
	// one for serve's training).
	Engine engine.Config
	// TrainProcess: MOVIEREC_TRAIN_PROCESS, "child" (default: serve trains
	// by running "movierec train" as a child process) or "inline";
	// TrainNice: MOVIEREC_TRAIN_NICE (10), the child's nice value.
	TrainProcess string
	TrainNice    int
}

// maxProbeGap bounds MOVIEREC_CATALOG_PROBE_GAP: reads that must be fresh
// wait up to the gap for their check, well within the catalog's read
// wait (250ms).
const maxProbeGap = 50 * time.Millisecond

// loadConfig reads the environment through getenv.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:          or(getenv("MOVIEREC_ADDR"), ":8000"),
		DatabaseURL:   or(getenv("DATABASE_URL"), "sqlite://movierec.db"),
		RedisURL:      getenv("REDIS_URL"),
		DemoData:      or(getenv("MOVIEREC_DEMO_DATA"), "auto"),
		LogFormat:     or(getenv("MOVIEREC_LOG_FORMAT"), "text"),
		ShutdownGrace: 10 * time.Second,
	}
	var errs []string
	intVar := func(name string, def int32, dst *int32) {
		*dst = def
		if v := getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a positive integer", name, v))
				return
			}
			*dst = int32(n)
		}
	}
	intVar("MOVIEREC_DB_MIN_CONNS", 5, &c.DBMinConns)
	intVar("MOVIEREC_DB_MAX_CONNS", 20, &c.DBMaxConns)
	intVar("MOVIEREC_DB_RATING_WRITERS", sqlstore.DefaultRatingWriters, &c.DBWriters)
	c.Argon2 = auth.DefaultArgon2
	var argonMem, argonTime int32
	intVar("MOVIEREC_ARGON2_MEMORY_KIB", int32(auth.DefaultArgon2.Memory), &argonMem)
	intVar("MOVIEREC_ARGON2_TIME", int32(auth.DefaultArgon2.Time), &argonTime)
	c.Argon2.Memory, c.Argon2.Time = uint32(argonMem), uint32(argonTime)
	if v := getenv("MOVIEREC_SHUTDOWN_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("MOVIEREC_SHUTDOWN_GRACE=%q: want a duration such as 10s", v))
		}
		c.ShutdownGrace = d
	}
	c.Engine = engine.DefaultConfig()
	c.Cache = true
	if v := getenv("MOVIEREC_CACHE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MOVIEREC_CACHE=%q: want true or false", v))
		}
		c.Cache = b
	}
	c.CacheTTL = api.DefaultPolicies()
	c.SlowQuery = 200 * time.Millisecond
	c.AdminAddr = getenv("MOVIEREC_ADMIN_ADDR")
	c.Socket = getenv("MOVIEREC_SOCKET")
	if v := getenv("MOVIEREC_DEBUG"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MOVIEREC_DEBUG=%q: want 1 or 0", v))
		}
		c.Debug = b
	}
	durVar := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a duration such as 1h (0 turns it off)", name, v))
			}
			*dst = d
		}
	}
	durVar("MOVIEREC_TRAIN_INTERVAL", &c.Engine.Interval)
	durVar("MOVIEREC_TRAIN_POLL", &c.Engine.Poll)
	durVar("MOVIEREC_SLOW_QUERY", &c.SlowQuery)
	c.DBDeadlines = sqlstore.DefaultDeadlines
	durVar("MOVIEREC_DB_STATEMENT_TIMEOUT", &c.DBDeadlines.Statement)
	durVar("MOVIEREC_DB_LONG_TIMEOUT", &c.DBDeadlines.Long)
	durVar("MOVIEREC_SHUTDOWN_DELAY", &c.ShutdownDelay)
	for _, u := range strings.Split(getenv("DATABASE_REPLICA_URLS"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.ReplicaURLs = append(c.ReplicaURLs, u)
		}
	}
	if len(c.ReplicaURLs) > 0 && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, "DATABASE_REPLICA_URLS: read replicas need a PostgreSQL DATABASE_URL")
	}
	for _, u := range c.ReplicaURLs {
		if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			errs = append(errs, fmt.Sprintf("DATABASE_REPLICA_URLS: %q is not a postgres:// URL", redactURL(u)))
		}
	}
	c.ReplicaMaxLag, c.ReplicaInterval = 5*time.Second, time.Second
	durVar("MOVIEREC_DB_REPLICA_MAX_LAG", &c.ReplicaMaxLag)
	durVar("MOVIEREC_DB_REPLICA_CHECK", &c.ReplicaInterval)
	if c.ReplicaInterval <= 0 {
		errs = append(errs, "MOVIEREC_DB_REPLICA_CHECK: want a positive duration such as 1s")
	}
	durVar("MOVIEREC_CACHE_TTL_LIST", &c.CacheTTL.List.TTL)
	durVar("MOVIEREC_CACHE_TTL_POPULAR", &c.CacheTTL.Popular.TTL)
	durVar("MOVIEREC_CACHE_TTL_DETAIL", &c.CacheTTL.Detail.TTL)
	durVar("MOVIEREC_CACHE_TTL_RECOMMENDATIONS", &c.CacheTTL.Recommendations.TTL)
	defaults := api.DefaultOptions()
	c.AccessLog, c.AccessLogSample, c.AccessLogSlow = defaults.AccessLog, defaults.AccessLogSample, defaults.AccessLogSlow
	if v := getenv("MOVIEREC_ACCESS_LOG"); v != "" {
		m, err := api.ParseAccessLog(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MOVIEREC_ACCESS_LOG=%q: want all, sample, errors or off", v))
		}
		c.AccessLog = m
	}
	if v := getenv("MOVIEREC_ACCESS_LOG_SAMPLE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Sprintf("MOVIEREC_ACCESS_LOG_SAMPLE=%q: want a positive integer (log one in N)", v))
		}
		c.AccessLogSample = n
	}
	durVar("MOVIEREC_ACCESS_LOG_SLOW", &c.AccessLogSlow)
	c.Catalog.Poll, c.Catalog.Coalesce, c.Catalog.ProbeGap = 250*time.Millisecond, 500*time.Millisecond, time.Millisecond
	durVar("MOVIEREC_CATALOG_POLL", &c.Catalog.Poll)
	durVar("MOVIEREC_CATALOG_COALESCE", &c.Catalog.Coalesce)
	durVar("MOVIEREC_CATALOG_PROBE_GAP", &c.Catalog.ProbeGap)
	if c.Catalog.ProbeGap > maxProbeGap {
		errs = append(errs, fmt.Sprintf("MOVIEREC_CATALOG_PROBE_GAP=%v: want at most %v (a movie's detail waits up to this long for its freshness check)",
			c.Catalog.ProbeGap, maxProbeGap))
	}
	if v := getenv("MOVIEREC_TRAIN_AFTER_RATINGS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("MOVIEREC_TRAIN_AFTER_RATINGS=%q: want a count (0 turns it off)", v))
		}
		c.Engine.AfterRatings = n
	}
	if v := getenv("MOVIEREC_TRAIN_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("MOVIEREC_TRAIN_WORKERS=%q: want a number of cores (0: the default)", v))
		}
		c.Engine.Train.Workers = n
	}
	c.TrainProcess = or(getenv("MOVIEREC_TRAIN_PROCESS"), "child")
	if c.TrainProcess != "child" && c.TrainProcess != "inline" {
		errs = append(errs, fmt.Sprintf("MOVIEREC_TRAIN_PROCESS=%q: want child or inline", c.TrainProcess))
	}
	c.TrainNice = 10
	if v := getenv("MOVIEREC_TRAIN_NICE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 19 {
			errs = append(errs, fmt.Sprintf("MOVIEREC_TRAIN_NICE=%q: want 0..19", v))
		}
		c.TrainNice = n
	}
	if v := getenv("MOVIEREC_TRAIN_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MOVIEREC_TRAIN_SEED=%q: want an unsigned integer", v))
		}
		c.Engine.Train.Seed = n
	}
	c.SecretKey = getenv("MOVIEREC_SECRET_KEY")
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		errs = append(errs, "MOVIEREC_SECRET_KEY: want at least 32 characters")
	}
	limitVar := func(name, def string, dst *throttle.Limit) {
		l, err := throttle.ParseLimit(or(getenv(name), def))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
		}
		*dst = l
	}
	limitVar("MOVIEREC_THROTTLE_LOGIN", "5/min", &c.LoginLimit)
	limitVar("MOVIEREC_THROTTLE_REGISTER", "3/min", &c.RegisterLimit)
	limitVar("MOVIEREC_THROTTLE_PASSWORD", "5/min", &c.PasswordLimit)
	if v := getenv("MOVIEREC_TRUST_PROXY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MOVIEREC_TRUST_PROXY=%q: want true or false", v))
		}
		c.TrustProxy = b
	}
	for _, o := range strings.Split(getenv("MOVIEREC_CORS_ORIGINS"), ",") {
		o = strings.TrimSpace(o)
		switch u, err := url.Parse(o); {
		case o == "":
		case o == "*":
			c.CORSOrigins = append(c.CORSOrigins, o)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
			errs = append(errs, fmt.Sprintf("MOVIEREC_CORS_ORIGINS: %q is not an origin (want scheme://host[:port], or *)", o))
		default:
			c.CORSOrigins = append(c.CORSOrigins, strings.TrimSuffix(o, "/"))
		}
	}
	c.PublicMetrics = c.AdminAddr == ""
	if v := getenv("MOVIEREC_PUBLIC_METRICS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MOVIEREC_PUBLIC_METRICS=%q: want true or false", v))
		}
		c.PublicMetrics = b
	}
	if err := c.LogLevel.UnmarshalText([]byte(or(getenv("MOVIEREC_LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Sprintf("MOVIEREC_LOG_LEVEL: %v", err))
	}
	if c.Debug {
		c.LogLevel = slog.LevelDebug
	}
	switch c.DemoData {
	case "auto", "always", "never":
	default:
		errs = append(errs, fmt.Sprintf("MOVIEREC_DEMO_DATA=%q: want auto, always or never", c.DemoData))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Sprintf("MOVIEREC_LOG_FORMAT=%q: want text or json", c.LogFormat))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// logger builds the process logger from the configuration.
func (c config) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// redactURL hides the password of a database URL for logging.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	creds, host, ok := strings.Cut(rest, "@")
	if !ok {
		return u
	}
	if user, _, hasPass := strings.Cut(creds, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return u
}
