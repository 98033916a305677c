package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/movierec/movierec"
)

// lockMovie locks a movie's row for the rest of tx, so concurrent rating
// writers update its aggregates one after another. It returns an error
// wrapping ErrNotFound for an unknown movie.
func (s *Store) lockMovie(ctx context.Context, tx DB, movieID int64) error {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM movies WHERE id = $1`+s.dialect.ForUpdate, movieID).Scan(&id)
	if err == ErrNoRows {
		return movierec.ErrNotFound
	}
	return err
}

// aggregates are a movie's stored rating aggregates.
type aggregates struct {
	count      int
	total, pop float64
}

// ratingState is what a rating write reads first, under its movie's row
// lock: the movie's aggregates, the popularity epoch, the user's current
// rating of the movie and the username.
type ratingState struct {
	agg      aggregates
	epoch    *string // nil: not stored yet
	found    bool    // the user has rated the movie
	id       int64
	score    float64
	ratedAt  time.Time
	username string
}

// lockRating locks a movie's row for the rest of tx, so concurrent rating
// writers update its aggregates one after another, and returns the
// state the write starts from. An unknown movie wraps ErrNotFound.
//
// The rest is read by a second statement, after the lock: on PostgreSQL
// (read committed) a statement that waited for the lock still sees the
// other tables as they were when it started, so a rating, or an import's
// epoch, committed by the writer it waited for would be missed.
func (s *Store) lockRating(ctx context.Context, tx DB, userID, movieID int64) (ratingState, error) {
	var st ratingState
	err := batch(ctx, tx, false, s.ratingStateStmts(&st, userID, movieID)...)
	return st, err
}

// ratingStateStmts are lockRating's two statements, reading into st: one
// round trip on PostgreSQL (see Batcher).
func (s *Store) ratingStateStmts(st *ratingState, userID, movieID int64) []Stmt {
	return []Stmt{{
		SQL:  `SELECT rating_count, rating_total, popularity_score FROM movies WHERE id = $1` + s.dialect.ForUpdate,
		Args: []any{movieID},
		Scan: func(r Row) error {
			err := r.Scan(&st.agg.count, &st.agg.total, &st.agg.pop)
			if err == ErrNoRows {
				return movierec.ErrNotFound
			}
			return err
		},
	}, {
		SQL: `SELECT (SELECT value FROM settings WHERE key = $3), r.id, r.score, r.rated_at,
				(SELECT username FROM users WHERE id = $1)
			FROM (SELECT 1 AS one) AS one LEFT JOIN ratings r ON r.user_id = $1 AND r.movie_id = $2`,
		Args: []any{userID, movieID, popularityEpochKey},
		Scan: func(r Row) error {
			var id *int64
			var score *float64
			var ratedAt nullTime
			var username *string
			if err := r.Scan(&st.epoch, &id, &score, &ratedAt, &username); err != nil {
				return err
			}
			if id != nil && score != nil {
				st.found, st.id, st.score, st.ratedAt = true, *id, *score, ratedAt.Time
			}
			if username != nil {
				st.username = *username
			}
			return nil
		},
	}}
}

// epochOf returns the popularity epoch lockRating read, storing one when
// there is none yet.
func (s *Store) epochOf(ctx context.Context, tx DB, st ratingState) (time.Time, error) {
	if st.epoch == nil {
		return s.popularityEpoch(ctx, tx)
	}
	return parseEpoch(*st.epoch)
}

// add applies a rating's arrival (n = 1, its score), departure (n = -1,
// minus its score) or change of score (n = 0, the difference), made at
// ratedAt, to the aggregates, with epoch the popularity epoch.
func (a *aggregates) add(n int, scoreDelta float64, ratedAt, epoch time.Time) {
	a.count += n
	a.total += scoreDelta
	a.pop = max(0, a.pop+scoreDelta/5*popularityWeight(ratedAt, epoch))
	if a.count <= 0 {
		*a = aggregates{}
	}
}

// average is the average_rating the aggregates store (0 without ratings).
func (a aggregates) average() float64 {
	if a.count > 0 {
		return a.total / float64(a.count)
	}
	return 0
}

// saveStmt stores the aggregates of a movie locked by lockRating. Only
// this movie changes: every other movie's popularity keeps its value.
func (a aggregates) saveStmt(movieID int64) Stmt {
	return Stmt{SQL: `UPDATE movies SET rating_count = $1, rating_total = $2, average_rating = $3, popularity_score = $4
		WHERE id = $5`, Args: []any{a.count, a.total, a.average(), a.pop, movieID}}
}

// change is the change-log payload of a rating write that moved the
// rating's score from oldScore to newScore (0: none) and left the
// aggregates a, as save stores them.
func (a aggregates) change(oldScore, newScore float64, ratedAt time.Time) *movierec.RatingChange {
	return &movierec.RatingChange{OldScore: oldScore, NewScore: newScore, RatedAt: ratedAt,
		Count: a.count, Average: a.average(), Popularity: a.pop}
}

const ratingColumns = `r.id, r.user_id, u.username, r.movie_id, r.score, r.review, r.rated_at, r.updated_at`

func scanRating(row Row, r *movierec.Rating, extra ...any) error {
	var rated, updated nullTime
	dest := append([]any{&r.ID, &r.UserID, &r.Username, &r.MovieID, &r.Score, &r.Review, &rated, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	r.RatedAt, r.UpdatedAt = rated.Time, updated.Time
	return nil
}

// RateMovie creates or replaces the user's rating of a movie, updates the
// movie's aggregates and records a ChangeMovie carrying what it did (see
// movierec.RatingChange), all in one transaction.
// The aggregates change incrementally, under the movie's row lock: the
// rating's popularity contribution (see PopularityHalfLifeDays) is added,
// or for a replaced score adjusted at the rating's original time, and no
// other movie is touched. created reports whether the rating is new. An
// unknown movie wraps ErrNotFound; the caller has validated score and
// review.
func (s *Store) RateMovie(ctx context.Context, userID, movieID int64, score float64, review string) (r movierec.Rating, created bool, err error) {
	r, created, _, err = s.RateMovieChange(ctx, userID, movieID, score, review)
	return r, created, err
}

// RateMovieChange is RateMovie that also returns the change it recorded
// in the catalog change log (committed with the rating), so that the
// caller can apply it to an in-memory catalog without reading the log.
func (s *Store) RateMovieChange(ctx context.Context, userID, movieID int64, score float64, review string) (r movierec.Rating, created bool, ch movierec.CatalogChange, err error) {
	now := s.timestamp()
	err = s.ratingTx(ctx, func(tx DB) error {
		st, err := s.lockRating(ctx, tx, userID, movieID)
		if err != nil {
			return err
		}
		epoch, err := s.epochOf(ctx, tx, st)
		if err != nil {
			return err
		}
		agg, oldScore, ratedAt := st.agg, st.score, st.ratedAt
		var rated, updated nullTime
		write := Stmt{Scan: func(row Row) error { return row.Scan(&r.ID, &rated, &updated) }}
		if created = !st.found; created {
			write.SQL = `INSERT INTO ratings (user_id, movie_id, score, review, rated_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, rated_at, updated_at`
			write.Args = []any{userID, movieID, score, review, now}
			agg.add(1, score, now, epoch)
			oldScore, ratedAt = 0, now
		} else {
			// A new score keeps the rating's time, and so its weight.
			write.SQL = `UPDATE ratings SET score = $1, review = $2, updated_at = $3 WHERE id = $4
				RETURNING id, rated_at, updated_at`
			write.Args = []any{score, review, now, st.id}
			agg.add(0, score-oldScore, ratedAt, epoch)
		}
		// The rest, and the commit, in one round trip (see Batcher).
		if err := batch(ctx, tx, true, write, agg.saveStmt(movieID),
			s.recordStmt(&ch, movierec.ChangeMovie, movieID, agg.change(oldScore, score, ratedAt))); err != nil {
			return err
		}
		r.UserID, r.Username, r.MovieID, r.Score, r.Review = userID, st.username, movieID, score, review
		r.RatedAt, r.UpdatedAt = rated.Time, updated.Time
		return nil
	})
	if err != nil {
		return r, false, ch, fmt.Errorf("RateMovie(%d, %d): %w", userID, movieID, err)
	}
	return r, created, ch, nil
}

// Rating returns the user's rating of a movie, or an error wrapping
// ErrNotFound.
func (s *Store) Rating(ctx context.Context, userID, movieID int64) (movierec.Rating, error) {
	var r movierec.Rating
	err := scanRating(s.conn.QueryRow(ctx, `SELECT `+ratingColumns+` FROM ratings r JOIN users u ON u.id = r.user_id
		WHERE r.user_id = $1 AND r.movie_id = $2`, userID, movieID), &r)
	if err == ErrNoRows {
		return r, fmt.Errorf("Rating(%d, %d): %w", userID, movieID, movierec.ErrNotFound)
	} else if err != nil {
		return r, fmt.Errorf("Rating(%d, %d): %w", userID, movieID, err)
	}
	return r, nil
}

// DeleteRating removes the user's rating of a movie, takes it out of the
// movie's aggregates (as RateMovie puts it in) and records a ChangeMovie
// carrying what it did, in one transaction. No such rating wraps ErrNotFound.
func (s *Store) DeleteRating(ctx context.Context, userID, movieID int64) error {
	_, err := s.DeleteRatingChange(ctx, userID, movieID)
	return err
}

// DeleteRatingChange is DeleteRating that also returns the change it
// recorded (see RateMovieChange).
func (s *Store) DeleteRatingChange(ctx context.Context, userID, movieID int64) (ch movierec.CatalogChange, err error) {
	err = s.ratingTx(ctx, func(tx DB) error {
		st, err := s.lockRating(ctx, tx, userID, movieID)
		if err != nil {
			return err
		}
		epoch, err := s.epochOf(ctx, tx, st)
		if err != nil {
			return err
		}
		if !st.found {
			return movierec.ErrNotFound
		}
		agg, score, ratedAt := st.agg, st.score, st.ratedAt
		agg.add(-1, -score, ratedAt, epoch)
		// The rest, and the commit, in one round trip (see Batcher).
		return batch(ctx, tx, true, Stmt{SQL: `DELETE FROM ratings WHERE id = $1`, Args: []any{st.id}},
			agg.saveStmt(movieID), s.recordStmt(&ch, movierec.ChangeMovie, movieID, agg.change(score, 0, ratedAt)))
	})
	if err != nil {
		return ch, fmt.Errorf("DeleteRating(%d, %d): %w", userID, movieID, err)
	}
	return ch, nil
}

// UserRatings returns a page of the user's ratings, newest first, each
// with its movie's list fields.
func (s *Store) UserRatings(ctx context.Context, userID int64, offset, limit int) (movierec.Page[movierec.Rating], error) {
	page := movierec.Page[movierec.Rating]{Items: []movierec.Rating{}}
	if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM ratings WHERE user_id = $1`, userID).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("UserRatings: %w", err)
	}
	rows, err := s.conn.Query(ctx, `SELECT `+ratingColumns+`, `+movieColumns+` FROM ratings r
		JOIN users u ON u.id = r.user_id JOIN movies m ON m.id = r.movie_id
		WHERE r.user_id = $1 ORDER BY r.rated_at DESC, r.id DESC LIMIT $2 OFFSET $3`, userID, limit, offset)
	if err != nil {
		return page, fmt.Errorf("UserRatings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r movierec.Rating
		var m movierec.Movie
		if err := scanRatingWithMovie(rows, &r, &m); err != nil {
			return page, fmt.Errorf("UserRatings: %w", err)
		}
		r.Movie = m
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("UserRatings: %w", err)
	}
	rows.Close()
	movies := make([]*movierec.Movie, len(page.Items))
	for i := range page.Items {
		movies[i] = &page.Items[i].Movie
	}
	if err := s.attachGenresTo(ctx, movies); err != nil {
		return page, fmt.Errorf("UserRatings: %w", err)
	}
	return page, nil
}

// scanRatingWithMovie scans ratingColumns followed by movieColumns.
func scanRatingWithMovie(row Row, r *movierec.Rating, m *movierec.Movie) error {
	var rated, updated nullTime
	err := scanMovieAfter(row, m, &r.ID, &r.UserID, &r.Username, &r.MovieID, &r.Score, &r.Review, &rated, &updated)
	r.RatedAt, r.UpdatedAt = rated.Time, updated.Time
	return err
}

// MovieRatings returns a page of a movie's ratings, newest first, with
// usernames. An unknown movie wraps ErrNotFound.
func (s *Store) MovieRatings(ctx context.Context, movieID int64, offset, limit int) (movierec.Page[movierec.Rating], error) {
	return retryOnPrimary(ctx, func(ctx context.Context) (movierec.Page[movierec.Rating], error) {
		return s.movieRatings(ctx, movieID, offset, limit)
	})
}

func (s *Store) movieRatings(ctx context.Context, movieID int64, offset, limit int) (movierec.Page[movierec.Rating], error) {
	page := movierec.Page[movierec.Rating]{Items: []movierec.Rating{}}
	if err := s.conn.QueryRow(ctx, `SELECT rating_count FROM movies WHERE id = $1`, movieID).Scan(&page.Count); err == ErrNoRows {
		return page, fmt.Errorf("MovieRatings(%d): %w", movieID, movierec.ErrNotFound)
	} else if err != nil {
		return page, fmt.Errorf("MovieRatings(%d): %w", movieID, err)
	}
	rows, err := s.conn.Query(ctx, `SELECT `+ratingColumns+` FROM ratings r JOIN users u ON u.id = r.user_id
		WHERE r.movie_id = $1 ORDER BY r.rated_at DESC, r.id DESC LIMIT $2 OFFSET $3`, movieID, limit, offset)
	if err != nil {
		return page, fmt.Errorf("MovieRatings(%d): %w", movieID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r movierec.Rating
		if err := scanRating(rows, &r); err != nil {
			return page, fmt.Errorf("MovieRatings(%d): %w", movieID, err)
		}
		page.Items = append(page.Items, r)
	}
	return page, rows.Err()
}

// MovieRatingStats summarises a movie's ratings. An unknown movie wraps
// ErrNotFound.
func (s *Store) MovieRatingStats(ctx context.Context, movieID int64) (movierec.RatingStats, error) {
	var st movierec.RatingStats
	var avg float64
	if err := s.conn.QueryRow(ctx, `SELECT rating_count, average_rating FROM movies WHERE id = $1`, movieID).Scan(&st.Count, &avg); err == ErrNoRows {
		return st, fmt.Errorf("MovieRatingStats(%d): %w", movieID, movierec.ErrNotFound)
	} else if err != nil {
		return st, fmt.Errorf("MovieRatingStats(%d): %w", movieID, err)
	}
	if st.Count > 0 {
		st.Average = &avg
	}
	var err error
	if st.Distribution, err = s.ratingDistribution(ctx, movieID); err != nil {
		return st, fmt.Errorf("MovieRatingStats(%d): %w", movieID, err)
	}
	return st, nil
}
