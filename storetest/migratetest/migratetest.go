// Package migratetest checks migrations 00005 (catalog change log,
// rating_total, forward-decay popularity), 00006 (rating payloads in the
// change log) and 00008 (hashed session IDs) the same way on both
// backends; the sqlite and postgres
// packages call it from their own tests, which hold the embedded
// migrations.
package migratetest

import (
	"context"
	"database/sql"
	"math"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/movierec/movierec"
)

// CatalogChanges brings db to migration 4 through p, stores ratings,
// applies the rest with migrate, and checks that rating_total, the
// popularity epoch and the forward-decay aggregates are filled, that the
// change log starts empty and holds changes with and without a rating
// payload (NULL columns), and that the migrations go down (00006 keeping
// the changes, 00005 dropping rating_total) and up again.
func CatalogChanges(t *testing.T, db *sql.DB, p *goose.Provider, migrate func() error) {
	t.Helper()
	ctx := context.Background()
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	newest := time.Date(2018, 9, 24, 14, 27, 30, 123456000, time.UTC)
	ratings := []struct {
		user, movie int64
		score       float64
		at          time.Time
	}{
		{1, 1, 4.5, newest.AddDate(-1, 0, 0)},
		{2, 1, 3, newest},
		{1, 2, 0.5, newest.AddDate(-3, 0, 0)},
	}
	for _, q := range []string{
		`INSERT INTO users (id, username) VALUES (1, 'a'), (2, 'b')`,
		`INSERT INTO movies (id, title, average_rating, rating_count, popularity_score) VALUES (1, 'One', 9, 9, 9), (2, 'Two', 9, 9, 9), (3, 'Three', 0, 0, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range ratings {
		if _, err := db.ExecContext(ctx, `INSERT INTO ratings (user_id, movie_id, score, rated_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
			r.user, r.movie, r.score, r.at); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrate(); err != nil {
		t.Fatal(err)
	}

	var v string
	if err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'popularity_epoch'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	epoch, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || epoch.After(newest) || newest.Sub(epoch) >= time.Millisecond {
		t.Fatalf("popularity_epoch %q (%v), want the newest rating %v", v, err, newest)
	}
	type agg struct {
		count             int
		total, avg, score float64
	}
	want := map[int64]*agg{1: {}, 2: {}, 3: {}}
	for _, r := range ratings {
		a := want[r.movie]
		a.count++
		a.total += r.score
		a.avg = a.total / float64(a.count)
		a.score += r.score / 5 * math.Pow(2, r.at.Sub(epoch).Hours()/24/365)
	}
	rows, err := db.QueryContext(ctx, `SELECT id, rating_count, rating_total, average_rating, popularity_score FROM movies`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var got agg
		if err := rows.Scan(&id, &got.count, &got.total, &got.avg, &got.score); err != nil {
			t.Fatal(err)
		}
		w := want[id]
		if got.count != w.count || got.total != w.total || got.avg != w.avg || math.Abs(got.score-w.score) > 1e-9*w.score {
			t.Errorf("movie %d: %+v, want %+v", id, got, *w)
		}
	}
	rows.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM catalog_changes`).Scan(&n); err != nil || n != 0 {
		t.Errorf("catalog_changes: %d rows, %v", n, err)
	}
	ratingPayload(t, db, newest)

	if _, err := p.DownTo(ctx, 5); err != nil {
		t.Fatalf("down to 5: %v", err)
	}
	if _, err := db.ExecContext(ctx, `SELECT old_score FROM catalog_changes`); err == nil {
		t.Error("old_score is still there after down to 5")
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM catalog_changes`).Scan(&n); err != nil || n != 2 {
		t.Errorf("catalog_changes after down to 5: %d rows, %v; want the 2 changes kept", n, err)
	}
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatalf("down to 4: %v", err)
	}
	if _, err := db.ExecContext(ctx, `SELECT rating_total FROM movies`); err == nil {
		t.Error("rating_total is still there after down")
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// ratingPayload checks migration 00006: a change without a rating payload
// leaves its columns NULL, and one with a payload keeps it as written.
func ratingPayload(t *testing.T, db *sql.DB, ratedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO catalog_changes (kind, entity_id, changed_at) VALUES ('genre', 1, $1)`,
		`INSERT INTO catalog_changes (kind, entity_id, changed_at, old_score, new_score, rated_at, rating_count, average_rating, popularity_score)
			VALUES ('movie', 2, $1, 0, 4.5, $1, 3, 3.8333333333333335, 1.25)`,
	} {
		if _, err := db.ExecContext(ctx, q, ratedAt); err != nil {
			t.Fatalf("catalog_changes with the payload columns: %v", err)
		}
	}
	var nulls int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM catalog_changes WHERE kind = 'genre' AND old_score IS NULL AND new_score IS NULL
		AND rated_at IS NULL AND rating_count IS NULL AND average_rating IS NULL AND popularity_score IS NULL`).Scan(&nulls); err != nil || nulls != 1 {
		t.Errorf("a change without a payload: %d rows with NULL payload columns, %v; want 1", nulls, err)
	}
	var oldScore, newScore, avg, pop float64
	var count int
	if err := db.QueryRowContext(ctx, `SELECT old_score, new_score, rating_count, average_rating, popularity_score
		FROM catalog_changes WHERE kind = 'movie'`).Scan(&oldScore, &newScore, &count, &avg, &pop); err != nil {
		t.Fatal(err)
	}
	if oldScore != 0 || newScore != 4.5 || count != 3 || avg != 3.8333333333333335 || pop != 1.25 {
		t.Errorf("payload read back as %v %v %v %v %v", oldScore, newScore, count, avg, pop)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM catalog_changes WHERE kind = 'movie' AND rated_at = $1`, ratedAt).Scan(&n); err != nil || n != 1 {
		t.Errorf("rated_at does not read back as written: %d rows, %v", n, err)
	}
}

// HashedSessions brings db to migration 7 through p, stores sessions
// under their plain IDs, applies the rest with migrate, and checks that
// each session is kept under movierec.SessionKey of its ID (so tokens
// issued before the upgrade keep working) and no plain ID is left.
func HashedSessions(t *testing.T, db *sql.DB, p *goose.Provider, migrate func() error) {
	t.Helper()
	ctx := context.Background()
	if _, err := p.UpTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ids := []string{"plain-id-1", "Zm9vYmFyYmF6cXV4"}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username) VALUES (1, 'a')`); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := db.ExecContext(ctx, `INSERT INTO sessions (id, user_id, refresh_hash, created_at, expires_at)
			VALUES ($1, 1, 'h', $2, $3)`, id, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrate(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = $1`, movierec.SessionKey(id)).Scan(&n); err != nil || n != 1 {
			t.Errorf("session %q under its key: %d rows (%v)", id, n, err)
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = $1`, id).Scan(&n); err != nil || n != 0 {
			t.Errorf("session %q still under its plain ID: %d rows (%v)", id, n, err)
		}
	}
}
