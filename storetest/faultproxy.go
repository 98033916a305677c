package storetest

import (
	"net"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
)

// OpenPostgresProxied is OpenPostgres with the store's connections going
// through a Proxy, and the given statement deadlines.
func OpenPostgresProxied(tb testing.TB, d sqlstore.Deadlines) (*sqlstore.Store, *Proxy) {
	tb.Helper()
	raw := os.Getenv(PostgresURLEnv)
	if raw == "" {
		tb.Skipf("%s is not set", PostgresURLEnv)
	}
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5432"
	}
	p := NewProxy(tb, host)
	s := OpenPostgresWith(tb, func(c *postgres.Config) {
		v := *u
		v.Host = p.Addr()
		c.URL, c.Deadlines = v.String(), d
	})
	tb.Cleanup(p.Restore) // before the store closes (cleanups run last first)
	return s, p
}

// Proxy forwards TCP connections to a database server and fails them on
// demand, so tests can take a real database away from a store: Freeze
// stops every byte (a hung server: connections stay open, new ones are
// accepted and never answered), Down closes every connection and closes
// new ones at once (a server that is gone), Restore forwards again.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	down   bool
	conns  map[net.Conn]bool
}

// NewProxy listens on a loopback port and forwards to target (host:port)
// until the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	tb.Cleanup(func() {
		ln.Close()
		p.Restore()
		p.closeAll()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops forwarding: every byte waits until Restore.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// Down closes every connection, and every new one as soon as it arrives,
// until Restore.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
}

// Restore forwards again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.frozen, p.down = false, false
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.cond.Broadcast() // frozen copies wake up and find their connection gone
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = true, true
	p.mu.Unlock()
	go p.copy(server, client)
	p.copy(client, server)
}

// copy forwards src to dst, holding each chunk while frozen, and closes
// both when either side ends.
func (p *Proxy) copy(dst, src net.Conn) {
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen && p.conns[src] {
				p.cond.Wait()
			}
			alive := p.conns[src]
			p.mu.Unlock()
			if !alive {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection
		}
	}
}
