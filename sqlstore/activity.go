package sqlstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/movierec/movierec"
)

// ToggleFavorite adds the movie to the user's favourites, or removes it if
// it is there, and reports whether it is a favourite now. An unknown movie
// wraps ErrNotFound.
func (s *Store) ToggleFavorite(ctx context.Context, userID, movieID int64) (bool, error) {
	var favorited bool
	err := s.conn.InTx(ctx, func(tx DB) error {
		if err := s.lockMovie(ctx, tx, movieID); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM favorites WHERE user_id = $1 AND movie_id = $2`, userID, movieID)
		if err != nil || n > 0 {
			return err
		}
		favorited = true
		_, err = tx.Exec(ctx, `INSERT INTO favorites (user_id, movie_id, created_at) VALUES ($1, $2, $3)`, userID, movieID, s.timestamp())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("ToggleFavorite(%d, %d): %w", userID, movieID, err)
	}
	return favorited, nil
}

// Favorites returns a page of the user's favourites, newest first.
func (s *Store) Favorites(ctx context.Context, userID int64, offset, limit int) (movierec.Page[movierec.Favorite], error) {
	page := movierec.Page[movierec.Favorite]{Items: []movierec.Favorite{}}
	if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM favorites WHERE user_id = $1`, userID).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("Favorites: %w", err)
	}
	rows, err := s.conn.Query(ctx, `SELECT f.created_at, `+movieColumns+` FROM favorites f JOIN movies m ON m.id = f.movie_id
		WHERE f.user_id = $1 ORDER BY f.created_at DESC, f.movie_id DESC LIMIT $2 OFFSET $3`, userID, limit, offset)
	if err != nil {
		return page, fmt.Errorf("Favorites: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f movierec.Favorite
		var created nullTime
		if err := scanMovieAfter(rows, &f.Movie, &created); err != nil {
			return page, fmt.Errorf("Favorites: %w", err)
		}
		f.CreatedAt = created.Time
		page.Items = append(page.Items, f)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("Favorites: %w", err)
	}
	rows.Close()
	movies := make([]*movierec.Movie, len(page.Items))
	for i := range page.Items {
		movies[i] = &page.Items[i].Movie
	}
	return page, s.attachGenresTo(ctx, movies)
}

// Watch records that the user watched the movie now: a first watch creates
// the entry (created is true), a later one updates its time, duration and
// completion and counts it. An unknown movie wraps ErrNotFound.
func (s *Store) Watch(ctx context.Context, userID, movieID int64, duration *int, completed bool) (e movierec.WatchEntry, created bool, err error) {
	now := s.timestamp()
	err = s.conn.InTx(ctx, func(tx DB) error {
		if err := s.lockMovie(ctx, tx, movieID); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `UPDATE watch_history SET watched_at = $1, watch_duration = $2, completed = $3,
			watch_count = watch_count + 1 WHERE user_id = $4 AND movie_id = $5`, now, duration, completed, userID, movieID)
		if err != nil {
			return err
		}
		if created = n == 0; created {
			if _, err := tx.Exec(ctx, `INSERT INTO watch_history (user_id, movie_id, watched_at, watch_duration, completed)
				VALUES ($1, $2, $3, $4, $5)`, userID, movieID, now, duration, completed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return e, false, fmt.Errorf("Watch(%d, %d): %w", userID, movieID, err)
	}
	page, err := s.watchEntries(ctx, `WHERE w.user_id = $1 AND w.movie_id = $2`, userID, movieID)
	if err != nil || len(page) != 1 {
		return e, false, fmt.Errorf("Watch(%d, %d): read back: %v", userID, movieID, err)
	}
	return page[0], created, nil
}

// Unwatch removes the movie from the user's watch history. No entry wraps
// ErrNotFound.
func (s *Store) Unwatch(ctx context.Context, userID, movieID int64) error {
	n, err := s.conn.Exec(ctx, `DELETE FROM watch_history WHERE user_id = $1 AND movie_id = $2`, userID, movieID)
	if err != nil {
		return fmt.Errorf("Unwatch(%d, %d): %w", userID, movieID, err)
	}
	if n == 0 {
		return fmt.Errorf("Unwatch(%d, %d): %w", userID, movieID, movierec.ErrNotFound)
	}
	return nil
}

// WatchHistory returns a page of the user's watch history, most recently
// watched first.
func (s *Store) WatchHistory(ctx context.Context, userID int64, offset, limit int) (movierec.Page[movierec.WatchEntry], error) {
	page := movierec.Page[movierec.WatchEntry]{}
	if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM watch_history WHERE user_id = $1`, userID).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("WatchHistory: %w", err)
	}
	var err error
	page.Items, err = s.watchEntries(ctx, `WHERE w.user_id = $1 ORDER BY w.watched_at DESC, w.movie_id DESC LIMIT $2 OFFSET $3`, userID, limit, offset)
	if err != nil {
		return page, fmt.Errorf("WatchHistory: %w", err)
	}
	return page, nil
}

func (s *Store) watchEntries(ctx context.Context, tail string, a ...any) ([]movierec.WatchEntry, error) {
	rows, err := s.conn.Query(ctx, `SELECT w.user_id, w.movie_id, w.watched_at, w.watch_duration, w.completed, w.watch_count, `+
		movieColumns+` FROM watch_history w JOIN movies m ON m.id = w.movie_id `+tail, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	entries := []movierec.WatchEntry{}
	for rows.Next() {
		var e movierec.WatchEntry
		var watched nullTime
		if err := scanMovieAfter(rows, &e.Movie, &e.UserID, &e.MovieID, &watched, &e.WatchDuration, &e.Completed, &e.WatchCount); err != nil {
			return nil, err
		}
		e.WatchedAt = watched.Time
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	movies := make([]*movierec.Movie, len(entries))
	for i := range entries {
		movies[i] = &entries[i].Movie
	}
	return entries, s.attachGenresTo(ctx, movies)
}

// FavoriteGenreThreshold is the score from which a rating counts towards
// a user's favourite genres.
const FavoriteGenreThreshold = 4.0

// UserStats summarises the user's ratings, favourites and watching; its
// favourite genres are those of the movies they rated FavoriteGenreThreshold
// or more, most such ratings first (at most 5).
func (s *Store) UserStats(ctx context.Context, userID int64) (movierec.UserStats, error) {
	var st movierec.UserStats
	st.Ratings.Distribution = map[string]int{}
	for _, k := range movierec.RatingScores {
		st.Ratings.Distribution[k] = 0
	}
	rows, err := s.conn.Query(ctx, `SELECT score, count(*) FROM ratings WHERE user_id = $1 GROUP BY score`, userID)
	if err != nil {
		return st, fmt.Errorf("UserStats: %w", err)
	}
	var sum float64
	for rows.Next() {
		var score float64
		var n int
		if err := rows.Scan(&score, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("UserStats: %w", err)
		}
		st.Ratings.Distribution[strconv.FormatFloat(score, 'f', 1, 64)] = n
		st.Ratings.Count += n
		sum += score * float64(n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("UserStats: %w", err)
	}
	if st.Ratings.Count > 0 {
		avg := sum / float64(st.Ratings.Count)
		st.Ratings.Average = &avg
	}
	if err := s.conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM favorites WHERE user_id = $1),
		(SELECT count(*) FROM watch_history WHERE user_id = $1),
		(SELECT count(*) FROM watch_history WHERE user_id = $1 AND completed)`, userID).
		Scan(&st.Favorites, &st.Watched, &st.Completed); err != nil {
		return st, fmt.Errorf("UserStats: %w", err)
	}
	st.FavoriteGenres, err = s.favoriteGenres(ctx, userID, 5)
	if err != nil {
		return st, fmt.Errorf("UserStats: %w", err)
	}
	return st, nil
}

func (s *Store) favoriteGenres(ctx context.Context, userID int64, limit int) ([]movierec.GenreStat, error) {
	rows, err := s.conn.Query(ctx, `SELECT g.name, count(*) AS n, avg(r.score) FROM ratings r
		JOIN movie_genres mg ON mg.movie_id = r.movie_id JOIN genres g ON g.id = mg.genre_id
		WHERE r.user_id = $1 AND r.score >= $2
		GROUP BY g.id, g.name ORDER BY n DESC, g.name LIMIT $3`, userID, FavoriteGenreThreshold, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []movierec.GenreStat{}
	for rows.Next() {
		var g movierec.GenreStat
		if err := rows.Scan(&g.Name, &g.Count, &g.AverageScore); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
