package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// apiCall sends method path to the server at base with body as JSON (none
// when nil) and token as a bearer token (none when empty). The caller
// closes the response's body.
func apiCall(t *testing.T, base, method, path, token string, body any) *http.Response {
	t.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestServeFreshMachine is what a newcomer sees: serve on an empty
// database answers with the demo catalog, trains its first model in a
// child process and serves it, then shuts down cleanly.
func TestServeFreshMachine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := serveInProcess(t, ctx, map[string]string{
		"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "fresh.db"), "MOVIEREC_LOG_LEVEL": "warn"})
	res, err := http.Get(base + "/api/movies/")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Count   int `json:"count"`
		Results []struct {
			Title string `json:"title"`
		} `json:"results"`
	}
	err = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || page.Count != 4000 || len(page.Results) != 20 || page.Results[0].Title == "" {
		t.Fatalf("GET /api/movies/: %d %+v %v", res.StatusCode, page, err)
	}
	// The first model is trained by a child process ("movierec train";
	// here the test binary, see TestMain) and then served.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var h struct {
			ModelVersion *string `json:"model_version"`
		}
		if res, err := http.Get(base + "/health/"); err == nil {
			json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
		}
		if h.ModelVersion != nil && *h.ModelVersion != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no model served 2 minutes after start: the child trainer did not deliver one")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancellation, want a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeWithoutCache: MOVIEREC_CACHE=false serves (every answer made
// afresh) instead of failing on the missing cache.
func TestServeWithoutCache(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := serveInProcess(t, ctx, map[string]string{"DATABASE_URL": smallCatalog(t, 3), "MOVIEREC_LOG_LEVEL": "warn",
		"MOVIEREC_CACHE": "false", "MOVIEREC_TRAIN_PROCESS": "inline", "MOVIEREC_DEMO_DATA": "never"})
	for _, path := range []string{"/api/movies/", "/api/movies/1/", "/api/movies/popular/"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Server-Timing") == "" {
			t.Errorf("GET %s without a cache: %d", path, res.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v", err)
	}
}

// serveInProcess runs "serve" with env in this process until ctx ends,
// and returns its base URL once ready and the channel its result arrives
// on.
func serveInProcess(t *testing.T, ctx context.Context, env map[string]string) (string, <-chan error) {
	t.Helper()
	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := runCmdContext(ctx, env, "serve", "-addr", addr)
		done <- err
	}()
	base := "http://" + addr
	// Generous: under -race, with other packages' tests on the same cores.
	for deadline := time.Now().Add(3 * time.Minute); !ready(base); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not become ready")
		}
	}
	return base, done
}
