package recommend

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTune is the hyperparameter search behind DefaultConfig (whose doc
// records the numbers). It runs only with MOVIEREC_TUNE=1 and never sees
// the test part of the seed-42 split: it splits ml-latest-small with seed
// 42 exactly as TestQualityBar does, keeps the training part, and evaluates
// (K 10) on further splits of that part, averaging over seeds.
//
//	MOVIEREC_TUNE_GRID   specs separated by ";", each "key=value,...":
//	                     lambda, alpha, head, minhead, uexp, hc, hp, cpop,
//	                     factors, iters, freg, a0, fb, nu,
//	                     sw, st (SessionWeight, SessionTime in minutes),
//	                     cw (SideWeight),
//	                     sb, sq (sittingBoost, sittingTime in minutes)
//	MOVIEREC_TUNE_FRAC   held-out share of the validation splits (0.25)
//	MOVIEREC_TUNE_SEEDS  their seeds ("7,8,9")
//	MOVIEREC_TUNE_ALGOS  algorithms ("collaborative")
//
// The final design was MOVIEREC_TUNE_FRAC=0.1 MOVIEREC_TUNE_SEEDS=1,2,3,4,5.
func TestTune(t *testing.T) {
	if os.Getenv("MOVIEREC_TUNE") == "" {
		t.Skip("set MOVIEREC_TUNE=1 to tune")
	}
	ds := loadSmall(t)
	trainPart, _ := Split(ds.Interactions, 0.25, 42)
	counts := map[int64]int{}
	for _, x := range trainPart {
		counts[x.MovieID]++
	}
	items := make([]Item, len(ds.Items))
	for i, it := range ds.Items {
		it.RatingCount = counts[it.ID]
		items[i] = it
	}
	valDS := &Dataset{Interactions: trainPart, Items: items}
	valFrac, _ := strconv.ParseFloat(envOr("MOVIEREC_TUNE_FRAC", "0.25"), 64)
	var seeds []uint64
	for _, x := range strings.Split(envOr("MOVIEREC_TUNE_SEEDS", "7,8,9"), ",") {
		v, _ := strconv.ParseUint(x, 10, 64)
		seeds = append(seeds, v)
	}
	// run evaluates cfg on the validation splits of the training part
	// (one per seed) and logs the mean of each metric.
	run := func(name string, cfg Config, algos ...string) {
		var runs [][]EvalResult
		for _, seed := range seeds {
			res, err := Evaluate(context.Background(), valDS, EvalConfig{K: 10, TestFraction: valFrac, Seed: seed, Algorithms: algos, Train: cfg}, nil)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, res)
		}
		for _, r := range Summarize(runs) {
			t.Logf("%-48s %-13s P=%.4f nDCG=%.4f MAP=%.4f cov=%.4f train=%v", name, r.Algorithm, r.Precision.Mean, r.NDCG.Mean, r.MAP.Mean, r.Coverage.Mean, r.TrainingTime.Round(time.Millisecond))
		}
	}
	h, mh, ue, hc, hp, cp, fb, nu, ti, sb, sq := maxHead, minHeadRatings, userExp, hybridContent, hybridPopular, contentPopExp, factorBlend, alsNu, tailImpute, sittingBoost, sittingTime
	restore := func() {
		maxHead, minHeadRatings, userExp, hybridContent, hybridPopular, contentPopExp, factorBlend, alsNu, tailImpute, sittingBoost, sittingTime = h, mh, ue, hc, hp, cp, fb, nu, ti, sb, sq
	}
	defer restore()
	for _, spec := range strings.Split(os.Getenv("MOVIEREC_TUNE_GRID"), ";") {
		restore()
		cfg := DefaultConfig()
		applySpec(t, spec, &cfg)
		run(spec, cfg, strings.Split(envOr("MOVIEREC_TUNE_ALGOS", "collaborative"), ",")...)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// applySpec applies "key=value,..." to cfg and the tunable variables.
func applySpec(t *testing.T, spec string, cfg *Config) {
	for _, kv := range strings.Split(spec, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: %v", kv, err)
		}
		switch k {
		case "lambda":
			cfg.Regularization = f
		case "alpha":
			cfg.Alpha = f
		case "factors":
			cfg.Factors = int(f)
		case "iters":
			cfg.Iterations = int(f)
		case "freg":
			cfg.FactorRegularization = f
		case "a0":
			cfg.UnobservedWeight = f
		case "sw":
			cfg.SessionWeight = f
		case "st": // minutes
			cfg.SessionTime = time.Duration(f * float64(time.Minute))
		case "cw":
			cfg.SideWeight = f
		case "sb":
			sittingBoost = f
		case "sq": // minutes
			sittingTime = time.Duration(f * float64(time.Minute))
		case "fb":
			factorBlend = float32(f)
		case "ti":
			tailImpute = float32(f)
		case "nu":
			alsNu = f
		case "head":
			maxHead = int(f)
		case "minhead":
			minHeadRatings = int32(f)
		case "uexp":
			userExp = f
		case "cpop":
			contentPopExp = f
		case "hc":
			hybridContent = float32(f)
		case "hp":
			hybridPopular = float32(f)
		default:
			t.Fatalf("unknown key %q", k)
		}
	}
}
