package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/storetest"
)

// TestListenCatalog: a committed catalog write notifies its version on
// the store's own channel, a rating write (which its server's Notifier
// announces, see TestNotifier), a failed one and a write in another
// schema notify nothing, and a lost connection is re-established with a
// catch-up call.
func TestListenCatalog(t *testing.T) {
	s := storetest.OpenPostgres(t)
	ctx := context.Background()
	channel := postgres.Channel(s)
	if !strings.HasPrefix(channel, postgres.CatalogChannel+"_test_") {
		t.Errorf("Channel = %q, want one naming the test's schema", channel)
	}
	if _, err := s.Import(ctx, storetest.Fixture(10), nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, movierec.User{Username: "listener", Email: "listener@example.com", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}

	payloads := make(chan string, 100)
	listenCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- postgres.ListenCatalog(listenCtx, s, func(p string) { payloads <- p }, nil)
	}()
	// next returns the next payload, or false after wait.
	next := func(wait time.Duration) (string, bool) {
		select {
		case p := <-payloads:
			return p, true
		case <-time.After(wait):
			return "", false
		}
	}
	expectCatchUp := func() {
		t.Helper()
		if p, ok := next(10 * time.Second); !ok || p != "" {
			t.Fatalf("got %q, %v; want the catch-up call", p, ok)
		}
	}
	expectVersion := func() {
		t.Helper()
		v, err := s.CatalogVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := next(5 * time.Second); !ok || p != strconv.FormatInt(v, 10) {
			t.Fatalf("got %q, %v; want version %d", p, ok, v)
		}
	}
	expectNothing := func(what string) {
		t.Helper()
		if p, ok := next(500 * time.Millisecond); ok {
			t.Errorf("%s delivered %q", what, p)
		}
	}

	expectCatchUp()
	if _, err := s.CreateTag(ctx, movierec.Tag{Name: "noticed"}); err != nil {
		t.Fatal(err)
	}
	expectVersion()
	if _, _, err := s.RateMovie(ctx, u.ID, 1, 4, ""); err != nil {
		t.Fatal(err)
	}
	expectNothing("a rating write")

	if _, _, err := s.RateMovie(ctx, u.ID, 424242, 4, ""); !errors.Is(err, movierec.ErrNotFound) {
		t.Fatalf("rating a missing movie: %v", err)
	}
	if _, err := s.CreateGenre(ctx, movierec.Genre{Name: "drama"}); err == nil {
		t.Fatal("a duplicate genre was created")
	}
	expectNothing("a failed write")

	other := storetest.OpenPostgres(t)
	if _, err := other.CreateTag(ctx, movierec.Tag{Name: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	expectNothing("a write in another schema")

	t.Run("Reconnect", func(t *testing.T) {
		var n int
		err := postgres.Pool(s).QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE query = $1 AND pid <> pg_backend_pid()) k`, `LISTEN "`+channel+`"`).Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("terminated %d listeners, %v", n, err)
		}
		expectCatchUp()
		if _, err := s.CreateGenre(ctx, movierec.Genre{Name: "reconnected"}); err != nil {
			t.Fatal(err)
		}
		expectVersion()
	})

	stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Listen returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Listen did not return after its context ended")
	}
}

func TestListenCatalogSQLite(t *testing.T) {
	if err := postgres.ListenCatalog(context.Background(), storetest.OpenSQLite(t), func(string) {}, nil); err == nil {
		t.Error("ListenCatalog on a SQLite store succeeded")
	}
	if ch := postgres.Channel(storetest.OpenSQLite(t)); ch != "" {
		t.Errorf("Channel of a SQLite store = %q", ch)
	}
}
