package api

import (
	"context"
	"math"
	"net/http"
	"strconv"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/recommend"
)

// Recommender is the recommendation engine the API needs.
type Recommender interface {
	Recommend(ctx context.Context, req engine.Request) (engine.Result, error)
	SimilarMovies(ctx context.Context, movieID int64, limit int) ([]recommend.Similar, string, error)
	ModelVersion() string
}

// Limits of the recommendation lists.
const (
	defaultRecommendations = 20
	defaultSimilar         = 10
	maxRecommendations     = 100
)

var errNoEngine = movierec.Errorf(movierec.EUNAVAILABLE, "Recommendations are not available on this server.")

type recommendationJSON struct {
	Movie     movieItem `json:"movie"`
	Score     float64   `json:"score"`
	Reason    string    `json:"reason"`
	Algorithm string    `json:"algorithm"`
}

type recommendationsJSON struct {
	AlgorithmUsed        string               `json:"algorithm_used"`
	ModelVersion         *string              `json:"model_version"`
	TotalRecommendations int                  `json:"total_recommendations"`
	Recommendations      []recommendationJSON `json:"recommendations"`
	Cached               bool                 `json:"cached"`
}

func (s *Server) forMe(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.serveRecommendations(w, r, p.UserID, false)
}

func (s *Server) forUser(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	raw := r.PathValue("user_id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != raw {
		return movierec.ErrNotFound
	}
	return s.serveRecommendations(w, r, id, true)
}

// serveRecommendations answers for userID. With checkUser a user without
// ratings is looked up (404 if there is none); a user with ratings exists,
// since deleting a user deletes their ratings in the same transaction.
func (s *Server) serveRecommendations(w http.ResponseWriter, r *http.Request, userID int64, checkUser bool) error {
	q := newQuery(r)
	req := engine.Request{
		UserID:    userID,
		Algorithm: q.choice("algorithm", recommend.Hybrid, recommend.Algorithms...),
		Limit:     q.int("limit", defaultRecommendations, 1, maxRecommendations),
		Genre:     q.one("genre"),
	}
	req.IncludeRated = !q.boolean("exclude_rated", true)
	if err := q.err(); err != nil {
		return err
	}
	if s.recommender == nil {
		return errNoEngine
	}
	res, err := s.recommender.Recommend(r.Context(), req)
	if err != nil {
		return err
	}
	if checkUser && res.Rated == 0 {
		if _, err := s.store.User(r.Context(), userID); err != nil {
			return err
		}
	}
	ids := make([]int64, len(res.Recommendations))
	for i, rec := range res.Recommendations {
		ids[i] = rec.MovieID
	}
	movies, err := s.store.MoviesByIDs(r.Context(), ids)
	if err != nil {
		return err
	}
	byID := make(map[int64]movierec.Movie, len(movies))
	for _, m := range movies {
		byID[m.ID] = m
	}
	out := recommendationsJSON{AlgorithmUsed: res.Algorithm, Recommendations: []recommendationJSON{}}
	if res.ModelVersion != "" {
		out.ModelVersion = &res.ModelVersion
	}
	for _, rec := range res.Recommendations {
		m, ok := byID[rec.MovieID]
		if !ok { // deleted since the model was trained
			continue
		}
		out.Recommendations = append(out.Recommendations, recommendationJSON{Movie: newMovieItem(m),
			Score: roundScore(rec.Score), Reason: rec.Reason, Algorithm: rec.Algorithm})
	}
	out.TotalRecommendations = len(out.Recommendations)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// roundScore keeps four decimals: enough to order, short on the wire.
func roundScore(f float64) float64 { return math.Round(f*1e4) / 1e4 }

type similarJSON struct {
	Movie           movieItem `json:"movie"`
	SimilarityScore float64   `json:"similarity_score"`
	Reason          string    `json:"reason"`
}

type similarMoviesJSON struct {
	MovieID       int64         `json:"movie_id"`
	ModelVersion  string        `json:"model_version"`
	SimilarMovies []similarJSON `json:"similar_movies"`
	Total         int           `json:"total"`
}

func (s *Server) similarMovies(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	q := newQuery(r)
	limit := q.int("limit", defaultSimilar, 1, maxRecommendations)
	if err == nil {
		err = q.err()
	}
	if err != nil {
		return err
	}
	if s.recommender == nil {
		return errNoEngine
	}
	sims, version, err := s.recommender.SimilarMovies(r.Context(), id, limit)
	if err != nil {
		return err
	}
	ids := make([]int64, len(sims))
	for i, sm := range sims {
		ids[i] = sm.MovieID
	}
	movies, err := s.store.MoviesByIDs(r.Context(), ids)
	if err != nil {
		return err
	}
	byID := make(map[int64]movierec.Movie, len(movies))
	for _, m := range movies {
		byID[m.ID] = m
	}
	out := similarMoviesJSON{MovieID: id, ModelVersion: version, SimilarMovies: []similarJSON{}}
	for _, sm := range sims {
		if m, ok := byID[sm.MovieID]; ok {
			out.SimilarMovies = append(out.SimilarMovies, similarJSON{Movie: newMovieItem(m), SimilarityScore: roundScore(sm.Score), Reason: sm.Reason})
		}
	}
	out.Total = len(out.SimilarMovies)
	writeJSON(w, http.StatusOK, out)
	return nil
}
