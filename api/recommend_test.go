package api_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/movierec/movierec/api"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

type recsBody struct {
	AlgorithmUsed   string  `json:"algorithm_used"`
	ModelVersion    *string `json:"model_version"`
	Total           int     `json:"total_recommendations"`
	Recommendations []struct {
		Movie struct {
			ID     int64    `json:"id"`
			Genres []string `json:"genres"`
		} `json:"movie"`
		Score     float64 `json:"score"`
		Reason    string  `json:"reason"`
		Algorithm string  `json:"algorithm"`
	} `json:"recommendations"`
}

func (b recsBody) ids() []int64 {
	out := make([]int64, len(b.Recommendations))
	for i, r := range b.Recommendations {
		out[i] = r.Movie.ID
	}
	return out
}

func TestRecommendationRoutes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if _, err := s.Import(ctx, demodata.Generate(demodata.Options{Movies: 300, Users: 60, Ratings: 3000, Seed: 5}), nil); err != nil {
			t.Fatal(err)
		}
		eng := engine.New(s, engine.DefaultConfig(), slog.New(slog.DiscardHandler))
		m, err := eng.Train(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		accounts := storetest.Accounts(t, s)
		ts := httptest.NewServer(api.New(s, accounts, slog.New(slog.DiscardHandler), api.Options{Recommender: eng}))
		t.Cleanup(ts.Close)
		e := &env{t: t, store: s, accounts: accounts, url: ts.URL}
		tk := e.register("cinephile")

		var cold recsBody
		if res := call(t, e.url, "GET", "/api/recommendations/for-me/", tk.Access, nil, &cold); res.StatusCode != 200 ||
			cold.Total != 20 || len(cold.Recommendations) != 20 || cold.ModelVersion == nil || *cold.ModelVersion != m.Version() || cold.AlgorithmUsed != "hybrid" {
			t.Fatalf("cold start: %d %+v", res.StatusCode, cold)
		}
		for _, r := range cold.Recommendations {
			if r.Reason == "" || r.Algorithm == "" {
				t.Errorf("recommendation without reason or algorithm: %+v", r)
			}
		}
		rated := cold.ids()[:3]
		for _, id := range rated {
			call(t, e.url, "POST", "/api/ratings/movies/"+itoa(id)+"/rate/", tk.Access, map[string]any{"score": 5}, nil)
		}
		var warm recsBody
		call(t, e.url, "GET", "/api/recommendations/for-me/?limit=50", tk.Access, nil, &warm)
		if len(warm.Recommendations) != 50 {
			t.Fatalf("after rating: %d recommendations", len(warm.Recommendations))
		}
		for _, id := range warm.ids() {
			if slices.Contains(rated, id) {
				t.Errorf("recommended movie %d the user just rated", id)
			}
		}
		if slices.Equal(warm.ids()[:17], cold.ids()[3:]) {
			t.Error("three 5.0 ratings left the recommendations unchanged")
		}
		var all recsBody
		call(t, e.url, "GET", "/api/recommendations/for-me/?exclude_rated=false&limit=100&algorithm=popularity", tk.Access, nil, &all)
		if !slices.Contains(all.ids(), rated[0]) && !slices.Contains(all.ids(), rated[1]) && !slices.Contains(all.ids(), rated[2]) {
			t.Errorf("exclude_rated=false still excluded every rated movie")
		}
		var drama recsBody
		call(t, e.url, "GET", "/api/recommendations/for-me/?genre=DRAMA&algorithm=content&limit=10", tk.Access, nil, &drama)
		if len(drama.Recommendations) == 0 || drama.AlgorithmUsed != "content" {
			t.Fatalf("genre filter: %+v", drama)
		}
		for _, r := range drama.Recommendations {
			if !slices.Contains(r.Movie.Genres, "Drama") {
				t.Errorf("genre=DRAMA returned %d with %v", r.Movie.ID, r.Movie.Genres)
			}
		}
		var eb errBody
		if res := call(t, e.url, "GET", "/api/recommendations/users/1/", tk.Access, nil, &eb); res.StatusCode != 403 {
			t.Errorf("non-staff reading another user's recommendations: %d", res.StatusCode)
		}
		staff := e.staffToken()
		var other recsBody
		if res := call(t, e.url, "GET", "/api/recommendations/users/"+itoa(tk.User.ID)+"/?limit=50", staff, nil, &other); res.StatusCode != 200 ||
			!slices.Equal(other.ids(), warm.ids()) {
			t.Errorf("staff view of the user differs from for-me: %d %v", res.StatusCode, other.ids())
		}
		// A user with ratings exists (ratings go with their user); one
		// without is looked up: 200 with the popular list, or 404.
		fresh := e.register("norating")
		var none recsBody
		if res := call(t, e.url, "GET", "/api/recommendations/users/"+itoa(fresh.User.ID)+"/?limit=5", staff, nil, &none); res.StatusCode != 200 || len(none.Recommendations) != 5 {
			t.Errorf("staff view of a user without ratings: %d %+v", res.StatusCode, none)
		}
		if res := call(t, e.url, "GET", "/api/recommendations/users/"+itoa(fresh.User.ID+1000)+"/", staff, nil, &eb); res.StatusCode != 404 || eb.Error.Code != "NOT_FOUND" {
			t.Errorf("staff view of no user: %d %+v", res.StatusCode, eb)
		}
		var sim struct {
			MovieID int64 `json:"movie_id"`
			Total   int   `json:"total"`
			Similar []struct {
				Movie struct {
					ID int64 `json:"id"`
				} `json:"movie"`
				Score  float64 `json:"similarity_score"`
				Reason string  `json:"reason"`
			} `json:"similar_movies"`
		}
		if res := call(t, e.url, "GET", "/api/recommendations/movies/"+itoa(rated[0])+"/similar/?limit=5", "", nil, &sim); res.StatusCode != 200 ||
			sim.MovieID != rated[0] || sim.Total != 5 || len(sim.Similar) != 5 {
			t.Fatalf("similar: %d %+v", res.StatusCode, sim)
		}
		for _, x := range sim.Similar {
			if x.Movie.ID == rated[0] || x.Score < 0 || x.Score > 1 || strings.TrimSpace(x.Reason) == "" {
				t.Errorf("similar item %+v", x)
			}
		}
	})
}

func TestRecommendationsWithoutEngine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tk := e.register("nobody")
		var eb errBody
		if res := call(t, e.url, "GET", "/api/recommendations/for-me/", tk.Access, nil, &eb); res.StatusCode != 503 || eb.Error.Code != "UNAVAILABLE" || res.Header.Get("Retry-After") == "" {
			t.Errorf("no engine: %d %+v", res.StatusCode, eb)
		}
	})
}
