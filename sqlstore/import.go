package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// staging tables an import bulk-loads before merging. Their column types
// are valid on both backends.
var stagingDDL = []string{
	`CREATE TEMP TABLE import_users (id BIGINT, username TEXT)`,
	`CREATE TEMP TABLE import_movies (id BIGINT, title TEXT, description TEXT, release_year INTEGER,
		release_date DATE, duration INTEGER, imdb_rating DOUBLE PRECISION, poster_url TEXT,
		trailer_url TEXT, imdb_id TEXT, tmdb_id BIGINT)`,
	`CREATE TEMP TABLE import_movie_genres (movie_id BIGINT, name TEXT)`,
	`CREATE TEMP TABLE import_ratings (user_id BIGINT, movie_id BIGINT, score DOUBLE PRECISION, rated_at TIMESTAMP)`,
	`CREATE TEMP TABLE import_taggings (user_id BIGINT, movie_id BIGINT, name TEXT, tagged_at TIMESTAMP)`,
}

// stagingIndexes are built after loading, for the merge's lookups.
var stagingIndexes = []string{
	`CREATE INDEX import_movies_id ON import_movies (id)`,
	`CREATE INDEX import_movie_genres_movie ON import_movie_genres (movie_id)`,
}

var stagingTables = []string{"import_users", "import_movies", "import_movie_genres", "import_ratings", "import_taggings"}

// mergeSQL moves staged rows into the real tables. Every statement is an
// upsert that leaves identical rows untouched, so a repeated import changes
// nothing. $1 is the import's timestamp.
var mergeSQL = []struct{ stage, sql string }{
	{"users", `INSERT INTO users (id, username, date_joined)
		SELECT id, username, $1 FROM import_users WHERE true
		ON CONFLICT (id) DO NOTHING`},
	{"genres", `INSERT INTO genres (name, created_at, updated_at)
		SELECT min(s.name), $1, $1 FROM import_movie_genres s
		WHERE NOT EXISTS (SELECT 1 FROM genres g WHERE lower(g.name) = lower(s.name))
		GROUP BY lower(s.name)`},
	{"tags", `INSERT INTO tags (name, created_at, updated_at)
		SELECT min(s.name), $1, $1 FROM import_taggings s
		WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE lower(t.name) = lower(s.name))
		GROUP BY lower(s.name)`},
	{"movies", `INSERT INTO movies (id, title, description, release_year, release_date, duration,
			imdb_rating, poster_url, trailer_url, imdb_id, tmdb_id, created_at, updated_at)
		SELECT id, title, description, release_year, release_date, duration,
			imdb_rating, poster_url, trailer_url, imdb_id, tmdb_id, $1, $1 FROM import_movies WHERE true
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
			release_year = excluded.release_year, release_date = excluded.release_date,
			duration = excluded.duration, imdb_rating = excluded.imdb_rating,
			poster_url = excluded.poster_url, trailer_url = excluded.trailer_url,
			imdb_id = excluded.imdb_id, tmdb_id = excluded.tmdb_id, updated_at = excluded.updated_at
		WHERE movies.title IS DISTINCT FROM excluded.title
			OR movies.description IS DISTINCT FROM excluded.description
			OR movies.release_year IS DISTINCT FROM excluded.release_year
			OR movies.release_date IS DISTINCT FROM excluded.release_date
			OR movies.duration IS DISTINCT FROM excluded.duration
			OR movies.imdb_rating IS DISTINCT FROM excluded.imdb_rating
			OR movies.poster_url IS DISTINCT FROM excluded.poster_url
			OR movies.trailer_url IS DISTINCT FROM excluded.trailer_url
			OR movies.imdb_id IS DISTINCT FROM excluded.imdb_id
			OR movies.tmdb_id IS DISTINCT FROM excluded.tmdb_id`},
	{"movie genres", `DELETE FROM movie_genres
		WHERE movie_id IN (SELECT id FROM import_movies)
		AND NOT EXISTS (SELECT 1 FROM import_movie_genres s JOIN genres g ON lower(g.name) = lower(s.name)
			WHERE s.movie_id = movie_genres.movie_id AND g.id = movie_genres.genre_id)`},
	{"movie genres", `INSERT INTO movie_genres (movie_id, genre_id)
		SELECT DISTINCT s.movie_id, g.id FROM import_movie_genres s JOIN genres g ON lower(g.name) = lower(s.name)
		WHERE true
		ON CONFLICT DO NOTHING`},
	{"ratings", `INSERT INTO ratings (user_id, movie_id, score, review, rated_at, updated_at)
		SELECT user_id, movie_id, score, '', rated_at, rated_at FROM import_ratings WHERE true
		ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score,
			rated_at = excluded.rated_at, updated_at = excluded.updated_at
		WHERE ratings.score IS DISTINCT FROM excluded.score OR ratings.rated_at IS DISTINCT FROM excluded.rated_at`},
	{"taggings", `INSERT INTO taggings (user_id, movie_id, tag_id, tagged_at)
		SELECT DISTINCT s.user_id, s.movie_id, t.id, s.tagged_at FROM import_taggings s
		JOIN tags t ON lower(t.name) = lower(s.name) WHERE true
		ON CONFLICT DO NOTHING`},
}

// ImportResult counts what an import read.
type ImportResult struct {
	Movies, Users, Ratings, Tags int
	Elapsed                      time.Duration
}

// Import loads ds in one transaction: movies, genres, links, users, ratings
// and tag applications are upserted by their IDs, so importing the same
// data twice changes nothing, and a failure leaves the database as it was.
// Before commit, the popularity epoch moves to the newest rating, every
// movie's aggregates (rating_count, rating_total, average_rating,
// popularity_score) are recomputed from scratch, and a ChangeAll is
// recorded.
func (s *Store) Import(ctx context.Context, ds *movierec.Dataset, progress movierec.Progress) (ImportResult, error) {
	ctx = LongWork(ctx) // bulk: see Deadlines
	start := time.Now()
	if progress == nil {
		progress = func(string, int, int) {}
	}
	now := s.timestamp()
	err := s.conn.InTx(ctx, func(tx DB) error {
		for _, q := range s.dialect.BeforeImport {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("before import: %w", err)
			}
		}
		for _, t := range stagingTables {
			if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return err
			}
		}
		for _, ddl := range stagingDDL {
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return fmt.Errorf("staging: %w", err)
			}
		}
		if err := stage(ctx, tx, ds, progress); err != nil {
			return err
		}
		for _, ddl := range stagingIndexes {
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return fmt.Errorf("staging: %w", err)
			}
		}
		for i, m := range mergeSQL {
			progress("merge: "+m.stage, i, len(mergeSQL))
			var a []any
			if strings.Contains(m.sql, "$1") {
				a = append(a, now)
			}
			if _, err := tx.Exec(ctx, m.sql, a...); err != nil {
				return fmt.Errorf("merge %s: %w", m.stage, err)
			}
		}
		progress("aggregates", 0, 1)
		if err := s.recomputeAggregates(ctx, tx); err != nil {
			return err
		}
		progress("aggregates", 1, 1)
		for _, q := range s.dialect.AfterImport {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("after import: %w", err)
			}
		}
		for _, t := range stagingTables {
			if _, err := tx.Exec(ctx, `DROP TABLE `+t); err != nil {
				return err
			}
		}
		return s.recordChange(ctx, tx, movierec.ChangeAll, 0)
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	// Fresh statistics, so the planners pick the right indexes at once
	// instead of after autovacuum (PostgreSQL) or never (SQLite).
	progress("analyze", 0, 1)
	analyze := s.dialect.Analyze
	if analyze == "" {
		analyze = `ANALYZE`
	}
	if _, err := s.conn.Exec(ctx, analyze); err != nil {
		return ImportResult{}, fmt.Errorf("import: analyze: %w", err)
	}
	progress("analyze", 1, 1)
	return ImportResult{Movies: len(ds.Movies), Users: len(ds.Users), Ratings: len(ds.Ratings),
		Tags: len(ds.Tags), Elapsed: time.Since(start)}, nil
}

// stage bulk-loads ds into the staging tables.
func stage(ctx context.Context, tx DB, ds *movierec.Dataset, progress movierec.Progress) error {
	var genres [][2]any
	for _, m := range ds.Movies {
		for _, g := range m.Genres {
			genres = append(genres, [2]any{m.ID, strings.TrimSpace(g.Name)})
		}
	}
	loads := []struct {
		table   string
		columns []string
		n       int
		row     func(i int) []any
	}{
		{"import_users", []string{"id", "username"}, len(ds.Users), func(i int) []any {
			u := ds.Users[i]
			return []any{u.ID, u.Username}
		}},
		{"import_movies", []string{"id", "title", "description", "release_year", "release_date", "duration",
			"imdb_rating", "poster_url", "trailer_url", "imdb_id", "tmdb_id"}, len(ds.Movies), func(i int) []any {
			m := ds.Movies[i]
			var date any
			if m.ReleaseDate != nil {
				date = m.ReleaseDate.UTC().Truncate(24 * time.Hour)
			}
			return []any{m.ID, m.Title, m.Description, m.ReleaseYear, date, m.Duration,
				m.IMDbRating, m.PosterURL, m.TrailerURL, m.IMDbID, m.TMDbID}
		}},
		{"import_movie_genres", []string{"movie_id", "name"}, len(genres), func(i int) []any {
			return genres[i][:]
		}},
		{"import_ratings", []string{"user_id", "movie_id", "score", "rated_at"}, len(ds.Ratings), func(i int) []any {
			r := ds.Ratings[i]
			return []any{r.UserID, r.MovieID, r.Score, r.RatedAt.UTC().Truncate(time.Microsecond)}
		}},
		{"import_taggings", []string{"user_id", "movie_id", "name", "tagged_at"}, len(ds.Tags), func(i int) []any {
			t := ds.Tags[i]
			return []any{t.UserID, t.MovieID, strings.TrimSpace(t.Tag), t.TaggedAt.UTC().Truncate(time.Microsecond)}
		}},
	}
	for _, l := range loads {
		stageName := strings.TrimPrefix(l.table, "import_")
		progress("load "+stageName, 0, l.n)
		if _, err := tx.CopyIn(ctx, l.table, l.columns, l.n, l.row); err != nil {
			return fmt.Errorf("load %s: %w", stageName, err)
		}
		progress("load "+stageName, l.n, l.n)
	}
	return nil
}

// recomputeAggregates moves the popularity epoch E to the newest rating
// in the store (the current time when there are none) and sets every
// movie's rating_count, rating_total, average_rating (rating_total /
// rating_count, 0 without ratings) and popularity_score from its ratings,
// in one statement. The popularity score is
//
//	Σ over the movie's ratings of (score / 5) · 2^((rated_at − E) / 365 days)
//
// (see PopularityHalfLifeDays), unrounded. Each sum runs in rating ID
// order, so the same ratings always give the same bits whatever plan the
// database picks, and a repeated import changes nothing.
func (s *Store) recomputeAggregates(ctx context.Context, tx DB) error {
	epoch, err := newestRating(ctx, tx)
	if err != nil {
		return fmt.Errorf("recompute aggregates: %w", err)
	}
	if epoch.IsZero() {
		epoch = s.timestamp()
	}
	epoch = epoch.UTC().Truncate(time.Microsecond)
	if err := setPopularityEpoch(ctx, tx, epoch); err != nil {
		return fmt.Errorf("recompute aggregates: %w", err)
	}
	q := `UPDATE movies SET (rating_count, rating_total, average_rating, popularity_score) = (
		SELECT count(*), COALESCE(sum(r.score), 0), COALESCE(sum(r.score) / count(*), 0),
			COALESCE(sum(r.score / 5.0 * power(2.0, (` + s.dialect.Epoch(`r.rated_at`) + ` - $1) / $2) ORDER BY r.id), 0)
		FROM ratings r WHERE r.movie_id = movies.id)`
	if _, err := tx.Exec(ctx, q, epochSeconds(epoch), float64(popularityHalfLife)); err != nil {
		return fmt.Errorf("recompute aggregates: %w", err)
	}
	return nil
}
