package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
)

// CatalogWrites makes n random catalog writes on s, drawn from r, through
// the store's write methods: ratings created, replaced and deleted (by
// every user in the store and a few writers of its own), movies created,
// edited and deleted, genres and tags created, renamed and deleted. Some
// writes fail the way the store documents (a name already taken, a rating
// that does not exist); any other error fails the test. It returns how
// many writes succeeded.
//
// Differential tests run it between loads of an in-memory catalog and
// compare the catalog's answers with the store's.
func CatalogWrites(tb testing.TB, s *sqlstore.Store, r *rand.Rand, n int) int {
	tb.Helper()
	ctx := context.Background()
	for i := range 3 {
		name := fmt.Sprintf("storetest_writer_%d", i)
		if _, err := s.UserByUsername(ctx, name); errors.Is(err, movierec.ErrNotFound) {
			if _, err := s.CreateUser(ctx, movierec.User{Username: name, IsActive: true}); err != nil {
				tb.Fatalf("CatalogWrites: %v", err)
			}
		}
	}
	ids := func(q string) []int64 {
		rows, err := s.Conn().Query(ctx, q)
		if err != nil {
			tb.Fatalf("CatalogWrites: %v", err)
		}
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				tb.Fatalf("CatalogWrites: %v", err)
			}
			out = append(out, id)
		}
		return out
	}
	users := ids(`SELECT id FROM users ORDER BY id`)
	movies := ids(`SELECT id FROM movies ORDER BY id`)
	genres := ids(`SELECT id FROM genres ORDER BY id`)
	tags := ids(`SELECT id FROM tags ORDER BY id`)
	pick := func(from []int64) int64 {
		if len(from) == 0 {
			return 424242 // unknown: the write fails with ErrNotFound
		}
		return from[r.IntN(len(from))]
	}
	drop := func(from []int64, id int64) []int64 {
		for i, v := range from {
			if v == id {
				return append(from[:i], from[i+1:]...)
			}
		}
		return from
	}
	// A small vocabulary, so names collide now and then.
	words := []string{"Noir", "Space", "Heist", "Cozy", "Epic", "Quiet"}
	name := func() string { return fmt.Sprintf("%s %d", words[r.IntN(len(words))], r.IntN(4)) }
	genreNames := func() []movierec.Genre {
		var gs []movierec.Genre
		for range r.IntN(3) {
			g, err := s.Genre(ctx, pick(genres))
			if err == nil {
				gs = append(gs, movierec.Genre{Name: g.Name})
			}
		}
		return gs
	}

	ok := 0
	for range n {
		var err error
		switch k := r.IntN(100); {
		case k < 45:
			score := float64(1+r.IntN(10)) / 2
			_, _, err = s.RateMovie(ctx, pick(users), pick(movies), score, "")
		case k < 60:
			err = s.DeleteRating(ctx, pick(users), pick(movies))
		case k < 65:
			var m movierec.Movie
			if m, err = s.CreateMovie(ctx, movierec.Movie{Title: name(), Genres: genreNames()}); err == nil {
				movies = append(movies, m.ID)
			}
		case k < 73:
			var m movierec.Movie
			if m, err = s.Movie(ctx, pick(movies)); err == nil {
				m.Title, m.Genres = name(), genreNames()
				_, err = s.UpdateMovie(ctx, m)
			}
		case k < 75:
			id := pick(movies)
			if err = s.DeleteMovie(ctx, id); err == nil {
				movies = drop(movies, id)
			}
		case k < 80:
			var g movierec.Genre
			if g, err = s.CreateGenre(ctx, movierec.Genre{Name: name(), Description: "Made up."}); err == nil {
				genres = append(genres, g.ID)
			}
		case k < 85:
			_, err = s.UpdateGenre(ctx, movierec.Genre{ID: pick(genres), Name: name(), Description: "Renamed."})
		case k < 87:
			id := pick(genres)
			if err = s.DeleteGenre(ctx, id); err == nil {
				genres = drop(genres, id)
			}
		case k < 92:
			var t movierec.Tag
			if t, err = s.CreateTag(ctx, movierec.Tag{Name: name()}); err == nil {
				tags = append(tags, t.ID)
			}
		case k < 97:
			_, err = s.UpdateTag(ctx, movierec.Tag{ID: pick(tags), Name: name()})
		default:
			id := pick(tags)
			if err = s.DeleteTag(ctx, id); err == nil {
				tags = drop(tags, id)
			}
		}
		switch {
		case err == nil:
			ok++
		case errors.Is(err, movierec.ErrNotFound), movierec.ErrorCode(err) == movierec.EINVALID, movierec.ErrorCode(err) == movierec.ECONFLICT:
		default:
			tb.Fatalf("CatalogWrites: %v", err)
		}
	}
	return ok
}
