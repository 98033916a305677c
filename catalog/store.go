package catalog

import (
	"context"
	"log/slog"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
)

// Store is a SQL store whose catalog reads are answered by a Catalog and
// whose catalog writes reach that Catalog before they return, so the
// writer's next read on this instance sees them. Everything else is the
// SQL store's.
type Store struct {
	*sqlstore.Store
	Catalog *Catalog
	// Log receives catch-ups that failed after a committed write (the
	// next poll repairs them).
	Log *slog.Logger
	// Published, when set, is told the catalog version after each of this
	// instance's writes (other instances use it to see the write at once).
	Published func(ctx context.Context, version int64)
}

// NewStore wraps s with the catalog c.
func NewStore(s *sqlstore.Store, c *Catalog, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{Store: s, Catalog: c, Log: log}
}

// synced applies the write that just committed. The write stands even if
// this fails: the poll applies it a moment later.
func (s *Store) synced(ctx context.Context, err error) error {
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if serr := s.Catalog.Sync(ctx); serr != nil {
		s.Log.Warn("catalog: applying a committed write failed; the poll will retry", slog.Any("err", serr))
	}
	if s.Published != nil {
		s.Published(ctx, s.Catalog.Version())
	}
	return nil
}

// Catalog reads.

func (s *Store) ListMovies(ctx context.Context, f movierec.MovieFilter) (movierec.Page[movierec.Movie], error) {
	return s.Catalog.ListMovies(ctx, f)
}
func (s *Store) Movie(ctx context.Context, id int64) (movierec.Movie, error) {
	s.syncMovie(ctx, id)
	return s.Catalog.Movie(ctx, id)
}
func (s *Store) MoviesByIDs(ctx context.Context, ids []int64) ([]movierec.Movie, error) {
	return s.Catalog.MoviesByIDs(ctx, ids)
}
func (s *Store) PopularMovies(ctx context.Context, limit int) ([]movierec.Movie, error) {
	return s.Catalog.PopularMovies(ctx, limit)
}
func (s *Store) TrendingMovies(ctx context.Context, period time.Duration, limit int) ([]movierec.ScoredMovie, error) {
	return s.Catalog.TrendingMovies(ctx, period, limit)
}
func (s *Store) TopRatedMovies(ctx context.Context, minRatings, limit int) ([]movierec.ScoredMovie, error) {
	return s.Catalog.TopRatedMovies(ctx, minRatings, limit)
}
func (s *Store) Genres(ctx context.Context, offset, limit int) (movierec.Page[movierec.Genre], error) {
	return s.Catalog.Genres(ctx, offset, limit)
}
func (s *Store) Genre(ctx context.Context, id int64) (movierec.Genre, error) {
	return s.Catalog.Genre(ctx, id)
}
func (s *Store) Tags(ctx context.Context, search string, offset, limit int) (movierec.Page[movierec.Tag], error) {
	return s.Catalog.Tags(ctx, search, offset, limit)
}
func (s *Store) Tag(ctx context.Context, id int64) (movierec.Tag, error) {
	return s.Catalog.Tag(ctx, id)
}
func (s *Store) MovieRatingStats(ctx context.Context, id int64) (movierec.RatingStats, error) {
	s.syncMovie(ctx, id)
	return s.Catalog.MovieRatingStats(ctx, id)
}

// MovieRatings is the SQL store's public list of a movie's ratings. With
// read replicas (Options.Lagging) it first applies what other instances
// committed (EnsureFreshMovie), then lets a replica answer if it has
// replayed the movie's newest change this instance knows of: everyone,
// the writer included, sees a rating in the list at once, and the list is
// read from a replica unless that replica is behind the movie.
func (s *Store) MovieRatings(ctx context.Context, id int64, offset, limit int) (movierec.Page[movierec.Rating], error) {
	if s.Catalog.opts.Lagging == nil {
		return s.Store.MovieRatings(ctx, id, offset, limit)
	}
	if err := s.Catalog.EnsureFreshMovie(ctx, id); err != nil {
		s.Log.Debug("catalog freshness check failed; the primary answers", slog.Any("err", err))
		return s.Store.MovieRatings(ctx, id, offset, limit)
	}
	v := s.Catalog.MovieVersion(id)
	if v == 0 { // not in this catalog: anything the catalog has applied
		v = s.Catalog.Version()
	}
	return s.Store.MovieRatings(s.Catalog.opts.Lagging(ctx, v), id, offset, limit)
}

// syncMovie applies this instance's pending writes to movie id, so its
// own answers always show them. A failure is logged; the poll retries.
func (s *Store) syncMovie(ctx context.Context, id int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Catalog.opts.ReadWait)
	defer cancel()
	if err := s.Catalog.SyncMovie(ctx, id); err != nil {
		s.Log.Warn("catalog: applying pending writes failed; the poll will retry", slog.Any("err", err))
	}
}

// Catalog writes: the SQL store's, then applied here.

// RateMovie and DeleteRating apply the rating write they commit to the
// catalog before they return (see Catalog.Own), from what the write
// recorded, and publish its version for other instances.
func (s *Store) RateMovie(ctx context.Context, userID, movieID int64, score float64, review string) (movierec.Rating, bool, error) {
	r, created, ch, err := s.Store.RateMovieChange(ctx, userID, movieID, score, review)
	return r, created, s.own(ctx, err, ch)
}
func (s *Store) DeleteRating(ctx context.Context, userID, movieID int64) error {
	ch, err := s.Store.DeleteRatingChange(ctx, userID, movieID)
	return s.own(ctx, err, ch)
}

// own applies a committed rating write and publishes its version.
func (s *Store) own(ctx context.Context, err error, ch movierec.CatalogChange) error {
	if err != nil {
		return err
	}
	s.Catalog.Own(ctx, ch)
	if s.Published != nil {
		s.Published(context.WithoutCancel(ctx), ch.Version)
	}
	return nil
}
func (s *Store) CreateMovie(ctx context.Context, m movierec.Movie) (movierec.Movie, error) {
	out, err := s.Store.CreateMovie(ctx, m)
	return out, s.synced(ctx, err)
}
func (s *Store) UpdateMovie(ctx context.Context, m movierec.Movie) (movierec.Movie, error) {
	out, err := s.Store.UpdateMovie(ctx, m)
	return out, s.synced(ctx, err)
}
func (s *Store) DeleteMovie(ctx context.Context, id int64) error {
	return s.synced(ctx, s.Store.DeleteMovie(ctx, id))
}
func (s *Store) CreateGenre(ctx context.Context, g movierec.Genre) (movierec.Genre, error) {
	out, err := s.Store.CreateGenre(ctx, g)
	return out, s.synced(ctx, err)
}
func (s *Store) UpdateGenre(ctx context.Context, g movierec.Genre) (movierec.Genre, error) {
	out, err := s.Store.UpdateGenre(ctx, g)
	return out, s.synced(ctx, err)
}
func (s *Store) DeleteGenre(ctx context.Context, id int64) error {
	return s.synced(ctx, s.Store.DeleteGenre(ctx, id))
}
func (s *Store) CreateTag(ctx context.Context, t movierec.Tag) (movierec.Tag, error) {
	out, err := s.Store.CreateTag(ctx, t)
	return out, s.synced(ctx, err)
}
func (s *Store) UpdateTag(ctx context.Context, t movierec.Tag) (movierec.Tag, error) {
	out, err := s.Store.UpdateTag(ctx, t)
	return out, s.synced(ctx, err)
}
func (s *Store) DeleteTag(ctx context.Context, id int64) error {
	return s.synced(ctx, s.Store.DeleteTag(ctx, id))
}

// Import loads a data set through the SQL store and reloads the catalog.
func (s *Store) Import(ctx context.Context, ds *movierec.Dataset, progress movierec.Progress) (sqlstore.ImportResult, error) {
	res, err := s.Store.Import(ctx, ds, progress)
	return res, s.synced(ctx, err)
}
