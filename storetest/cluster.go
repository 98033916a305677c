package storetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster is a PostgreSQL server of the test's own (initdb in a temporary
// directory, on a free loopback port), so a test can stop, start and
// freeze a real database without disturbing other tests. See OwnPostgres.
type Cluster struct {
	tb      testing.TB
	bin     string // directory of initdb, pg_ctl, postgres
	dir     string // data directory
	port    int
	asUser  string // run the server's commands as this user ("" : as ourselves)
	stopped []int  // processes Freeze stopped
}

// OwnPostgres starts a fresh PostgreSQL cluster for the test and stops it
// when the test ends. It needs the server binaries (/usr/lib/postgresql/
// */bin, as Debian installs them): without them it skips, unless
// PostgresURLEnv is set (then PostgreSQL tests must run and it fails).
// Running as root, the cluster runs as the postgres user.
func OwnPostgres(tb testing.TB) *Cluster {
	tb.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv(PostgresURLEnv) != "" {
			tb.Fatal("PostgreSQL server binaries not found under /usr/lib/postgresql")
		}
		tb.Skip("PostgreSQL server binaries not found under /usr/lib/postgresql")
	}
	sort.Strings(bins)
	c := &Cluster{tb: tb, bin: filepath.Dir(bins[len(bins)-1])}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			tb.Fatalf("running as root, a cluster needs the postgres user: %v", err)
		}
		c.asUser = "postgres"
	}
	parent := newParent(tb, c.asUser)
	c.dir = filepath.Join(parent, "data")
	c.port = freePort(tb)
	c.run("initdb", "-D", c.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.Set(fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\n"+
		"shared_buffers = 32MB\nmax_connections = 50", c.port, parent))
	c.Start()
	tb.Cleanup(func() {
		c.Thaw()
		c.pgctl("stop", "-m", "immediate")
	})
	return c
}

// freePort returns a loopback TCP port nobody listens on.
func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newParent makes the temporary directory of a cluster, owned by the
// user the cluster runs as.
func newParent(tb testing.TB, asUser string) string {
	parent, err := os.MkdirTemp("", "movierec-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(parent) })
	if asUser != "" {
		u, err := user.Lookup(asUser)
		if err != nil {
			tb.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(parent, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	return parent
}

// Standby starts a streaming standby of c (pg_basebackup -R over
// replication on loopback, which initdb's trust pg_hba allows) on a port
// of its own, a read replica for the test; it is stopped when the test
// ends. Its URL names the same database as c's.
func (c *Cluster) Standby() *Cluster {
	c.tb.Helper()
	parent := newParent(c.tb, c.asUser)
	sb := &Cluster{tb: c.tb, bin: c.bin, dir: filepath.Join(parent, "data"), asUser: c.asUser, port: freePort(c.tb)}
	sb.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", "-D", sb.dir,
		"-R", "-X", "stream", "--no-sync")
	sb.Set(fmt.Sprintf("port = %d\nunix_socket_directories = '%s'\nhot_standby_feedback = on", sb.port, parent))
	sb.Start()
	c.tb.Cleanup(func() {
		sb.Thaw()
		sb.pgctl("stop", "-m", "immediate")
	})
	return sb
}

// Set appends settings (postgresql.conf lines) to the cluster's
// configuration; a running server reloads it (only settings that a
// reload changes take effect).
func (c *Cluster) Set(lines string) {
	c.tb.Helper()
	f, err := os.OpenFile(filepath.Join(c.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.tb.Fatal(err)
	}
	_, err = f.WriteString("\n" + lines + "\n")
	f.Close()
	if err != nil {
		c.tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "postmaster.pid")); err == nil {
		c.pgctl("reload")
	}
}

// URL is the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.tb.Helper()
	c.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(filepath.Dir(c.dir), "server.log"))
}

// Stop shuts the server down the way an operator does (pg_ctl stop -m
// fast: sessions are terminated with an admin-shutdown error).
func (c *Cluster) Stop() {
	c.tb.Helper()
	c.pgctl("stop", "-w", "-m", "fast")
}

// Freeze stops (SIGSTOP) the server and all its processes: connections
// stay open and nothing answers, as with a hung machine. Thaw resumes it.
func (c *Cluster) Freeze() {
	c.tb.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		c.tb.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	if err != nil {
		c.tb.Fatal(err)
	}
	pids := []int{pid}
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output()
	for _, f := range strings.Fields(string(out)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGSTOP)
	}
	c.stopped = pids
}

// Thaw resumes what Freeze stopped.
func (c *Cluster) Thaw() {
	for _, p := range c.stopped {
		syscall.Kill(p, syscall.SIGCONT)
	}
	c.stopped = nil
}

func (c *Cluster) pgctl(args ...string) {
	c.tb.Helper()
	c.run("pg_ctl", append([]string{"-D", c.dir}, args...)...)
}

// run runs one of the server's programs, as the cluster's user.
func (c *Cluster) run(prog string, args ...string) {
	c.tb.Helper()
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		c.tb.Fatalf("%s %s: %v (after %v)\n%s", prog, strings.Join(args, " "), err, time.Since(start), out)
	}
}
