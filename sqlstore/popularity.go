package sqlstore

import (
	"context"
	"fmt"
	"math"
	"time"
)

// PopularityHalfLifeDays is the half-life, in days, of a rating's weight
// in the popularity score: a rating counts twice as much as one made this
// long before it.
//
// popularity_score uses forward exponential decay: it is the sum over a
// movie's ratings of
//
//	(score / 5) · 2^((rated_at − E) / PopularityHalfLifeDays days)
//
// where E is the popularity epoch stored in settings (see
// PopularityEpoch). Every rating keeps the weight it got when it was
// made, so a new rating adds to its own movie's score and changes no
// other: relative to each other, older ratings still fade with the given
// half-life, without ever rewriting their movies' scores. An import moves
// E to its newest rating and recomputes every score, which keeps the
// weights near 1.
const PopularityHalfLifeDays = 365

// popularityHalfLife is PopularityHalfLifeDays in seconds.
const popularityHalfLife = PopularityHalfLifeDays * 24 * 60 * 60

// popularityEpochKey is the settings key holding E, as RFC 3339 text.
const popularityEpochKey = "popularity_epoch"

// popularityWeight is a rating's weight in the popularity score,
// 2^((ratedAt − epoch) / half-life), computed in Go so both backends add
// and remove exactly the same amounts.
func popularityWeight(ratedAt, epoch time.Time) float64 {
	seconds := float64(ratedAt.UnixMicro()-epoch.UnixMicro()) / 1e6
	return math.Exp2(seconds / popularityHalfLife)
}

// epochSeconds is t as Unix seconds with microseconds, as the SQL of the
// from-scratch recomputation sees timestamps.
func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

// PopularityEpoch returns E, the time at which a rating has weight 1 in
// the popularity score (see PopularityHalfLifeDays). The migration that
// introduced it and every import set it to the newest rating in the
// store.
func (s *Store) PopularityEpoch(ctx context.Context) (time.Time, error) {
	e, err := s.popularityEpoch(ctx, s.conn)
	if err != nil {
		return time.Time{}, fmt.Errorf("PopularityEpoch: %w", err)
	}
	return e, nil
}

// popularityEpoch reads E through db. Should the setting be missing (the
// migration stores it, so only a hand-edited database lacks it), the
// current time is stored first: the first writer wins, and the next
// import makes every score consistent with it again.
func (s *Store) popularityEpoch(ctx context.Context, db DB) (time.Time, error) {
	var v string
	err := db.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, popularityEpochKey).Scan(&v)
	if err == ErrNoRows {
		if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
			popularityEpochKey, formatEpoch(s.timestamp())); err != nil {
			return time.Time{}, err
		}
		err = db.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, popularityEpochKey).Scan(&v)
	}
	if err != nil {
		return time.Time{}, err
	}
	return parseEpoch(v)
}

// parseEpoch parses the stored popularity epoch.
func parseEpoch(v string) (time.Time, error) {
	e, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("popularity epoch %q: %w", v, err)
	}
	return e.UTC(), nil
}

// setPopularityEpoch stores E.
func setPopularityEpoch(ctx context.Context, db DB, e time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, popularityEpochKey, formatEpoch(e))
	return err
}

func formatEpoch(e time.Time) string {
	return e.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}
