package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/engine"
	"github.com/movierec/movierec/recommend"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

// loaded returns a store with a small generated catalogue.
func loaded(t *testing.T) *sqlstore.Store {
	s := storetest.OpenSQLite(t)
	ds := demodata.Generate(demodata.Options{Movies: 300, Users: 60, Ratings: 3000, Seed: 3})
	if _, err := s.Import(context.Background(), ds, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

func movieIDs(recs []recommend.Recommendation) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.MovieID
	}
	return out
}

func TestFallbackBeforeFirstModel(t *testing.T) {
	s := loaded(t)
	e := engine.New(s, engine.DefaultConfig(), quiet)
	res, err := e.Recommend(context.Background(), engine.Request{UserID: 1, Limit: 10})
	if err != nil || res.ModelVersion != "" || len(res.Recommendations) != 10 {
		t.Fatalf("fallback = %+v, %v", res, err)
	}
	hist, _ := s.UserHistory(context.Background(), 1)
	for _, r := range res.Recommendations {
		if r.Algorithm != recommend.Popularity || slices.ContainsFunc(hist, func(h movierec.DatasetRating) bool { return h.MovieID == r.MovieID }) {
			t.Errorf("fallback recommended %+v", r)
		}
	}
	if _, _, err := e.SimilarMovies(context.Background(), 1, 5); movierec.ErrorCode(err) != movierec.EUNAVAILABLE {
		t.Errorf("similar before a model: %v", err)
	}
}

func TestTrainPersistAndReload(t *testing.T) {
	s := loaded(t)
	ctx := context.Background()
	a := engine.New(s, engine.DefaultConfig(), quiet)
	m, err := a.Train(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := engine.New(s, engine.DefaultConfig(), quiet) // a restart, or another instance
	if ok, err := b.Load(ctx); !ok || err != nil {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if b.ModelVersion() != m.Version() {
		t.Errorf("reloaded version %q, trained %q", b.ModelVersion(), m.Version())
	}
	for _, alg := range recommend.Algorithms {
		ra, err := a.Recommend(ctx, engine.Request{UserID: 5, Algorithm: alg, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := b.Recommend(ctx, engine.Request{UserID: 5, Algorithm: alg, Limit: 10})
		if !slices.Equal(movieIDs(ra.Recommendations), movieIDs(rb.Recommendations)) || len(ra.Recommendations) != 10 {
			t.Errorf("%s: trained %v, reloaded %v", alg, movieIDs(ra.Recommendations), movieIDs(rb.Recommendations))
		}
	}
	if _, err := a.Recommend(ctx, engine.Request{UserID: 5, Algorithm: "magic", Limit: 10}); movierec.ErrorCode(err) != movierec.EINVALID {
		t.Errorf("unknown algorithm: %v", err)
	}
}

// TestFreshAfterRating: a rating changes the next answer without
// retraining.
func TestFreshAfterRating(t *testing.T) {
	s := loaded(t)
	ctx := context.Background()
	e := engine.New(s, engine.DefaultConfig(), quiet)
	if _, err := e.Train(ctx, nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, movierec.User{Username: "newcomer", Email: "n@example.com", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	before, err := e.Recommend(ctx, engine.Request{UserID: u.ID, Limit: 20})
	if err != nil || len(before.Recommendations) != 20 {
		t.Fatalf("cold start: %+v, %v", before, err)
	}
	first := before.Recommendations[0].MovieID
	for _, id := range []int64{first, 7, 11} {
		if _, _, err := s.RateMovie(ctx, u.ID, id, 5, ""); err != nil {
			t.Fatal(err)
		}
	}
	after, err := e.Recommend(ctx, engine.Request{UserID: u.ID, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(movieIDs(before.Recommendations), movieIDs(after.Recommendations)) {
		t.Error("three new ratings did not change the recommendations")
	}
	for _, r := range after.Recommendations {
		if r.MovieID == first || r.MovieID == 7 || r.MovieID == 11 {
			t.Errorf("recommended the rated movie %d", r.MovieID)
		}
	}
}

// TestSwapUnderLoad retrains while requests run (go test -race).
func TestSwapUnderLoad(t *testing.T) {
	s := loaded(t)
	ctx := context.Background()
	e := engine.New(s, engine.DefaultConfig(), quiet)
	first, err := e.Train(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var users []int64 // users who have not rated the whole catalogue
	for id := int64(1); id <= 60; id++ {
		if h, _ := s.UserHistory(ctx, id); len(h) < 200 {
			users = append(users, id)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user := users[(w+i)%len(users)]
				res, err := e.Recommend(ctx, engine.Request{UserID: user, Limit: 10})
				if err == nil && (len(res.Recommendations) != 10 || res.ModelVersion == "") {
					err = fmt.Errorf("user %d: %d recommendations from model %q", user, len(res.Recommendations), res.ModelVersion)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	for movie := int64(1); movie <= 30; movie++ { // new data, so a new version
		if _, _, err := s.RateMovie(ctx, users[0], movie, float64(1+movie%10)/2, ""); err != nil {
			t.Fatal(err)
		}
	}
	second, err := e.Train(ctx, nil)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request during the swap failed: %v", err)
	}
	if err != nil || second.Version() == first.Version() || e.ModelVersion() != second.Version() {
		t.Errorf("after retraining: serving %q (first %q, second %q), %v", e.ModelVersion(), first.Version(), second.Version(), err)
	}
}

// TestRunPicksUpModels: the background loop trains when there is no
// model and later serves a model another instance saved.
func TestRunPicksUpModels(t *testing.T) {
	s := loaded(t)
	cfg := engine.DefaultConfig()
	cfg.Poll, cfg.Interval, cfg.AfterRatings = 20*time.Millisecond, 0, 0
	e := engine.New(s, cfg, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return e.ModelVersion() != "" }, "the initial model")
	for movie := int64(1); movie <= 30; movie++ {
		if _, _, err := s.RateMovie(context.Background(), 2, movie, float64(1+movie%10)/2, ""); err != nil {
			t.Fatal(err)
		}
	}
	other := engine.New(s, cfg, quiet)
	m, err := other.Train(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.ModelVersion() == m.Version() }, "the other instance's model")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// savingCounter counts the models an engine saves.
type savingCounter struct {
	engine.Store
	saves *atomic.Int32
}

func (c savingCounter) SaveModel(ctx context.Context, m movierec.StoredModel) error {
	c.saves.Add(1)
	return c.Store.SaveModel(ctx, m)
}

// TestOneTrainerPerTrigger: two instances on one database (each with its
// own store) whose retraining trigger fires together train once between
// them, through the training lease; the other loads that model.
func TestOneTrainerPerTrigger(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			sa, sb := storetest.OpenPair(t, backend)
			ds := demodata.Generate(demodata.Options{Movies: 200, Users: 40, Ratings: 2000, Seed: 5})
			if _, err := sa.Import(context.Background(), ds, nil); err != nil {
				t.Fatal(err)
			}
			cfg := engine.DefaultConfig()
			cfg.Interval, cfg.AfterRatings = 0, 5
			var saves atomic.Int32
			ea := engine.New(savingCounter{sa, &saves}, cfg, quiet)
			eb := engine.New(savingCounter{sb, &saves}, cfg, quiet)
			ctx := context.Background()
			if trained, err := ea.Tick(ctx); err != nil || !trained {
				t.Fatalf("first tick without a model: trained %v, %v", trained, err)
			}
			if trained, err := eb.Tick(ctx); err != nil || trained || eb.ModelVersion() != ea.ModelVersion() {
				t.Fatalf("second instance: trained %v (%v), serving %q, want the first's %q", trained, err, eb.ModelVersion(), ea.ModelVersion())
			}
			for round := range 3 {
				for movie := int64(1); movie <= 6; movie++ {
					if _, _, err := sa.RateMovie(ctx, int64(round+1), movie, 4, ""); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(10 * time.Millisecond) // the next model's training time follows the ratings
				before := saves.Load()
				var wg sync.WaitGroup
				var trained atomic.Int32
				for _, e := range []*engine.Engine{ea, eb} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ok, err := e.Tick(ctx)
						if err != nil {
							t.Error(err)
						}
						if ok {
							trained.Add(1)
						}
					}()
				}
				wg.Wait()
				if trained.Load() != 1 || saves.Load()-before != 1 {
					t.Fatalf("round %d: %d instances trained, %d models saved; want 1 and 1", round, trained.Load(), saves.Load()-before)
				}
				for _, e := range []*engine.Engine{ea, eb} { // the loser picks the model up
					if _, err := e.Tick(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if ea.ModelVersion() != eb.ModelVersion() || saves.Load()-before != 1 {
					t.Fatalf("round %d: serving %q and %q after %d saves", round, ea.ModelVersion(), eb.ModelVersion(), saves.Load()-before)
				}
			}
		})
	}
}

// TestTrainerElsewhere: with Config.Trainer the engine does not train
// itself: it runs the trainer (serve runs "movierec train" in a child
// process) under the training lease and serves the model it saved.
func TestTrainerElsewhere(t *testing.T) {
	s := loaded(t)
	var calls atomic.Int32
	var saved string
	cfg := engine.DefaultConfig()
	cfg.Interval, cfg.AfterRatings = 0, 0
	cfg.Trainer = func(ctx context.Context) error {
		calls.Add(1)
		m, err := engine.New(s, engine.DefaultConfig(), quiet).Train(ctx, nil) // "the child"
		if err == nil {
			saved = m.Version()
		}
		return err
	}
	e := engine.New(s, cfg, quiet)
	if trained, err := e.Tick(context.Background()); err != nil || !trained {
		t.Fatalf("tick without a model: %v %v", trained, err)
	}
	if calls.Load() != 1 || saved == "" || e.ModelVersion() != saved {
		t.Errorf("trainer called %d times; serving %q, the trainer saved %q", calls.Load(), e.ModelVersion(), saved)
	}
	failing := cfg
	failing.Trainer = func(context.Context) error { return errors.New("child exited with status 1") }
	if trained, err := engine.New(storetest.OpenSQLite(t), failing, quiet).Tick(context.Background()); trained || err == nil {
		t.Errorf("a failing trainer: trained %v, err %v", trained, err)
	}
}

// TestUnreadableStoredModel: the newest stored model is one this build
// cannot decode (damaged bytes, or a format from a newer build). The
// engine neither fails nor waits for a trigger: it trains, serves and
// saves its own model, which replaces it.
func TestUnreadableStoredModel(t *testing.T) {
	s := loaded(t)
	ctx := context.Background()
	bad := movierec.StoredModel{Version: "20991231T000000Z-deadbeef", TrainedAt: time.Now().UTC(),
		Ratings: 1, Data: []byte("MOVIEREC\x09\x00\x00\x00not a model")}
	if err := s.SaveModel(ctx, bad); err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Poll, cfg.Interval, cfg.AfterRatings = 20*time.Millisecond, 0, 0
	e := engine.New(s, cfg, quiet)
	if ok, err := e.Load(ctx); ok || err != nil {
		t.Fatalf("Load of an unreadable model: %v, %v; want false, nil", ok, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return e.ModelVersion() != "" }, "a model of its own")
	v, err := s.LatestModelVersion(ctx)
	if err != nil || v != e.ModelVersion() || v == bad.Version {
		t.Errorf("newest stored model %q (%v), serving %q", v, err, e.ModelVersion())
	}
	res, err := e.Recommend(ctx, engine.Request{UserID: 1, Limit: 5})
	if err != nil || res.ModelVersion != e.ModelVersion() {
		t.Errorf("recommendations %+v, %v", res, err)
	}
}

// featureCounter counts the store's MovieFeatures calls.
type featureCounter struct {
	engine.Store
	calls *atomic.Int64
}

func (c featureCounter) MovieFeatures(ctx context.Context, ids ...int64) ([]movierec.MovieFeatures, error) {
	c.calls.Add(1)
	return c.Store.MovieFeatures(ctx, ids...)
}

// TestSimilarMoviesKnownAndNew: a movie the model was trained with is
// answered from the model (no read of its features), and is not found
// once deleted; a movie created after training is described from the
// store and gets content neighbours.
func TestSimilarMoviesKnownAndNew(t *testing.T) {
	s := loaded(t)
	ctx := context.Background()
	var calls atomic.Int64
	e := engine.New(featureCounter{s, &calls}, engine.DefaultConfig(), quiet)
	if _, err := e.Train(ctx, nil); err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	sims, _, err := e.SimilarMovies(ctx, 1, 5)
	if err != nil || len(sims) == 0 {
		t.Fatalf("similar to a known movie: %v, %v", sims, err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("a movie the model knows read its features %d times", n)
	}

	if err := s.DeleteMovie(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.SimilarMovies(ctx, 1, 5); !errors.Is(err, movierec.ErrNotFound) {
		t.Errorf("similar to a deleted movie: %v, want not found", err)
	}

	old, err := s.Movie(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.CreateMovie(ctx, movierec.Movie{Title: "A New One", Genres: old.Genres})
	if err != nil {
		t.Fatal(err)
	}
	sims, _, err = e.SimilarMovies(ctx, m.ID, 5)
	if err != nil || len(sims) == 0 {
		t.Fatalf("similar to a movie created after training: %v, %v", sims, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a movie the model does not know read its features %d times, want 1", n)
	}
}
