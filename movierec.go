// Package movierec holds the domain types of the movierec service: movies,
// genres, tags and the filters used to list them. Storage backends live in
// the sqlite and postgres packages, the HTTP layer in api, and wiring in
// cmd/movierec.
package movierec

import "time"

// Movie is one film of the catalog. Optional facts are pointers so that
// "unknown" (JSON null) is distinct from zero.
type Movie struct {
	ID              int64
	Title           string
	Description     string
	ReleaseYear     *int
	ReleaseDate     *time.Time
	Duration        *int // minutes
	IMDbRating      *float64
	PosterURL       *string
	TrailerURL      *string
	IMDbID          *string
	TMDbID          *int64
	PopularityScore float64
	// AverageRating is the exact mean of all ratings (0 when there are none).
	AverageRating float64
	RatingCount   int
	// Genres is sorted by name. List queries fill ID and Name.
	Genres []Genre
	// Tags is filled by detail reads only, most used first.
	Tags []TagCount
	// RatingDistribution maps "0.5".."5.0" to counts; detail reads only.
	RatingDistribution map[string]int
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// GenreNames returns the names of m's genres in their stored order.
func (m Movie) GenreNames() []string {
	names := make([]string, len(m.Genres))
	for i, g := range m.Genres {
		names[i] = g.Name
	}
	return names
}

// Genre is a category such as "Comedy". Names are unique case-insensitively.
type Genre struct {
	ID          int64
	Name        string
	Description string
	MovieCount  int
}

// Tag is a free-form label users attach to movies. Names are unique
// case-insensitively.
type Tag struct {
	ID         int64
	Name       string
	MovieCount int
}

// TagCount is a tag on one movie with the number of times it was applied.
type TagCount struct {
	Tag
	Count int
}

// ScoredMovie is a movie with the score a ranking gave it (trending activity,
// Bayesian average).
type ScoredMovie struct {
	Movie
	Score float64
}

// RatingScores lists the allowed rating values as the keys used in rating
// distributions.
var RatingScores = [...]string{"0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0"}
