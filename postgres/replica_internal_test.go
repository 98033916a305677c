package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/movierec/movierec/sqlstore"
)

// TestReplicaReadFailures: a read the replica could not answer for a
// reason of its own (a conflict with recovery, its disk full) is marked
// for a retry on the primary; an error of the read itself is not.
func TestReplicaReadFailures(t *testing.T) {
	ctx := context.Background()
	b := &binding{r: &replica{}, alive: ctx, caller: ctx, ctx: ctx}
	for _, c := range []struct {
		code  string
		retry bool
	}{{"40001", true}, {"53100", true}, {"23505", false}, {"42P01", false}} {
		err := b.failed(&pgconn.PgError{Code: c.code})
		if got := errors.Is(err, sqlstore.ErrReplicaFailed); got != c.retry {
			t.Errorf("SQLSTATE %s on the replica (%v): retried on the primary %v, want %v", c.code, err, got, c.retry)
		}
	}
	if n := b.r.fallbacks.Load(); n != 2 {
		t.Errorf("%d fallbacks counted, want 2", n)
	}
}
