package movierec

import "time"

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
