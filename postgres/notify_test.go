package postgres_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/storetest"
)

// TestNotifier: a rating write handed to the Notifier reaches the
// store's channel with its version; a burst of versions is sent as a few
// notifications, at most one per NotifyGap, the newest always among
// them; a version not newer than one sent sends nothing.
func TestNotifier(t *testing.T) {
	s := storetest.OpenPostgres(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if _, err := s.Import(ctx, storetest.Fixture(10), nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, movierec.User{Username: "notified", Email: "notified@example.com", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}

	type note struct {
		v  int64
		at time.Time
	}
	notes := make(chan note, 1000)
	go postgres.ListenCatalog(ctx, s, func(p string) {
		if v, err := strconv.ParseInt(p, 10, 64); err == nil {
			notes <- note{v, time.Now()}
		}
	}, nil)
	// Listening has started once a tag's own notification arrives.
	if _, err := s.CreateTag(ctx, movierec.Tag{Name: "ready"}); err != nil {
		t.Fatal(err)
	}
	var ready bool
	for deadline := time.After(10 * time.Second); !ready; {
		select {
		case <-notes:
			ready = true
		case <-time.After(100 * time.Millisecond):
			if _, err := s.CreateTag(ctx, movierec.Tag{Name: "ready-" + strconv.FormatInt(time.Now().UnixNano(), 10)}); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("not listening after 10 s")
		}
	}
	time.Sleep(200 * time.Millisecond)
	for len(notes) > 0 {
		<-notes
	}

	n, err := postgres.NewNotifier(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	go n.Run(ctx)
	next := func(wait time.Duration) (note, bool) {
		select {
		case x := <-notes:
			return x, true
		case <-time.After(wait):
			return note{}, false
		}
	}

	_, _, ch, err := s.RateMovieChange(ctx, u.ID, 1, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := next(500 * time.Millisecond); ok {
		t.Fatalf("the rating write notified %d by itself", x.v)
	}
	n.Notify(ctx, ch.Version)
	if x, ok := next(5 * time.Second); !ok || x.v != ch.Version {
		t.Fatalf("got %d, %v; want the rating's version %d", x.v, ok, ch.Version)
	}

	// A burst: 300 versions over about 300 ms. (The Notifier does not
	// check that they committed; a reader of the log would find them
	// missing and wait for the poll.)
	base := ch.Version + 1000
	start := time.Now()
	for i := int64(1); i <= 300; i++ {
		n.Notify(ctx, base+i)
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	var got []note
	for {
		x, ok := next(5 * time.Second)
		if !ok {
			t.Fatalf("the newest version %d never arrived; got %v", base+300, got)
		}
		got = append(got, x)
		if x.v == base+300 {
			break
		}
	}
	// At most one at once, one per gap while the burst lasts, and the
	// newest one gap after the last.
	if limit := int(elapsed/postgres.NotifyGap) + 2; len(got) > limit {
		t.Errorf("%d notifications for a burst of 300 versions over %v, want at most %d (one per %v)", len(got), elapsed, limit, postgres.NotifyGap)
	}
	for i := 1; i < len(got); i++ {
		if got[i].v <= got[i-1].v {
			t.Errorf("notification %d carried %d after %d", i, got[i].v, got[i-1].v)
		}
	}
	t.Logf("a burst of 300 versions in %v: %d notifications", elapsed, len(got))

	n.Notify(ctx, base+10)
	n.Notify(ctx, base+300)
	if x, ok := next(300 * time.Millisecond); ok {
		t.Errorf("versions already sent were sent again: %d", x.v)
	}

	if _, err := postgres.NewNotifier(storetest.OpenSQLite(t), nil); err == nil {
		t.Error("NewNotifier on a SQLite store succeeded")
	}
}
