package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// TestRatingsNotifyOtherInstance runs two "movierec serve" processes on
// one PostgreSQL schema without Redis and with the change-log poll turned
// off (an hour): a burst of rating writes on a reaches b's lists, which
// never ask the database whether they are fresh, only through the
// notifications a's Notifier sends after the writes commit, and the last
// write of the burst is among them.
func TestRatingsNotifyOtherInstance(t *testing.T) {
	pg, ok := dbURLs(t)["postgres"]
	if !ok {
		t.Skipf("%s is not set", storetest.PostgresURLEnv)
	}
	withStore(t, pg, func(s *sqlstore.Store) {
		ds := demodata.Generate(demodata.Options{Movies: 200, Users: 50, Ratings: 3000, Seed: 7})
		if _, err := s.Import(context.Background(), ds, nil); err != nil {
			t.Fatal(err)
		}
	})
	env := map[string]string{"DATABASE_URL": pg, "MOVIEREC_LOG_LEVEL": "warn", "MOVIEREC_DEMO_DATA": "never",
		"MOVIEREC_SECRET_KEY":   "a-shared-signing-key-of-32-characters-or-more",
		"MOVIEREC_CATALOG_POLL": "1h", "MOVIEREC_TRAIN_INTERVAL": "0", "MOVIEREC_TRAIN_AFTER_RATINGS": "0"}
	a, b := startServe(t, env), startServe(t, env)

	call := func(base, method, path, token string, body any, out any) int {
		t.Helper()
		res := apiCall(t, base, method, path, token, body)
		defer res.Body.Close()
		if out != nil {
			json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}
	var tok struct{ Access string }
	if code := call(a, "POST", "/api/auth/register/", "", map[string]string{"username": "noticer", "email": "noticer@example.com", "password": "correct horse"}, &tok); code != 201 {
		t.Fatalf("register: %d", code)
	}

	type stats struct {
		ID            int64   `json:"id"`
		Title         string  `json:"title"`
		RatingCount   int     `json:"rating_count"`
		AverageRating float64 `json:"average_rating"`
	}
	const movie = 5
	var detail stats
	if code := call(a, "GET", "/api/movies/"+strconv.Itoa(movie)+"/", "", nil, &detail); code != 200 {
		t.Fatalf("detail on a: %d", code)
	}
	// b's view of the movie: a list page (search by its title), read
	// anonymously, so b answers from what it has applied.
	onB := func() (stats, bool) {
		var page struct{ Results []stats }
		if code := call(b, "GET", "/api/movies/?page_size=100&search="+url.QueryEscape(detail.Title), "", nil, &page); code != 200 {
			t.Fatalf("list on b: %d", code)
		}
		for _, m := range page.Results {
			if m.ID == movie {
				return m, true
			}
		}
		return stats{}, false
	}
	before, found := onB()
	if !found {
		t.Fatalf("b's search for %q does not list movie %d", detail.Title, movie)
	}

	// The burst: the user's score of the movie changes 20 times.
	for i := range 20 {
		score := 0.5 + float64(i%10)*0.5
		if i == 19 {
			score = 4.5
		}
		if code := call(a, "POST", "/api/ratings/movies/"+strconv.Itoa(movie)+"/rate/", tok.Access, map[string]any{"score": score}, nil); code != 201 && code != 200 {
			t.Fatalf("rating %d: %d", i, code)
		}
	}
	var want stats
	if code := call(a, "GET", "/api/movies/"+strconv.Itoa(movie)+"/", "", nil, &want); code != 200 {
		t.Fatalf("detail on a: %d", code)
	}
	if want.RatingCount != before.RatingCount+1 {
		t.Fatalf("a shows %d ratings after one new rating, b showed %d before", want.RatingCount, before.RatingCount)
	}
	start := time.Now()
	for deadline := start.Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, _ := onB()
		if got.RatingCount == want.RatingCount && got.AverageRating == want.AverageRating {
			t.Logf("b's list showed the last rating %v after a's detail did", time.Since(start))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b's list shows %d ratings, average %v, 20 s after the burst; a shows %d, %v (before: %d, %v)",
				got.RatingCount, got.AverageRating, want.RatingCount, want.AverageRating, before.RatingCount, before.AverageRating)
		}
	}
}
