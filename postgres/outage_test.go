package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// within runs fn, failing the test if it has not returned after limit
// (a guard against hanging forever, far above the deadlines under test).
func within(t *testing.T, limit time.Duration, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("still waiting after %v: the deadline did not end the call", limit)
		return nil
	}
}

// recovers waits for fn to succeed again after a fault is repaired.
func recovers(t *testing.T, fn func() error) {
	t.Helper()
	var err error
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if err = fn(); err == nil {
			return
		}
	}
	t.Fatalf("the store did not recover: %v", err)
}

// TestHungDatabase: with PostgreSQL frozen (a proxy that stops every
// byte), a statement, a transaction and a bulk read each fail with an
// error that wraps ErrStoreUnavailable (an API 503) once their deadline
// passes, instead of waiting for ever; after the freeze the store works
// again and nothing acknowledged is lost.
func TestHungDatabase(t *testing.T) {
	s, p := storetest.OpenPostgresProxied(t, sqlstore.Deadlines{Statement: 300 * time.Millisecond, Long: time.Second})
	ctx := context.Background()
	if _, err := s.Import(ctx, storetest.Fixture(5), nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, movierec.User{Username: "ann", Email: "ann@example.com", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RateMovie(ctx, u.ID, 1, 4, ""); err != nil {
		t.Fatal(err)
	}

	p.Freeze()
	checks := map[string]func() error{
		"statement": func() error { _, err := s.CatalogVersion(ctx); return err },
		"transaction": func() error {
			_, _, err := s.RateMovie(ctx, u.ID, 2, 3, "")
			return err
		},
		"bulk read": func() error { _, err := s.CatalogSnapshot(ctx, time.Hour); return err },
	}
	for name, fn := range checks {
		err := within(t, 30*time.Second, fn)
		if !errors.Is(err, movierec.ErrStoreUnavailable) || movierec.ErrorCode(err) != movierec.EUNAVAILABLE {
			t.Errorf("%s on a frozen database: %v, want an error wrapping ErrStoreUnavailable", name, err)
		}
	}
	// The caller's own cancellation stays a cancellation (a client that
	// hung up is not a database outage).
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := within(t, 30*time.Second, func() error { _, err := s.CatalogVersion(cctx); return err }); errors.Is(err, movierec.ErrStoreUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled by the caller: %v, want context.Canceled only", err)
	}

	p.Restore()
	recovers(t, func() error { _, _, err := s.RateMovie(ctx, u.ID, 3, 5, ""); return err })
	for _, id := range []int64{1, 3} {
		if _, err := s.Rating(ctx, u.ID, id); err != nil {
			t.Errorf("acknowledged rating of movie %d: %v", id, err)
		}
	}
}

// TestDatabaseDown: with PostgreSQL gone (connections closed, new ones
// refused), statements fail at once with ErrStoreUnavailable, and the
// store reconnects when it is back.
func TestDatabaseDown(t *testing.T) {
	s, p := storetest.OpenPostgresProxied(t, sqlstore.Deadlines{Statement: 2 * time.Second})
	ctx := context.Background()
	if _, err := s.CatalogVersion(ctx); err != nil {
		t.Fatal(err)
	}
	p.Down()
	for i := 0; i < 3; i++ { // pooled connections break, then new ones are refused
		err := within(t, 30*time.Second, func() error { _, err := s.CatalogVersion(ctx); return err })
		if !errors.Is(err, movierec.ErrStoreUnavailable) {
			t.Errorf("call %d with the database down: %v, want ErrStoreUnavailable", i, err)
		}
	}
	p.Restore()
	recovers(t, func() error { _, err := s.CatalogVersion(ctx); return err })
}

// TestStatementTimeoutBackstop: the server ends a statement at twice its
// deadline even if the client's cancellation never arrives; bulk work
// runs on connections whose limit is twice the long deadline.
func TestStatementTimeoutBackstop(t *testing.T) {
	d := sqlstore.Deadlines{Statement: 1500 * time.Millisecond, Long: 10 * time.Minute}
	s := storetest.OpenPostgresWith(t, func(c *postgres.Config) { c.Deadlines = d })
	ctx := context.Background()
	for _, c := range []struct {
		ctx  context.Context
		want time.Duration
	}{{ctx, 2 * d.Statement}, {sqlstore.LongWork(ctx), 2 * d.Long}} {
		var got string
		if err := s.Conn().QueryRow(c.ctx, `SELECT current_setting('statement_timeout')`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := strconv.FormatInt(c.want.Milliseconds(), 10) + "ms"; got != want && got != c.want.String() && !sameDuration(got, c.want) {
			t.Errorf("statement_timeout = %q, want %v", got, c.want)
		}
	}
	// The backstop really stops a statement that no client deadline
	// cancels (the raw connection has none).
	err := within(t, time.Minute, func() error {
		return s.Unobserved().QueryRow(ctx, `SELECT 1 FROM pg_sleep(10)`).Scan(new(int))
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Errorf("a 10 s statement under a 3 s statement_timeout: %v, want SQLSTATE 57014", err)
	}
}

// sameDuration compares PostgreSQL's rendering of a duration ("3s",
// "20min") with d.
func sameDuration(s string, d time.Duration) bool {
	for _, unit := range []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"min", time.Minute}, {"h", time.Hour}} {
		if n, err := strconv.ParseInt(s[:max(0, len(s)-len(unit.suffix))], 10, 64); err == nil && s[len(s)-len(unit.suffix):] == unit.suffix {
			return time.Duration(n)*unit.d == d
		}
	}
	return false
}
