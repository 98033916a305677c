package movierec

import (
	"strconv"
	"time"
)

// Dataset is a whole catalog to load in one go: what the MovieLens importer
// reads and the demo-data generator makes. Users are accounts that cannot
// log in; they exist so ratings and tags have an owner.
type Dataset struct {
	// Movies carry their genres by name (Genre.Name); IDs are kept.
	Movies  []Movie
	Users   []DatasetUser
	Ratings []DatasetRating
	Tags    []DatasetTag
}

// DatasetUser is an account created by an import.
type DatasetUser struct {
	ID       int64
	Username string
}

// DatasetRating is one user's score of one movie.
type DatasetRating struct {
	UserID  int64
	MovieID int64
	Score   float64
	RatedAt time.Time
}

// DatasetTag is one user's application of a tag to a movie.
type DatasetTag struct {
	UserID   int64
	MovieID  int64
	Tag      string
	TaggedAt time.Time
}

// Progress receives progress reports of long jobs: the stage's name, how much
// of it is done, and its total (0 when unknown).
type Progress func(stage string, done, total int)

// DatasetStream is a data set too large to hold in memory: its movies are
// held, its ratings and tag applications are read as they are loaded.
// Accounts are created for Users and for every other user ID that a rating
// or tag names, with the username UserName gives.
type DatasetStream struct {
	Movies []Movie
	Users  []DatasetUser
	// UserName returns the username of a user ID that Users lacks.
	UserName func(id int64) string
	// Ratings calls yield with every rating, stopping at the first error
	// (yield's, or its own for bad input or a failed read), which it
	// returns. When the same (user, movie) comes more than once, the
	// latest RatedAt wins, the later one on a tie.
	Ratings func(yield func(DatasetRating) error) error
	// Tags does the same for tag applications. Repeats of (user, movie,
	// tag) in any letter case are one application, at the earliest time.
	Tags func(yield func(DatasetTag) error) error
	// RatingsHint is roughly how many ratings there are, for progress
	// reports; 0 when unknown.
	RatingsHint int
}

// Stream returns ds as a DatasetStream. Its UserName names unknown users
// "user_<id>".
func (ds *Dataset) Stream() *DatasetStream {
	return &DatasetStream{
		Movies:   ds.Movies,
		Users:    ds.Users,
		UserName: func(id int64) string { return "user_" + strconv.FormatInt(id, 10) },
		Ratings: func(yield func(DatasetRating) error) error {
			for _, r := range ds.Ratings {
				if err := yield(r); err != nil {
					return err
				}
			}
			return nil
		},
		Tags: func(yield func(DatasetTag) error) error {
			for _, t := range ds.Tags {
				if err := yield(t); err != nil {
					return err
				}
			}
			return nil
		},
		RatingsHint: len(ds.Ratings),
	}
}
