package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// startServe runs "movierec serve" as a process of its own (this test
// binary, see TestMain) with env, and returns its base URL once ready.
func startServe(t *testing.T, env map[string]string) string {
	t.Helper()
	base, _, _ := startServeProcess(t, env)
	return base
}

// startServeProcess is startServe that also returns the process and its
// standard error (read it only once the process has ended).
func startServeProcess(t *testing.T, env map[string]string) (string, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "MOVIEREC_MAIN_ARGS=serve -addr "+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	// Generous: under -race, with other packages' tests on the same cores.
	for deadline := time.Now().Add(3 * time.Minute); !ready(base); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait() // stderr is complete (and no longer written) after this
			t.Fatalf("serve did not become ready:\n%s", stderr.String())
		}
	}
	return base, cmd, stderr
}

// smallCatalog returns the URL of a fresh SQLite database holding a small
// generated catalog: a -race build of serve takes a minute to load the
// demo catalog into an empty one when the machine is busy. Serve it with
// MOVIEREC_DEMO_DATA=never.
func smallCatalog(t *testing.T, seed uint64) string {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "small.db")
	withStore(t, url, func(s *sqlstore.Store) {
		ds := demodata.Generate(demodata.Options{Movies: 400, Users: 100, Ratings: 8000, Seed: seed})
		if _, err := s.Import(context.Background(), ds, nil); err != nil {
			t.Fatal(err)
		}
	})
	return url
}

// TestTwoServeProcesses runs two "movierec serve" processes on one
// PostgreSQL schema and one Redis, as a deployment does: one of them
// trains per trigger and both serve that model; a logout on one ends the
// session on the other at once; the login limit counts attempts on both
// together.
func TestTwoServeProcesses(t *testing.T) {
	urls := dbURLs(t)
	pg, ok := urls["postgres"]
	if !ok {
		t.Skipf("%s is not set", storetest.PostgresURLEnv)
	}
	rawRedis := os.Getenv(storetest.RedisURLEnv)
	if rawRedis == "" {
		t.Skipf("%s is not set", storetest.RedisURLEnv)
	}
	// A Redis database of this test's own (the servers use no key prefix).
	ru, err := url.Parse(rawRedis)
	if err != nil {
		t.Fatal(err)
	}
	ru.Path = "/13"
	ro, err := redis.ParseURL(ru.String())
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(ro)
	defer rc.Close()
	ctx := context.Background()
	if err := rc.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.FlushDB(context.Background()) })
	if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": pg}, "demo-data"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": pg, "REDIS_URL": ru.String(), "MOVIEREC_LOG_LEVEL": "warn",
		"MOVIEREC_SECRET_KEY": "a-shared-signing-key-of-32-characters-or-more", "MOVIEREC_THROTTLE_LOGIN": "3/min",
		"MOVIEREC_TRAIN_INTERVAL": "0", "MOVIEREC_TRAIN_AFTER_RATINGS": "5", "MOVIEREC_TRAIN_POLL": "200ms",
		"MOVIEREC_TRAIN_PROCESS": "inline", "MOVIEREC_DEMO_DATA": "never"}
	a, b := startServe(t, env), startServe(t, env)

	models := func() (n int, versions [2]string) {
		t.Helper()
		withStore(t, pg, func(s *sqlstore.Store) {
			if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM models`).Scan(&n); err != nil {
				t.Fatal(err)
			}
		})
		for i, base := range []string{a, b} {
			var h struct {
				ModelVersion *string `json:"model_version"`
			}
			if res, err := http.Get(base + "/health/"); err == nil {
				json.NewDecoder(res.Body).Decode(&h)
				res.Body.Close()
			}
			if h.ModelVersion != nil {
				versions[i] = *h.ModelVersion
			}
		}
		return n, versions
	}
	// settled waits until both serve one model version other than old,
	// and returns how many models are stored.
	settled := func(what, old string) (int, string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			n, v := models()
			if v[0] != "" && v[0] == v[1] && v[0] != old {
				time.Sleep(time.Second) // a second trainer would have saved by now
				if n2, v2 := models(); n2 != n || v2 != v {
					t.Fatalf("%s: models changed after both served %s: %d → %d stored, serving %v", what, v[0], n, n2, v2)
				}
				return n, v[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: both instances never served one model (serving %v, %d stored)", what, v, n)
			}
		}
	}
	n, first := settled("start", "")
	if n != 1 {
		t.Errorf("start: %d models stored for one trigger (no model), want 1", n)
	}

	call := func(base, method, path, token string, body any) *http.Response {
		t.Helper()
		return apiCall(t, base, method, path, token, body)
	}
	var tok struct{ Access, Refresh string }
	res := call(a, "POST", "/api/auth/register/", "", map[string]string{"username": "pat", "email": "pat@example.com", "password": "correct horse"})
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	for movie := 1; movie <= 6; movie++ {
		if res := call(a, "POST", "/api/ratings/movies/"+strconv.Itoa(movie)+"/rate/", tok.Access, map[string]any{"score": 4}); res.StatusCode != 201 {
			t.Fatalf("rating %d: %d", movie, res.StatusCode)
		}
	}
	if n, _ := settled("6 ratings (trigger: 5)", first); n != 2 {
		t.Errorf("after one trigger: %d models stored, want 2 (one training)", n)
	}

	if res := call(b, "GET", "/api/auth/profile/", tok.Access, nil); res.StatusCode != 200 { // b caches the session
		t.Fatalf("profile on b: %d", res.StatusCode)
	}
	if res := call(a, "POST", "/api/auth/logout/", tok.Access, map[string]string{"refresh": tok.Refresh}); res.StatusCode/100 != 2 {
		t.Fatalf("logout on a: %d", res.StatusCode)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res := call(b, "GET", "/api/auth/profile/", tok.Access, nil); res.StatusCode == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b still accepts the access token 10 s after a logout on a")
		}
	}

	var codes []int
	for _, base := range []string{a, b, a, b} {
		res := call(base, "POST", "/api/auth/login/", "", map[string]string{"username": "nobody", "password": "wrong"})
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	if want := []int{401, 401, 401, 429}; !slices.Equal(codes, want) {
		t.Errorf("login attempts spread over both instances answered %v, want %v (one shared limit of 3/min)", codes, want)
	}
}
