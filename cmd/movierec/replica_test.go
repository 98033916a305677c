package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestServeWithReplica runs two "movierec serve" processes on a primary
// with a streaming standby (DATABASE_REPLICA_URLS), as the production
// layout does: a rating written on one instance is in the movie's public
// ratings list on the other at once, even while the standby has stopped
// replaying; the standby takes reads while it is well (the catalog load);
// when it is stopped every request still succeeds from the primary, and
// /health/ and /metrics say so; started again, it is used again.
func TestServeWithReplica(t *testing.T) {
	if _, ok := dbURLs(t)["postgres"]; !ok {
		t.Skipf("%s is not set", storetest.PostgresURLEnv)
	}
	primary := storetest.OwnPostgres(t)
	standby := primary.Standby()
	withStore(t, primary.URL(), func(s *sqlstore.Store) {
		ds := demodata.Generate(demodata.Options{Movies: 300, Users: 60, Ratings: 4000, Seed: 7})
		if _, err := s.Import(context.Background(), ds, nil); err != nil {
			t.Fatal(err)
		}
	})
	env := map[string]string{"DATABASE_URL": primary.URL(), "DATABASE_REPLICA_URLS": standby.URL(),
		"MOVIEREC_DB_REPLICA_CHECK": "100ms", "MOVIEREC_LOG_LEVEL": "warn",
		"MOVIEREC_SECRET_KEY":     "a-shared-signing-key-of-32-characters-or-more",
		"MOVIEREC_TRAIN_INTERVAL": "0", "MOVIEREC_TRAIN_AFTER_RATINGS": "0", "MOVIEREC_TRAIN_PROCESS": "inline",
		"MOVIEREC_DEMO_DATA": "never", "MOVIEREC_THROTTLE_REGISTER": "off"}
	a, b := startServe(t, env), startServe(t, env)

	type replicaJSON struct {
		Name, State string
		Reads       int64
		LagSeconds  float64 `json:"lag_seconds"`
	}
	health := func(base string) (int, replicaJSON) {
		t.Helper()
		res, err := http.Get(base + "/health/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var h struct {
			Status   string
			Pool     *struct{ Max int }
			Replicas []replicaJSON
		}
		if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		if h.Pool == nil || h.Pool.Max == 0 || len(h.Replicas) != 1 {
			t.Fatalf("/health/ on PostgreSQL with a replica: pool %+v, replicas %+v", h.Pool, h.Replicas)
		}
		return res.StatusCode, h.Replicas[0]
	}
	waitState := func(base, state string) replicaJSON {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, r := health(base); r.State == state {
				return r
			} else if time.Now().After(end) {
				t.Fatalf("%s: replica %+v, want state %q", base, r, state)
			}
		}
	}
	for _, base := range []string{a, b} {
		if r := waitState(base, "ok"); r.Reads == 0 {
			t.Errorf("%s: the replica answered no read (the catalog load is one)", base)
		}
	}

	get := func(base, path string) []byte {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s%s: %d %s", base, path, res.StatusCode, body)
		}
		return body
	}
	post := func(base, path, token string, body any) *http.Response {
		t.Helper()
		res := apiCall(t, base, "POST", path, token, body)
		res.Body.Close()
		return res
	}

	// The standby stops replaying: what it answers is old from now on.
	conn, err := pgx.Connect(context.Background(), standby.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	res, err := http.Post(a+"/api/auth/register/", "application/json",
		strings.NewReader(`{"username": "rita", "email": "rita@example.com", "password": "correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Access string }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	for movie := 1; movie <= 5; movie++ {
		if res := post(a, "/api/ratings/movies/"+strconv.Itoa(movie)+"/rate/", tok.Access, map[string]any{"score": 4.5, "review": "seen on a"}); res.StatusCode != 201 {
			t.Fatalf("rating movie %d on a: %d", movie, res.StatusCode)
		}
		// At once, on the other instance, for an anonymous reader.
		for _, base := range []string{a, b} {
			if body := get(base, "/api/ratings/movies/"+strconv.Itoa(movie)+"/ratings/"); !bytes.Contains(body, []byte(`"username":"rita"`)) {
				t.Fatalf("movie %d's ratings on %s right after the write on a: rita's rating is missing: %s", movie, base, body)
			}
		}
	}
	conn, err = pgx.Connect(context.Background(), standby.URL())
	if err != nil {
		t.Fatal(err)
	}
	conn.Exec(context.Background(), `SELECT pg_wal_replay_resume()`)
	conn.Close(context.Background())

	// The standby goes away: every request still succeeds.
	standby.Stop()
	for i := 0; i < 40; i++ {
		for _, base := range []string{a, b} {
			get(base, "/api/ratings/movies/"+strconv.Itoa(1+i%20)+"/ratings/")
			get(base, "/api/movies/"+strconv.Itoa(1+i%20)+"/")
		}
	}
	for _, base := range []string{a, b} {
		waitState(base, "unreachable")
		if code, _ := health(base); code != 200 {
			t.Errorf("%s: /health/ %d with the primary up and the replica down, want 200", base, code)
		}
		metrics := get(base, "/metrics")
		if !bytes.Contains(metrics, []byte(`movierec_db_replica_up{replica="`)) || !bytes.Contains(metrics, []byte(`state="unreachable"} 0`)) {
			t.Errorf("%s: /metrics does not show the replica down:\n%s", base, grepLines(metrics, "movierec_db_replica"))
		}
	}
	if res := post(b, "/api/ratings/movies/7/rate/", tok.Access, map[string]any{"score": 2}); res.StatusCode != 201 {
		t.Fatalf("rating with the replica down: %d", res.StatusCode)
	}

	// Back: used again.
	standby.Start()
	for _, base := range []string{a, b} {
		before := waitState(base, "ok").Reads
		for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			get(base, "/api/ratings/movies/2/ratings/")
			if _, r := health(base); r.Reads > before {
				break
			} else if time.Now().After(end) {
				t.Fatalf("%s: the replica is back but answers nothing", base)
			}
		}
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
