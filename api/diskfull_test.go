package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/storetest"
)

// TestRatingsOnFullDisk: rating writes that find the database's disk full
// get 503 with Retry-After and the "out of disk space" message, never a
// 500; the catalog answers meanwhile; once space is freed writes succeed
// again and no acknowledged rating was lost. The disk is a real tmpfs,
// filled to its last three pages, holding the tablespace of PostgreSQL's
// ratings.
func TestRatingsOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	cl := storetest.OwnPostgres(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: cl.URL(), MinConns: 1, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Import(ctx, storetest.Fixture(20), nil); err != nil {
		t.Fatal(err)
	}
	disk := cl.RatingsOnSmallDisk(s, 8)
	e := cachedServer(t, s, nil)
	users := []string{e.register("ann").Access, e.register("bob").Access}

	free := storetest.FillDisk(t, disk, 24<<10) // about three pages
	// New ratings of 1,500-character reviews (five to a page) until one
	// needs a page the disk has no room for.
	review := strings.Repeat("a long review ", 107)
	acked := map[string]string{} // "user/movie" → the review acknowledged
	refused := 0
	var refusedText string
	for u, tok := range users {
		for m := 1; m <= 20 && refused == 0; m++ {
			text := fmt.Sprintf("%d/%d %s.", u, m, review)
			var body errBody
			res := call(t, e.url, "PUT", "/api/ratings/movies/"+strconv.Itoa(m)+"/rate/", tok,
				map[string]any{"score": 4, "review": text}, &body)
			switch {
			case res.StatusCode/100 == 2:
				acked[fmt.Sprintf("%d/%d", u, m)] = text
			case res.StatusCode == http.StatusServiceUnavailable:
				if res.Header.Get("Retry-After") == "" || body.Error.Message != movierec.ErrStoreFull.Message {
					t.Errorf("refused rating: Retry-After %q, message %q", res.Header.Get("Retry-After"), body.Error.Message)
				}
				refused++
				refusedText = text
			default:
				t.Fatalf("rating on a full disk: %s %+v", res.Status, body)
			}
		}
	}
	if refused == 0 {
		t.Fatalf("%d ratings of long reviews all fitted on a full disk: the test proves nothing", len(acked))
	}
	if res := call(t, e.url, "GET", "/api/movies/1/", "", nil, nil); res.StatusCode != http.StatusOK {
		t.Errorf("movie detail while the disk is full: %s", res.Status)
	}
	free()

	if res := call(t, e.url, "PUT", "/api/ratings/movies/20/rate/", users[1], map[string]any{"score": 3, "review": "room again"}, nil); res.StatusCode/100 != 2 {
		t.Fatalf("rating once space was freed: %s", res.Status)
	}
	var n int
	if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM ratings WHERE review = $1`, refusedText).Scan(&n); err != nil || n != 0 {
		t.Errorf("the refused rating was stored %d times (%v)", n, err)
	}
	for key, text := range acked {
		var n int
		err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM ratings WHERE review = $1`, text).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("acknowledged rating %s: %d stored (%v)", key, n, err)
		}
	}
	t.Logf("%d ratings acknowledged before the disk was full, then %d refused", len(acked), refused)
}
