package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/movielens"
	"github.com/movierec/movierec/recommend"
)

// trainModel trains a model on the database's ratings and saves it; a
// running server picks it up within its poll interval.
func trainModel(ctx context.Context, cfg config, log *slog.Logger, stdout, stderr io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	eng := engine.New(store, cfg.Engine, log)
	p := newProgress(stderr)
	m, err := eng.Train(ctx, p.report)
	p.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained model %s in %v\n", m.Version(), m.TrainingDuration().Round(time.Millisecond))
	return nil
}

// recommendOptions are the flags of "movierec recommend".
type recommendOptions struct {
	user   *int64
	limit  *int
	alg    *string
	asJSON *bool
}

func recommendFlags(fs *flag.FlagSet) recommendOptions {
	return recommendOptions{
		user:   fs.Int64("user", 0, "user ID"),
		limit:  fs.Int("limit", 10, "how many (1-100)"),
		alg:    fs.String("algorithm", recommend.Hybrid, "hybrid, collaborative, content or popularity"),
		asJSON: fs.Bool("json", false, "print JSON"),
	}
}

// recommendCommand prints one user's recommendations, as the API would.
func recommendCommand(ctx context.Context, cfg config, log *slog.Logger, o recommendOptions, stdout io.Writer) error {
	user, limit, alg, asJSON := o.user, o.limit, o.alg, o.asJSON
	if *user <= 0 || *limit < 1 || *limit > 100 {
		return fmt.Errorf("%w: want --user ID (positive) and --limit 1..100", errUsage)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.User(ctx, *user); err != nil {
		return fmt.Errorf("user %d: %w", *user, err)
	}
	eng := engine.New(store, cfg.Engine, log)
	if ok, err := eng.Load(ctx); err != nil {
		return err
	} else if !ok {
		return errors.New("no trained model in the database that this build can read: run movierec train first")
	}
	res, err := eng.Recommend(ctx, engine.Request{UserID: *user, Algorithm: *alg, Limit: *limit})
	if err != nil {
		return exitMessage(err)
	}
	ids := make([]int64, len(res.Recommendations))
	for i, r := range res.Recommendations {
		ids[i] = r.MovieID
	}
	movies, err := store.MoviesByIDs(ctx, ids)
	if err != nil {
		return err
	}
	titles := map[int64]string{}
	for _, m := range movies {
		titles[m.ID] = m.Title
	}
	type rec struct {
		MovieID   int64   `json:"movie_id"`
		Title     string  `json:"title"`
		Score     float64 `json:"score"`
		Reason    string  `json:"reason"`
		Algorithm string  `json:"algorithm"`
	}
	out := struct {
		UserID       int64  `json:"user_id"`
		Algorithm    string `json:"algorithm_used"`
		ModelVersion string `json:"model_version"`
		Items        []rec  `json:"recommendations"`
	}{UserID: *user, Algorithm: res.Algorithm, ModelVersion: res.ModelVersion, Items: []rec{}}
	for _, r := range res.Recommendations {
		out.Items = append(out.Items, rec{r.MovieID, titles[r.MovieID], r.Score, r.Reason, r.Algorithm})
	}
	if *asJSON {
		return writeIndented(stdout, out)
	}
	fmt.Fprintf(stdout, "user %d, %s, model %s\n", out.UserID, out.Algorithm, out.ModelVersion)
	for i, r := range out.Items {
		fmt.Fprintf(stdout, "%3d. %-50s %8.4f  %-13s %s\n", i+1, r.Title, r.Score, r.Algorithm, r.Reason)
	}
	return nil
}

// evalOptions are the flags of "movierec eval".
type evalOptions struct {
	dir, algs *string
	k         *int
	seed      *uint64
	seeds     *string
	frac      *float64
	split     *string
	asJSON    *bool
}

// maxEvalSeeds bounds -seeds: each seed trains and evaluates once.
const maxEvalSeeds = 100

// parseSeeds reads -seeds: seeds and inclusive ranges separated by
// commas ("1-5", "1,2,7", "1-3,10").
func parseSeeds(spec string) ([]uint64, error) {
	var seeds []uint64
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 64)
		}
		if err != nil || b < a {
			return nil, fmt.Errorf("%w: -seeds wants seeds and ranges like 1-5,7, not %q", errUsage, part)
		}
		for x := a; ; x++ {
			if len(seeds) == maxEvalSeeds {
				return nil, fmt.Errorf("%w: -seeds asks for more than %d runs", errUsage, maxEvalSeeds)
			}
			seeds = append(seeds, x)
			if x == b {
				break
			}
		}
	}
	return seeds, nil
}

func evalFlags(fs *flag.FlagSet) evalOptions {
	return evalOptions{
		dir:    fs.String("data", "../shared/data/movielens/ml-latest-small", "MovieLens directory"),
		k:      fs.Int("k", 10, "list length"),
		seed:   fs.Uint64("seed", 42, "split and training seed"),
		seeds:  fs.String("seeds", "", "evaluate once per seed (e.g. 1-5 or 1,2,7) and print each metric's mean ± sd (min–max) instead of one run"),
		frac:   fs.Float64("test-fraction", 0.25, "share of each user's ratings held out"),
		split:  fs.String("split", "random", "which ratings are held out: random (a seeded sample of each user's) or latest (each user's newest)"),
		algs:   fs.String("algorithms", strings.Join(recommend.Algorithms, ","), "comma-separated algorithms"),
		asJSON: fs.Bool("json", false, "print JSON instead of a table"),
	}
}

// evalCommand runs the offline evaluation on a MovieLens directory.
func evalCommand(ctx context.Context, cfg config, o evalOptions, stdout, stderr io.Writer) error {
	dir, k, seed, frac, algs, asJSON := o.dir, o.k, o.seed, o.frac, o.algs, o.asJSON
	if *k < 1 || *k > 100 || *frac <= 0 || *frac >= 1 {
		return fmt.Errorf("%w: want -k 1..100 and -test-fraction between 0 and 1", errUsage)
	}
	if *o.split != "random" && *o.split != "latest" {
		return fmt.Errorf("%w: -split must be random or latest, not %q", errUsage, *o.split)
	}
	seeds := []uint64{*seed}
	if *o.seeds != "" {
		var err error
		if seeds, err = parseSeeds(*o.seeds); err != nil {
			return err
		}
	}
	p := newProgress(stderr)
	ml, err := movielens.Read(ctx, *dir, p.report)
	p.done()
	if err != nil {
		return exitMessage(err)
	}
	ds := &recommend.Dataset{}
	for _, r := range ml.Ratings {
		ds.Interactions = append(ds.Interactions, recommend.Interaction{UserID: r.UserID, MovieID: r.MovieID, Score: r.Score, At: r.RatedAt})
	}
	tagCounts := map[int64]map[string]int{}
	for _, t := range ml.Tags {
		if tagCounts[t.MovieID] == nil {
			tagCounts[t.MovieID] = map[string]int{}
		}
		tagCounts[t.MovieID][t.Tag]++
	}
	for _, m := range ml.Movies {
		it := recommend.Item{ID: m.ID, Title: m.Title, Genres: m.GenreNames(), Tags: sortedTags(tagCounts[m.ID])}
		if m.ReleaseYear != nil {
			it.Year = *m.ReleaseYear
		}
		ds.Items = append(ds.Items, it)
	}
	latest := *o.split == "latest"
	var runs []evalRun
	for _, sd := range seeds {
		train := cfg.Engine.Train
		train.Seed = sd
		ecfg := recommend.EvalConfig{K: *k, TestFraction: *frac, Seed: sd, Latest: latest, Algorithms: strings.Split(*algs, ","), Train: train}
		results, err := recommend.Evaluate(ctx, ds, ecfg, p.report)
		p.done()
		if errors.Is(err, recommend.ErrUnknownAlgorithm) {
			return fmt.Errorf("%w: %v", errUsage, err)
		} else if err != nil {
			return err
		}
		runs = append(runs, evalRun{Seed: sd, Results: results})
	}
	held := fmt.Sprintf("seed %d", *seed)
	switch {
	case latest:
		held = "their newest"
	case *o.seeds != "":
		held = "seeds " + *o.seeds
	}
	if *o.seeds == "" {
		if *asJSON {
			return writeIndented(stdout, runs[0].Results)
		}
		fmt.Fprintf(stdout, "%s: %d ratings, %d movies; %.0f%% of each user's ratings held out (%s), k = %d\n\n",
			*dir, len(ds.Interactions), len(ds.Items), *frac*100, held, *k)
		return recommend.FormatTable(stdout, runs[0].Results)
	}
	all := make([][]recommend.EvalResult, len(runs))
	for i, r := range runs {
		all[i] = r.Results
	}
	summary := recommend.Summarize(all)
	if *asJSON {
		return writeIndented(stdout, struct {
			Runs    []evalRun               `json:"runs"`
			Summary []recommend.EvalSummary `json:"summary"`
		}{runs, summary})
	}
	fmt.Fprintf(stdout, "%s: %d ratings, %d movies; %.0f%% of each user's ratings held out (%s), k = %d; %d runs\n\n",
		*dir, len(ds.Interactions), len(ds.Items), *frac*100, held, *k, len(runs))
	return recommend.FormatSummary(stdout, summary)
}

// evalRun is one seed's results in eval -seeds -json.
type evalRun struct {
	Seed    uint64                 `json:"seed"`
	Results []recommend.EvalResult `json:"results"`
}

// writeIndented writes v as indented JSON.
func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// sortedTags orders a movie's tags most used first, then by name.
func sortedTags(counts map[string]int) []string {
	tags := make([]string, 0, len(counts))
	for t := range counts {
		tags = append(tags, t)
	}
	slices.SortFunc(tags, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	return tags
}
