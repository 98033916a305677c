package sqlstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestLeases: a lease has one holder until it expires or is released;
// its holder can extend it; of many holders racing for it, one gets it.
func TestLeases(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		now := time.Now()
		s.SetClock(func() time.Time { return now })
		acquire := func(holder string, want bool) {
			t.Helper()
			got, err := s.AcquireLease(ctx, "training", holder, time.Minute)
			if err != nil || got != want {
				t.Fatalf("%s acquires: %v (%v), want %v", holder, got, err, want)
			}
		}
		acquire("a", true)
		acquire("b", false)
		acquire("a", true) // extends
		if err := s.ReleaseLease(ctx, "training", "b"); err != nil {
			t.Fatal(err)
		}
		acquire("b", false) // b's release did not free a's lease
		if ok, err := s.AcquireLease(ctx, "other", "b", time.Minute); err != nil || !ok {
			t.Fatalf("another lease: %v %v", ok, err)
		}
		if err := s.ReleaseLease(ctx, "training", "a"); err != nil {
			t.Fatal(err)
		}
		acquire("b", true)
		now = now.Add(time.Minute + time.Second) // b's lease expires
		acquire("c", true)

		now = now.Add(time.Hour)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.AcquireLease(ctx, "race", string(rune('a'+i)), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Errorf("%d holders got one lease", won.Load())
		}
	})
}
