package api

import (
	"net/http"
	"time"

	"github.com/movierec/movierec"
)

func (s *Server) listMovies(w http.ResponseWriter, r *http.Request) error {
	return s.serveMovieList(w, r, nil)
}

// serveMovieList answers a paginated movie list. The query is validated
// first; then scope, when non-nil, resolves the route's own constraint (a
// genre or tag, which may not exist).
func (s *Server) serveMovieList(w http.ResponseWriter, r *http.Request, scope func() (movierec.MovieFilter, error)) error {
	q := newQuery(r)
	f, page, size := q.movieFilter()
	err := q.err()
	if err == nil && scope != nil {
		var base movierec.MovieFilter
		base, err = scope()
		f.GenreID, f.TagID = base.GenreID, base.TagID
	}
	if err != nil {
		return err
	}
	res, err := s.store.ListMovies(r.Context(), f)
	if err != nil {
		return err
	}
	body, err := paginate(r, res.Count, page, size, newMovieItems(res.Items))
	if err != nil {
		return err
	}
	writeMovieList(w, body)
	return nil
}

func (s *Server) getMovie(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err == nil {
		err = newQuery(r).err()
	}
	if err != nil {
		return err
	}
	m, err := s.store.Movie(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newMovieDetail(m))
	return nil
}

// Limits of the ranking endpoints.
const (
	defaultRankingLimit = 50
	maxRankingLimit     = 100
)

// rankingJSON is the body of the popular, trending and top-rated lists:
// the pagination shape (one page) plus what the ranking was computed from.
type rankingJSON[T any] struct {
	pageJSON[T]
	Period     string `json:"period,omitempty"`
	MinRatings int    `json:"min_ratings,omitempty"`
}

func (s *Server) popularMovies(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit := q.int("limit", defaultRankingLimit, 1, maxRankingLimit)
	if err := q.err(); err != nil {
		return err
	}
	ms, err := s.store.PopularMovies(r.Context(), limit)
	if err != nil {
		return err
	}
	items := newMovieItems(ms)
	writeJSON(w, http.StatusOK, rankingJSON[movieItem]{pageJSON: pageJSON[movieItem]{Count: len(items), Results: items}})
	return nil
}

// trendingItem is a list item with its activity in the trending window.
type trendingItem struct {
	movieItem
	RecentRatings int `json:"recent_ratings"`
}

// trendingPeriods are the trending windows.
var trendingPeriods = map[string]time.Duration{
	"day": 24 * time.Hour, "week": 7 * 24 * time.Hour, "month": 30 * 24 * time.Hour,
}

func (s *Server) trendingMovies(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	period := q.choice("period", "week", "day", "week", "month")
	limit := q.int("limit", defaultRankingLimit, 1, maxRankingLimit)
	if err := q.err(); err != nil {
		return err
	}
	ms, err := s.store.TrendingMovies(r.Context(), trendingPeriods[period], limit)
	if err != nil {
		return err
	}
	items := make([]trendingItem, len(ms))
	for i, m := range ms {
		items[i] = trendingItem{movieItem: newMovieItem(m.Movie), RecentRatings: int(m.Score)}
	}
	writeJSON(w, http.StatusOK, rankingJSON[trendingItem]{
		pageJSON: pageJSON[trendingItem]{Count: len(items), Results: items}, Period: period})
	return nil
}

// topRatedItem is a list item with its Bayesian weighted rating.
type topRatedItem struct {
	movieItem
	WeightedRating float64 `json:"weighted_rating"`
}

func (s *Server) topRatedMovies(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit := q.int("limit", defaultRankingLimit, 1, maxRankingLimit)
	minRatings := q.int("min_ratings", topRatedMinRatings, 1, 1_000_000)
	if err := q.err(); err != nil {
		return err
	}
	ms, err := s.store.TopRatedMovies(r.Context(), minRatings, limit)
	if err != nil {
		return err
	}
	items := make([]topRatedItem, len(ms))
	for i, m := range ms {
		items[i] = topRatedItem{movieItem: newMovieItem(m.Movie), WeightedRating: round2(m.Score)}
	}
	writeJSON(w, http.StatusOK, rankingJSON[topRatedItem]{
		pageJSON: pageJSON[topRatedItem]{Count: len(items), Results: items}, MinRatings: minRatings})
	return nil
}

// topRatedMinRatings is the default min_ratings of the top-rated list.
const topRatedMinRatings = 10
