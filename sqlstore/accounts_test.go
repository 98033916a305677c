package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

func newUser(t *testing.T, s *sqlstore.Store, name string) movierec.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), movierec.User{Username: name, Email: name + "@example.com", IsActive: true, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUsers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		alice := newUser(t, s, "Alice")
		t.Run("OK", func(t *testing.T) {
			got, err := s.UserByUsername(ctx, "alice")
			if err != nil || got.ID != alice.ID || got.Email != "Alice@example.com" || !got.IsActive || got.DateJoined.IsZero() {
				t.Errorf("UserByUsername(alice) = %+v, %v", got, err)
			}
		})
		t.Run("ErrDuplicateUsername", func(t *testing.T) {
			_, err := s.CreateUser(ctx, movierec.User{Username: "ALICE", Email: "other@example.com"})
			if d := movierec.ErrorDetails(err); movierec.ErrorCode(err) != movierec.EINVALID || len(d["username"]) == 0 || len(d["email"]) != 0 {
				t.Errorf("got %v %v, want a username error", err, d)
			}
		})
		t.Run("ErrDuplicateEmail", func(t *testing.T) {
			_, err := s.CreateUser(ctx, movierec.User{Username: "bob", Email: "alice@EXAMPLE.com"})
			if d := movierec.ErrorDetails(err); movierec.ErrorCode(err) != movierec.EINVALID || len(d["email"]) == 0 {
				t.Errorf("got %v %v, want an email error", err, d)
			}
			if _, err := s.UserByUsername(ctx, "bob"); !errors.Is(err, movierec.ErrNotFound) {
				t.Errorf("the refused user exists: %v", err)
			}
		})
		t.Run("Update", func(t *testing.T) {
			bob := newUser(t, s, "bob")
			taken := "alice"
			if _, err := s.UpdateUser(ctx, bob.ID, movierec.UserUpdate{Username: &taken}); movierec.ErrorCode(err) != movierec.EINVALID {
				t.Errorf("renaming bob to alice: %v", err)
			}
			first := "Robert"
			u, err := s.UpdateUser(ctx, bob.ID, movierec.UserUpdate{FirstName: &first})
			if err != nil || u.FirstName != "Robert" || u.Username != "bob" {
				t.Errorf("UpdateUser = %+v, %v", u, err)
			}
		})
	})
}

func TestSessions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		u := newUser(t, s, "carol")
		now := time.Now().UTC().Truncate(time.Second)
		for _, id := range []string{"s1", "s2", "s3"} {
			if err := s.CreateSession(ctx, movierec.Session{ID: id, UserID: u.ID, RefreshHash: "h-" + id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := s.RotateRefresh(ctx, "s1", "wrong", "new", now.Add(2*time.Hour)); ok || err != nil {
			t.Errorf("rotation with the wrong hash: %v %v", ok, err)
		}
		if ok, err := s.RotateRefresh(ctx, "s1", "h-s1", "h2-s1", now.Add(2*time.Hour)); !ok || err != nil {
			t.Errorf("rotation: %v %v", ok, err)
		}
		sess, err := s.Session(ctx, "s1")
		if err != nil || sess.RefreshHash != "h2-s1" || !sess.ExpiresAt.Equal(now.Add(2*time.Hour)) || sess.RevokedAt != nil {
			t.Errorf("after rotation: %+v %v", sess, err)
		}
		revoked, err := s.SetPassword(ctx, u.ID, "newhash", "s2")
		if err != nil || len(revoked) != 2 {
			t.Fatalf("SetPassword revoked %v, %v; want s1 and s3", revoked, err)
		}
		for id, wantRevoked := range map[string]bool{"s1": true, "s2": false, "s3": true} {
			sess, err := s.Session(ctx, id)
			if err != nil || (sess.RevokedAt != nil) != wantRevoked {
				t.Errorf("session %s revoked=%v, want %v (%v)", id, sess.RevokedAt != nil, wantRevoked, err)
			}
		}
		if ok, _ := s.RotateRefresh(ctx, "s1", "h2-s1", "h3", now.Add(3*time.Hour)); ok {
			t.Error("a revoked session rotated")
		}
		if u2, _ := s.User(ctx, u.ID); u2.PasswordHash != "newhash" {
			t.Errorf("hash %q", u2.PasswordHash)
		}
		if _, err := s.Session(ctx, "nope"); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("unknown session: %v", err)
		}
	})
}

// checkAggregates compares every movie's stored aggregates with a fresh
// computation from its ratings.
func checkAggregates(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	rows, err := s.Conn().Query(context.Background(), `SELECT m.id, m.rating_count, m.average_rating,
		(SELECT count(*) FROM ratings r WHERE r.movie_id = m.id), COALESCE((SELECT avg(score) FROM ratings r WHERE r.movie_id = m.id), 0)
		FROM movies m`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var count, wantCount int
		var avg, wantAvg float64
		if err := rows.Scan(&id, &count, &avg, &wantCount, &wantAvg); err != nil {
			t.Fatal(err)
		}
		if count != wantCount || math.Abs(avg-wantAvg) > 1e-12 {
			t.Errorf("movie %d: stored %d ratings averaging %v, recomputed %d averaging %v", id, count, avg, wantCount, wantAvg)
		}
	}
}

func TestRatings(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		u := newUser(t, s, "dave")
		r, created, err := s.RateMovie(ctx, u.ID, 6, 4.5, "great") // movie 6 has no ratings in the fixture
		if err != nil || !created || r.Score != 4.5 || r.Review != "great" || r.Username != "dave" {
			t.Fatalf("RateMovie = %+v, %v, %v", r, created, err)
		}
		m, _ := s.Movie(ctx, 6)
		if m.RatingCount != 1 || m.AverageRating != 4.5 || m.RatingDistribution["4.5"] != 1 || m.PopularityScore <= 0 {
			t.Errorf("after one rating: count %d avg %v dist %v popularity %v", m.RatingCount, m.AverageRating, m.RatingDistribution, m.PopularityScore)
		}
		r2, created, err := s.RateMovie(ctx, u.ID, 6, 2, "")
		if err != nil || created || r2.ID != r.ID || r2.Score != 2 || !r2.RatedAt.Equal(r.RatedAt) {
			t.Errorf("replace = %+v, %v, %v", r2, created, err)
		}
		if m, _ := s.Movie(ctx, 6); m.RatingCount != 1 || m.AverageRating != 2 {
			t.Errorf("after replacing: %d %v", m.RatingCount, m.AverageRating)
		}
		page, err := s.UserRatings(ctx, u.ID, 0, 10)
		if err != nil || page.Count != 1 || page.Items[0].Movie.Title != m.Title || page.Items[0].Movie.Genres == nil {
			t.Errorf("UserRatings = %+v, %v", page, err)
		}
		if _, _, err := s.RateMovie(ctx, u.ID, 999, 3, ""); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("rating a missing movie: %v", err)
		}
		if err := s.DeleteRating(ctx, u.ID, 6); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRating(ctx, u.ID, 6); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
		if m, _ := s.Movie(ctx, 6); m.RatingCount != 0 || m.AverageRating != 0 || m.PopularityScore != 0 {
			t.Errorf("after deleting: %d %v %v", m.RatingCount, m.AverageRating, m.PopularityScore)
		}
		checkAggregates(t, s)
	})
}

// TestConcurrentRatings has 200 users rate one movie at once; the
// aggregates must equal a recomputation exactly.
func TestConcurrentRatings(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		const writers = 200
		users := make([]movierec.User, writers)
		for i := range users {
			users[i] = newUser(t, s, fmt.Sprintf("writer%03d", i))
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers*2)
		for i, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				score := float64(1+i%10) / 2
				if _, _, err := s.RateMovie(ctx, u.ID, 1, score, ""); err != nil {
					errs <- err
				}
				if i%4 == 0 { // some change their mind, some delete
					if _, _, err := s.RateMovie(ctx, u.ID, 1, 5, "changed"); err != nil {
						errs <- err
					}
				} else if i%4 == 1 {
					if err := s.DeleteRating(ctx, u.ID, 1); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent write: %v", err)
		}
		checkAggregates(t, s)
		st, err := s.MovieRatingStats(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, n := range st.Distribution {
			total += n
		}
		if total != st.Count {
			t.Errorf("distribution sums to %d, count %d", total, st.Count)
		}
	})
}

// TestConcurrentRatingsOfOneUser: one user's rating of one movie sent
// many times at once (a double-click, a retried request, two instances):
// one of them creates the rating, the others replace its score, none
// fails, and the aggregates count it once.
func TestConcurrentRatingsOfOneUser(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		u := newUser(t, s, "clicker")
		const tries = 12
		var wg sync.WaitGroup
		var created atomic.Int64
		for i := range tries {
			wg.Go(func() {
				_, c, err := s.RateMovie(ctx, u.ID, 2, float64(1+i%10)/2, "")
				if err != nil {
					t.Errorf("concurrent rating %d: %v", i, err)
				}
				if c {
					created.Add(1)
				}
			})
		}
		wg.Wait()
		if n := created.Load(); n != 1 {
			t.Errorf("%d of %d concurrent ratings created the rating, want 1", n, tries)
		}
		checkAggregates(t, s)
	})
}

func TestFavoritesAndWatching(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		u := newUser(t, s, "erin")
		for _, want := range []bool{true, false, true} {
			if got, err := s.ToggleFavorite(ctx, u.ID, 2); err != nil || got != want {
				t.Fatalf("ToggleFavorite = %v, %v; want %v", got, err, want)
			}
		}
		favs, err := s.Favorites(ctx, u.ID, 0, 10)
		if err != nil || favs.Count != 1 || favs.Items[0].Movie.ID != 2 {
			t.Errorf("Favorites = %+v, %v", favs, err)
		}
		d := 95
		e, created, err := s.Watch(ctx, u.ID, 3, &d, false)
		if err != nil || !created || e.WatchCount != 1 || *e.WatchDuration != 95 || e.Movie.ID != 3 {
			t.Fatalf("Watch = %+v, %v, %v", e, created, err)
		}
		e, created, err = s.Watch(ctx, u.ID, 3, nil, true)
		if err != nil || created || e.WatchCount != 2 || !e.Completed || e.WatchDuration != nil {
			t.Errorf("second Watch = %+v, %v, %v", e, created, err)
		}
		if _, _, err := s.RateMovie(ctx, u.ID, 2, 5, ""); err != nil {
			t.Fatal(err)
		}
		st, err := s.UserStats(ctx, u.ID)
		if err != nil || st.Ratings.Count != 1 || *st.Ratings.Average != 5 || st.Favorites != 1 || st.Watched != 1 || st.Completed != 1 {
			t.Errorf("UserStats = %+v, %v", st, err)
		}
		m2, _ := s.Movie(ctx, 2)
		if len(st.FavoriteGenres) != len(m2.Genres) {
			t.Errorf("favourite genres %v, movie 2's genres %v", st.FavoriteGenres, m2.GenreNames())
		}
		if err := s.Unwatch(ctx, u.ID, 3); err != nil {
			t.Fatal(err)
		}
		if err := s.Unwatch(ctx, u.ID, 3); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("unwatching twice: %v", err)
		}
		t.Run("DeleteMovieCascades", func(t *testing.T) {
			if err := s.DeleteMovie(ctx, 2); err != nil {
				t.Fatal(err)
			}
			st, err := s.UserStats(ctx, u.ID)
			if err != nil || st.Ratings.Count != 0 || st.Favorites != 0 {
				t.Errorf("after deleting the movie: %+v, %v", st, err)
			}
			var n int
			s.Conn().QueryRow(ctx, `SELECT count(*) FROM ratings WHERE movie_id = 2`).Scan(&n)
			if n != 0 {
				t.Errorf("%d ratings of the deleted movie remain", n)
			}
			checkAggregates(t, s)
			if err := s.DeleteMovie(ctx, 2); !errors.Is(err, movierec.ErrNotFound) {
				t.Errorf("deleting twice: %v", err)
			}
		})
	})
}

func TestCatalogWrites(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		year := 2024
		m, err := s.CreateMovie(ctx, movierec.Movie{Title: "Brand New", ReleaseYear: &year, Genres: []movierec.Genre{{Name: "drama"}, {Name: "Comedy"}}})
		if err != nil || m.ID <= fixtureMovies || m.Title != "Brand New" || len(m.Genres) != 2 {
			t.Fatalf("CreateMovie = %+v, %v", m, err)
		}
		if _, err := s.CreateMovie(ctx, movierec.Movie{Title: "X", Genres: []movierec.Genre{{Name: "Nope"}}}); len(movierec.ErrorDetails(err)["genres"]) == 0 {
			t.Errorf("unknown genre: %v", err)
		}
		m.Title, m.Genres = "Renamed", []movierec.Genre{{Name: "Thriller"}}
		m, err = s.UpdateMovie(ctx, m)
		if err != nil || m.Title != "Renamed" || len(m.Genres) != 1 || m.Genres[0].Name != "Thriller" {
			t.Errorf("UpdateMovie = %+v, %v", m, err)
		}
		g, err := s.CreateGenre(ctx, movierec.Genre{Name: "Noir", Description: "Dark."})
		if err != nil || g.Name != "Noir" || g.Description != "Dark." {
			t.Fatalf("CreateGenre = %+v, %v", g, err)
		}
		if _, err := s.CreateGenre(ctx, movierec.Genre{Name: "NOIR"}); len(movierec.ErrorDetails(err)["name"]) == 0 {
			t.Errorf("duplicate genre: %v", err)
		}
		g.Name = "Neo-Noir"
		if g, err = s.UpdateGenre(ctx, g); err != nil || g.Name != "Neo-Noir" {
			t.Errorf("UpdateGenre = %+v, %v", g, err)
		}
		if _, err := s.UpdateGenre(ctx, movierec.Genre{ID: 999, Name: "x"}); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("updating a missing genre: %v", err)
		}
		tg, err := s.CreateTag(ctx, movierec.Tag{Name: "cozy"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTag(ctx, tg.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGenre(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Genre(ctx, g.ID); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("deleted genre: %v", err)
		}
	})
}
