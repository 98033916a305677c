package observe_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/storetest"
)

func TestShape(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT a\n\t FROM b WHERE id IN ($1, $2,$3)": "SELECT a FROM b WHERE id IN ($N...)",
		"  UPDATE x SET y = $1  ":                     "UPDATE x SET y = $1",
	} {
		if got := observe.Shape(in); got != want {
			t.Errorf("Shape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{200: "2xx", 304: "3xx", 404: "4xx", 503: "5xx", 42: "unknown"} {
		if got := observe.StatusClass(code); got != want {
			t.Errorf("StatusClass(%d) = %q", code, got)
		}
	}
}

// TestSlowStatementLog runs a deliberately slow statement (pg_sleep) on a
// real PostgreSQL and expects one warning with the statement, no values,
// and the plan, and no second plan for the same shape.
func TestSlowStatementLog(t *testing.T) {
	s := storetest.OpenPostgres(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	obs := &observe.DBObserver{Log: log, Slow: 50 * time.Millisecond, Explain: observe.Explain(s.Unobserved()), ExplainEvery: time.Hour}
	s.Observe(obs)
	ctx, stats := observe.WithRequestStats(context.Background())
	for range 2 {
		var v string
		if err := s.Conn().QueryRow(ctx, `SELECT CAST(pg_sleep($1) AS TEXT)`, 0.08).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	if strings.Count(out, "slow statement") != 2 || !strings.Contains(out, "pg_sleep($1)") || strings.Contains(out, "0.08") {
		t.Errorf("slow log:\n%s", out)
	}
	if strings.Count(out, "plan=") != 1 || !strings.Contains(out, "Result") {
		t.Errorf("want exactly one plan for the shape:\n%s", out)
	}
	if stats.Queries() != 2 || stats.DBTime() < 160*time.Millisecond {
		t.Errorf("request stats: %d queries, %v", stats.Queries(), stats.DBTime())
	}
	buf.Reset()
	// A statement under the threshold (reported directly: a real one may
	// take 100 ms on a loaded machine) is not logged.
	obs.Statement(ctx, `SELECT 1`, nil, 10*time.Millisecond, nil)
	if buf.Len() != 0 {
		t.Errorf("a fast statement was logged: %s", buf.String())
	}
}

// TestSlowStatementLogBounded: a huge statement (such as a filter with
// thousands of values) gives a slow-statement line of bounded size that
// says how much it left out.
func TestSlowStatementLogBounded(t *testing.T) {
	var buf bytes.Buffer
	obs := &observe.DBObserver{Log: slog.New(slog.NewTextHandler(&buf, nil)), Slow: time.Millisecond}
	huge := "SELECT id FROM movies WHERE title = 'é" + strings.Repeat("x", 90_000) + "'"
	obs.Statement(context.Background(), huge, nil, time.Second, nil)
	line := buf.String()
	if !strings.Contains(line, "slow statement") || !strings.Contains(line, "more bytes)") || len(line) > 1500 {
		t.Errorf("%d-byte log line for a %d-byte statement: %.300s", len(line), len(huge), line)
	}
}
