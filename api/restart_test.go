package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestPostgresOutagesUnderLoad runs the server on a PostgreSQL of the
// test's own while writers rate movies and readers browse, then stops the
// database (pg_ctl stop -m fast) and starts it again, then freezes it
// (SIGSTOP) and thaws it. Throughout: catalog reads answer 200 from
// memory; every failed write is a 503 with Retry-After (within the
// statement deadline when frozen); writes succeed again within seconds;
// and no acknowledged write is lost (each writer's stored review is at
// least its last acknowledged one).
func TestPostgresOutagesUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL cluster")
	}
	cl := storetest.OwnPostgres(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: cl.URL(), MinConns: 1, MaxConns: 8,
		Deadlines: sqlstore.Deadlines{Statement: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Import(ctx, storetest.Fixture(20), nil); err != nil {
		t.Fatal(err)
	}
	e := cachedServer(t, s, nil)
	const writers = 4
	tokens := make([]string, writers)
	for i := range tokens {
		tokens[i] = e.register("writer" + strconv.Itoa(i)).Access
	}

	var (
		stop                       atomic.Bool
		mu                         sync.Mutex
		acked                      [writers]int // last acknowledged sequence number per writer
		attempted                  [writers]int
		unavailable, ok, readFails int
		bad                        []string
		lastOK                     atomic.Int64 // unix nanos of the last acknowledged write
	)
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 1; !stop.Load(); seq++ {
				mu.Lock()
				attempted[w] = seq
				mu.Unlock()
				body := fmt.Sprintf(`{"score": 4, "review": "n=%d"}`, seq)
				req, _ := http.NewRequest("PUT", e.url+"/api/ratings/movies/"+strconv.Itoa(w+1)+"/rate/", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tokens[w])
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				mu.Lock()
				switch {
				case err != nil:
					bad = append(bad, err.Error())
				case res.StatusCode/100 == 2:
					acked[w], ok = seq, ok+1
					lastOK.Store(time.Now().UnixNano())
				case res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "":
					unavailable++
				default:
					bad = append(bad, res.Status)
				}
				mu.Unlock()
				if res != nil {
					res.Body.Close()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() { // a reader browsing the catalog
		defer wg.Done()
		for !stop.Load() {
			for _, path := range []string{"/api/movies/?ordering=-popularity_score", "/api/movies/3/", "/api/movies/genres/"} {
				res, err := client.Get(e.url + path)
				if err != nil || res.StatusCode != 200 {
					mu.Lock()
					readFails++
					mu.Unlock()
				}
				if res != nil {
					res.Body.Close()
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	// recovered waits for a write acknowledged after t0 and returns how long it took.
	recovered := func(what string, t0 time.Time) time.Duration {
		t.Helper()
		for deadline := t0.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if l := lastOK.Load(); l > t0.UnixNano() {
				return time.Unix(0, l).Sub(t0)
			}
		}
		t.Fatalf("no write succeeded within 30 s after %s", what)
		return 0
	}
	countUnavailable := func() int { mu.Lock(); defer mu.Unlock(); return unavailable }

	time.Sleep(500 * time.Millisecond)
	before := countUnavailable()
	cl.Stop()
	time.Sleep(1500 * time.Millisecond)
	if countUnavailable() == before {
		t.Error("no write was refused while the database was stopped")
	}
	restart := time.Now()
	cl.Start()
	afterRestart := recovered("the restart", restart)

	time.Sleep(300 * time.Millisecond)
	before = countUnavailable()
	cl.Freeze()
	time.Sleep(2500 * time.Millisecond) // past the 1 s deadline
	if countUnavailable() == before {
		t.Error("no write was refused (503) while the database was frozen")
	}
	thaw := time.Now()
	cl.Thaw()
	afterThaw := recovered("the thaw", thaw)
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("%d writes failed otherwise than 503 with Retry-After, e.g. %s", len(bad), bad[0])
	}
	if readFails > 0 {
		t.Errorf("%d catalog reads failed while the database was away; they are answered from memory", readFails)
	}
	for w := range writers {
		u, err := s.UserByUsername(ctx, "writer"+strconv.Itoa(w))
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Rating(ctx, u.ID, int64(w+1))
		if err != nil {
			t.Fatalf("writer %d's rating: %v", w, err)
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(r.Review, "n="))
		if n < acked[w] || n > attempted[w] {
			t.Errorf("writer %d: stored write %d, last acknowledged %d, last attempted %d", w, n, acked[w], attempted[w])
		}
	}
	t.Logf("%d writes acknowledged, %d refused with 503; first write after restart %v, after thaw %v",
		ok, unavailable, afterRestart.Round(time.Millisecond), afterThaw.Round(time.Millisecond))
}
