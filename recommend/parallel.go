package recommend

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// clock is the training clock. Tests pin it to check that two trainings
// give identical bytes; nothing else changes it.
var clock = time.Now

func workerCount(w int) int {
	if w <= 0 {
		return runtime.NumCPU()
	}
	return w
}

// parallelFor calls fn on the chunks [lo, hi) of [0, n) from up to workers
// goroutines, checking ctx before each chunk; it returns ctx.Err() when ctx
// ends first. Which goroutine runs a chunk never matters: fn must write only
// outputs owned by its chunk, which keeps training deterministic. done, if
// not nil, is called (serially) with the number of items finished so far.
func parallelFor(ctx context.Context, workers, n, chunk int, fn func(lo, hi int), done func(int)) error {
	if n == 0 {
		return ctx.Err()
	}
	if chunk <= 0 {
		chunk = 1
	}
	chunks := (n + chunk - 1) / chunk
	workers = min(workerCount(workers), chunks)
	var (
		next     atomic.Int64
		finished int
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				lo := c * chunk
				hi := min(lo+chunk, n)
				fn(lo, hi)
				if done != nil {
					mu.Lock()
					finished += hi - lo
					done(finished)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}
