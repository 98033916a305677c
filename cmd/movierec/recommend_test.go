package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/movierec/movierec/demodata"
)

// smallMovieLens writes a generated catalogue in the MovieLens layout.
func smallMovieLens(t *testing.T) string {
	ds := demodata.Generate(demodata.Options{Movies: 200, Users: 40, Ratings: 2000, Seed: 9})
	var movies, ratings strings.Builder
	movies.WriteString("movieId,title,genres\n")
	for _, m := range ds.Movies {
		fmt.Fprintf(&movies, "%d,\"%s (%d)\",%s\n", m.ID, m.Title, *m.ReleaseYear, strings.Join(m.GenreNames(), "|"))
	}
	ratings.WriteString("userId,movieId,rating,timestamp\n")
	for _, r := range ds.Ratings {
		fmt.Fprintf(&ratings, "%d,%d,%.1f,%d\n", r.UserID, r.MovieID, r.Score, r.RatedAt.Unix())
	}
	return writeFiles(t, map[string]string{"movies.csv": movies.String(), "ratings.csv": ratings.String()})
}

func TestTrainRecommendEvalCommands(t *testing.T) {
	dir := smallMovieLens(t)
	env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "rec.db")}
	if _, _, err := runCmd(t, env, "import", "movielens", dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, env, "recommend", "--user", "1"); err == nil || !strings.Contains(err.Error(), "movierec train") {
		t.Errorf("recommend before training: %v", err)
	}
	out, _, err := runCmd(t, env, "train")
	if err != nil || !strings.Contains(out, "trained model") {
		t.Fatalf("train: %q %v", out, err)
	}
	out, _, err = runCmd(t, env, "recommend", "--user", "1", "--limit", "5", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		UserID int64 `json:"user_id"`
		Items  []struct {
			MovieID int64  `json:"movie_id"`
			Title   string `json:"title"`
			Reason  string `json:"reason"`
		} `json:"recommendations"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.UserID != 1 || len(rec.Items) != 5 || rec.Items[0].Title == "" {
		t.Errorf("recommend --json: %v %+v\n%s", err, rec, out)
	}
	if _, _, err := runCmd(t, env, "recommend", "--user", "999"); err == nil {
		t.Error("recommend for an unknown user succeeded")
	}
	if _, _, err := runCmd(t, env, "recommend", "--user", "1", "--algorithm", "magic"); err == nil {
		t.Error("an unknown algorithm was accepted")
	}
	out, _, err = runCmd(t, nil, "eval", "-data", dir, "-k", "5", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var results []struct {
		Algorithm string
		K         int
		Users     int
		NDCG      float64
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil || len(results) != 4 {
		t.Fatalf("eval -json: %v %s", err, out)
	}
	for _, r := range results {
		if r.K != 5 || r.Users == 0 || r.NDCG < 0 || r.NDCG > 1 {
			t.Errorf("eval result %+v", r)
		}
	}
	out, _, err = runCmd(t, nil, "eval", "-data", dir, "-k", "5", "-algorithms", "popularity")
	if err != nil || !strings.Contains(out, "popularity") {
		t.Errorf("eval table: %q %v", out, err)
	}
	out, _, err = runCmd(t, nil, "eval", "-data", dir, "-k", "5", "-split", "latest", "-algorithms", "popularity")
	if err != nil || !strings.Contains(out, "held out (their newest)") || !strings.Contains(out, "popularity") {
		t.Errorf("eval -split latest: %q %v", out, err)
	}
	if _, _, err := runCmd(t, nil, "eval", "-data", dir, "-split", "sideways"); err == nil || !strings.Contains(err.Error(), "-split must be random or latest") {
		t.Errorf("eval -split sideways: %v", err)
	}
	// -seeds: one run per seed, each the same as -seed alone, and their
	// mean ± sd.
	out, _, err = runCmd(t, nil, "eval", "-data", dir, "-k", "5", "-algorithms", "hybrid", "-seeds", "3-4", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var multi struct {
		Runs []struct {
			Seed    uint64
			Results []struct{ Precision float64 }
		}
		Summary []struct {
			Algorithm string
			Runs      int
			Precision struct{ Mean, SD, Min, Max float64 }
		}
	}
	if err := json.Unmarshal([]byte(out), &multi); err != nil || len(multi.Runs) != 2 || len(multi.Summary) != 1 {
		t.Fatalf("eval -seeds -json: %v %s", err, out)
	}
	var ps []float64
	for i, run := range multi.Runs {
		one, _, err := runCmd(t, nil, "eval", "-data", dir, "-k", "5", "-algorithms", "hybrid", "-seed", fmt.Sprint(3+i), "-json")
		var single []struct{ Precision float64 }
		if err != nil || json.Unmarshal([]byte(one), &single) != nil || run.Seed != uint64(3+i) || len(run.Results) != 1 || run.Results[0].Precision != single[0].Precision {
			t.Errorf("seed %d: -seeds gave %+v, -seed %s (%v)", 3+i, run, one, err)
		}
		ps = append(ps, run.Results[0].Precision)
	}
	s := multi.Summary[0]
	if s.Algorithm != "hybrid" || s.Runs != 2 || math.Abs(s.Precision.Mean-(ps[0]+ps[1])/2) > 1e-12 ||
		math.Abs(s.Precision.SD-math.Abs(ps[0]-ps[1])/math.Sqrt2) > 1e-12 || s.Precision.Min != min(ps[0], ps[1]) {
		t.Errorf("summary %+v of %v", s, ps)
	}
	out, _, err = runCmd(t, nil, "eval", "-data", dir, "-k", "5", "-algorithms", "popularity", "-seeds", "1,2")
	if err != nil || !strings.Contains(out, "held out (seeds 1,2)") || !strings.Contains(out, "±") {
		t.Errorf("eval -seeds table: %q %v", out, err)
	}
	for _, bad := range []string{"5-1", "x", "1-", "0-100"} {
		if _, _, err := runCmd(t, nil, "eval", "-data", dir, "-seeds", bad); err == nil || !strings.Contains(err.Error(), "-seeds") {
			t.Errorf("eval -seeds %q: %v", bad, err)
		}
	}
}
