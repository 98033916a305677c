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

// TestTrainWorkers: serve's training leaves a core to requests unless
// MOVIEREC_TRAIN_WORKERS says otherwise.
func TestTrainWorkers(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := serveEngine(cfg.Engine).Train.Workers, max(1, runtime.NumCPU()-1); got != want {
		t.Errorf("default serve training workers %d, want %d", got, want)
	}
	cfg, err = loadConfig(env(map[string]string{"MOVIEREC_TRAIN_WORKERS": "3"}))
	if err != nil || serveEngine(cfg.Engine).Train.Workers != 3 || cfg.Engine.Train.Workers != 3 {
		t.Errorf("MOVIEREC_TRAIN_WORKERS=3: %d (%v)", serveEngine(cfg.Engine).Train.Workers, err)
	}
	if _, err := loadConfig(env(map[string]string{"MOVIEREC_TRAIN_WORKERS": "-1"})); err == nil {
		t.Error("MOVIEREC_TRAIN_WORKERS=-1 accepted")
	}
}
