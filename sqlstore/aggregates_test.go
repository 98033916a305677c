package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// ratingAggregateOrders are the orderings on the columns every rating
// write updates.
var ratingAggregateOrders = []string{movierec.OrderPopularityScore, movierec.OrderAverageRating, movierec.OrderRatingCount}

// TestAggregatesUnindexed: no index of movies covers a column a rating
// write updates (rating_count, rating_total, average_rating,
// popularity_score), so the write touches no index of movies (on
// PostgreSQL, with the table's fillfactor leaving room in each page, it is
// a heap-only update), and on PostgreSQL movies keeps that room. Catalog
// lists come from memory; such an index would cost every rating write
// without serving any read.
func TestAggregatesUnindexed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		q := `SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'movies' AND sql IS NOT NULL`
		if s.Dialect() == "postgres" {
			q = `SELECT indexdef FROM pg_indexes WHERE tablename = 'movies' AND schemaname = current_schema()`
		}
		rows, err := s.Conn().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var defs []string
		for rows.Next() {
			var def string
			if err := rows.Scan(&def); err != nil {
				t.Fatal(err)
			}
			defs = append(defs, def)
		}
		rows.Close()
		if len(defs) < 3 {
			t.Fatalf("found %d indexes of movies: the query finds nothing to check", len(defs))
		}
		for _, def := range defs {
			for _, col := range []string{"rating_count", "rating_total", "average_rating", "popularity_score"} {
				if strings.Contains(def, col) {
					t.Errorf("index on a rating aggregate (%s): %s", col, def)
				}
			}
		}
		if s.Dialect() == "postgres" {
			var opts string
			if err := s.Conn().QueryRow(ctx, `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class
				WHERE oid = 'movies'::regclass`).Scan(&opts); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(opts, "fillfactor=") {
				t.Errorf("movies has no fillfactor (reloptions %q): its pages leave no room for heap-only updates", opts)
			}
		}
	})
}
