package catalog

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestProbeBatch: readers that arrive while a probe runs share the next
// one, which starts after they arrived: they see what it returns, never
// the running probe's older answer, and many readers cost two calls.
func TestProbeBatch(t *testing.T) {
	var calls atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	b := &probeBatch{
		fn: func(ctx context.Context) (int64, error) {
			n := calls.Add(1)
			started <- struct{}{}
			if n == 1 {
				<-release
			}
			return n * 100, nil // the n-th probe's answer
		},
		ctx: func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second) // a broken batch fails, not hangs
	defer stop()
	first := make(chan int64)
	go func() {
		v, _ := b.do(ctx)
		first <- v
	}()
	<-started // probe 1 is running
	const readers = 20
	answers := waitingReaders(t, ctx, b, readers)
	close(release)
	if v := <-first; v != 100 {
		t.Fatalf("the first reader got %d, want probe 1's 100", v)
	}
	for i, v := range answers() {
		if v != 200 {
			t.Fatalf("reader %d arrived during probe 1 and got %d, want probe 2's 200", i, v)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d probes for %d readers, want 2", n, readers+1)
	}

	// A reader whose context ends stops waiting; the probe still finishes.
	block := make(chan struct{})
	b.fn = func(ctx context.Context) (int64, error) { <-block; return 7, nil }
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := b.do(cctx); err == nil {
		t.Fatal("a reader past its deadline got an answer")
	}
	close(block)
	if v, err := b.do(ctx); err != nil || v != 7 {
		t.Fatalf("after a reader gave up: %d, %v", v, err)
	}
}

// TestProbeBatchGap: with a gap, a probe that ends early holds the next
// one back until the gap since its start has passed; readers arriving
// meanwhile wait and share that next probe (which starts after they
// came), and a reader's answer never waits for the gap that follows it.
func TestProbeBatchGap(t *testing.T) {
	var calls atomic.Int64
	sleeping := make(chan time.Duration, 10)
	wake := make(chan struct{})
	const gap = time.Hour // never over by itself: the fake sleep decides
	b := &probeBatch{
		fn:    func(context.Context) (int64, error) { return calls.Add(1) * 100, nil },
		ctx:   func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
		gap:   gap,
		sleep: func(d time.Duration) { sleeping <- d; <-wake },
	}
	slept := func() time.Duration {
		t.Helper()
		select {
		case d := <-sleeping:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("the batch did not wait for the gap")
			return 0
		}
	}
	// A broken batch fails the test in seconds instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v, err := b.do(ctx); err != nil || v != 100 {
		t.Fatalf("first reader: %d, %v; want probe 1's 100 at once", v, err)
	}
	if d := slept(); d <= 0 || d > gap {
		t.Fatalf("after probe 1 the batch waits %v, want within (0, %v]", d, gap)
	}
	// Probe 1 is over and the gap is running: readers now must not get
	// probe 1's answer, and no probe may start before the gap ends.
	const readers = 5
	answers := waitingReaders(t, ctx, b, readers)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d probes during the gap, want none after the first", n-1)
	}
	wake <- struct{}{} // the gap is over: probe 2 serves them all
	for i, v := range answers() {
		if v != 200 {
			t.Fatalf("reader %d came during the gap and got %d, want probe 2's 200", i, v)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d probes for %d readers in one gap, want 2", n, readers+1)
	}
	slept()            // the gap after probe 2,
	wake <- struct{}{} // over with nobody waiting: the batch stops.
	for {
		b.mu.Lock()
		running := b.running
		b.mu.Unlock()
		if !running {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the batch stayed busy after its last gap")
		}
		time.Sleep(time.Millisecond)
	}
	if v, err := b.do(ctx); err != nil || v != 300 {
		t.Fatalf("a reader after the batch stopped: %d, %v; want probe 3's 300 at once", v, err)
	}
	slept()
	close(wake)
}

// TestProbeGapBounded: a gap that would outlast a reader's wait is
// lowered to a fifth of it; a negative one means none.
func TestProbeGapBounded(t *testing.T) {
	for _, c := range []struct{ gap, readWait, want time.Duration }{
		{time.Millisecond, 0, time.Millisecond},
		{time.Hour, 0, 50 * time.Millisecond},
		{time.Hour, time.Second, 200 * time.Millisecond},
		{-time.Millisecond, 0, 0},
	} {
		cat := New(nil, Options{Shared: true, ProbeGap: c.gap, ReadWait: c.readWait})
		if cat.probes.gap != c.want {
			t.Errorf("gap %v, read wait %v: the probes wait %v, want %v", c.gap, c.readWait, cat.probes.gap, c.want)
		}
	}
}

// waitingReaders starts n readers of b and returns once all of them wait
// for b's next probe (failing the test if they do not by ctx's end); the
// function it returns waits for their answers.
func waitingReaders(t *testing.T, ctx context.Context, b *probeBatch, n int) (answers func() []int64) {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			v, err := b.do(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	for {
		b.mu.Lock()
		joined := 0
		if b.next != nil {
			joined = b.next.readers
		}
		b.mu.Unlock()
		if joined >= n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d readers joined the next probe", joined, n)
		}
		time.Sleep(time.Millisecond)
	}
	return func() []int64 {
		wg.Wait()
		return got
	}
}
