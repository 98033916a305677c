package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"
)

// split holds out, for each user, round(frac·n) of their n ratings
// (at most n−1, so at least one stays in training; a user with a single
// rating keeps it in training and is no test user). The held-out ratings
// are drawn uniformly with a PCG generator seeded by (seed, user ID) over
// the user's ratings ordered by movie ID and time, so the split depends on
// the seed and the data, not on the order of ints. Both parts keep the
// order of ints, and together they are exactly ints.
func split(ints []Interaction, frac float64, seed uint64) (train, test []Interaction) {
	return holdOut(ints, frac, func(user int64, idx []int, h int) []int {
		slices.SortFunc(idx, func(a, b int) int {
			return cmp.Or(cmp.Compare(ints[a].MovieID, ints[b].MovieID),
				ints[a].At.Compare(ints[b].At), cmp.Compare(ints[a].Score, ints[b].Score), cmp.Compare(a, b))
		})
		rng := rand.New(rand.NewPCG(seed, uint64(user)*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
		for k := range h { // partial Fisher–Yates: idx[:h] is the sample
			j := k + rng.IntN(len(idx)-k)
			idx[k], idx[j] = idx[j], idx[k]
		}
		return idx[:h]
	})
}

// splitLatest: see SplitLatest.
func splitLatest(ints []Interaction, frac float64) (train, test []Interaction) {
	return holdOut(ints, frac, func(_ int64, idx []int, h int) []int {
		slices.SortFunc(idx, func(a, b int) int {
			return cmp.Or(ints[a].At.Compare(ints[b].At), cmp.Compare(ints[a].MovieID, ints[b].MovieID), cmp.Compare(a, b))
		})
		return idx[len(idx)-h:]
	})
}

// holdOut is what split and splitLatest share: for each user with n
// ratings (their positions in ints, idx), pick chooses h = round(frac·n)
// of them (at most n−1; a user with h 0 is skipped) to hold out. Both parts
// keep the order of ints, and together they are exactly ints.
func holdOut(ints []Interaction, frac float64, pick func(user int64, idx []int, h int) []int) (train, test []Interaction) {
	if math.IsNaN(frac) || frac < 0 {
		frac = 0
	}
	byUser := make(map[int64][]int)
	for k, x := range ints {
		byUser[x.UserID] = append(byUser[x.UserID], k)
	}
	held := make([]bool, len(ints))
	for user, idx := range byUser {
		n := len(idx)
		h := min(int(math.Round(frac*float64(n))), n-1)
		if h <= 0 {
			continue
		}
		for _, k := range pick(user, idx, h) {
			held[k] = true
		}
	}
	for k, x := range ints {
		if held[k] {
			test = append(test, x)
		} else {
			train = append(train, x)
		}
	}
	return train, test
}

// userMetrics are one test user's metrics at K. With L the recommended list
// (at most K movies), T the user's held-out movies, rel_i = 1 when the i-th
// movie of L is in T (binary relevance: every held-out rating counts,
// whatever its score), hits = Σ rel_i and m = min(K, |T|):
//
//	Precision@K = hits / K
//	Recall@K    = hits / |T|
//	nDCG@K      = DCG / IDCG, DCG = Σ_i rel_i / log2(i + 1),
//	              IDCG = Σ_{i=1..m} 1 / log2(i + 1)
//	AP@K        = (1/m) Σ_i rel_i · (Σ_{j≤i} rel_j) / i
//	RR@K        = 1 / (rank of the first hit), 0 without a hit
//	hit         = 1 when hits > 0
//
// Evaluate reports each as its mean over the test users (MAP@K is the mean
// of AP@K, MRR@K of RR@K, HitRate of hit), and Coverage as the number of
// distinct movies recommended to any test user over the catalogue size.
type userMetrics struct {
	precision, recall, ndcg, ap, rr, hit float64
}

// metricsAt scores list against the relevant set at k.
func metricsAt(list []int64, relevant map[int64]bool, k int) userMetrics {
	var u userMetrics
	if k <= 0 || len(relevant) == 0 {
		return u
	}
	hits := 0
	var dcg, sumPrec float64
	for i, id := range list[:min(k, len(list))] {
		if !relevant[id] {
			continue
		}
		hits++
		dcg += 1 / math.Log2(float64(i+2))
		sumPrec += float64(hits) / float64(i+1)
		if hits == 1 {
			u.rr = 1 / float64(i+1)
		}
	}
	m := min(k, len(relevant))
	var idcg float64
	for i := range m {
		idcg += 1 / math.Log2(float64(i+2))
	}
	u.precision = float64(hits) / float64(k)
	u.recall = float64(hits) / float64(len(relevant))
	u.ndcg = dcg / idcg
	u.ap = sumPrec / float64(m)
	if hits > 0 {
		u.hit = 1
	}
	return u
}

// evaluate: see Evaluate. The training part's Items get their RatingCount
// recounted from the training ratings and Popularity zeroed, since both
// are computed from every rating and would leak the held-out part.
// TrainingTime is what the algorithm needs of the training: the catalogue
// and popularity stages for popularity, plus the content stage for content,
// plus the collaborative stage for collaborative, and the whole training
// for hybrid.
func evaluate(ctx context.Context, ds *Dataset, cfg EvalConfig, progress Progress) ([]EvalResult, error) {
	if ds == nil {
		return nil, errors.New("recommend: nil Dataset")
	}
	if cfg.K < 1 || cfg.K > maxLimit {
		return nil, fmt.Errorf("recommend: K must be 1..%d, not %d", maxLimit, cfg.K)
	}
	frac := cfg.TestFraction
	if frac == 0 {
		frac = 0.25
	}
	if !(frac > 0 && frac < 1) {
		return nil, fmt.Errorf("recommend: TestFraction must be in (0, 1), not %v", cfg.TestFraction)
	}
	algos := cfg.Algorithms
	if len(algos) == 0 {
		algos = Algorithms
	}
	for _, a := range algos {
		if !slices.Contains(Algorithms, a) {
			return nil, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, a)
		}
	}

	var trainPart, testPart []Interaction
	if cfg.Latest {
		trainPart, testPart = splitLatest(ds.Interactions, frac)
	} else {
		trainPart, testPart = split(ds.Interactions, frac, cfg.Seed)
	}
	counts := make(map[int64]int)
	for _, x := range trainPart {
		counts[x.MovieID]++
	}
	items := make([]Item, len(ds.Items))
	for i, it := range ds.Items {
		it.RatingCount = counts[it.ID]
		it.Popularity = 0
		items[i] = it
	}
	mdl, err := train(ctx, &Dataset{Interactions: trainPart, Items: items}, cfg.Train, progress)
	if err != nil {
		return nil, err
	}
	m := mdl.impl

	history := make(map[int64][]Interaction)
	for _, x := range trainPart {
		history[x.UserID] = append(history[x.UserID], x)
	}
	relevant := make(map[int64]map[int64]bool)
	for _, x := range testPart {
		if relevant[x.UserID] == nil {
			relevant[x.UserID] = make(map[int64]bool)
		}
		relevant[x.UserID][x.MovieID] = true
	}
	users := slices.Sorted(maps.Keys(relevant))

	var results []EvalResult
	for _, algo := range algos {
		per := make([]userMetrics, len(users))
		lists := make([][]int64, len(users))
		stage := "evaluate: " + algo
		if progress != nil {
			progress(stage, 0, len(users))
		}
		errs := make([]error, len(users))
		err := parallelFor(ctx, cfg.Train.Workers, len(users), 8, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				recs, err := m.recommend(Request{History: history[users[k]], Algorithm: algo, Limit: cfg.K})
				if err != nil {
					errs[k] = err // cannot happen: algo was checked
					continue
				}
				ids := make([]int64, len(recs))
				for i, r := range recs {
					ids[i] = r.MovieID
				}
				lists[k] = ids
				per[k] = metricsAt(ids, relevant[users[k]], cfg.K)
			}
		}, func(done int) {
			if progress != nil {
				progress(stage, done, len(users))
			}
		})
		if err != nil {
			return nil, err
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		res := EvalResult{Algorithm: algo, K: cfg.K, Users: len(users), TrainingTime: m.stageTime(algo)}
		seen := make(map[int64]bool)
		for k, u := range per {
			res.Precision += u.precision
			res.Recall += u.recall
			res.NDCG += u.ndcg
			res.MAP += u.ap
			res.MRR += u.rr
			res.HitRate += u.hit
			for _, id := range lists[k] {
				seen[id] = true
			}
		}
		if n := float64(len(users)); n > 0 {
			res.Precision /= n
			res.Recall /= n
			res.NDCG /= n
			res.MAP /= n
			res.MRR /= n
			res.HitRate /= n
		}
		if len(m.ids) > 0 {
			res.Coverage = float64(len(seen)) / float64(len(m.ids))
		}
		results = append(results, res)
	}
	return results, nil
}

// stageTime is the part of the training an algorithm needs.
func (m *model) stageTime(algo string) time.Duration {
	switch algo {
	case Popularity:
		return m.stages.base
	case Content:
		return m.stages.base + m.stages.content
	case Collaborative:
		return m.stages.base + m.stages.collaborative
	}
	return m.duration
}

// FormatTable writes results as an aligned text table, one row per
// algorithm: the metrics with four decimals, coverage and hit rate as
// shares, and the training time rounded to milliseconds.
func FormatTable(w io.Writer, results []EvalResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "algorithm\tK\tusers\tprecision\trecall\tndcg\tmap\tmrr\thit rate\tcoverage\ttraining\t\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%v\t\n",
			r.Algorithm, r.K, r.Users, r.Precision, r.Recall, r.NDCG, r.MAP, r.MRR,
			r.HitRate, r.Coverage, r.TrainingTime.Round(time.Millisecond))
	}
	return tw.Flush()
}

// Stat is one metric over several evaluation runs: the mean, the sample
// standard deviation (0 for one run) and the extremes.
type Stat struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// EvalSummary is one algorithm's results over several evaluation runs
// (split seeds, say): each metric's Stat and the mean training time.
type EvalSummary struct {
	Algorithm    string        `json:"algorithm"`
	K            int           `json:"k"`
	Runs         int           `json:"runs"`
	Precision    Stat          `json:"precision"`
	Recall       Stat          `json:"recall"`
	NDCG         Stat          `json:"ndcg"`
	MAP          Stat          `json:"map"`
	MRR          Stat          `json:"mrr"`
	HitRate      Stat          `json:"hit_rate"`
	Coverage     Stat          `json:"coverage"`
	TrainingTime time.Duration `json:"training_time_ns"`
}

// Summarize reduces runs (each what Evaluate returned for one seed) to one
// EvalSummary per algorithm, in the order of the first run. An algorithm
// missing from a run is summarised over the runs that have it.
func Summarize(runs [][]EvalResult) []EvalSummary {
	if len(runs) == 0 {
		return nil
	}
	var out []EvalSummary
	for _, first := range runs[0] {
		var rs []EvalResult
		for _, run := range runs {
			if i := slices.IndexFunc(run, func(r EvalResult) bool { return r.Algorithm == first.Algorithm }); i >= 0 {
				rs = append(rs, run[i])
			}
		}
		stat := func(metric func(EvalResult) float64) Stat {
			s := Stat{Min: math.Inf(1), Max: math.Inf(-1)}
			for _, r := range rs {
				v := metric(r)
				s.Mean += v / float64(len(rs))
				s.Min, s.Max = min(s.Min, v), max(s.Max, v)
			}
			if len(rs) > 1 {
				var ss float64
				for _, r := range rs {
					d := metric(r) - s.Mean
					ss += d * d
				}
				s.SD = math.Sqrt(ss / float64(len(rs)-1))
			}
			return s
		}
		var train time.Duration
		for _, r := range rs {
			train += r.TrainingTime
		}
		train /= time.Duration(len(rs))
		out = append(out, EvalSummary{
			Algorithm: first.Algorithm, K: first.K, Runs: len(rs),
			Precision:    stat(func(r EvalResult) float64 { return r.Precision }),
			Recall:       stat(func(r EvalResult) float64 { return r.Recall }),
			NDCG:         stat(func(r EvalResult) float64 { return r.NDCG }),
			MAP:          stat(func(r EvalResult) float64 { return r.MAP }),
			MRR:          stat(func(r EvalResult) float64 { return r.MRR }),
			HitRate:      stat(func(r EvalResult) float64 { return r.HitRate }),
			Coverage:     stat(func(r EvalResult) float64 { return r.Coverage }),
			TrainingTime: train,
		})
	}
	return out
}

// FormatSummary writes summaries as an aligned text table, one row per
// algorithm: precision and nDCG as mean ± sd (min–max), the other metrics'
// means, and the mean training time.
func FormatSummary(w io.Writer, summaries []EvalSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "algorithm\tK\truns\tprecision\tndcg\trecall\tmap\tmrr\thit rate\tcoverage\ttraining\t\n")
	spread := func(s Stat) string { return fmt.Sprintf("%.4f ± %.4f (%.4f–%.4f)", s.Mean, s.SD, s.Min, s.Max) }
	for _, s := range summaries {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%v\t\n",
			s.Algorithm, s.K, s.Runs, spread(s.Precision), spread(s.NDCG), s.Recall.Mean, s.MAP.Mean,
			s.MRR.Mean, s.HitRate.Mean, s.Coverage.Mean, s.TrainingTime.Round(time.Millisecond))
	}
	return tw.Flush()
}
