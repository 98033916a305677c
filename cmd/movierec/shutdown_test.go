package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run the real binary: the test executable re-runs
// itself with MOVIEREC_MAIN_ARGS set and becomes "movierec ARGS".
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("MOVIEREC_MAIN_ARGS"); ok {
		os.Args = append([]string{"movierec"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestGracefulShutdown sends SIGTERM to a real "movierec serve" process
// under load: readiness turns 503 while requests are still answered (with
// "Connection: close", so clients reconnect rather than keep a connection
// that is about to close), and no request the server accepted fails.
func TestGracefulShutdown(t *testing.T) {
	base, cmd, stderr := startServeProcess(t, map[string]string{"DATABASE_URL": smallCatalog(t, 11),
		"MOVIEREC_DEMO_DATA": "never", "MOVIEREC_SHUTDOWN_DELAY": "1s", "MOVIEREC_SHUTDOWN_GRACE": "10s",
		"MOVIEREC_LOG_LEVEL": "warn", "MOVIEREC_TRAIN_INTERVAL": "0", "MOVIEREC_TRAIN_AFTER_RATINGS": "0"})

	client := &http.Client{Timeout: 20 * time.Second}
	// The load runs until the listener refuses it (or a minute passes):
	// a fixed number of requests may all be done before the delay ends.
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	var mu sync.Mutex
	var ok, refused int
	var sawClose atomic.Bool // an answer said "Connection: close" (after the delay, on an open connection)
	var failures []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// Was the request sent on a connection the server had
				// answered on before? A new one that fails before any
				// answer was never accepted by the server: it was in the
				// kernel's queue when the listener closed (a balancer
				// stops sending before that; this test keeps sending).
				var reused atomic.Bool
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused.Store(info.Reused) }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
					"GET", base+"/api/movies/?page_size=50", nil)
				res, err := client.Do(req)
				mu.Lock()
				switch {
				case err != nil && (errors.Is(err, syscall.ECONNREFUSED) || !reused.Load() && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))):
					refused++ // not accepted: the listener is closed
				case err != nil:
					failures = append(failures, err.Error())
				default:
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.Close {
						sawClose.Store(true)
					}
					if res.StatusCode == 200 {
						ok++
					} else {
						failures = append(failures, res.Status)
					}
				}
				closed := refused > 0
				mu.Unlock()
				if closed {
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sawNotReady := false
	for start := time.Now(); time.Since(start) < 900*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		res, err := client.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			sawNotReady = sawNotReady || res.StatusCode == http.StatusServiceUnavailable
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	stop()
	wg.Wait()
	if !sawNotReady {
		t.Error("/readyz never answered 503 during the shutdown delay")
	}
	if !sawClose.Load() {
		t.Error(`no answer after the shutdown delay said "Connection: close"`)
	}
	if len(failures) > 0 {
		t.Errorf("%d accepted requests failed, e.g. %s", len(failures), failures[0])
	}
	if ok == 0 {
		t.Error("no request succeeded")
	}
	t.Logf("%d requests answered, %d refused after the listener closed", ok, refused)
}

func ready(base string) bool {
	res, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// TestServeUnixSocket: with MOVIEREC_SOCKET serve answers the API on a
// Unix socket too (for a proxy on the same host), replaces a socket a
// killed process left behind, refuses a path that is some other file, and
// removes its socket when it stops.
func TestServeUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "movierec.sock")
	// A socket file left by a process that died.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	env := map[string]string{"DATABASE_URL": smallCatalog(t, 12), "MOVIEREC_DEMO_DATA": "never",
		"MOVIEREC_SOCKET": sock, "MOVIEREC_LOG_LEVEL": "warn", "MOVIEREC_TRAIN_INTERVAL": "0",
		"MOVIEREC_TRAIN_AFTER_RATINGS": "0"}
	base, cmd, stderr := startServeProcess(t, env)
	overSocket := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	for _, path := range []string{"/readyz", "/api/movies/?page_size=5"} {
		res, err := overSocket.Get(base + path) // the same Host header: the same links
		if err != nil {
			t.Fatalf("GET %s over the socket: %v", path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s over the socket: %d %s", path, res.StatusCode, body)
		}
		if path != "/readyz" {
			// The same answer as on TCP.
			res, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			tcp, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if !bytes.Equal(tcp, body) {
				t.Errorf("the socket and TCP answer %s differently:\n%s\n%s", path, body, tcp)
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, stderr)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after serve stopped: %v", err)
	}

	// A path that is not a socket is never removed.
	if err := os.WriteFile(sock, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderrOut, err := runCmd(t, env, "serve", "-addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error()+stderrOut, "not a socket") {
		t.Errorf("serve with MOVIEREC_SOCKET on a regular file: %v\n%s", err, stderrOut)
	}
	if data, _ := os.ReadFile(sock); string(data) != "keep me" {
		t.Errorf("the file at MOVIEREC_SOCKET was changed: %q", data)
	}
}
