package recommend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// historyOf returns user's ratings in ds.
func historyOf(ds *Dataset, user int64) []Interaction {
	var h []Interaction
	for _, x := range ds.Interactions {
		if x.UserID == user {
			h = append(h, x)
		}
	}
	return h
}

// userWithAbout returns the user whose number of ratings is closest to n.
func userWithAbout(ds *Dataset, n int) int64 {
	counts := map[int64]int{}
	for _, x := range ds.Interactions {
		counts[x.UserID]++
	}
	best, bestD := int64(0), 1<<30
	for u, c := range counts {
		if d := max(c-n, n-c); d < bestD || (d == bestD && u < best) {
			best, bestD = u, d
		}
	}
	return best
}

func genresOf(ds *Dataset) map[int64][]string {
	g := map[int64][]string{}
	for _, it := range ds.Items {
		g[it.ID] = it.Genres
	}
	return g
}

func TestRecommendFilters(t *testing.T) {
	ds, m := trainedSmall(t)
	genres := genresOf(ds)
	users := []int64{userWithAbout(ds, 20), userWithAbout(ds, 100), userWithAbout(ds, 1000), 0}
	for _, user := range users {
		hist := historyOf(ds, user)
		rated := map[int64]bool{}
		for _, x := range hist {
			rated[x.MovieID] = true
		}
		for _, algo := range append([]string{""}, Algorithms...) {
			for _, tc := range []struct {
				limit, want int
				genre       string
				incl        bool
			}{
				{10, 10, "", false},
				{0, 1, "", false},
				{-5, 1, "", false},
				{1000, 100, "", false},
				{15, 15, "comedy", false},
				{15, 15, "FILM-NOIR", false},
				{30, 30, "", true},
			} {
				name := fmt.Sprintf("user %d (%d ratings) %q limit %d genre %q rated %v", user, len(hist), algo, tc.limit, tc.genre, tc.incl)
				t.Run(name, func(t *testing.T) {
					recs, err := m.Recommend(Request{History: hist, Algorithm: algo, Limit: tc.limit, Genre: tc.genre, IncludeRated: tc.incl})
					if err != nil {
						t.Fatal(err)
					}
					if len(recs) != tc.want {
						t.Fatalf("%d recommendations, want %d", len(recs), tc.want)
					}
					seen := map[int64]bool{}
					for i, r := range recs {
						if seen[r.MovieID] {
							t.Errorf("movie %d twice", r.MovieID)
						}
						seen[r.MovieID] = true
						if !tc.incl && rated[r.MovieID] {
							t.Errorf("movie %d was rated by the user", r.MovieID)
						}
						if tc.genre != "" && !slices.ContainsFunc(genres[r.MovieID], func(g string) bool { return strings.EqualFold(g, tc.genre) }) {
							t.Errorf("movie %d has genres %v, not %s", r.MovieID, genres[r.MovieID], tc.genre)
						}
						if i > 0 && r.Score > recs[i-1].Score {
							t.Errorf("score rises at %d: %v > %v", i, r.Score, recs[i-1].Score)
						}
						if r.Reason == "" || !slices.Contains(Algorithms[1:], r.Algorithm) {
							t.Errorf("recommendation %+v: missing reason or algorithm", r)
						}
						if algo != Hybrid && algo != "" && r.Algorithm != algo && r.Algorithm != Popularity {
							t.Errorf("%s answer credited to %s", algo, r.Algorithm)
						}
					}
				})
			}
		}
	}
	// An unknown genre matches no movie.
	recs, err := m.Recommend(Request{Genre: "Opera buffa", Limit: 10})
	if err != nil || len(recs) != 0 {
		t.Errorf("unknown genre: %v, %v", recs, err)
	}
}

// TestIncludeRated checks that IncludeRated lets a rated movie back in: a
// user who rated the most popular movie sees it in the popular list only
// with IncludeRated.
func TestIncludeRated(t *testing.T) {
	_, m := trainedSmall(t)
	top, _ := m.Recommend(Request{Algorithm: Popularity, Limit: 1})
	hist := []Interaction{{UserID: 1, MovieID: top[0].MovieID, Score: 4}}
	for _, incl := range []bool{false, true} {
		recs, err := m.Recommend(Request{History: hist, Algorithm: Popularity, Limit: 5, IncludeRated: incl})
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(recs, func(r Recommendation) bool { return r.MovieID == top[0].MovieID })
		if got != incl {
			t.Errorf("IncludeRated %v: rated movie in the list = %v", incl, got)
		}
	}
}

func TestUnknownAlgorithm(t *testing.T) {
	m := trainedSynthetic(t)
	for _, algo := range []string{"svd", "hybrid2", " "} {
		_, err := m.Recommend(Request{Algorithm: algo, Limit: 5})
		if algo == " " {
			if err != nil {
				t.Errorf("%q (blank means hybrid): %v", algo, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("%q: error %v, want ErrUnknownAlgorithm", algo, err)
		}
	}
}

func TestColdStart(t *testing.T) {
	_, m := trainedSmall(t)
	for _, algo := range append([]string{""}, Algorithms...) {
		for _, hist := range [][]Interaction{nil, {{UserID: 999999, MovieID: -42, Score: 5}}} {
			recs, err := m.Recommend(Request{History: hist, Algorithm: algo, Limit: 20})
			if err != nil {
				t.Fatalf("%q: %v", algo, err)
			}
			if len(recs) != 20 {
				t.Errorf("%q with history %v: %d recommendations, want 20", algo, hist, len(recs))
			}
			for _, r := range recs {
				if r.Algorithm != Popularity || r.Reason != "Popular with everyone" {
					t.Errorf("%q: a user without known ratings got %+v", algo, r)
				}
			}
		}
	}
	// One rating: content and popularity, no collaborative pick.
	one := []Interaction{{UserID: 999999, MovieID: 1, Score: 5}} // Toy Story
	recs, err := m.Recommend(Request{History: one, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	algos := map[string]int{}
	for _, r := range recs {
		algos[r.Algorithm]++
	}
	if algos[Collaborative] != 0 || algos[Content] == 0 || len(recs) != 20 {
		t.Errorf("one rating: %v", algos)
	}
}

// TestNewRatingChangesAnswer adds a 5.0 to a user's history, without
// retraining, and checks that the answer moves towards that movie's
// neighbours and names it as the reason.
func TestNewRatingChangesAnswer(t *testing.T) {
	ds, m := trainedSmall(t)
	const toyStory = 1
	// The user with about 40 ratings, none of Toy Story or Toy Story 2.
	counts := map[int64]int{}
	for _, x := range ds.Interactions {
		counts[x.UserID]++
		if x.MovieID == toyStory || x.MovieID == 3114 {
			counts[x.UserID] += 1e6
		}
	}
	user := int64(0)
	for u, c := range counts {
		if user == 0 || max(c-40, 40-c) < max(counts[user]-40, 40-counts[user]) ||
			(max(c-40, 40-c) == max(counts[user]-40, 40-counts[user]) && u < user) {
			user = u
		}
	}
	hist := historyOf(ds, user)
	// Movies near Toy Story: its 100 most similar (collaborative and
	// content), and its 100 most similar by content alone.
	near := map[int64]bool{}
	var toy Item
	for _, it := range ds.Items {
		if it.ID == toyStory {
			toy = it
		}
	}
	toy.ID = -1
	for _, q := range []struct {
		id   int64
		item *Item
	}{{toyStory, nil}, {-1, &toy}} {
		similar, err := m.SimilarMovies(q.id, q.item, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range similar {
			near[s.MovieID] = s.MovieID != toyStory
		}
	}
	// closeness weighs each near movie of a list by 1/rank.
	closeness := func(rs []Recommendation) (c float64) {
		for i, r := range rs {
			if near[r.MovieID] {
				c += 1 / float64(i+1)
			}
		}
		return c
	}
	for _, algo := range []string{Hybrid, Collaborative, Content} {
		before, _ := m.Recommend(Request{History: hist, Algorithm: algo, Limit: 100})
		added := append(slices.Clone(hist), Interaction{UserID: user, MovieID: toyStory, Score: 5, At: time.Now()})
		after, _ := m.Recommend(Request{History: added, Algorithm: algo, Limit: 100})
		if reflect.DeepEqual(before[:20], after[:20]) {
			t.Errorf("%s: a new 5.0 for Toy Story left the top 20 as it was", algo)
		}
		cb, ca := closeness(before), closeness(after)
		if ca <= cb*1.1 {
			t.Errorf("%s: closeness to Toy Story %.3f before, %.3f after", algo, cb, ca)
		}
		rank := func(rs []Recommendation, id int64) int {
			return 1 + slices.IndexFunc(rs, func(r Recommendation) bool { return r.MovieID == id })
		}
		t.Logf("%s: closeness to Toy Story %.3f → %.3f; Toy Story 2 at rank %d → %d (0 = not in the top 100)",
			algo, cb, ca, rank(before, 3114), rank(after, 3114))
		if algo == Collaborative && !slices.ContainsFunc(after, func(r Recommendation) bool {
			return r.Reason == "Because you rated Toy Story 5.0"
		}) {
			t.Errorf("collaborative: no recommendation credits Toy Story: %v", after)
		}
	}
}

func TestReasonsAreTruthful(t *testing.T) {
	ds, m := trainedSmall(t)
	titles := map[int64]string{}
	for _, it := range ds.Items {
		titles[it.ID] = it.Title
	}
	genres := genresOf(ds)
	hist := historyOf(ds, userWithAbout(ds, 100))
	scores := map[string]bool{}
	liked := map[string]bool{}
	for _, x := range hist {
		scores[fmt.Sprintf("Because you rated %s %.1f", titles[x.MovieID], x.Score)] = true
		for _, g := range genres[x.MovieID] {
			liked[g] = true
		}
	}
	for _, algo := range Algorithms {
		recs, _ := m.Recommend(Request{History: hist, Algorithm: algo, Limit: 50})
		for _, r := range recs {
			switch r.Algorithm {
			case Collaborative:
				if !scores[r.Reason] {
					t.Errorf("%s: %q names no rating of the user", algo, r.Reason)
				}
			case Content:
				rest, ok := strings.CutPrefix(r.Reason, "Matches your taste for ")
				if !ok {
					rest, ok = strings.CutPrefix(r.Reason, "Because you like ")
				}
				if !ok {
					t.Errorf("%s: content reason %q", algo, r.Reason)
				}
				// Every genre named is the movie's and one the user rated.
				for _, part := range strings.Split(rest, ", ") {
					if slices.Contains(synthGenresAll(genres), part) &&
						(!slices.Contains(genres[r.MovieID], part) || !liked[part]) {
						t.Errorf("%s: %q for movie %d with genres %v", algo, r.Reason, r.MovieID, genres[r.MovieID])
					}
				}
			case Popularity:
				if !strings.Contains(r.Reason, "opular") {
					t.Errorf("%s: popularity reason %q", algo, r.Reason)
				}
			}
		}
	}
}

func synthGenresAll(g map[int64][]string) []string {
	var all []string
	for _, gs := range g {
		for _, x := range gs {
			if !slices.Contains(all, x) {
				all = append(all, x)
			}
		}
	}
	return all
}

func TestSimilarMovies(t *testing.T) {
	_, m := trainedSmall(t)
	for _, id := range []int64{1, 296, 2571, 193609 /* one rating */} {
		sims, err := m.SimilarMovies(id, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(sims) != 10 {
			t.Errorf("movie %d: %d similar movies", id, len(sims))
		}
		for i, s := range sims {
			if s.MovieID == id {
				t.Errorf("movie %d is similar to itself", id)
			}
			if s.Score < 0 || s.Score > 1 || (i > 0 && s.Score > sims[i-1].Score) {
				t.Errorf("movie %d: score %v at %d", id, s.Score, i)
			}
			if s.Reason == "" {
				t.Errorf("movie %d: no reason", id)
			}
		}
	}
	// Toy Story's list is led by Toy Story 2 and shares its genres.
	sims, _ := m.SimilarMovies(1, nil, 5)
	if !slices.ContainsFunc(sims, func(s Similar) bool { return s.MovieID == 3114 }) {
		t.Errorf("Toy Story 2 is not among Toy Story's 5 most similar: %+v", sims)
	}
	if !strings.HasPrefix(sims[0].Reason, "Often rated by the same people; both ") {
		t.Errorf("reason %q", sims[0].Reason)
	}
}

func TestSimilarUnknownMovie(t *testing.T) {
	_, m := trainedSmall(t)
	item := &Item{ID: 99999999, Title: "A New Cartoon", Year: 2018, Genres: []string{"Animation", "Comedy", "Children"}, Tags: []string{"pixar"}}
	sims, err := m.SimilarMovies(item.ID, item, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(sims) != 10 {
		t.Fatalf("%d similar movies", len(sims))
	}
	for _, s := range sims {
		if s.MovieID == item.ID {
			t.Error("the movie itself")
		}
		if s.Score <= 0 || s.Score > 1 || strings.Contains(s.Reason, "rated by") {
			t.Errorf("%+v: want a content-only result", s)
		}
	}
	// Unknown and undescribed: nothing, and no error.
	sims, err = m.SimilarMovies(-1, nil, 10)
	if err != nil || len(sims) != 0 {
		t.Errorf("unknown movie without item: %v, %v", sims, err)
	}
	// A known movie's own item argument changes nothing.
	a, _ := m.SimilarMovies(1, nil, 10)
	b, _ := m.SimilarMovies(1, item, 10)
	if !reflect.DeepEqual(a, b) {
		t.Error("item argument changed a known movie's answer")
	}
}

// pinClock makes training see a fixed time; it returns the undo.
func pinClock(at time.Time) func() {
	old := clock
	clock = func() time.Time { return at }
	return func() { clock = old }
}

func TestDeterminismAndPersistence(t *testing.T) {
	ds := loadSmall(t)
	// A third of the users keeps the two trainings quick.
	sub := &Dataset{Items: ds.Items}
	for _, x := range ds.Interactions {
		if x.UserID%3 == 0 {
			sub.Interactions = append(sub.Interactions, x)
		}
	}
	// With the factor index on, so that the neighbours training stores
	// (neighbours.go) are held to the same.
	withIndexFrom(t, 500)
	at := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	undo := pinClock(at)
	cfg := DefaultConfig()
	cfg.Workers = 2
	a, err := Train(context.Background(), sub, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.impl.fNbrIdx) == 0 {
		t.Fatalf("%d factor movies and no stored neighbours", len(a.impl.fItems))
	}
	cfg.Workers = 1 // the worker count must not matter either
	b, err := Train(context.Background(), sub, cfg, nil)
	undo()
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ab, bb) {
		t.Fatal("two trainings with the same seed and data gave different bytes")
	}
	if !strings.HasPrefix(a.Version(), "20261125T190000Z-") || len(a.Version()) != len("20261125T190000Z-")+8 {
		t.Errorf("version %q", a.Version())
	}

	// With the real clock, the model part of the version still agrees.
	c, err := Train(context.Background(), sub, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version()[17:] != c.Version()[17:] {
		t.Errorf("versions %s and %s: different model hashes", a.Version(), c.Version())
	}

	// Persistence: Load(MarshalBinary) answers identically.
	cb, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(cb)
	if err != nil {
		t.Fatal(err)
	}
	if d.Version() != c.Version() || !d.TrainedAt().Equal(c.TrainedAt()) || d.TrainingDuration() != c.TrainingDuration() {
		t.Errorf("loaded %s %v %v, trained %s %v %v", d.Version(), d.TrainedAt(), d.TrainingDuration(),
			c.Version(), c.TrainedAt(), c.TrainingDuration())
	}
	db, _ := d.MarshalBinary()
	if !bytes.Equal(cb, db) {
		t.Error("MarshalBinary(Load(b)) != b")
	}
	sameAnswers(t, c, d, sub, []int64{3, 6, 414}, 25, "the loaded model")
	ids := []int64{1, 296, 5} // head movies, then some whose stored neighbours answer
	for _, i := range c.impl.fItems {
		if c.impl.headPos[i] < 0 && len(ids) < 103 {
			ids = append(ids, c.impl.ids[i])
		}
	}
	for _, id := range ids {
		x, _ := c.SimilarMovies(id, nil, 10)
		y, _ := d.SimilarMovies(id, nil, 10)
		if !reflect.DeepEqual(x, y) {
			t.Errorf("movie %d: loaded model finds other similar movies", id)
		}
	}

	// Damaged bytes are refused, never a panic.
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("NOTAMODEL"), cb[9:]...),
		"truncated": cb[:len(cb)/2],
		"flipped":   flip(cb, len(cb)-3),
		"trailing":  append(slices.Clone(cb), 0),
	} {
		if _, err := Load(bad); !errors.Is(err, ErrCorruptModel) {
			t.Errorf("%s: error %v, want ErrCorruptModel", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestCancellation(t *testing.T) {
	ds := syntheticDataset(200, 300, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, ds, DefaultConfig(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
	if _, err := Evaluate(ctx, ds, EvalConfig{K: 10, Train: DefaultConfig()}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate cancelled before: %v", err)
	}
	// Cancelled in the middle of each stage in turn.
	var stages []string
	if _, err := Train(context.Background(), ds, DefaultConfig(), func(stage string, done, total int) {
		if done < 0 || done > total || total <= 0 {
			t.Errorf("progress %q %d/%d", stage, done, total)
		}
		if !slices.Contains(stages, stage) {
			stages = append(stages, stage)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(stages) < 5 {
		t.Fatalf("stages %v", stages)
	}
	for _, at := range stages {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Train(ctx, ds, DefaultConfig(), func(stage string, done, total int) {
			if stage == at {
				cancel()
			}
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled in %q: %v", at, err)
		}
	}
}

func TestConcurrentServing(t *testing.T) {
	ds, m := trainedSmall(t)
	users := []int64{1, 5, 68, 414, 600, userWithAbout(ds, 100)}
	type job struct {
		user  int64
		algo  string
		genre string
	}
	var jobs []job
	for _, u := range users {
		for _, a := range Algorithms {
			for _, g := range []string{"", "Drama"} {
				jobs = append(jobs, job{u, a, g})
			}
		}
	}
	want := make([][]Recommendation, len(jobs))
	for i, j := range jobs {
		want[i], _ = m.Recommend(Request{History: historyOf(ds, j.user), Algorithm: j.algo, Genre: j.genre, Limit: 20})
	}
	wantSim, _ := m.SimilarMovies(1, nil, 10)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 8 {
		wg.Go(func() {
			for k := range 3 * len(jobs) {
				i := (k*7 + g) % len(jobs)
				j := jobs[i]
				got, err := m.Recommend(Request{History: historyOf(ds, j.user), Algorithm: j.algo, Genre: j.genre, Limit: 20})
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					select {
					case errs <- fmt.Sprintf("job %+v differs under concurrency", j):
					default:
					}
				}
				if k%10 == 0 {
					if s, _ := m.SimilarMovies(1, nil, 10); !reflect.DeepEqual(s, wantSim) {
						select {
						case errs <- "SimilarMovies differs under concurrency":
						default:
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

var synth struct {
	once sync.Once
	m    *Model
	err  error
}

func trainedSynthetic(tb testing.TB) *Model {
	tb.Helper()
	synth.once.Do(func() {
		synth.m, synth.err = Train(context.Background(), syntheticDataset(120, 180, 5), DefaultConfig(), nil)
	})
	if synth.err != nil {
		tb.Fatal(synth.err)
	}
	return synth.m
}

func TestSyntheticStructure(t *testing.T) {
	ds := syntheticDataset(120, 180, 5)
	m := trainedSynthetic(t)
	// A user who loves Horror (genre index 3) gets mostly Horror.
	hist := historyOf(ds, 4)
	for _, algo := range []string{Hybrid, Collaborative, Content} {
		recs, err := m.Recommend(Request{History: hist, Algorithm: algo, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		horror := 0
		for _, r := range recs {
			if (r.MovieID-1000)%6 == 3 {
				horror++
			}
		}
		if horror < 7 {
			t.Errorf("%s: %d of 10 are Horror for a Horror fan: %+v", algo, horror, recs)
		}
	}
}

func TestTrainEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		ds   *Dataset
		cfg  func(*Config)
		ok   bool
	}{
		{"nil dataset", nil, nil, false},
		{"empty", &Dataset{}, nil, true},
		{"items only", &Dataset{Items: []Item{{ID: 1, Title: "A", Genres: []string{"Drama"}}, {ID: 2, Title: "B"}}}, nil, true},
		{"ratings only, too few for the head", &Dataset{Interactions: []Interaction{{UserID: 1, MovieID: 5, Score: 4}, {UserID: 2, MovieID: 6, Score: 2}}}, nil, true},
		{"zero regularization", syntheticDataset(10, 20, 1), func(c *Config) { c.Regularization = 0 }, false},
		{"negative alpha", syntheticDataset(10, 20, 1), func(c *Config) { c.Alpha = -1 }, false},
		{"no factor model", syntheticDataset(10, 20, 1), func(c *Config) { c.Factors = 0 }, true},
		{"too many factors", syntheticDataset(10, 20, 1), func(c *Config) { c.Factors = maxFactors + 1 }, false},
		{"zero factor regularization", syntheticDataset(10, 20, 1), func(c *Config) { c.FactorRegularization = 0 }, false},
		{"NaN unobserved weight", syntheticDataset(10, 20, 1), func(c *Config) { c.UnobservedWeight = math.NaN() }, false},
		{"factors without sweeps", syntheticDataset(10, 20, 1), func(c *Config) { c.Iterations = 0 }, false},
		{"one factor, one sweep", syntheticDataset(10, 20, 1), func(c *Config) { c.Factors, c.Iterations = 1, 1 }, true},
		{"no session kernel", syntheticDataset(10, 20, 1), func(c *Config) { c.SessionWeight, c.SessionTime = 0, 0 }, true},
		{"session kernel only", syntheticDataset(10, 20, 1), func(c *Config) { c.SessionWeight = 1 }, true},
		{"session weight above 1", syntheticDataset(10, 20, 1), func(c *Config) { c.SessionWeight = 1.5 }, false},
		{"NaN session weight", syntheticDataset(10, 20, 1), func(c *Config) { c.SessionWeight = math.NaN() }, false},
		{"no side information", syntheticDataset(10, 20, 1), func(c *Config) { c.SideWeight = 0 }, true},
		{"negative side weight", syntheticDataset(10, 20, 1), func(c *Config) { c.SideWeight = -1 }, false},
		{"infinite side weight", syntheticDataset(10, 20, 1), func(c *Config) { c.SideWeight = math.Inf(1) }, false},
		{"session weight without a time", syntheticDataset(10, 20, 1), func(c *Config) { c.SessionTime = 0 }, false},
		{"ratings without times", &Dataset{Interactions: []Interaction{{UserID: 1, MovieID: 5, Score: 4}, {UserID: 2, MovieID: 5, Score: 2},
			{UserID: 3, MovieID: 5, Score: 3}, {UserID: 1, MovieID: 6, Score: 4}, {UserID: 2, MovieID: 6, Score: 5}, {UserID: 3, MovieID: 6, Score: 1}}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			m, err := Train(context.Background(), tt.ds, cfg, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("error %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				return
			}
			for _, algo := range Algorithms {
				recs, err := m.Recommend(Request{Algorithm: algo, Limit: 5, History: []Interaction{{MovieID: 5, Score: 5}, {MovieID: 77, Score: 1}}})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					if r.MovieID == 5 {
						t.Error("rated movie recommended")
					}
				}
			}
			if _, err := m.SimilarMovies(1, nil, 5); err != nil {
				t.Fatal(err)
			}
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDuplicateRatingsLatestWins(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	ds := &Dataset{Interactions: []Interaction{
		{UserID: 1, MovieID: 10, Score: 1, At: t0.Add(time.Hour)},
		{UserID: 1, MovieID: 10, Score: 5, At: t0},
		{UserID: 2, MovieID: 10, Score: 3, At: t0},
	}}
	m := &model{}
	buildCatalogue(m, ds)
	r := buildRatings(m, ds.Interactions, true)
	if r.users() != 2 || len(r.items) != 2 || r.scores[0] != 1 || r.count[0] != 2 {
		t.Errorf("users %d items %v scores %v counts %v", r.users(), r.items, r.scores, r.count)
	}
}

// TestSessionsRelateMoviesRatedTogether: every user rates movies A and B in
// one sitting and movie C two years later, so A, B and C are rated by the
// same users with the same scores and plain EASE cannot tell B from C for
// someone who rated A. With the session kernel B, rated in A's sitting,
// scores above C; without it the two tie.
func TestSessionsRelateMoviesRatedTogether(t *testing.T) {
	const a, b, c = 1, 2, 3
	start := time.Date(2015, 3, 1, 20, 0, 0, 0, time.UTC)
	ds := &Dataset{}
	for u := range int64(40) {
		day := start.Add(time.Duration(u) * 24 * time.Hour)
		ds.Interactions = append(ds.Interactions,
			Interaction{UserID: u + 1, MovieID: a, Score: 4, At: day},
			Interaction{UserID: u + 1, MovieID: b, Score: 4, At: day.Add(2 * time.Minute)},
			Interaction{UserID: u + 1, MovieID: c, Score: 4, At: day.Add(2 * 365 * 24 * time.Hour)})
	}
	// A user whose ratings have no times: they share no sitting, and must
	// not turn the kernel off for everyone else.
	for _, id := range []int64{a, b, c} {
		ds.Interactions = append(ds.Interactions, Interaction{UserID: 999, MovieID: id, Score: 4})
	}
	scores := func(cfg Config) map[int64]float64 {
		got := easeScores(t, ds, cfg, a) // EASE alone: the factor model knows no times
		if len(got) != 2 {
			t.Fatalf("collaborative picks %v, want B and C", got)
		}
		return got
	}
	cfg := DefaultConfig()
	if cfg.SessionWeight == 0 {
		t.Fatal("the default has no session kernel")
	}
	with := scores(cfg)
	if !(with[b] > 1.2*with[c]) {
		t.Errorf("with sessions: B (same sitting as A) %.5f, C (two years later) %.5f: want B clearly ahead", with[b], with[c])
	}
	cfg.SessionWeight = 0
	without := scores(cfg)
	if math.Abs(without[b]-without[c]) > 1e-6*math.Abs(without[b]) {
		t.Errorf("without sessions: B %.7f, C %.7f: want a tie", without[b], without[c])
	}
}

// easeScores trains EASE alone (cfg without its factor model) on ds and
// returns the collaborative scores of the movies recommended to someone
// who rated only movie (4 stars); movies filled in by another recommender
// are left out.
func easeScores(t *testing.T, ds *Dataset, cfg Config, movie int64) map[int64]float64 {
	t.Helper()
	cfg.Factors = 0
	m, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := m.Recommend(Request{Algorithm: Collaborative, Limit: 10, History: []Interaction{{MovieID: movie, Score: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]float64{}
	for _, r := range recs {
		if r.Algorithm == Collaborative {
			got[r.MovieID] = r.Score
		}
	}
	return got
}

// TestSideInformationRelatesMovies: movie A is rated only by users who
// never rated B or C, and B and C by the same users with the same scores,
// so from the ratings alone EASE cannot tell B from C for someone who
// rated A (both weights are 0). A and B share their genres and a tag, C
// shares nothing with A: with side information (Config.SideWeight) B
// scores above C, and without it the two tie.
func TestSideInformationRelatesMovies(t *testing.T) {
	const a, b, c, d = 1, 2, 3, 4
	ds := &Dataset{Items: []Item{
		{ID: a, Title: "A", Genres: []string{"Animation", "Children"}, Tags: []string{"pixar"}},
		{ID: b, Title: "B", Genres: []string{"Animation", "Children"}, Tags: []string{"pixar"}},
		{ID: c, Title: "C", Genres: []string{"Horror"}, Tags: []string{"gore"}},
		{ID: d, Title: "D", Genres: []string{"Western"}},
	}}
	for u := range int64(40) {
		ds.Interactions = append(ds.Interactions,
			Interaction{UserID: u + 1, MovieID: a, Score: 4},
			Interaction{UserID: u + 1, MovieID: d, Score: 3},
			Interaction{UserID: u + 101, MovieID: b, Score: 4},
			Interaction{UserID: u + 101, MovieID: c, Score: 4})
	}
	scores := func(w float64) map[int64]float64 {
		cfg := DefaultConfig()
		cfg.SideWeight = w
		return easeScores(t, ds, cfg, a)
	}
	if DefaultConfig().SideWeight == 0 {
		t.Fatal("the default uses no side information")
	}
	with := scores(DefaultConfig().SideWeight)
	if !(with[b] > 0 && with[b] > with[c]+0.01*with[d]) {
		t.Errorf("with side information: B (A's genres and tag) %.5f, C %.5f (D, co-rated with A: %.5f): want B ahead", with[b], with[c], with[d])
	}
	without := scores(0)
	if math.Abs(without[b]-without[c]) > 1e-6*math.Abs(without[d]) {
		t.Errorf("without side information: B %.7f, C %.7f: want a tie", without[b], without[c])
	}
}

// TestSideGramMatchesDefinition compares addSideGram with its formula, w
// times the dot product of two head movies' content vectors, on
// ml-latest-small's head (genres, decades and tags), with one worker and
// with several.
func TestSideGramMatchesDefinition(t *testing.T) {
	_, mdl := trainedSmall(t)
	m := mdl.impl
	n := len(m.head)
	if n < 100 {
		t.Fatalf("head of %d movies", n)
	}
	vec := func(i int32) map[int32]float64 {
		v := map[int32]float64{}
		for k := m.featStart[i]; k < m.featStart[i+1]; k++ {
			v[m.featIdx[k]] = float64(m.featVal[k])
		}
		return v
	}
	const w = 2.5
	for _, workers := range []int{1, 3} {
		g := make([]float64, n*n)
		g[1] = 7 // what is there already stays
		if err := addSideGram(context.Background(), m, g, w, workers, 37, nil); err != nil {
			t.Fatal(err)
		}
		nonzero := 0
		for a := 0; a < n; a += 7 { // every 7th row, every column
			va := vec(m.head[a])
			for b := range n {
				want := 0.0
				for f, x := range vec(m.head[b]) {
					want += w * va[f] * x
				}
				if a == 0 && b == 1 {
					want += 7
				}
				if got := g[a*n+b]; math.Abs(got-want) > 1e-9 {
					t.Fatalf("workers %d: G[%d][%d] = %v, want %v", workers, a, b, got, want)
				}
				if want != 0 {
					nonzero++
				}
			}
			if math.Abs(g[a*n+a]-w*1) > 1e-6 && len(va) > 0 {
				t.Fatalf("diagonal %d: %v, want w (unit content vectors)", a, g[a*n+a])
			}
		}
		if nonzero < n {
			t.Fatalf("only %d non-zero entries checked", nonzero)
		}
	}
}

// TestSessionGramMatchesDefinition compares sessionGram with its formula
// summed over every pair of every user's ratings (no window), on random
// ratings made in sittings minutes apart with days between them, some
// without a time.
func TestSessionGramMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 12
	uStart := []int32{0}
	var uPos []int32
	var uConf []float64
	var uTime []uint32
	for range 30 {
		var at uint32
		for _, p := range rng.Perm(n)[:5+rng.IntN(6)] {
			if rng.IntN(3) == 0 {
				at += uint32(86400 * (1 + rng.IntN(30))) // another day
			} else {
				at += uint32(rng.IntN(900)) // the same sitting
			}
			uPos = append(uPos, int32(p))
			uConf = append(uConf, 0.5+rng.Float64())
			uTime = append(uTime, at)
		}
		// trainEASE hands each user's ratings over by head position, so
		// that order, not time's: sort the (random) positions, keeping
		// each rating's time and confidence.
		lo := int(uStart[len(uStart)-1])
		idx := make([]int, len(uPos)-lo)
		for k := range idx {
			idx[k] = lo + k
		}
		slices.SortFunc(idx, func(a, b int) int { return int(uPos[a] - uPos[b]) })
		p, c, ts := slices.Clone(uPos[lo:]), slices.Clone(uConf[lo:]), slices.Clone(uTime[lo:])
		for k, x := range idx {
			p[k], c[k], ts[k] = uPos[x], uConf[x], uTime[x]
		}
		copy(uPos[lo:], p)
		copy(uConf[lo:], c)
		copy(uTime[lo:], ts)
		if rng.IntN(4) == 0 {
			uTime[lo+rng.IntN(len(p))] = unknownTime // a rating without a time
		}
		uStart = append(uStart, int32(len(uPos)))
	}
	cfg := Config{SessionWeight: 0.6, SessionTime: 4 * time.Minute}
	want := make([]float64, n*n)
	g := make([]float64, n*n)
	for u := range len(uStart) - 1 {
		for x := uStart[u]; x < uStart[u+1]; x++ {
			for y := uStart[u]; y < uStart[u+1]; y++ {
				cc := uConf[x] * uConf[y]
				g[int(uPos[x])*n+int(uPos[y])] += cc // XᵀX, what trainEASE hands over
				k := 0.4                             // a rating without a time shares no sitting...
				if x == y {
					k = 1 // ...but its own
				} else if uTime[x] != unknownTime && uTime[y] != unknownTime {
					k += 0.6 * math.Exp(-math.Abs(float64(uTime[x])-float64(uTime[y]))/240)
				}
				want[int(uPos[x])*n+int(uPos[y])] += cc * k
			}
		}
	}
	if err := sessionGram(context.Background(), g, n, uStart, uPos, uConf, uTime, cfg, 2, 3, func(int) {}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for j := range n {
			got, w := g[i*n+j], want[i*n+j]
			if math.Abs(got-w) > 1e-4*max(1, math.Abs(w)) {
				t.Errorf("G[%d][%d] = %.6f, want %.6f", i, j, got, w)
			}
		}
	}
}

// TestSittingWeights: a request's ratings of its newest sitting keep their
// full confidence, ratings made long before it count 1/(1 + sittingBoost)
// of that, and a history without times is weighed by the score alone.
func TestSittingWeights(t *testing.T) {
	_, mdl := trainedSmall(t)
	m := mdl.impl
	now := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	hist := []Interaction{
		{MovieID: 1, Score: 5, At: now},                                // newest
		{MovieID: 2, Score: 4, At: now.Add(-3 * time.Minute)},          // same sitting
		{MovieID: 3, Score: 4, At: now.Add(-2 * 365 * 24 * time.Hour)}, // two years before
		{MovieID: 5, Score: 3},                                         // no time
	}
	s := m.getScratch()
	defer m.putScratch(s)
	m.foldHistory(s, hist)
	conf := map[int64]float32{}
	for _, h := range s.hist {
		conf[m.ids[h.item]] = h.conf
	}
	c := func(r float32) float32 { return confidence(m.alpha, r) }
	near := float32((1 + sittingBoost*math.Exp(-180/sittingTime.Seconds())) / (1 + sittingBoost))
	for id, want := range map[int64]float32{1: c(5), 2: c(4) * near, 3: c(4) / float32(1+sittingBoost), 5: c(3)} {
		if math.Abs(float64(conf[id]-want)) > 1e-5 {
			t.Errorf("movie %d: confidence %.5f, want %.5f", id, conf[id], want)
		}
	}
	if !(sittingBoost > 0 && conf[2] > conf[3]*1.2) {
		t.Errorf("a rating of the same sitting (%.4f) does not clearly outweigh one two years old (%.4f)", conf[2], conf[3])
	}
}
