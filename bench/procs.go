package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// proc is a process the bench started.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan error
}

// startProc starts cmd with env, its output going to logPath.
func startProc(name string, cmd *exec.Cmd, env []string, logPath string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		f.Close()
		p.done <- err
		close(p.done)
	}()
	return p, nil
}

// stop asks the process to end (SIGTERM), and kills it if it has not ended
// after grace.
func (p *proc) stop(grace time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case err, ok := <-p.done:
		if !ok {
			return true, errors.New("exited")
		}
		return true, fmt.Errorf("exited: %v", err)
	default:
		return false, nil
	}
}

// logTail returns the last lines of a log file, for error messages.
func logTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// runTool runs one movierec command to its end (migrate, import, train...).
func runTool(ctx context.Context, name string, cmd *exec.Cmd, env []string, logPath string) error {
	p, err := startProc(name, cmd, env, logPath)
	if err != nil {
		return err
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, logTail(logPath, 15))
		}
		return nil
	case <-ctx.Done():
		p.stop(5 * time.Second)
		return ctx.Err()
	}
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls base+path until it answers 200 and ok accepts the body,
// the process ends, or timeout passes.
func waitReady(ctx context.Context, p *proc, base, path string, timeout time.Duration, ok func([]byte) bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if ended, err := p.exited(); ended {
			return fmt.Errorf("%s %v before it was ready\n%s", p.name, err, logTail(p.log, 15))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if resp, err := client.Do(req); err == nil {
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && (ok == nil || ok(body.Bytes())) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready at %s%s after %s (log: %s)", p.name, base, path, timeout, p.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// hasModel accepts a /health/ answer that names a model version.
func hasModel(body []byte) bool {
	var h struct {
		ModelVersion string `json:"model_version"`
	}
	return json.Unmarshal(body, &h) == nil && h.ModelVersion != ""
}

// createPostgresDB creates a fresh database on the server serverURL names
// and returns its URL and a function that drops it.
func createPostgresDB(ctx context.Context, serverURL, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// childEnv is the environment of the processes the bench starts: the
// caller's, without the variables the bench sets itself, plus set.
func childEnv(base []string, set map[string]string) []string {
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		// Also what would make the servers collide or change what is
		// measured: one admin address or socket for all, another database.
		if _, ok := set[k]; ok || k == "DATABASE_URL" || k == "REDIS_URL" || k == "DATABASE_REPLICA_URLS" || k == "MOVIEREC_ADDR" ||
			k == "MOVIEREC_CACHE" || k == "MOVIEREC_ADMIN_ADDR" || k == "MOVIEREC_SOCKET" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// passedThrough lists the MOVIEREC_* variables of base that reach the
// servers unchanged, for the report.
func passedThrough(base []string, set map[string]string) []string {
	var out []string
	for _, kv := range childEnv(base, set) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := set[k]; !ours && strings.HasPrefix(k, "MOVIEREC_") {
			out = append(out, kv)
		}
	}
	return out
}

// logPath names a log file in dir.
func logPath(dir, name string) string { return filepath.Join(dir, name+".log") }

// cpuTime sums the user and system CPU time of the processes pids (from
// /proc/PID/stat, in clock ticks of 10 ms). It reports false when there are
// none or one cannot be read.
func cpuTime(pids []int) (time.Duration, bool) {
	if len(pids) == 0 {
		return 0, false
	}
	var ticks int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		// The fields after the command name (which may hold spaces) start
		// with the state; utime and stime are the 14th and 15th of all.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			return 0, false
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 13 {
			return 0, false
		}
		for _, v := range f[11:13] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, false
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}
