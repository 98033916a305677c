// Package engine runs the recommenders inside the server: it holds the
// current model, trains new ones in the background (on start when none
// exists, on an interval, after enough new ratings), persists them in the
// database so restarts and other instances serve the same version, and
// answers requests with each user's current ratings so a rating made a
// second ago already counts.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/recommend"
)

// Store is what the engine needs from storage.
type Store interface {
	ForEachRating(ctx context.Context, fn func(movierec.DatasetRating) error) error
	MovieFeatures(ctx context.Context, ids ...int64) ([]movierec.MovieFeatures, error)
	UserHistory(ctx context.Context, userID int64) ([]movierec.DatasetRating, error)
	SaveModel(ctx context.Context, m movierec.StoredModel) error
	LatestModel(ctx context.Context) (movierec.StoredModel, error)
	LatestModelVersion(ctx context.Context) (string, error)
	RatingsChangedSince(ctx context.Context, t time.Time) (int, error)
	PopularMovies(ctx context.Context, limit int) ([]movierec.Movie, error)
	// MoviesByIDs returns those of the movies that exist (the in-memory
	// catalog answers when serving).
	MoviesByIDs(ctx context.Context, ids []int64) ([]movierec.Movie, error)
	// AcquireLease and ReleaseLease coordinate instances: the one that
	// holds the training lease trains (see Run).
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// trainingLease names the lease an instance holds while it trains.
const trainingLease = "training"

// leaseTTL is how long a training lease lasts without renewal; a trainer
// renews it every leaseTTL/4, so an instance that died mid-training holds
// it up to leaseTTL.
const leaseTTL = 2 * time.Minute

// Config says when to retrain.
type Config struct {
	// Interval retrains this often (0: never on a timer).
	Interval time.Duration
	// AfterRatings retrains once this many ratings changed since the
	// current model was trained (0: never for that reason).
	AfterRatings int
	// Poll is how often the background loop checks the triggers and looks
	// for a newer model trained by another instance.
	Poll time.Duration
	// Train tunes training.
	Train recommend.Config
	// Holder names this instance to the others (the training lease's
	// holder); empty: a random name.
	Holder string
	// Trainer, when set, trains and saves a model somewhere else (serve
	// runs "movierec train" as a child process at a lower priority, so
	// training's CPU and garbage never stall requests); the engine then
	// loads the newest stored model. Nil: training runs in this process.
	Trainer func(ctx context.Context) error
}

// DefaultConfig retrains hourly or after 1,000 changed ratings, checking
// every 30 seconds.
func DefaultConfig() Config {
	return Config{Interval: time.Hour, AfterRatings: 1000, Poll: 30 * time.Second, Train: recommend.DefaultConfig()}
}

// Engine serves recommendations from the current model.
type Engine struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	current atomic.Pointer[loaded]
	trainMu sync.Mutex // one training at a time
	holder  string     // this instance's name on the training lease
	// unreadable is the version of the newest stored model this build
	// could not decode (damaged, or a format it does not know): it is not
	// fetched again, and training replaces it.
	unreadable atomic.Pointer[string]
}

// loaded is a model with what the engine keeps beside it.
type loaded struct {
	model   *recommend.Model
	ratings int
}

// New returns an engine with no model; call Load or Train, or Run.
func New(store Store, cfg Config, log *slog.Logger) *Engine {
	holder := cfg.Holder
	if holder == "" {
		b := make([]byte, 8)
		rand.Read(b)
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
	}
	return &Engine{store: store, cfg: cfg, log: log, holder: holder}
}

// Model returns the model being served, or nil before the first one.
func (e *Engine) Model() *recommend.Model {
	if l := e.current.Load(); l != nil {
		return l.model
	}
	return nil
}

// ModelVersion is the served model's version, "" before the first one.
func (e *Engine) ModelVersion() string {
	if m := e.Model(); m != nil {
		return m.Version()
	}
	return ""
}

// Load serves the newest stored model. It reports false when the store
// has none, or only one this build cannot decode (logged once per
// version; Run and Tick then train as if there were none, so a damaged or
// foreign model never stops this instance from serving its own).
func (e *Engine) Load(ctx context.Context) (bool, error) {
	sm, err := e.store.LatestModel(ctx)
	if errors.Is(err, movierec.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if cur := e.Model(); cur != nil && cur.Version() == sm.Version {
		return true, nil
	}
	m, err := recommend.Load(sm.Data)
	if errors.Is(err, recommend.ErrCorruptModel) {
		if e.unreadableVersion() != sm.Version {
			e.unreadable.Store(&sm.Version)
			e.log.Warn("the newest stored model cannot be read by this build; the next training replaces it",
				slog.String("version", sm.Version), slog.Any("err", err))
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load model %s: %w", sm.Version, err)
	}
	e.current.Store(&loaded{model: m, ratings: sm.Ratings})
	e.log.Info("serving recommendation model", slog.String("version", m.Version()), slog.Time("trained_at", sm.TrainedAt))
	return true, nil
}

// Dataset reads everything training needs from the store.
func Dataset(ctx context.Context, store Store) (*recommend.Dataset, error) {
	ds := &recommend.Dataset{}
	// Sized up front (ratings changed since the zero time: all of them):
	// at 25M ratings the slice is 1.2 GB, and growing it by appending
	// held up to twice that at once. Without the count it just grows.
	if n, err := store.RatingsChangedSince(ctx, time.Time{}); err == nil {
		ds.Interactions = make([]recommend.Interaction, 0, n)
	}
	if err := store.ForEachRating(ctx, func(r movierec.DatasetRating) error {
		ds.Interactions = append(ds.Interactions, recommend.Interaction{UserID: r.UserID, MovieID: r.MovieID, Score: r.Score, At: r.RatedAt})
		return nil
	}); err != nil {
		return nil, err
	}
	feats, err := store.MovieFeatures(ctx)
	if err != nil {
		return nil, err
	}
	ds.Items = make([]recommend.Item, len(feats))
	for i, f := range feats {
		ds.Items[i] = Item(f)
	}
	return ds, nil
}

// Item converts a movie's features to the recommender's item.
func Item(f movierec.MovieFeatures) recommend.Item {
	return recommend.Item{ID: f.ID, Title: f.Title, Year: f.Year, Genres: f.Genres, Tags: f.Tags,
		RatingCount: f.RatingCount, Popularity: f.Popularity}
}

// Train trains a model on the store's current data, saves it and serves
// it; the previous model keeps serving until the swap. Only one training
// runs at a time.
func (e *Engine) Train(ctx context.Context, progress recommend.Progress) (*recommend.Model, error) {
	e.trainMu.Lock()
	defer e.trainMu.Unlock()
	ds, err := Dataset(ctx, e.store)
	if err != nil {
		return nil, fmt.Errorf("train: read data: %w", err)
	}
	e.log.Info("training recommendation model", slog.Int("ratings", len(ds.Interactions)), slog.Int("movies", len(ds.Items)))
	if progress == nil { // the background trainer logs each stage as it starts
		last := ""
		progress = func(stage string, done, total int) {
			if stage != last {
				last = stage
				e.log.Info("training", slog.String("stage", stage), slog.Int("total", total))
			}
		}
	}
	m, err := recommend.Train(ctx, ds, e.cfg.Train, progress)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("train: encode: %w", err)
	}
	if err := e.store.SaveModel(ctx, movierec.StoredModel{Version: m.Version(), TrainedAt: m.TrainedAt(),
		TrainingDuration: m.TrainingDuration(), Ratings: len(ds.Interactions), Data: data}); err != nil {
		return nil, fmt.Errorf("train: save: %w", err)
	}
	e.current.Store(&loaded{model: m, ratings: len(ds.Interactions)})
	e.log.Info("recommendation model trained", slog.String("version", m.Version()),
		slog.Duration("took", m.TrainingDuration().Round(time.Millisecond)), slog.Int("bytes", len(data)))
	return m, nil
}

// Run keeps the model fresh until ctx ends: it loads the stored model or
// trains one, then every Poll picks up newer models saved by other
// instances and retrains when Interval has passed or AfterRatings ratings
// changed. Errors are logged, never fatal: the old model keeps serving.
func (e *Engine) Run(ctx context.Context) {
	if ok, err := e.Load(ctx); err != nil {
		e.log.Error("loading the stored model", slog.Any("err", err))
	} else if !ok {
		if _, err := e.trainShared(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("initial training failed", slog.Any("err", err))
		}
	}
	poll := e.cfg.Poll
	if poll <= 0 {
		poll = 30 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("recommendation model upkeep", slog.Any("err", err))
		}
	}
}

// Tick picks up a newer stored model, then retrains if a trigger fired
// and no other instance is training (Run calls it every Poll). It reports
// whether this instance trained.
func (e *Engine) Tick(ctx context.Context) (bool, error) {
	due, err := e.due(ctx)
	if err != nil || !due {
		return false, err
	}
	return e.trainShared(ctx)
}

// unreadableVersion is the stored version Load could not decode, or "".
func (e *Engine) unreadableVersion() string {
	if v := e.unreadable.Load(); v != nil {
		return *v
	}
	return ""
}

// due loads a newer stored model if there is one, then reports whether a
// trigger has fired for the model served.
func (e *Engine) due(ctx context.Context) (bool, error) {
	if v, err := e.store.LatestModelVersion(ctx); err == nil && v != e.ModelVersion() && v != e.unreadableVersion() {
		if _, err := e.Load(ctx); err != nil {
			return false, err
		}
	}
	m := e.Model()
	if m == nil {
		return true, nil
	}
	due := e.cfg.Interval > 0 && time.Since(m.TrainedAt()) >= e.cfg.Interval
	if !due && e.cfg.AfterRatings > 0 {
		n, err := e.store.RatingsChangedSince(ctx, m.TrainedAt())
		if err != nil {
			return false, err
		}
		due = n >= e.cfg.AfterRatings
	}
	return due, nil
}

// trainShared trains while holding the training lease, so that one
// instance trains per trigger and the others load its model at their
// next Tick. Once it holds the lease it checks again that training is due
// (another instance may have saved a model just before): it reports false
// when it did not train.
func (e *Engine) trainShared(ctx context.Context) (bool, error) {
	ok, err := e.store.AcquireLease(ctx, trainingLease, e.holder, leaseTTL)
	if err != nil || !ok {
		if err == nil {
			e.log.Debug("another instance is training; its model will be loaded")
		}
		return false, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.store.ReleaseLease(rctx, trainingLease, e.holder); err != nil {
			e.log.Warn("releasing the training lease", slog.Any("err", err))
		}
	}()
	if due, err := e.due(ctx); err != nil || !due {
		return false, err
	}
	// Renew the lease while training runs.
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(leaseTTL / 4)
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-t.C:
				if ok, err := e.store.AcquireLease(tctx, trainingLease, e.holder, leaseTTL); err == nil && !ok {
					e.log.Warn("the training lease was lost; another instance may train too")
				}
			}
		}
	}()
	if e.cfg.Trainer == nil {
		_, err = e.Train(tctx, nil)
		return err == nil, err
	}
	if err := e.cfg.Trainer(tctx); err != nil {
		return false, fmt.Errorf("train: %w", err)
	}
	if ok, err := e.Load(ctx); err != nil || !ok {
		if err == nil {
			err = errors.New("train: the trainer saved no model")
		}
		return false, err
	}
	return true, nil
}

// Request is one user's recommendation request.
type Request struct {
	UserID       int64
	Algorithm    string
	Limit        int
	IncludeRated bool
	Genre        string
}

// Result is the answer to a Request.
type Result struct {
	Algorithm       string
	ModelVersion    string // "" when no model was trained yet
	Recommendations []recommend.Recommendation
	// Rated is how many ratings the user has (0 also for a user that does
	// not exist: the caller tells them apart if it must).
	Rated int
}

// Recommend answers req from the user's current ratings. Before the first
// model exists it falls back to the popular list (never an error for a
// valid request); an unknown algorithm is an EINVALID error.
func (e *Engine) Recommend(ctx context.Context, req Request) (Result, error) {
	alg := req.Algorithm
	if alg == "" {
		alg = recommend.Hybrid
	}
	res := Result{Algorithm: alg}
	hist, err := e.store.UserHistory(ctx, req.UserID)
	if err != nil {
		return res, err
	}
	res.Rated = len(hist)
	m := e.Model()
	if m == nil {
		return e.fallback(ctx, req, hist)
	}
	rreq := recommend.Request{Algorithm: alg, Limit: req.Limit, IncludeRated: req.IncludeRated, Genre: req.Genre,
		History: make([]recommend.Interaction, len(hist))}
	for i, r := range hist {
		rreq.History[i] = recommend.Interaction{UserID: r.UserID, MovieID: r.MovieID, Score: r.Score, At: r.RatedAt}
	}
	recs, err := m.Recommend(rreq)
	if errors.Is(err, recommend.ErrUnknownAlgorithm) {
		return res, movierec.FieldError("algorithm", "must be one of: hybrid, collaborative, content, popularity")
	} else if err != nil {
		return res, err
	}
	res.ModelVersion, res.Recommendations = m.Version(), recs
	return res, nil
}

// fallback serves the popular list while no model exists.
func (e *Engine) fallback(ctx context.Context, req Request, hist []movierec.DatasetRating) (Result, error) {
	res := Result{Algorithm: req.Algorithm, Rated: len(hist)}
	if res.Algorithm == "" {
		res.Algorithm = recommend.Hybrid
	}
	rated := make(map[int64]bool, len(hist))
	for _, r := range hist {
		rated[r.MovieID] = true
	}
	popular, err := e.store.PopularMovies(ctx, req.Limit+len(hist))
	if err != nil {
		return res, err
	}
	res.Recommendations = []recommend.Recommendation{}
	for i, m := range popular {
		if len(res.Recommendations) == req.Limit {
			break
		}
		if rated[m.ID] && !req.IncludeRated || req.Genre != "" && !hasGenre(m, req.Genre) {
			continue
		}
		res.Recommendations = append(res.Recommendations, recommend.Recommendation{MovieID: m.ID,
			Score: 1 / float64(i+1), Reason: "Popular with everyone", Algorithm: recommend.Popularity})
	}
	return res, nil
}

func hasGenre(m movierec.Movie, genre string) bool {
	for _, g := range m.Genres {
		if strings.EqualFold(g.Name, genre) {
			return true
		}
	}
	return false
}

// SimilarMovies returns movies like movieID from the current model; a
// movie the model has not seen is described from the store. Before the
// first model it returns an EUNAVAILABLE error.
func (e *Engine) SimilarMovies(ctx context.Context, movieID int64, limit int) ([]recommend.Similar, string, error) {
	m := e.Model()
	if m == nil {
		return nil, "", movierec.Errorf(movierec.EUNAVAILABLE, "The recommendation model is still training; try again shortly.")
	}
	var item *recommend.Item
	if m.Knows(movieID) {
		// The model has the movie's content: the store need only say it
		// still exists (three SQL queries per request cost more than the
		// answer at 62,000 movies). When serving, that is the in-memory
		// catalog's say: a movie deleted on another instance is found
		// until this one has caught up (under a second).
		found, err := e.store.MoviesByIDs(ctx, []int64{movieID})
		if err != nil {
			return nil, "", err
		}
		if len(found) == 0 {
			return nil, "", fmt.Errorf("SimilarMovies(%d): %w", movieID, movierec.ErrNotFound)
		}
	} else {
		feats, err := e.store.MovieFeatures(ctx, movieID)
		if err != nil {
			return nil, "", err
		}
		if len(feats) == 0 {
			return nil, "", fmt.Errorf("SimilarMovies(%d): %w", movieID, movierec.ErrNotFound)
		}
		it := Item(feats[0])
		item = &it
	}
	sims, err := m.SimilarMovies(movieID, item, limit)
	return sims, m.Version(), err
}
