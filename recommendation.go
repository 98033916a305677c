package movierec

import "time"

// StoredModel is a trained recommendation model as kept in the database.
type StoredModel struct {
	Version          string
	TrainedAt        time.Time
	TrainingDuration time.Duration
	Ratings          int // ratings it was trained on
	Data             []byte
}

// MovieFeatures is what recommenders know of a movie besides its ratings.
type MovieFeatures struct {
	ID          int64
	Title       string
	Year        int // 0 when unknown
	Genres      []string
	Tags        []string // most used first
	RatingCount int
	Popularity  float64
}
