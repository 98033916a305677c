package postgres

import (
	"testing"
	"time"
)

// TestLagOf: a replica's lag is how long ago the primary had written WAL
// it has not replayed; it is unknown (the replica kept out) before any
// sample, or when the replica is behind every sample and they are all
// younger than the bound.
func TestLagOf(t *testing.T) {
	now := time.Now()
	s := &replicaSet{maxLag: 5 * time.Second}
	if _, known := s.lagOf(100, now); known {
		t.Error("no WAL sample of the primary yet: the lag is known")
	}
	s.samples = []walSample{{now.Add(-3 * time.Second), 100}, {now.Add(-2 * time.Second), 200}, {now.Add(-time.Second), 300}}
	for _, c := range []struct {
		replay int64
		lag    time.Duration
		known  bool
	}{
		{300, 0, true},               // caught up with the newest sample
		{250, time.Second, true},     // behind the newest only
		{150, 2 * time.Second, true}, // behind the last two
		{50, 0, false},               // behind all three, the oldest 3 s old (bound 5 s)
	} {
		lag, known := s.lagOf(c.replay, now)
		if lag != c.lag || known != c.known {
			t.Errorf("replay %d: lag %v known %v, want %v %v", c.replay, lag, known, c.lag, c.known)
		}
	}
	s.samples[0].at = now.Add(-6 * time.Second) // the oldest is now past the bound
	if lag, known := s.lagOf(50, now); !known || lag != 6*time.Second {
		t.Errorf("behind a sample 6 s old: lag %v known %v, want 6s true", lag, known)
	}
}
