package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/throttle"
)

// config is everything the binary reads from its environment, once, in
// main. Flags override the matching variables.
type config struct {
	Addr          string            // MOVIEREC_ADDR, default ":8000"
	DatabaseURL   string            // DATABASE_URL, default "sqlite://movierec.db"
	RedisURL      string            // REDIS_URL, default unset (in-process cache only)
	DBMinConns    int32             // MOVIEREC_DB_MIN_CONNS, default 5 (PostgreSQL)
	DBMaxConns    int32             // MOVIEREC_DB_MAX_CONNS, default 20 (PostgreSQL)
	DemoData      string            // MOVIEREC_DEMO_DATA: auto (empty SQLite only), always, never
	LogLevel      slog.Level        // MOVIEREC_LOG_LEVEL: debug, info, warn, error
	LogFormat     string            // MOVIEREC_LOG_FORMAT: text or json
	ShutdownGrace time.Duration     // MOVIEREC_SHUTDOWN_GRACE, default 10s
	SecretKey     string            // MOVIEREC_SECRET_KEY: token signing key; unset = generated once and kept in the database
	LoginLimit    throttle.Limit    // MOVIEREC_THROTTLE_LOGIN, default 5/min (per address and per username)
	RegisterLimit throttle.Limit    // MOVIEREC_THROTTLE_REGISTER, default 3/min (per address)
	TrustProxy    bool              // MOVIEREC_TRUST_PROXY: take client addresses from X-Forwarded-For
	Argon2        auth.Argon2Params // MOVIEREC_ARGON2_MEMORY_KIB (12288), MOVIEREC_ARGON2_TIME (2)
}

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
	if v := getenv("MOVIEREC_TRUST_PROXY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MOVIEREC_TRUST_PROXY=%q: want true or false", v))
		}
		c.TrustProxy = b
	}
	if err := c.LogLevel.UnmarshalText([]byte(or(getenv("MOVIEREC_LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Sprintf("MOVIEREC_LOG_LEVEL: %v", err))
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
