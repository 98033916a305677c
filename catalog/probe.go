package catalog

import (
	"context"
	"sync"
	"time"
)

// probeBatch shares calls of a probe (Options.Probe: the newest version
// any instance committed) among concurrent readers without weakening what
// each learns. A reader needs a probe that started after it arrived (an
// answer read earlier may miss a write that was acknowledged before the
// reader came): it starts one when the batch is idle, and otherwise waits
// for the next one, which starts once the running one has ended and gap
// has passed since that one started, and serves every reader that
// arrived meanwhile. Under load, one probe is in flight per instance
// instead of one per reader, and at most one starts per gap.
type probeBatch struct {
	fn func(ctx context.Context) (int64, error)
	// ctx bounds each probe (readers stop waiting at their own deadline).
	ctx func() (context.Context, context.CancelFunc)
	// gap is the shortest time from one probe's start to the next one's
	// (0: none). Readers arriving meanwhile join the next probe, so each
	// still sees a probe that started after it came; they wait at most
	// gap longer, and an instance makes at most one probe per gap.
	gap time.Duration
	// sleep waits (nil: time.Sleep; tests replace it).
	sleep func(time.Duration)

	mu      sync.Mutex
	running bool
	next    *probeCall // the call readers arriving now join; nil: none yet
}

type probeCall struct {
	done    chan struct{}
	v       int64
	err     error
	readers int // how many joined it (tests watch this)
}

// do returns the result of a probe that started after do was called.
func (b *probeBatch) do(ctx context.Context) (int64, error) {
	b.mu.Lock()
	c := b.next
	if c == nil {
		c = &probeCall{done: make(chan struct{})}
		b.next = c
	}
	c.readers++
	if !b.running {
		b.running, b.next = true, nil
		b.mu.Unlock()
		go b.run(c)
	} else {
		b.mu.Unlock()
	}
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run makes call c, then the calls that readers joined meanwhile, one
// after another and each at least gap after the one before started,
// until none is waiting: the batch stays busy for up to gap after its
// last probe, and readers arriving then wait for the next.
func (b *probeBatch) run(c *probeCall) {
	for {
		start := time.Now()
		ctx, cancel := b.ctx()
		c.v, c.err = b.fn(ctx)
		cancel()
		close(c.done)
		if wait := b.gap - time.Since(start); wait > 0 {
			sleep := b.sleep
			if sleep == nil {
				sleep = time.Sleep
			}
			sleep(wait) // readers arriving meanwhile join the next call
		}
		b.mu.Lock()
		c = b.next
		if c == nil {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.next = nil
		b.mu.Unlock()
	}
}
