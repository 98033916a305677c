package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/storetest"
)

// accessLogServer is an API with opts logging at debug, every SQL
// statement included, into the returned buffer.
func accessLogServer(t *testing.T, opts api.Options) (*api.Server, *bytes.Buffer) {
	s := storetest.OpenSQLite(t)
	if _, err := s.Import(context.Background(), storetest.Fixture(40), nil); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Observe(&observe.DBObserver{Log: log, Debug: true})
	return api.New(s, storetest.Accounts(t, s), log, opts), &logs
}

// serve sends GET path with X-Request-ID id through the whole handler,
// in process, and returns the status.
func serve(srv *api.Server, path, id string) int {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("X-Request-ID", id)
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	return w.Code
}

var requestIDAttr = regexp.MustCompile(`request_id=(\S+)`)

// accessLines maps the request ID of every access log line to the line.
func accessLines(t *testing.T, logs string) (ids []string, lines map[string]string) {
	t.Helper()
	lines = map[string]string{}
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "msg=request ") {
			continue
		}
		m := requestIDAttr.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("an access line without a request ID: %s", line)
		}
		ids = append(ids, m[1])
		lines[m[1]] = line
	}
	return ids, lines
}

// TestAccessLogSampling: under "sample" with N=3, the 1st, 4th and 7th
// ordinary requests are logged, and every 4xx and 5xx, which do not count
// towards the sample; a request that is not logged still has its request
// ID on the lines other code writes.
func TestAccessLogSampling(t *testing.T) {
	srv, logs := accessLogServer(t, api.Options{AccessLog: api.AccessLogSample, AccessLogSample: 3, AccessLogSlow: time.Hour})
	for _, r := range []struct {
		id, path string
		status   int
	}{
		{"o1", "/api/movies/1/", 200},
		{"o2", "/api/movies/2/", 200},
		{"n1", "/api/movies/4242/", 404},
		{"o3", "/api/movies/3/", 200},
		{"o4", "/api/movies/?page_size=2", 200},
		{"b1", "/api/movies/?page_size=abc", 400},
		{"o5", "/healthz", 200},
		{"o6", "/api/movies/1/", 200},
		{"o7", "/api/movies/genres/", 200},
	} {
		if got := serve(srv, r.path, r.id); got != r.status {
			t.Fatalf("%s %s: %d, want %d", r.id, r.path, got, r.status)
		}
	}
	srv.SetReady(false)
	if got := serve(srv, "/readyz", "s1"); got != 503 {
		t.Fatalf("/readyz while shutting down: %d", got)
	}
	ids, lines := accessLines(t, logs.String())
	if want := []string{"o1", "n1", "o4", "b1", "o7", "s1"}; !slices.Equal(ids, want) {
		t.Fatalf("access lines for %q, want %q:\n%s", ids, want, logs.String())
	}
	for _, id := range []string{"o1", "o4", "o7"} {
		if !strings.Contains(lines[id], "level=INFO") || !strings.Contains(lines[id], "sampled_1_in=3") {
			t.Errorf("sampled line: %s", lines[id])
		}
	}
	for id, level := range map[string]string{"n1": "level=INFO", "b1": "level=INFO", "s1": "level=WARN"} {
		if !strings.Contains(lines[id], level) || strings.Contains(lines[id], "sampled_1_in") {
			t.Errorf("error line, want %s and no sampling: %s", level, lines[id])
		}
	}
	if !strings.Contains(logs.String(), "request_id=o2") || !strings.Contains(logs.String(), "msg=sql") {
		t.Errorf("the statements of an unlogged request lost its request ID:\n%s", logs.String())
	}
}

// TestAccessLogModes: "all" logs everything, "errors" only failures,
// slow requests are logged (as warnings) whatever the mode but "off",
// and "off" logs nothing at all.
func TestAccessLogModes(t *testing.T) {
	const everySlow = time.Nanosecond // every request takes longer
	for _, c := range []struct {
		name string
		opts api.Options
		want []string // access lines for o1, o2, n1 and s1 (a 503), in order
		warn []string
	}{
		{"ZeroOptionsLogAll", api.Options{}, []string{"o1", "o2", "n1", "s1"}, []string{"s1"}},
		{"All", api.Options{AccessLog: api.AccessLogAll, AccessLogSlow: time.Hour}, []string{"o1", "o2", "n1", "s1"}, []string{"s1"}},
		{"Errors", api.Options{AccessLog: api.AccessLogErrors}, []string{"n1", "s1"}, []string{"s1"}},
		{"ErrorsAndSlow", api.Options{AccessLog: api.AccessLogErrors, AccessLogSlow: everySlow}, []string{"o1", "o2", "n1", "s1"},
			[]string{"o1", "o2", "n1", "s1"}},
		{"SampleAndSlow", api.Options{AccessLog: api.AccessLogSample, AccessLogSample: 1000, AccessLogSlow: everySlow},
			[]string{"o1", "o2", "n1", "s1"}, []string{"o1", "o2", "n1", "s1"}},
		{"Off", api.Options{AccessLog: api.AccessLogOff, AccessLogSlow: everySlow}, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, logs := accessLogServer(t, c.opts)
			serve(srv, "/api/movies/1/", "o1")
			serve(srv, "/api/movies/?page_size=3", "o2")
			serve(srv, "/api/movies/4242/", "n1")
			srv.SetReady(false)
			serve(srv, "/readyz", "s1")
			ids, lines := accessLines(t, logs.String())
			if !slices.Equal(ids, c.want) {
				t.Fatalf("access lines for %q, want %q:\n%s", ids, c.want, logs.String())
			}
			for _, id := range ids {
				if warn := strings.Contains(lines[id], "level=WARN"); warn != slices.Contains(c.warn, id) {
					t.Errorf("%s: %s", id, lines[id])
				}
			}
		})
	}
}

func TestParseAccessLog(t *testing.T) {
	for s, want := range map[string]api.AccessLog{"all": api.AccessLogAll, "sample": api.AccessLogSample,
		"errors": api.AccessLogErrors, "off": api.AccessLogOff} {
		if m, err := api.ParseAccessLog(s); err != nil || m != want || m.String() != s {
			t.Errorf("ParseAccessLog(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "ALL", "none", "1"} {
		if _, err := api.ParseAccessLog(s); err == nil {
			t.Errorf("ParseAccessLog(%q) accepted", s)
		}
	}
}
