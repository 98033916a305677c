package main

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec/api"
)

func TestAccessLogConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AccessLog != api.AccessLogSample || cfg.AccessLogSample != 100 || cfg.AccessLogSlow != 500*time.Millisecond {
		t.Errorf("defaults: %v, 1 in %d, slow %v", cfg.AccessLog, cfg.AccessLogSample, cfg.AccessLogSlow)
	}
	cfg, err = loadConfig(env(map[string]string{"MOVIEREC_ACCESS_LOG": "errors", "MOVIEREC_ACCESS_LOG_SAMPLE": "7",
		"MOVIEREC_ACCESS_LOG_SLOW": "2s"}))
	if err != nil || cfg.AccessLog != api.AccessLogErrors || cfg.AccessLogSample != 7 || cfg.AccessLogSlow != 2*time.Second {
		t.Errorf("set: %v, 1 in %d, slow %v, %v", cfg.AccessLog, cfg.AccessLogSample, cfg.AccessLogSlow, err)
	}
	for name, value := range map[string]string{"MOVIEREC_ACCESS_LOG": "verbose", "MOVIEREC_ACCESS_LOG_SAMPLE": "0",
		"MOVIEREC_ACCESS_LOG_SLOW": "soon"} {
		if _, err := loadConfig(env(map[string]string{name: value})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, value, err)
		}
	}
}

// TestMetricsAndDatabaseConfig: /metrics leaves the public port once an
// admin listener exists (unless asked to stay), and the statement
// deadlines are read and validated.
func TestMetricsAndDatabaseConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"MOVIEREC_ADMIN_ADDR": "127.0.0.1:9100"}, false},
		{map[string]string{"MOVIEREC_ADMIN_ADDR": "127.0.0.1:9100", "MOVIEREC_PUBLIC_METRICS": "true"}, true},
		{map[string]string{"MOVIEREC_PUBLIC_METRICS": "false"}, false},
	} {
		cfg, err := loadConfig(env(c.env))
		if err != nil || cfg.PublicMetrics != c.want {
			t.Errorf("%v: public metrics %v (%v), want %v", c.env, cfg.PublicMetrics, err, c.want)
		}
	}
	cfg, err := loadConfig(env(map[string]string{"MOVIEREC_DB_STATEMENT_TIMEOUT": "750ms", "MOVIEREC_DB_LONG_TIMEOUT": "2h"}))
	if err != nil || cfg.DBDeadlines.Statement != 750*time.Millisecond || cfg.DBDeadlines.Long != 2*time.Hour {
		t.Errorf("deadlines: %+v (%v)", cfg.DBDeadlines, err)
	}
	if cfg, _ := loadConfig(env(nil)); cfg.DBDeadlines.Statement != 5*time.Second || cfg.DBDeadlines.Long != time.Hour {
		t.Errorf("default deadlines: %+v", cfg.DBDeadlines)
	}
	for name, value := range map[string]string{"MOVIEREC_PUBLIC_METRICS": "maybe", "MOVIEREC_DB_STATEMENT_TIMEOUT": "soon"} {
		if _, err := loadConfig(env(map[string]string{name: value})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, value, err)
		}
	}
}

// TestTrainConfig: serve trains in a child process at nice 10 unless
// told otherwise; training workers default to all cores for "movierec
// train" and to all but one (at least one) for serve.
func TestTrainConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TrainProcess != "child" || cfg.TrainNice != 10 || cfg.Engine.Train.Workers != 0 || serveEngine(cfg, nil).Trainer == nil {
		t.Errorf("defaults: process %q, nice %d, workers %d", cfg.TrainProcess, cfg.TrainNice, cfg.Engine.Train.Workers)
	}
	if w := serveEngine(cfg, nil).Train.Workers; w != serveTrainWorkers(runtime.NumCPU()) || w >= runtime.NumCPU() && runtime.NumCPU() > 1 {
		t.Errorf("serve trains with %d workers on %d cores", w, runtime.NumCPU())
	}
	for cpus, want := range map[int]int{1: 1, 2: 1, 8: 7} {
		if got := serveTrainWorkers(cpus); got != want {
			t.Errorf("%d cores: %d workers, want %d", cpus, got, want)
		}
	}
	cfg, err = loadConfig(env(map[string]string{"MOVIEREC_TRAIN_PROCESS": "inline", "MOVIEREC_TRAIN_NICE": "19", "MOVIEREC_TRAIN_WORKERS": "3"}))
	if err != nil || cfg.TrainNice != 19 || cfg.Engine.Train.Workers != 3 || serveEngine(cfg, nil).Trainer != nil || serveEngine(cfg, nil).Train.Workers != 3 {
		t.Errorf("set: %+v (%v)", cfg, err)
	}
	for name, value := range map[string]string{"MOVIEREC_TRAIN_PROCESS": "thread", "MOVIEREC_TRAIN_NICE": "20", "MOVIEREC_TRAIN_WORKERS": "-1"} {
		if _, err := loadConfig(env(map[string]string{name: value})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, value, err)
		}
	}
}

// TestCORSConfig: CORS is off unless origins are given; each must be an
// origin (scheme and host) or *.
func TestCORSConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if cfg, err := loadConfig(env(nil)); err != nil || len(cfg.CORSOrigins) != 0 {
		t.Errorf("default: %v (%v), want CORS off", cfg.CORSOrigins, err)
	}
	cfg, err := loadConfig(env(map[string]string{"MOVIEREC_CORS_ORIGINS": " https://app.example.com/, http://localhost:3000 "}))
	if err != nil || strings.Join(cfg.CORSOrigins, " ") != "https://app.example.com http://localhost:3000" {
		t.Errorf("two origins: %q (%v)", cfg.CORSOrigins, err)
	}
	for _, bad := range []string{"app.example.com", "ftp://x.example", "https://x.example/path", "https://", "https://x.example/?q=1"} {
		if _, err := loadConfig(env(map[string]string{"MOVIEREC_CORS_ORIGINS": bad})); err == nil || !strings.Contains(err.Error(), "MOVIEREC_CORS_ORIGINS") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}

// TestReplicaConfig: DATABASE_REPLICA_URLS takes comma-separated
// PostgreSQL URLs beside a PostgreSQL DATABASE_URL, with a lag bound and
// a check interval; anything else is refused at start-up with the
// variable's name.
func TestReplicaConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	pg := "postgres://app@db1:5432/movies"
	cfg, err := loadConfig(env(map[string]string{"DATABASE_URL": pg,
		"DATABASE_REPLICA_URLS":       " postgres://app@db2:5432/movies, postgresql://app@db3/movies ,",
		"MOVIEREC_DB_REPLICA_MAX_LAG": "2s", "MOVIEREC_DB_REPLICA_CHECK": "250ms"}))
	if err != nil || len(cfg.ReplicaURLs) != 2 || cfg.ReplicaURLs[1] != "postgresql://app@db3/movies" ||
		cfg.ReplicaMaxLag != 2*time.Second || cfg.ReplicaInterval != 250*time.Millisecond {
		t.Errorf("replicas: %q, lag %v, check %v (%v)", cfg.ReplicaURLs, cfg.ReplicaMaxLag, cfg.ReplicaInterval, err)
	}
	if cfg, _ := loadConfig(env(map[string]string{"DATABASE_URL": pg})); len(cfg.ReplicaURLs) != 0 ||
		cfg.ReplicaMaxLag != 5*time.Second || cfg.ReplicaInterval != time.Second {
		t.Errorf("defaults: %q, lag %v, check %v", cfg.ReplicaURLs, cfg.ReplicaMaxLag, cfg.ReplicaInterval)
	}
	for _, bad := range []map[string]string{
		{"DATABASE_REPLICA_URLS": "postgres://app@db2/movies"}, // SQLite primary
		{"DATABASE_URL": pg, "DATABASE_REPLICA_URLS": "mysql://db2/movies"},
		{"DATABASE_URL": pg, "MOVIEREC_DB_REPLICA_MAX_LAG": "soon"},
		{"DATABASE_URL": pg, "MOVIEREC_DB_REPLICA_CHECK": "0s"},
	} {
		if _, err := loadConfig(env(bad)); err == nil || !strings.Contains(err.Error(), "REPLICA") {
			t.Errorf("%v: %v, want an error naming the variable", bad, err)
		}
	}
}

// TestCatalogConfig: the catalog's timings have their documented
// defaults, can be set, and refuse what is not a duration; a probe gap
// of 0 turns the gap off.
func TestCatalogConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := loadConfig(env(nil))
	if err != nil || cfg.Catalog.Poll != 250*time.Millisecond || cfg.Catalog.Coalesce != 500*time.Millisecond ||
		cfg.Catalog.ProbeGap != time.Millisecond {
		t.Errorf("defaults: poll %v, coalesce %v, probe gap %v (%v)", cfg.Catalog.Poll, cfg.Catalog.Coalesce, cfg.Catalog.ProbeGap, err)
	}
	if cfg, err := loadConfig(env(map[string]string{"MOVIEREC_CATALOG_PROBE_GAP": "50ms"})); err != nil || cfg.Catalog.ProbeGap != maxProbeGap {
		t.Errorf("the largest gap: %v (%v)", cfg.Catalog.ProbeGap, err)
	}
	cfg, err = loadConfig(env(map[string]string{"MOVIEREC_CATALOG_PROBE_GAP": "0", "MOVIEREC_CATALOG_COALESCE": "200ms"}))
	if err != nil || cfg.Catalog.ProbeGap != 0 || cfg.Catalog.Coalesce != 200*time.Millisecond {
		t.Errorf("set: coalesce %v, probe gap %v (%v)", cfg.Catalog.Coalesce, cfg.Catalog.ProbeGap, err)
	}
	for _, value := range []string{"-1ms", "often", "51ms"} {
		if _, err := loadConfig(env(map[string]string{"MOVIEREC_CATALOG_PROBE_GAP": value})); err == nil ||
			!strings.Contains(err.Error(), "MOVIEREC_CATALOG_PROBE_GAP") {
			t.Errorf("MOVIEREC_CATALOG_PROBE_GAP=%s: %v", value, err)
		}
	}
}
