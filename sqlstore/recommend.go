package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// ForEachRating calls fn for every rating, in (user, movie) order,
// streaming rather than loading them all at once. It is training's
// input, which may lag: a read replica may answer (see MayLag). A replica
// that fails before the first rating is replaced by the primary; after
// it, the error is returned (fn has seen part of the ratings).
func (s *Store) ForEachRating(ctx context.Context, fn func(movierec.DatasetRating) error) error {
	ctx = LongWork(ctx) // bulk: see Deadlines
	if _, ok := LagAllowed(ctx); !ok {
		ctx = MayLag(ctx, 0)
	}
	started := false
	seen := func(r movierec.DatasetRating) error {
		started = true
		return fn(r)
	}
	err := s.forEachRating(ctx, seen)
	if err != nil && !started && errors.Is(err, ErrReplicaFailed) && ctx.Err() == nil {
		err = s.forEachRating(primaryOnly(ctx), seen)
	}
	return err
}

func (s *Store) forEachRating(ctx context.Context, fn func(movierec.DatasetRating) error) error {
	rows, err := s.conn.Query(ctx, `SELECT user_id, movie_id, score, rated_at FROM ratings ORDER BY user_id, movie_id`)
	if err != nil {
		return fmt.Errorf("ForEachRating: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r movierec.DatasetRating
		var at nullTime
		if err := rows.Scan(&r.UserID, &r.MovieID, &r.Score, &at); err != nil {
			return fmt.Errorf("ForEachRating: %w", err)
		}
		r.RatedAt = at.Time
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// UserHistory returns every rating of one user (movie, score and time),
// the input of a recommendation request. The times weigh the user's newest
// sitting up (recommend's foldHistory); reading them makes the query about
// a fifth slower on heavy histories (measured in an earlier session on 408
// users of the 25M set on PostgreSQL: 107–121 ms with them, 84–99 ms
// without), since they are not in the index the query reads.
func (s *Store) UserHistory(ctx context.Context, userID int64) ([]movierec.DatasetRating, error) {
	rows, err := s.conn.Query(ctx, `SELECT movie_id, score, rated_at FROM ratings WHERE user_id = $1 ORDER BY movie_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("UserHistory(%d): %w", userID, err)
	}
	defer rows.Close()
	out := []movierec.DatasetRating{}
	for rows.Next() {
		r := movierec.DatasetRating{UserID: userID}
		var at nullTime
		if err := rows.Scan(&r.MovieID, &r.Score, &at); err != nil {
			return nil, fmt.Errorf("UserHistory(%d): %w", userID, err)
		}
		r.RatedAt = at.Time
		out = append(out, r)
	}
	return out, rows.Err()
}

// MovieFeatures returns the content of every movie (or only of ids when
// given): title, year, genres, tags most used first, rating count and
// popularity.
func (s *Store) MovieFeatures(ctx context.Context, ids ...int64) ([]movierec.MovieFeatures, error) {
	ctx = LongWork(ctx) // bulk: see Deadlines
	var a args
	where := ""
	if len(ids) > 0 {
		ph := make([]string, len(ids))
		for i, id := range ids {
			ph[i] = a.add(id)
		}
		where = " WHERE m.id IN (" + strings.Join(ph, ", ") + ")"
	}
	rows, err := s.conn.Query(ctx, `SELECT m.id, m.title, COALESCE(m.release_year, 0), m.rating_count, m.popularity_score
		FROM movies m`+where+` ORDER BY m.id`, a...)
	if err != nil {
		return nil, fmt.Errorf("MovieFeatures: %w", err)
	}
	var out []movierec.MovieFeatures
	index := map[int64]int{}
	for rows.Next() {
		var f movierec.MovieFeatures
		if err := rows.Scan(&f.ID, &f.Title, &f.Year, &f.RatingCount, &f.Popularity); err != nil {
			rows.Close()
			return nil, fmt.Errorf("MovieFeatures: %w", err)
		}
		index[f.ID] = len(out)
		out = append(out, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("MovieFeatures: %w", err)
	}
	for _, q := range []struct {
		sql string
		add func(f *movierec.MovieFeatures, name string)
	}{
		{`SELECT mg.movie_id, g.name FROM movie_genres mg JOIN genres g ON g.id = mg.genre_id` +
			strings.ReplaceAll(where, "m.id", "mg.movie_id") + ` ORDER BY mg.movie_id, g.name`,
			func(f *movierec.MovieFeatures, n string) { f.Genres = append(f.Genres, n) }},
		{`SELECT tg.movie_id, t.name FROM taggings tg JOIN tags t ON t.id = tg.tag_id` +
			strings.ReplaceAll(where, "m.id", "tg.movie_id") + ` GROUP BY tg.movie_id, t.id, t.name ORDER BY tg.movie_id, count(*) DESC, t.name`,
			func(f *movierec.MovieFeatures, n string) { f.Tags = append(f.Tags, n) }},
	} {
		rows, err := s.conn.Query(ctx, q.sql, a...)
		if err != nil {
			return nil, fmt.Errorf("MovieFeatures: %w", err)
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("MovieFeatures: %w", err)
			}
			if i, ok := index[id]; ok {
				q.add(&out[i], name)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("MovieFeatures: %w", err)
		}
	}
	return out, nil
}

// MoviesByIDs returns the list fields of the movies with ids, in the order
// of ids; unknown ids are skipped.
func (s *Store) MoviesByIDs(ctx context.Context, ids []int64) ([]movierec.Movie, error) {
	if len(ids) == 0 {
		return []movierec.Movie{}, nil
	}
	var a args
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = a.add(id)
	}
	found, err := s.queryMovies(ctx, `SELECT `+movieColumns+` FROM movies m WHERE m.id IN (`+strings.Join(ph, ", ")+`)`, a...)
	if err != nil {
		return nil, fmt.Errorf("MoviesByIDs: %w", err)
	}
	byID := make(map[int64]movierec.Movie, len(found))
	for _, m := range found {
		byID[m.ID] = m
	}
	out := make([]movierec.Movie, 0, len(ids))
	for _, id := range ids {
		if m, ok := byID[id]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// SaveModel stores a trained model.
func (s *Store) SaveModel(ctx context.Context, m movierec.StoredModel) error {
	ctx = LongWork(ctx) // bulk: see Deadlines
	_, err := s.conn.Exec(ctx, `INSERT INTO models (version, trained_at, training_seconds, ratings, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (version) DO NOTHING`, m.Version, m.TrainedAt.UTC(), m.TrainingDuration.Seconds(), m.Ratings, m.Data)
	if err != nil {
		return fmt.Errorf("SaveModel(%s): %w", m.Version, err)
	}
	// Keep the three newest: older ones are never served again.
	if _, err := s.conn.Exec(ctx, `DELETE FROM models WHERE version NOT IN
		(SELECT version FROM models ORDER BY trained_at DESC, version DESC LIMIT 3)`); err != nil {
		return fmt.Errorf("SaveModel(%s): prune: %w", m.Version, err)
	}
	return nil
}

// LatestModelVersion returns the newest stored model's version, or an
// error wrapping ErrNotFound when none is stored. It is cheap: instances
// poll it to pick up models others trained.
func (s *Store) LatestModelVersion(ctx context.Context) (string, error) {
	var v string
	err := s.conn.QueryRow(ctx, `SELECT version FROM models ORDER BY trained_at DESC, version DESC LIMIT 1`).Scan(&v)
	if err == ErrNoRows {
		return "", fmt.Errorf("LatestModelVersion: %w", movierec.ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("LatestModelVersion: %w", err)
	}
	return v, nil
}

// LatestModel returns the newest stored model, or an error wrapping
// ErrNotFound when none is stored.
func (s *Store) LatestModel(ctx context.Context) (movierec.StoredModel, error) {
	ctx = LongWork(ctx) // bulk: see Deadlines
	var m movierec.StoredModel
	var at nullTime
	var secs float64
	err := s.conn.QueryRow(ctx, `SELECT version, trained_at, training_seconds, ratings, data FROM models
		ORDER BY trained_at DESC, version DESC LIMIT 1`).Scan(&m.Version, &at, &secs, &m.Ratings, &m.Data)
	if err == ErrNoRows {
		return m, fmt.Errorf("LatestModel: %w", movierec.ErrNotFound)
	} else if err != nil {
		return m, fmt.Errorf("LatestModel: %w", err)
	}
	m.TrainedAt, m.TrainingDuration = at.Time, time.Duration(secs*float64(time.Second))
	return m, nil
}

// RatingsChangedSince counts ratings created or changed after t (a
// retraining trigger).
func (s *Store) RatingsChangedSince(ctx context.Context, t time.Time) (int, error) {
	var n int
	if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM ratings WHERE updated_at > $1`, t.UTC()).Scan(&n); err != nil {
		return 0, fmt.Errorf("RatingsChangedSince: %w", err)
	}
	return n, nil
}
