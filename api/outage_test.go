package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestDatabaseOutageIs503: while PostgreSQL hangs (every byte held) or is
// gone (connections closed and refused), a request that needs it is
// answered 503 UNAVAILABLE with Retry-After within its statement deadline,
// not a 500 and not a hang; catalog reads keep answering from memory; when
// the database is back, writes succeed again, and every write that was
// acknowledged is stored.
func TestDatabaseOutageIs503(t *testing.T) {
	s, p := storetest.OpenPostgresProxied(t, sqlstore.Deadlines{Statement: 500 * time.Millisecond})
	if _, err := s.Import(context.Background(), storetest.Fixture(20), nil); err != nil {
		t.Fatal(err)
	}
	e := cachedServer(t, s, nil)
	ann := e.register("ann")
	acked := map[string]bool{}
	rate := func(id string) *http.Response {
		res := call(t, e.url, "POST", "/api/ratings/movies/"+id+"/rate/", ann.Access, map[string]any{"score": 4}, nil)
		if res.StatusCode/100 == 2 {
			acked[id] = true
		}
		return res
	}
	if res := rate("1"); res.StatusCode != http.StatusCreated {
		t.Fatalf("rating before any fault: %d", res.StatusCode)
	}
	for i, fault := range []struct {
		name  string
		apply func()
	}{{"hung", p.Freeze}, {"down", p.Down}} {
		fault.apply()
		var body struct {
			Error struct{ Code, Message string }
		}
		res := call(t, e.url, "POST", "/api/ratings/movies/2/rate/", ann.Access, map[string]any{"score": 3}, &body)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
			body.Error.Code != movierec.EUNAVAILABLE || body.Error.Message == "" {
			t.Errorf("%s database: rating answered %d (Retry-After %q) %+v, want 503 UNAVAILABLE with Retry-After",
				fault.name, res.StatusCode, res.Header.Get("Retry-After"), body.Error)
		}
		for _, path := range []string{"/api/movies/?ordering=-popularity_score", "/api/movies/3/", "/api/movies/popular/"} {
			if res, _ := fetch(t, e, path, "", nil); res.StatusCode != http.StatusOK {
				t.Errorf("%s database: GET %s answered %d, want 200 from the in-memory catalog", fault.name, path, res.StatusCode)
			}
		}
		p.Restore()
		id := []string{"5", "6"}[i]
		var last int
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if last = rate(id).StatusCode; last == http.StatusCreated {
				break
			}
		}
		if last != http.StatusCreated {
			t.Fatalf("after the %s database came back: rating answered %d", fault.name, last)
		}
	}
	u, err := s.UserByUsername(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		movieID, _ := strconv.ParseInt(id, 10, 64)
		if _, err := s.Rating(context.Background(), u.ID, movieID); err != nil {
			t.Errorf("acknowledged rating of movie %s: %v", id, err)
		}
	}
}

// TestBusyDatabaseIs503: on SQLite, a write lock held by another process
// past the statement deadline makes a rating a 503 UNAVAILABLE with
// Retry-After; the refusals are counted in movierec_db_unavailable_total
// and logged once per interval, not once per request. With HideMetrics
// (an admin listener serves them) /metrics is not on the public handler.
func TestBusyDatabaseIs503(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetDeadlines(sqlstore.Deadlines{Statement: 300 * time.Millisecond})
	if _, err := s.Import(context.Background(), storetest.Fixture(10), nil); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := observe.NewMetrics()
	ts := httptest.NewServer(api.New(s, storetest.Accounts(t, s), log, api.Options{Metrics: m, AccessLog: api.AccessLogSample}).Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, store: s, url: ts.URL}
	ann := e.register("ann")

	// Another process takes the write lock and keeps it.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		var body struct{ Error struct{ Code string } }
		res := call(t, e.url, "POST", "/api/ratings/movies/1/rate/", ann.Access, map[string]any{"score": 2}, &body)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || body.Error.Code != movierec.EUNAVAILABLE {
			t.Errorf("rating under another process's write lock: %d (Retry-After %q) %q, want 503 UNAVAILABLE",
				res.StatusCode, res.Header.Get("Retry-After"), body.Error.Code)
		}
	}
	if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if res := call(t, e.url, "POST", "/api/ratings/movies/1/rate/", ann.Access, map[string]any{"score": 2}, nil); res.StatusCode != http.StatusCreated {
		t.Errorf("rating once the lock is gone: %d", res.StatusCode)
	}
	if got := testutil.ToFloat64(m.DBUnavailable); got != 2 {
		t.Errorf("movierec_db_unavailable_total = %v, want 2", got)
	}
	// One line describes the outage, and one access line in a sample of
	// 100 stands for the refused requests.
	if n := strings.Count(logs.String(), `msg="database unavailable`); n != 1 {
		t.Errorf("%d outage lines for 2 refusals within 10 s, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "status=503"); n != 1 || !strings.Contains(logs.String(), "sampled_1_in=100") {
		t.Errorf("%d access lines for 2 refusals, want 1 standing for 100:\n%s", n, logs.String())
	}
	if res, _ := fetch(t, e, "/metrics", "", nil); res.StatusCode != http.StatusOK {
		t.Errorf("/metrics on the public handler: %d", res.StatusCode)
	}
	hidden := httptest.NewServer(api.New(s, storetest.Accounts(t, s), log, api.Options{Metrics: m, HideMetrics: true}).Handler())
	defer hidden.Close()
	if res, _ := fetch(t, &env{t: t, url: hidden.URL}, "/metrics", "", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics with HideMetrics: %d, want 404", res.StatusCode)
	}
}
