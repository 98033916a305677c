// Package demodata generates a deterministic, plausible-looking demo movie
// catalog: movies with titles, descriptions, genres and IMDb facts, users,
// ratings with a realistic long tail, and tags. The server loads it when it
// starts on an empty database, so that the API shows real-looking data at
// once.
//
// The data is synthetic but carries signal: every user has hidden genre
// preferences and every movie a hidden quality (correlated with its IMDb
// rating), and the ratings are derived from both, so a recommender trained on
// them learns something.
package demodata

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/movierec/movierec"
)

// Options sizes the generated catalog.
type Options struct {
	// Movies is the number of movies, with IDs 1..Movies (at most a
	// million).
	Movies int
	// Users is the number of users, with IDs 1..Users (at most a million).
	Users int
	// Ratings is the number of ratings to generate. It is raised to give
	// every user at least 5 ratings and lowered to at most one rating per
	// (user, movie) pair.
	Ratings int
	// Seed selects the catalog: the same Options always give the same
	// dataset, another seed gives another one.
	Seed uint64
	// MinRatingsPerUser is the fewest ratings a user gets (5 when zero;
	// MovieLens data sets have 20).
	MinRatingsPerUser int
	// Years is how many years before the catalog's fixed "now" (30 June
	// 2026) the rating activity starts (3 when zero).
	Years int
}

// ScaleOptions returns options for a data set shaped like MovieLens at the
// given number of ratings: as many movies, users and tags per rating as
// MovieLens 25M has (62,000 movies and 162,000 users at 25M ratings; at
// least 100 movies and 20 users), at least 20 ratings per user, and
// activity over 24 years.
func ScaleOptions(ratings int, seed uint64) Options {
	const (
		ml25mRatings = 25_000_000
		ml25mMovies  = 62_000
		ml25mUsers   = 162_000
	)
	scale := float64(ratings) / ml25mRatings
	return Options{
		Movies:            max(100, int(math.Round(scale*ml25mMovies))),
		Users:             max(20, int(math.Round(scale*ml25mUsers))),
		Ratings:           ratings,
		Seed:              seed,
		MinRatingsPerUser: 20,
		Years:             24,
	}
}

// maxMovies and maxUsers bound Options.Movies and Options.Users; larger
// values are lowered to them.
const (
	maxMovies = 1_000_000
	maxUsers  = 1_000_000
)

// defaultMinRatingsPerUser and defaultYears stand in for the zero values
// of Options.MinRatingsPerUser and Options.Years.
const (
	defaultMinRatingsPerUser = 5
	defaultYears             = 3
)

// DefaultOptions returns the options of the default demo catalog: 4000
// movies, 400 users, about 40000 ratings, seed 1.
func DefaultOptions() Options {
	return Options{Movies: 4000, Users: 400, Ratings: 40000, Seed: 1}
}

// Generate returns the demo dataset for opts: the same dataset for the same
// options, every time. Movies and users are ordered by ID, ratings by
// (UserID, MovieID) and tags by (UserID, MovieID, Tag). Negative sizes count
// as zero; ratings need both movies and users. It holds the whole data set;
// Stream hands it out piece by piece instead.
func Generate(opts Options) *movierec.Dataset {
	ds := &movierec.Dataset{Ratings: []movierec.DatasetRating{}, Tags: []movierec.DatasetTag{}}
	g := newGenerator(opts)
	ds.Movies, ds.Users = g.movies, g.users
	for ui := range g.activity.counts {
		ds.Ratings, ds.Tags = g.activity.user(ui, ds.Ratings, ds.Tags)
	}
	return ds
}

// Sink receives a generated data set from Stream.
type Sink struct {
	// Movies and Users get all movies and all users, in ID order, first.
	Movies func(movies []movierec.Movie) error
	Users  func(users []movierec.DatasetUser) error
	// Ratings gets each user's ratings, in movie order, and that user's
	// tag applications, in (movie, tag) order; users come in ID order.
	// The slices are reused after Ratings returns.
	Ratings func(ratings []movierec.DatasetRating, tags []movierec.DatasetTag) error
}

// Stream generates the data set of opts, the same as Generate, and hands it
// to sink as it goes, so that its memory does not grow with the number of
// ratings: what it holds is the movies, the users and one user's activity.
// progress, if not nil, gets the stage "generate" with ratings made and
// their total. Stream stops at the first error of sink or ctx.
func Stream(ctx context.Context, opts Options, sink Sink, progress movierec.Progress) error {
	g := newGenerator(opts)
	if sink.Movies != nil {
		if err := sink.Movies(g.movies); err != nil {
			return err
		}
	}
	if sink.Users != nil {
		if err := sink.Users(g.users); err != nil {
			return err
		}
	}
	var ratings []movierec.DatasetRating
	var tags []movierec.DatasetTag
	done, reported := 0, 0
	for ui := range g.activity.counts {
		ratings, tags = g.activity.user(ui, ratings[:0], tags[:0])
		if sink.Ratings != nil {
			if err := sink.Ratings(ratings, tags); err != nil {
				return err
			}
		}
		done += len(ratings)
		if done-reported >= 100_000 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress("generate", done, g.activity.total)
			}
			reported = done
		}
	}
	if progress != nil {
		progress("generate", done, g.activity.total)
	}
	return ctx.Err()
}

// generator holds a catalog's movies and users and the activity to come.
type generator struct {
	movies   []movierec.Movie
	users    []movierec.DatasetUser
	activity *activity
}

func newGenerator(opts Options) *generator {
	opts.Movies = clampInt(opts.Movies, 0, maxMovies)
	opts.Users = clampInt(opts.Users, 0, maxUsers)
	if opts.MinRatingsPerUser <= 0 {
		opts.MinRatingsPerUser = defaultMinRatingsPerUser
	}
	if opts.Years <= 0 {
		opts.Years = defaultYears
	}
	// Each stage draws from its own stream, so the catalog of movies does
	// not depend on the number of users or ratings.
	movies, infos := generateMovies(newRand(opts.Seed, streamMovies), opts.Movies)
	users, prefs := generateUsers(newRand(opts.Seed, streamUsers), opts.Users)
	act := newActivity(newRand(opts.Seed, streamRatings), newRand(opts.Seed, streamTags),
		opts.Ratings, opts.MinRatingsPerUser, anchor.AddDate(-opts.Years, 0, 0), infos, prefs)
	return &generator{movies: movies, users: users, activity: act}
}

// Random streams of the generation stages.
const (
	streamMovies uint64 = iota + 1
	streamUsers
	streamRatings
	streamTags
)

// newRand returns a generator for one stage of the catalog of seed.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream*0x9e3779b97f4a7c15^0xd1b54a32d192ed03))
}

func clampInt(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

func clampFloat(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(v, hi))
}

// pick returns a uniformly chosen element of list.
func pick[T any](r *rand.Rand, list []T) T {
	return list[r.IntN(len(list))]
}

// pickWeighted returns an index of weights with probability proportional to
// its weight. The weights must not all be zero.
func pickWeighted(r *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	// Rounding: fall back to the last positive weight.
	for i := len(weights) - 1; i > 0; i-- {
		if weights[i] > 0 {
			return i
		}
	}
	return 0
}

// NewStream returns the data set of opts as a movierec.DatasetStream for
// an import: the movies and users are made at once, the ratings and tags
// each time they are read (each read generates the activity again, which
// is cheaper than holding it: about 2 s per million ratings).
func NewStream(ctx context.Context, opts Options) *movierec.DatasetStream {
	g := newGenerator(opts)
	return &movierec.DatasetStream{
		Movies:      g.movies,
		Users:       g.users,
		UserName:    userName,
		Ratings:     streamPart(ctx, opts, func(rs []movierec.DatasetRating, _ []movierec.DatasetTag) []movierec.DatasetRating { return rs }),
		Tags:        streamPart(ctx, opts, func(_ []movierec.DatasetRating, ts []movierec.DatasetTag) []movierec.DatasetTag { return ts }),
		RatingsHint: g.activity.total,
	}
}

// streamPart returns a stream of one part (ratings or tags) of opts' data
// set, generated anew each time it is read.
func streamPart[T any](ctx context.Context, opts Options, part func([]movierec.DatasetRating, []movierec.DatasetTag) []T) func(yield func(T) error) error {
	return func(yield func(T) error) error {
		return Stream(ctx, opts, Sink{Ratings: func(rs []movierec.DatasetRating, ts []movierec.DatasetTag) error {
			for _, x := range part(rs, ts) {
				if err := yield(x); err != nil {
					return err
				}
			}
			return nil
		}}, nil)
	}
}
