package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
)

// Ratings is the storage of ratings, favourites and watch history.
type Ratings interface {
	RateMovie(ctx context.Context, userID, movieID int64, score float64, review string) (movierec.Rating, bool, error)
	Rating(ctx context.Context, userID, movieID int64) (movierec.Rating, error)
	DeleteRating(ctx context.Context, userID, movieID int64) error
	UserRatings(ctx context.Context, userID int64, offset, limit int) (movierec.Page[movierec.Rating], error)
	MovieRatings(ctx context.Context, movieID int64, offset, limit int) (movierec.Page[movierec.Rating], error)
	MovieRatingStats(ctx context.Context, movieID int64) (movierec.RatingStats, error)
	ToggleFavorite(ctx context.Context, userID, movieID int64) (bool, error)
	Favorites(ctx context.Context, userID int64, offset, limit int) (movierec.Page[movierec.Favorite], error)
	Watch(ctx context.Context, userID, movieID int64, duration *int, completed bool) (movierec.WatchEntry, bool, error)
	Unwatch(ctx context.Context, userID, movieID int64) error
	WatchHistory(ctx context.Context, userID int64, offset, limit int) (movierec.Page[movierec.WatchEntry], error)
}

type ratingJSON struct {
	ID        int64     `json:"id"`
	MovieID   int64     `json:"movie_id"`
	Score     float64   `json:"score"`
	Review    string    `json:"review"`
	RatedAt   time.Time `json:"rated_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newRatingJSON(r movierec.Rating) ratingJSON {
	return ratingJSON{ID: r.ID, MovieID: r.MovieID, Score: r.Score, Review: r.Review, RatedAt: r.RatedAt, UpdatedAt: r.UpdatedAt}
}

// movieRating runs fn with the caller and the {id} movie of the path.
func (s *Server) movieRating(fn func(w http.ResponseWriter, r *http.Request, p auth.Principal, movieID int64) error) handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		id, err := pathID(r)
		if err == nil {
			err = newQuery(r).err()
		}
		if err != nil {
			return err
		}
		return fn(w, r, p, id)
	}
}

func (s *Server) getRating(w http.ResponseWriter, r *http.Request, p auth.Principal, movieID int64) error {
	if _, err := s.store.Movie(r.Context(), movieID); err != nil {
		return err
	}
	rt, err := s.store.Rating(r.Context(), p.UserID, movieID)
	if errors.Is(err, movierec.ErrNotFound) {
		err = movierec.Errorf(movierec.ENOTFOUND, "You have not rated this movie.")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newRatingJSON(rt))
	return nil
}

// rateMovie serves POST and PUT: create (201) or replace (200).
func (s *Server) rateMovie(w http.ResponseWriter, r *http.Request, p auth.Principal, movieID int64) error {
	b, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var score float64
	if b.number("score", &score) && !movierec.ValidScore(score) {
		b.fail("score", "must be between 0.5 and 5.0 in steps of 0.5")
	}
	var review string
	b.str("review", &review, false, movierec.MaxReviewLength)
	b.readOnly("id", "movie_id", "rated_at", "updated_at")
	if err := b.err(); err != nil {
		return err
	}
	rt, created, err := s.store.RateMovie(r.Context(), p.UserID, movieID, score, review)
	if err != nil {
		return err
	}
	writeJSON(w, createdStatus(created), newRatingJSON(rt))
	return nil
}

// createdStatus is 201 for a new resource, 200 for a replaced one.
func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func (s *Server) deleteRating(w http.ResponseWriter, r *http.Request, p auth.Principal, movieID int64) error {
	if err := s.store.DeleteRating(r.Context(), p.UserID, movieID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// myList serves a paginated list of the caller's own data.
func myList[T, J any](s *Server, load func(ctx context.Context, userID int64, offset, limit int) (movierec.Page[T], error), render func(T) J) handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		q := newQuery(r)
		page, size := q.pagination()
		if err := q.err(); err != nil {
			return err
		}
		res, err := load(r.Context(), p.UserID, (page-1)*size, size)
		if err != nil {
			return err
		}
		items := make([]J, len(res.Items))
		for i, it := range res.Items {
			items[i] = render(it)
		}
		out, err := paginate(r, res.Count, page, size, items)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

type myRatingJSON struct {
	ID        int64     `json:"id"`
	Movie     movieItem `json:"movie"`
	Score     float64   `json:"score"`
	Review    string    `json:"review"`
	RatedAt   time.Time `json:"rated_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newMyRatingJSON(r movierec.Rating) myRatingJSON {
	return myRatingJSON{ID: r.ID, Movie: newMovieItem(r.Movie), Score: r.Score, Review: r.Review, RatedAt: r.RatedAt, UpdatedAt: r.UpdatedAt}
}

func (s *Server) toggleFavorite(w http.ResponseWriter, r *http.Request, p auth.Principal, movieID int64) error {
	fav, err := s.store.ToggleFavorite(r.Context(), p.UserID, movieID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"favorited": fav})
	return nil
}

type favoriteJSON struct {
	Movie     movieItem `json:"movie"`
	CreatedAt time.Time `json:"created_at"`
}

func newFavoriteJSON(f movierec.Favorite) favoriteJSON {
	return favoriteJSON{Movie: newMovieItem(f.Movie), CreatedAt: f.CreatedAt}
}

// Bounds of a watch entry's duration, in minutes.
const maxWatchMinutes = 24 * 60

type watchJSON struct {
	Movie         movieItem `json:"movie"`
	WatchedAt     time.Time `json:"watched_at"`
	WatchDuration *int      `json:"watch_duration"`
	Completed     bool      `json:"completed"`
	WatchCount    int       `json:"watch_count"`
}

func newWatchJSON(e movierec.WatchEntry) watchJSON {
	return watchJSON{Movie: newMovieItem(e.Movie), WatchedAt: e.WatchedAt, WatchDuration: e.WatchDuration,
		Completed: e.Completed, WatchCount: e.WatchCount}
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, p auth.Principal, movieID int64) error {
	b, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	var duration *int
	nullable(b, "watch_duration", &duration, "must be an integer number of minutes", func(n int) string {
		if n < 0 || n > maxWatchMinutes {
			return fmt.Sprintf("must be between 0 and %d minutes", maxWatchMinutes)
		}
		return ""
	})
	var completed bool
	b.boolean("completed", &completed)
	if err := b.err(); err != nil {
		return err
	}
	e, created, err := s.store.Watch(r.Context(), p.UserID, movieID, duration, completed)
	if err != nil {
		return err
	}
	writeJSON(w, createdStatus(created), newWatchJSON(e))
	return nil
}

func (s *Server) unwatch(w http.ResponseWriter, r *http.Request, p auth.Principal, movieID int64) error {
	if err := s.store.Unwatch(r.Context(), p.UserID, movieID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type ratingStatsJSON struct {
	Count        int            `json:"count"`
	Average      *float64       `json:"average"`
	Distribution map[string]int `json:"distribution"`
}

func newRatingStatsJSON(st movierec.RatingStats) ratingStatsJSON {
	out := ratingStatsJSON{Count: st.Count, Distribution: st.Distribution}
	if st.Average != nil {
		avg := round2(*st.Average)
		out.Average = &avg
	}
	return out
}

type genreStatJSON struct {
	Name         string  `json:"name"`
	Count        int     `json:"count"`
	AverageScore float64 `json:"average_score"`
}

type myStatsJSON struct {
	TotalRatings       int             `json:"total_ratings"`
	AverageRatingGiven *float64        `json:"average_rating_given"`
	RatingDistribution map[string]int  `json:"rating_distribution"`
	TotalFavorites     int             `json:"total_favorites"`
	TotalWatched       int             `json:"total_watched"`
	CompletedCount     int             `json:"completed_count"`
	FavoriteGenres     []genreStatJSON `json:"favorite_genres"`
}

func (s *Server) myStats(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := newQuery(r).err(); err != nil {
		return err
	}
	st, err := s.store.UserStats(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	rs := newRatingStatsJSON(st.Ratings)
	out := myStatsJSON{TotalRatings: rs.Count, AverageRatingGiven: rs.Average, RatingDistribution: rs.Distribution,
		TotalFavorites: st.Favorites, TotalWatched: st.Watched, CompletedCount: st.Completed, FavoriteGenres: []genreStatJSON{}}
	for _, g := range st.FavoriteGenres {
		out.FavoriteGenres = append(out.FavoriteGenres, genreStatJSON{Name: g.Name, Count: g.Count, AverageScore: round2(g.AverageScore)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type publicRatingJSON struct {
	ID       int64     `json:"id"`
	Username string    `json:"username"`
	Score    float64   `json:"score"`
	Review   string    `json:"review"`
	RatedAt  time.Time `json:"rated_at"`
}

func (s *Server) movieRatings(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	q := newQuery(r)
	page, size := q.pagination()
	if err == nil {
		err = q.err()
	}
	if err != nil {
		return err
	}
	res, err := s.store.MovieRatings(r.Context(), id, (page-1)*size, size)
	if err != nil {
		return err
	}
	items := make([]publicRatingJSON, len(res.Items))
	for i, rt := range res.Items {
		items[i] = publicRatingJSON{ID: rt.ID, Username: rt.Username, Score: rt.Score, Review: rt.Review, RatedAt: rt.RatedAt}
	}
	out, err := paginate(r, res.Count, page, size, items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type movieStatsJSON struct {
	MovieID int64 `json:"movie_id"`
	ratingStatsJSON
}

func (s *Server) movieStats(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err == nil {
		err = newQuery(r).err()
	}
	if err != nil {
		return err
	}
	st, err := s.store.MovieRatingStats(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, movieStatsJSON{MovieID: id, ratingStatsJSON: newRatingStatsJSON(st)})
	return nil
}
