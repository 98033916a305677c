package main

import (
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
