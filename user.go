package movierec

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// User is an account. Imported users have no password and cannot log in.
type User struct {
	ID         int64
	Username   string
	Email      string
	FirstName  string
	LastName   string
	IsStaff    bool
	IsActive   bool
	DateJoined time.Time
	// PasswordHash is the encoded argon2id hash, "" when the account cannot
	// log in. It never leaves the server.
	PasswordHash string
}

// UserUpdate changes the fields that are set (nil leaves a field alone).
type UserUpdate struct {
	Username  *string
	Email     *string
	FirstName *string
	LastName  *string
}

// Session is one login. Its refresh token is stored only as a hash.
type Session struct {
	ID          string
	UserID      int64
	RefreshHash string
	// PreviousRefreshHash is the hash before the last rotation ("" none).
	PreviousRefreshHash string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	RevokedAt           *time.Time
}

// Rating is one user's score of one movie.
type Rating struct {
	ID        int64
	UserID    int64
	Username  string
	MovieID   int64
	Movie     Movie // list fields, filled by listing reads
	Score     float64
	Review    string
	RatedAt   time.Time
	UpdatedAt time.Time
}

// Rating bounds: scores go from MinScore to MaxScore in steps of ScoreStep.
const (
	MinScore        = 0.5
	MaxScore        = 5.0
	ScoreStep       = 0.5
	MaxReviewLength = 5000
)

// ValidScore reports whether s is an allowed rating score.
func ValidScore(s float64) bool {
	return s >= MinScore && s <= MaxScore && s*2 == float64(int(s*2))
}

// Favorite is a movie a user marked as a favourite.
type Favorite struct {
	Movie     Movie
	CreatedAt time.Time
}

// WatchEntry records that a user watched a movie (the latest time, and how
// often).
type WatchEntry struct {
	UserID        int64
	MovieID       int64
	Movie         Movie
	WatchedAt     time.Time
	WatchDuration *int // minutes
	Completed     bool
	WatchCount    int
}

// RatingStats summarises a set of ratings.
type RatingStats struct {
	Count        int
	Average      *float64 // nil when Count is 0
	Distribution map[string]int
}

// GenreStat is how a user rates one genre.
type GenreStat struct {
	Name         string
	Count        int
	AverageScore float64
}

// UserStats summarises a user's activity.
type UserStats struct {
	Ratings        RatingStats
	Favorites      int
	Watched        int
	Completed      int
	FavoriteGenres []GenreStat // genres of the movies they rated 4.0 or more, most first
}

// SessionKey is what the store keeps of a session ID: its SHA-256, in
// hex. Tokens carry the ID itself, so a copy of the database (even with
// the token signing key) names no session a token could be made for.
func SessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
