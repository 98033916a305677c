package recommend

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMetricsAt(t *testing.T) {
	l2 := math.Log2
	tests := []struct {
		name     string
		list     []int64
		relevant []int64
		k        int
		want     userMetrics
	}{
		{
			name: "hits at ranks 1 and 3 of 2 relevant, K=3",
			list: []int64{10, 20, 30}, relevant: []int64{10, 30}, k: 3,
			want: userMetrics{
				precision: 2.0 / 3, recall: 1,
				ndcg: (1 + 1/l2(4)) / (1 + 1/l2(3)), // 1.5 / 1.6309 = 0.9197
				ap:   (1.0/1 + 2.0/3) / 2,           // 0.8333
				rr:   1, hit: 1,
			},
		},
		{
			name: "same hits, K=10 and a short list: precision still over K",
			list: []int64{10, 20, 30}, relevant: []int64{10, 30}, k: 10,
			want: userMetrics{precision: 0.2, recall: 1, ndcg: (1 + 1/l2(4)) / (1 + 1/l2(3)), ap: (1 + 2.0/3) / 2, rr: 1, hit: 1},
		},
		{
			name: "one hit at rank 2, one relevant, K=5",
			list: []int64{1, 2, 3, 4, 5}, relevant: []int64{2}, k: 5,
			want: userMetrics{precision: 0.2, recall: 1, ndcg: 1 / l2(3), ap: 0.5, rr: 0.5, hit: 1},
		},
		{
			name: "hits at ranks 2 and 4 of 4 relevant, K=4",
			list: []int64{1, 2, 3, 4}, relevant: []int64{2, 4, 8, 9}, k: 4,
			want: userMetrics{
				precision: 0.5, recall: 0.5,
				ndcg: (1/l2(3) + 1/l2(5)) / (1 + 1/l2(3) + 1/l2(4) + 1/l2(5)), // 0.4144
				ap:   (1.0/2 + 2.0/4) / 4,                                     // 0.25
				rr:   0.5, hit: 1,
			},
		},
		{
			name: "more relevant than K, all hits: IDCG and AP over min(K, |T|)",
			list: []int64{1, 2, 3}, relevant: []int64{1, 2, 3, 4, 5, 6}, k: 3,
			want: userMetrics{precision: 1, recall: 0.5, ndcg: 1, ap: 1, rr: 1, hit: 1},
		},
		{
			name: "no hit",
			list: []int64{1, 2, 3}, relevant: []int64{7}, k: 3,
			want: userMetrics{},
		},
		{
			name: "hits beyond K do not count",
			list: []int64{1, 2, 3, 4}, relevant: []int64{4}, k: 3,
			want: userMetrics{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := map[int64]bool{}
			for _, id := range tt.relevant {
				rel[id] = true
			}
			got := metricsAt(tt.list, rel, tt.k)
			check := func(name string, got, want float64) {
				if math.Abs(got-want) > 1e-12 {
					t.Errorf("%s = %.6f, want %.6f", name, got, want)
				}
			}
			check("precision", got.precision, tt.want.precision)
			check("recall", got.recall, tt.want.recall)
			check("nDCG", got.ndcg, tt.want.ndcg)
			check("AP", got.ap, tt.want.ap)
			check("RR", got.rr, tt.want.rr)
			check("hit", got.hit, tt.want.hit)
		})
	}
	// The worked example of the first case, as numbers.
	got := metricsAt([]int64{10, 20, 30}, map[int64]bool{10: true, 30: true}, 3)
	if math.Abs(got.ndcg-0.919720) > 1e-6 || math.Abs(got.ap-0.833333) > 1e-6 {
		t.Errorf("nDCG %.6f AP %.6f, want 0.919720 and 0.833333", got.ndcg, got.ap)
	}
}

// splitData is 40 users with 1..40 ratings each.
func splitData() []Interaction {
	var ints []Interaction
	at := time.Unix(1e9, 0)
	for u := int64(1); u <= 40; u++ {
		for k := range u {
			ints = append(ints, Interaction{UserID: u, MovieID: 100 + k*7%53, Score: float64(k%10+1) / 2, At: at.Add(time.Duration(k) * time.Hour)})
		}
	}
	// Some duplicate-free interleaving: Split must not depend on order.
	slices.Reverse(ints[len(ints)/2:])
	return ints
}

func key(x Interaction) [2]int64 { return [2]int64{x.UserID, x.MovieID} }

func TestSplit(t *testing.T) {
	ints := splitData()
	for _, frac := range []float64{0.1, 0.25, 0.5, 0.9} {
		train, test := Split(ints, frac, 42)
		if len(train)+len(test) != len(ints) {
			t.Fatalf("frac %v: %d + %d != %d", frac, len(train), len(test), len(ints))
		}
		// Disjoint and union = input (each user-movie pair is unique).
		seen := map[[2]int64]int{}
		for _, x := range train {
			seen[key(x)]++
		}
		for _, x := range test {
			seen[key(x)]++
		}
		for _, x := range ints {
			if seen[key(x)] != 1 {
				t.Fatalf("frac %v: %v appears %d times in train ∪ test", frac, key(x), seen[key(x)])
			}
		}
		perUser := func(xs []Interaction) map[int64]int {
			c := map[int64]int{}
			for _, x := range xs {
				c[x.UserID]++
			}
			return c
		}
		tr, te := perUser(train), perUser(test)
		for u := int64(1); u <= 40; u++ {
			n := int(u)
			if tr[u] < 1 {
				t.Errorf("frac %v: user %d has no training rating", frac, u)
			}
			want := min(int(math.Round(frac*float64(n))), n-1)
			if te[u] != want {
				t.Errorf("frac %v: user %d holds out %d of %d, want %d", frac, u, te[u], n, want)
			}
		}
		if te[1] != 0 {
			t.Errorf("a user with one rating must not be a test user")
		}
	}

	// Deterministic per seed, independent of input order; another seed
	// differs.
	a1, b1 := Split(ints, 0.25, 42)
	shuffled := slices.Clone(ints)
	slices.Reverse(shuffled)
	a2, b2 := Split(shuffled, 0.25, 42)
	sortKeys := func(xs []Interaction) [][2]int64 {
		ks := make([][2]int64, len(xs))
		for i, x := range xs {
			ks[i] = key(x)
		}
		slices.SortFunc(ks, func(a, b [2]int64) int {
			if a[0] != b[0] {
				return int(a[0] - b[0])
			}
			return int(a[1] - b[1])
		})
		return ks
	}
	if !slices.Equal(sortKeys(b1), sortKeys(b2)) || !slices.Equal(sortKeys(a1), sortKeys(a2)) {
		t.Error("same seed, same data in another order: different split")
	}
	a3, b3 := Split(ints, 0.25, 42)
	if !slices.Equal(a1, a3) || !slices.Equal(b1, b3) {
		t.Error("same seed: different split")
	}
	_, b4 := Split(ints, 0.25, 43)
	if slices.Equal(sortKeys(b1), sortKeys(b4)) {
		t.Error("seeds 42 and 43 gave the same split")
	}
}

// TestSplitLatest: each user's newest round(frac·n) ratings are held out
// (never all of them), nothing is lost or doubled, and the order of the
// input does not matter.
func TestSplitLatest(t *testing.T) {
	ints := splitData()
	for _, frac := range []float64{0.1, 0.25, 0.5, 0.9} {
		train, test := SplitLatest(ints, frac)
		if len(train)+len(test) != len(ints) {
			t.Fatalf("frac %v: %d + %d != %d", frac, len(train), len(test), len(ints))
		}
		newestTrain := map[int64]time.Time{}
		count := map[int64][2]int{}
		for _, x := range train {
			if x.At.After(newestTrain[x.UserID]) {
				newestTrain[x.UserID] = x.At
			}
			c := count[x.UserID]
			c[0]++
			count[x.UserID] = c
		}
		seen := map[[2]int64]bool{}
		for _, x := range test {
			if !x.At.After(newestTrain[x.UserID]) {
				t.Fatalf("frac %v: user %d's held-out rating of %v is not newer than every training one (%v)", frac, x.UserID, x.At, newestTrain[x.UserID])
			}
			c := count[x.UserID]
			c[1]++
			count[x.UserID] = c
			seen[key(x)] = true
		}
		for _, x := range train {
			seen[key(x)] = true
		}
		if len(seen) != len(ints) {
			t.Fatalf("frac %v: %d distinct ratings in train ∪ test, want %d", frac, len(seen), len(ints))
		}
		for u := int64(1); u <= 40; u++ {
			want := min(int(math.Round(frac*float64(u))), int(u)-1)
			if c := count[u]; c[0] < 1 || c[1] != want {
				t.Errorf("frac %v: user %d keeps %d and holds out %d of %d, want %d held out", frac, u, c[0], c[1], u, want)
			}
		}
	}
	// Ratings made in the same second: the higher movie ID counts as the
	// newer, whatever the input order.
	at := time.Unix(2e9, 0)
	tied := []Interaction{{UserID: 7, MovieID: 30, At: at}, {UserID: 7, MovieID: 10, At: at.Add(-time.Hour)},
		{UserID: 7, MovieID: 20, At: at}, {UserID: 7, MovieID: 40, At: at.Add(-time.Minute)}}
	for range 2 {
		_, test := SplitLatest(tied, 0.5)
		var got []int64
		for _, x := range test {
			got = append(got, x.MovieID)
		}
		if slices.Sort(got); !slices.Equal(got, []int64{20, 30}) {
			t.Errorf("tied newest ratings: held out %v, want movies 20 and 30", got)
		}
		_, test = SplitLatest(tied, 0.25)
		if len(test) != 1 || test[0].MovieID != 30 {
			t.Errorf("one of two tied newest ratings: held out %v, want movie 30", test)
		}
		slices.Reverse(tied)
	}

	_, b1 := SplitLatest(ints, 0.25)
	shuffled := slices.Clone(ints)
	slices.Reverse(shuffled)
	_, b2 := SplitLatest(shuffled, 0.25)
	slices.Reverse(b2)
	if !slices.Equal(b1, b2) {
		t.Error("the same data in another order: different split")
	}
}

func TestSplitOnMovieLens(t *testing.T) {
	ds := loadSmall(t)
	train, test := Split(ds.Interactions, 0.25, 42)
	share := float64(len(test)) / float64(len(ds.Interactions))
	if math.Abs(share-0.25) > 0.01 {
		t.Errorf("held out %.4f of the ratings, want about 0.25", share)
	}
	users := map[int64]bool{}
	for _, x := range train {
		users[x.UserID] = true
	}
	for _, x := range test {
		if !users[x.UserID] {
			t.Fatalf("user %d has test ratings but no training rating", x.UserID)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	ds := &Dataset{Interactions: splitData()}
	tests := []struct {
		name string
		cfg  EvalConfig
		want error
	}{
		{"K 0", EvalConfig{K: 0, Train: DefaultConfig()}, nil},
		{"K 101", EvalConfig{K: 101, Train: DefaultConfig()}, nil},
		{"fraction 1", EvalConfig{K: 10, TestFraction: 1, Train: DefaultConfig()}, nil},
		{"unknown algorithm", EvalConfig{K: 10, Algorithms: []string{"magic"}, Train: DefaultConfig()}, ErrUnknownAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(context.Background(), ds, tt.cfg, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEvaluateSmallSynthetic(t *testing.T) {
	ds := syntheticDataset(60, 80, 1)
	res, err := Evaluate(context.Background(), ds, EvalConfig{K: 5, Seed: 1, Train: DefaultConfig()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(Algorithms) {
		t.Fatalf("%d results, want %d", len(res), len(Algorithms))
	}
	for i, r := range res {
		if r.Algorithm != Algorithms[i] || r.K != 5 || r.Users == 0 {
			t.Errorf("result %d: %+v", i, r)
		}
		for name, v := range map[string]float64{"precision": r.Precision, "recall": r.Recall, "ndcg": r.NDCG,
			"map": r.MAP, "mrr": r.MRR, "hit rate": r.HitRate, "coverage": r.Coverage} {
			if !(v >= 0 && v <= 1) {
				t.Errorf("%s %s = %v, not in 0..1", r.Algorithm, name, v)
			}
		}
	}
	var b strings.Builder
	if err := FormatTable(&b, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 1+len(res) || !strings.Contains(lines[0], "ndcg") {
		t.Fatalf("table:\n%s", b.String())
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[0]) {
			t.Errorf("row not aligned with the header:\n%s\n%s", lines[0], l)
		}
	}
}

// TestSummarize: means, sample standard deviations and extremes over runs,
// in the first run's algorithm order, an algorithm missing from a run
// summarised over the others.
func TestSummarize(t *testing.T) {
	if got := Summarize(nil); got != nil {
		t.Errorf("no runs: %v", got)
	}
	runs := [][]EvalResult{
		{{Algorithm: Hybrid, K: 10, Precision: 0.30, NDCG: 0.40, Coverage: 0.05, TrainingTime: time.Second},
			{Algorithm: Popularity, K: 10, Precision: 0.20}},
		{{Algorithm: Hybrid, K: 10, Precision: 0.34, NDCG: 0.44, Coverage: 0.07, TrainingTime: 3 * time.Second}},
		{{Algorithm: Popularity, K: 10, Precision: 0.10},
			{Algorithm: Hybrid, K: 10, Precision: 0.32, NDCG: 0.48, Coverage: 0.06, TrainingTime: 2 * time.Second}},
	}
	got := Summarize(runs)
	if len(got) != 2 || got[0].Algorithm != Hybrid || got[1].Algorithm != Popularity {
		t.Fatalf("summaries %+v", got)
	}
	h, p := got[0], got[1]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if h.Runs != 3 || h.K != 10 || !near(h.Precision.Mean, 0.32) || !near(h.Precision.SD, 0.02) ||
		h.Precision.Min != 0.30 || h.Precision.Max != 0.34 || !near(h.NDCG.Mean, 0.44) || !near(h.NDCG.SD, 0.04) ||
		!near(h.Coverage.Mean, 0.06) || h.TrainingTime != 2*time.Second {
		t.Errorf("hybrid %+v", h)
	}
	if p.Runs != 2 || !near(p.Precision.Mean, 0.15) || !near(p.Precision.SD, math.Sqrt(0.005)) || p.Precision.Min != 0.10 {
		t.Errorf("popularity %+v", p)
	}
	if one := Summarize(runs[1:2]); one[0].Precision.SD != 0 || one[0].Precision.Mean != 0.34 {
		t.Errorf("one run: %+v", one[0])
	}
	var b strings.Builder
	if err := FormatSummary(&b, got); err != nil || !strings.Contains(b.String(), "0.3200 ± 0.0200 (0.3000–0.3400)") {
		t.Errorf("table: %v\n%s", err, b.String())
	}
}
