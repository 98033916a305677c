package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestDatabaseOutageIs503: while PostgreSQL hangs (every byte held) or is
// gone (connections closed and refused), a request that needs it is
// answered 503 UNAVAILABLE with Retry-After within its statement deadline,
// not a 500 and not a hang; catalog reads keep answering from memory; when
// the database is back, writes succeed again, and every write that was
// acknowledged is stored.
func TestDatabaseOutageIs503(t *testing.T) {
	s, p := storetest.OpenPostgresProxied(t, sqlstore.Deadlines{Statement: 500 * time.Millisecond})
	if _, err := s.Import(context.Background(), storetest.Fixture(20), nil); err != nil {
		t.Fatal(err)
	}
	e := cachedServer(t, s, nil)
	ann := e.register("ann")
	acked := map[string]bool{}
	rate := func(id string) *http.Response {
		res := call(t, e.url, "POST", "/api/ratings/movies/"+id+"/rate/", ann.Access, map[string]any{"score": 4}, nil)
		if res.StatusCode/100 == 2 {
			acked[id] = true
		}
		return res
	}
	if res := rate("1"); res.StatusCode != http.StatusCreated {
		t.Fatalf("rating before any fault: %d", res.StatusCode)
	}
	for i, fault := range []struct {
		name  string
		apply func()
	}{{"hung", p.Freeze}, {"down", p.Down}} {
		fault.apply()
		var body struct {
			Error struct{ Code, Message string }
		}
		res := call(t, e.url, "POST", "/api/ratings/movies/2/rate/", ann.Access, map[string]any{"score": 3}, &body)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
			body.Error.Code != movierec.EUNAVAILABLE || body.Error.Message == "" {
			t.Errorf("%s database: rating answered %d (Retry-After %q) %+v, want 503 UNAVAILABLE with Retry-After",
				fault.name, res.StatusCode, res.Header.Get("Retry-After"), body.Error)
		}
		for _, path := range []string{"/api/movies/?ordering=-popularity_score", "/api/movies/3/", "/api/movies/popular/"} {
			if res, _ := fetch(t, e, path, "", nil); res.StatusCode != http.StatusOK {
				t.Errorf("%s database: GET %s answered %d, want 200 from the in-memory catalog", fault.name, path, res.StatusCode)
			}
		}
		p.Restore()
		id := []string{"5", "6"}[i]
		var last int
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if last = rate(id).StatusCode; last == http.StatusCreated {
				break
			}
		}
		if last != http.StatusCreated {
			t.Fatalf("after the %s database came back: rating answered %d", fault.name, last)
		}
	}
	u, err := s.UserByUsername(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		movieID, _ := strconv.ParseInt(id, 10, 64)
		if _, err := s.Rating(context.Background(), u.ID, movieID); err != nil {
			t.Errorf("acknowledged rating of movie %s: %v", id, err)
		}
	}
}
