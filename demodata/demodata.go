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
}

// maxMovies and maxUsers bound Options.Movies and Options.Users; larger
// values are lowered to them.
const (
	maxMovies = 1_000_000
	maxUsers  = 1_000_000
)

// minRatingsPerUser is the fewest ratings any user gets (when there are
// that many movies).
const minRatingsPerUser = 5

// DefaultOptions returns the options of the default demo catalog: 4000
// movies, 400 users, about 40000 ratings, seed 1.
func DefaultOptions() Options {
	return Options{Movies: 4000, Users: 400, Ratings: 40000, Seed: 1}
}

// Generate returns the demo dataset for opts: the same dataset for the same
// options, every time. Movies and users are ordered by ID, ratings by
// (UserID, MovieID) and tags by (UserID, MovieID, Tag). Negative sizes count
// as zero; ratings need both movies and users.
func Generate(opts Options) *movierec.Dataset {
	opts.Movies = clampInt(opts.Movies, 0, maxMovies)
	opts.Users = clampInt(opts.Users, 0, maxUsers)

	// Each stage draws from its own stream, so the catalog of movies does
	// not depend on the number of users or ratings.
	movies, infos := generateMovies(newRand(opts.Seed, streamMovies), opts.Movies)
	users, prefs := generateUsers(newRand(opts.Seed, streamUsers), opts.Users)
	ratings := generateRatings(newRand(opts.Seed, streamRatings), opts.Ratings, infos, prefs)
	tags := generateTags(newRand(opts.Seed, streamTags), ratings, infos, prefs)
	return &movierec.Dataset{Movies: movies, Users: users, Ratings: ratings, Tags: tags}
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
