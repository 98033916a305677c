package sqlstore_test

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/movielens"
	"github.com/movierec/movierec/postgres"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// importMovieLens loads ml-latest-small into s (skipping when the data set
// is absent).
func importMovieLens(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ds, err := movielens.Read(context.Background(), storetest.MovieLensDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Import(context.Background(), ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: imported ml-latest-small in %v", s.Dialect(), res.Elapsed)
}

func TestMovieLensSmallImport(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		importMovieLens(t, s)
		ctx := context.Background()
		for _, c := range []struct {
			table string
			want  int
		}{{"movies", 9742}, {"ratings", 100836}, {"users", 610}} {
			var n int
			if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM `+c.table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != c.want {
				t.Errorf("%s: %d rows, want %d", c.table, n, c.want)
			}
		}
		toy, err := s.Movie(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Toy Story's 215 ratings in ml-latest-small sum to 843.0.
		if toy.Title != "Toy Story" || toy.RatingCount != 215 || math.Abs(toy.AverageRating-843.0/215) > 1e-12 {
			t.Errorf("Toy Story: %q, %d ratings, average %v; want 215 ratings averaging %v",
				toy.Title, toy.RatingCount, toy.AverageRating, 843.0/215)
		}
		if got := strings.Join(toy.GenreNames(), "|"); got != "Adventure|Animation|Children|Comedy|Fantasy" {
			t.Errorf("Toy Story genres %s", got)
		}
		if toy.IMDbID == nil || *toy.IMDbID != "tt0114709" || toy.TMDbID == nil || *toy.TMDbID != 862 {
			t.Errorf("Toy Story links %v %v", toy.IMDbID, toy.TMDbID)
		}
		if s.Dialect() == "postgres" {
			t.Run("ListUsesIndexes", func(t *testing.T) { checkListPlans(t, s) })
		}
		t.Run("CatalogSnapshot", func(t *testing.T) { checkMovieLensSnapshot(t, s) })
	})
}

// checkListPlans fails when the unfiltered list query of any ordering
// but the rating aggregates sorts a sequential scan of movies instead of
// walking an index. The aggregates are not indexed (see
// TestAggregatesUnindexed): the SQL list is the catalog's test oracle.
func checkListPlans(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	pool := postgres.Pool(s)
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for _, field := range movierec.OrderFields {
		if slices.Contains(ratingAggregateOrders, field) {
			continue
		}
		for _, desc := range []bool{false, true} {
			f := movierec.MovieFilter{Ordering: []movierec.Order{{Field: field, Desc: desc}}, Limit: 20}
			_, pageSQL, args, err := sqlstore.ListMoviesSQL(f)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := pool.Query(ctx, `EXPLAIN `+pageSQL, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			rows.Close()
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan on movies") || !strings.Contains(text, "Index Scan") {
				t.Errorf("ordering %+v does not walk an index:\n%s", f.Ordering[0], text)
			}
		}
	}
}

// checkMovieLensSnapshot checks CatalogSnapshot against Movie on a
// sample of ml-latest-small and logs how long the bulk load takes.
func checkMovieLensSnapshot(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	start := time.Now()
	snap, err := s.CatalogSnapshot(ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: CatalogSnapshot of %d movies in %v", s.Dialect(), len(snap.Movies), time.Since(start))
	if len(snap.Movies) != 9742 || len(snap.Genres) != 19 {
		t.Errorf("%d movies, %d genres", len(snap.Movies), len(snap.Genres))
	}
	recent := 0
	for i, m := range snap.Movies {
		recent += len(m.Recent)
		if i%97 != 0 {
			continue
		}
		want, err := s.Movie(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Movie, want) {
			t.Errorf("movie %d:\n got %+v\nwant %+v", m.ID, m.Movie, want)
		}
	}
	if recent == 0 {
		t.Error("no recent ratings in the window")
	}
}

func BenchmarkCatalogSnapshot(b *testing.B) {
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			s := backend.Open(b)
			ds, err := movielens.Read(context.Background(), storetest.MovieLensDir(b), nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Import(context.Background(), ds, nil); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.CatalogSnapshot(context.Background(), 7*24*time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
