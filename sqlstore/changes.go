package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/movierec/movierec"
)

// prunedSettingKey is the settings key holding the newest version
// PruneCatalogChanges deleted (decimal text).
const prunedSettingKey = "catalog_changes_pruned"

// recordChange appends a change to the catalog change log in tx, the
// transaction of the write it describes: if the write fails, so does the
// record. It must be the write's last locking statement (on PostgreSQL it
// takes a lock held until commit) and it also notifies listeners there, on
// commit (see Dialect.RecordChange). Rating writes use recordStmt, and
// their records notify nobody (see Dialect.RecordRating).
func (s *Store) recordChange(ctx context.Context, tx DB, kind string, id int64) error {
	var ch movierec.CatalogChange
	return batch(ctx, tx, false, s.recordStmt(&ch, kind, id, nil))
}

// recordStmt is recordChange's statement, which sets *ch to the change
// recorded (the change readers of the log see once tx commits). A rating
// write passes what it did as rating, stored with the change so that
// readers can apply it without reloading the movie (see
// movierec.CatalogChange.Rating); every other write passes nil.
func (s *Store) recordStmt(ch *movierec.CatalogChange, kind string, id int64, rating *movierec.RatingChange) Stmt {
	*ch = movierec.CatalogChange{Kind: kind, ID: id}
	// The payload columns stay NULL without a payload.
	var oldScore, newScore, ratedAt, count, avg, pop any
	if rating != nil {
		r := *rating
		oldScore, newScore, ratedAt = r.OldScore, r.NewScore, r.RatedAt.UTC()
		count, avg, pop = r.Count, r.Average, r.Popularity
		r.RatedAt = r.RatedAt.UTC()
		ch.Rating = &r
	}
	record := s.dialect.RecordChange
	if rating != nil && s.dialect.RecordRating != "" {
		record = s.dialect.RecordRating
	}
	if record == "" {
		record = `INSERT INTO catalog_changes (kind, entity_id, changed_at,
			old_score, new_score, rated_at, rating_count, average_rating, popularity_score)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING version`
	}
	return Stmt{SQL: record, Args: []any{kind, id, s.timestamp(), oldScore, newScore, ratedAt, count, avg, pop},
		Scan: func(r Row) error {
			if err := r.Scan(&ch.Version); err != nil {
				return fmt.Errorf("record change: %w", err)
			}
			return nil
		}}
}

// CatalogVersion returns the newest version in the catalog change log, 0
// when it is empty. Every committed catalog write adds a version, and
// versions never go back (PruneCatalogChanges keeps the newest).
func (s *Store) CatalogVersion(ctx context.Context) (int64, error) {
	v, err := catalogVersion(ctx, s.conn)
	if err != nil {
		return 0, fmt.Errorf("CatalogVersion: %w", err)
	}
	return v, nil
}

func catalogVersion(ctx context.Context, db DB) (int64, error) {
	var v int64
	err := db.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM catalog_changes`).Scan(&v)
	return v, err
}

// CatalogChanges returns the committed changes with a version above after,
// oldest first, at most limit of them (every one when limit ≤ 0). Versions
// become visible in order, so a reader that has applied everything up to
// version v and asks for the changes after v misses none; there may be
// gaps where a transaction rolled back. The ChangeMovie of a rating write
// (RateMovie, DeleteRating) carries what the write did in its Rating.
//
// When changes after after have been pruned already (see
// PruneCatalogChanges), the first change returned is a ChangeAll whose
// Version is the newest pruned one: the reader must reload everything.
func (s *Store) CatalogChanges(ctx context.Context, after int64, limit int) ([]movierec.CatalogChange, error) {
	return retryOnPrimary(ctx, func(ctx context.Context) ([]movierec.CatalogChange, error) {
		return s.catalogChanges(ctx, after, limit)
	})
}

func (s *Store) catalogChanges(ctx context.Context, after int64, limit int) ([]movierec.CatalogChange, error) {
	if limit <= 0 {
		limit = math.MaxInt32
	}
	// One statement, so one snapshot without a transaction (a catch-up is
	// one round trip): the changes, and a row with version -1 carrying the
	// pruning mark in entity_id when there is one.
	rows, err := s.conn.Query(ctx, `SELECT version, kind, entity_id,
			old_score, new_score, rated_at, rating_count, average_rating, popularity_score
		FROM (SELECT version, kind, entity_id,
				old_score, new_score, rated_at, rating_count, average_rating, popularity_score
			FROM catalog_changes WHERE version > $1 ORDER BY version LIMIT $2) c
		UNION ALL
		SELECT -1, '', CAST(value AS BIGINT), NULL, NULL, NULL, NULL, NULL, NULL
			FROM settings WHERE key = $3
		ORDER BY 1`, after, limit, prunedSettingKey)
	if err != nil {
		return nil, fmt.Errorf("CatalogChanges(%d): %w", after, err)
	}
	defer rows.Close()
	changes := []movierec.CatalogChange{}
	var pruned int64
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, fmt.Errorf("CatalogChanges(%d): %w", after, err)
		}
		if c.Version == -1 {
			pruned = c.ID
			continue
		}
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("CatalogChanges(%d): %w", after, err)
	}
	if pruned <= after {
		return changes, nil
	}
	kept := []movierec.CatalogChange{{Version: pruned, Kind: movierec.ChangeAll}}
	for _, c := range changes {
		if c.Version > pruned && len(kept) < limit {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// scanChange scans a change: version, kind and entity_id, then the rating
// payload columns. The payload is set when they are all non-NULL (a rating
// write stores them all); anything less is a change to reload.
func scanChange(r Row) (movierec.CatalogChange, error) {
	var c movierec.CatalogChange
	var oldScore, newScore, avg, pop *float64
	var count *int64
	var ratedAt nullTime
	if err := r.Scan(&c.Version, &c.Kind, &c.ID, &oldScore, &newScore, &ratedAt, &count, &avg, &pop); err != nil {
		return c, err
	}
	if oldScore != nil && newScore != nil && ratedAt.Valid && count != nil && avg != nil && pop != nil {
		c.Rating = &movierec.RatingChange{OldScore: *oldScore, NewScore: *newScore, RatedAt: ratedAt.Time,
			Count: int(*count), Average: *avg, Popularity: *pop}
	}
	return c, nil
}

// PruneCatalogChanges deletes the changes recorded before the given time
// and reports how many it deleted. It always keeps the newest change, so
// CatalogVersion never goes back, and it deletes by version: up to the
// newest version recorded before that time. A reader asking for changes
// it deleted is told to reload everything (see CatalogChanges).
func (s *Store) PruneCatalogChanges(ctx context.Context, before time.Time) (int64, error) {
	ctx = LongWork(ctx) // bulk: see Deadlines
	var n int64
	err := s.conn.InTx(ctx, func(tx DB) error {
		var upTo *int64
		if err := tx.QueryRow(ctx, `SELECT max(version) FROM catalog_changes
			WHERE changed_at < $1 AND version < (SELECT max(version) FROM catalog_changes)`,
			before.UTC()).Scan(&upTo); err != nil {
			return err
		}
		if upTo == nil {
			return nil
		}
		var err error
		if n, err = tx.Exec(ctx, `DELETE FROM catalog_changes WHERE version <= $1`, *upTo); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, prunedSettingKey, strconv.FormatInt(*upTo, 10))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("PruneCatalogChanges: %w", err)
	}
	return n, nil
}
