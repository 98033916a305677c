package sqlstore_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// schemaOf renders the indexes and constraints of ratings and taggings,
// which a bulk import drops and builds again.
func schemaOf(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	q := `SELECT name || ': ' || sql FROM sqlite_master
		WHERE tbl_name IN ('ratings', 'taggings') AND sql IS NOT NULL ORDER BY name`
	if s.Dialect() == "postgres" {
		q = `SELECT indexname || ': ' || indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename IN ('ratings', 'taggings')
			UNION ALL SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
			WHERE conrelid IN ('ratings'::regclass, 'taggings'::regclass)
			ORDER BY 1`
	}
	rows, err := s.Conn().Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") < 5 {
		t.Fatalf("schema of ratings and taggings has too few indexes:\n%s", b.String())
	}
	return b.String()
}

// streamOf returns ds as a stream whose users are only named through
// UserName, with ratings and tags in the given order.
func streamOf(ds *movierec.Dataset) *movierec.DatasetStream {
	st := ds.Stream()
	st.Users = nil
	st.UserName = func(id int64) string { return "streamed_" + strconv.FormatInt(id, 10) }
	return st
}

// sortedRatings returns ratings in (user, movie) order.
func sortedRatings(rs []movierec.DatasetRating) []movierec.DatasetRating {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b movierec.DatasetRating) int {
		return cmp.Or(cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.MovieID, b.MovieID))
	})
	return rs
}

// TestImportStreamBulk: into empty tables the ratings and tags load in
// bulk (indexes and constraints dropped and built again), with the
// aggregates summed as they stream (sorted input) or recomputed by SQL
// (unsorted), the users named by UserName, and the schema as it was.
func TestImportStreamBulk(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		name := map[bool]string{true: "Sorted", false: "Unsorted"}[sorted]
		t.Run(name, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
				ctx := context.Background()
				schema := schemaOf(t, s)
				ds := storetest.Fixture(fixtureMovies)
				if sorted {
					ds.Ratings = sortedRatings(ds.Ratings)
				}
				var reports []string
				res, err := s.ImportStream(ctx, streamOf(ds), func(stage string, done, total int) {
					if len(reports) == 0 || reports[len(reports)-1] != stage {
						reports = append(reports, stage)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if res.Ratings != len(ds.Ratings) || res.Tags != len(ds.Tags) || res.Movies != fixtureMovies || res.Users == 0 {
					t.Errorf("result %+v, want %d ratings, %d tags", res, len(ds.Ratings), len(ds.Tags))
				}
				if after := schemaOf(t, s); after != schema {
					t.Errorf("schema after the bulk import:\n%s\nwant\n%s", after, schema)
				}
				for _, stage := range []string{"load ratings", "load tags", "index ratings", "index taggings", "aggregates"} {
					if !slices.Contains(reports, stage) {
						t.Errorf("no progress for %q in %q", stage, reports)
					}
				}
				checkImportAggregates(t, s, ds.Ratings)
				var n int
				if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM ratings`).Scan(&n); err != nil || n != len(ds.Ratings) {
					t.Errorf("%d ratings stored (%v), want %d", n, err, len(ds.Ratings))
				}
				var user string
				if err := s.Conn().QueryRow(ctx, `SELECT username FROM users WHERE id = 3`).Scan(&user); err != nil ||
					user != streamOf(ds).UserName(3) {
					t.Errorf("user 3 is %q (%v), want the stream's name for it", user, err)
				}
				// The constraints are back: a repeated rating updates the
				// row, an unknown movie is refused.
				if _, created, err := s.RateMovie(ctx, ds.Ratings[0].UserID, ds.Ratings[0].MovieID, 0.5, ""); err != nil || created {
					t.Errorf("re-rating an imported rating: created %v, %v", created, err)
				}
				if _, err := s.Conn().Exec(ctx, `INSERT INTO ratings (user_id, movie_id, score, review, rated_at, updated_at)
					VALUES (1, 99999, 3, '', $1, $1)`, time.Now()); err == nil {
					t.Error("a rating of a missing movie was stored after the bulk import")
				}
				if again, err := s.ImportStream(ctx, streamOf(ds), nil); err != nil || again.Ratings != len(ds.Ratings) {
					t.Errorf("import again (merge): %+v, %v", again, err)
				}
			})
		})
	}
}

// TestImportStreamRepeats: a (user, movie) rated more than once keeps the
// latest rating (the later row of two at the same time), a tag applied
// more than once in any letter case keeps its earliest time, into an empty
// table and when merging into one with ratings.
func TestImportStreamRepeats(t *testing.T) {
	at := func(s int64) time.Time {
		return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second)
	}
	ds := storetest.Fixture(fixtureMovies)
	ds.Ratings = []movierec.DatasetRating{
		{UserID: 2, MovieID: 1, Score: 4, RatedAt: at(100)},
		{UserID: 1, MovieID: 1, Score: 5, RatedAt: at(300)}, // latest: kept
		{UserID: 1, MovieID: 1, Score: 2.5, RatedAt: at(250)},
		{UserID: 2, MovieID: 3, Score: 1, RatedAt: at(100)},
		{UserID: 2, MovieID: 3, Score: 1.5, RatedAt: at(100)}, // tie: the later row
		{UserID: 3, MovieID: 5, Score: 0.5, RatedAt: at(50)},
		{UserID: 3, MovieID: 5, Score: 4.5, RatedAt: at(60)},
	}
	ds.Tags = []movierec.DatasetTag{
		{UserID: 4, MovieID: 1, Tag: "Pixar", TaggedAt: at(500)},
		{UserID: 4, MovieID: 1, Tag: "pixar", TaggedAt: at(400)},
		{UserID: 4, MovieID: 2, Tag: "funny", TaggedAt: at(700)},
	}
	want := map[[2]int64]float64{{2, 1}: 4, {1, 1}: 5, {2, 3}: 1.5, {3, 5}: 4.5}
	check := func(t *testing.T, s *sqlstore.Store) {
		t.Helper()
		rows, err := s.Conn().Query(context.Background(), `SELECT user_id, movie_id, score FROM ratings`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[[2]int64]float64{}
		for rows.Next() {
			var k [2]int64
			var score float64
			if err := rows.Scan(&k[0], &k[1], &score); err != nil {
				t.Fatal(err)
			}
			got[k] = score
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("rating %v = %v, want %v", k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d ratings stored, want %d: %v", len(got), len(want), got)
		}
		var times []time.Time
		trows, err := s.Conn().Query(context.Background(), `SELECT tagged_at FROM taggings WHERE user_id = 4 AND movie_id = 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer trows.Close()
		for trows.Next() {
			var at time.Time
			if err := trows.Scan(&at); err != nil {
				t.Fatal(err)
			}
			times = append(times, at)
		}
		if len(times) != 1 || !times[0].Equal(at(400)) {
			t.Errorf("tag pixar on movie 1 applied at %v; want once, at %v", times, at(400))
		}
	}
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if _, err := s.ImportStream(ctx, streamOf(ds), nil); err != nil {
			t.Fatal(err)
		}
		check(t, s)
		// Into a table that has ratings (the merge path): change the
		// winners, then import the original again.
		changed := *ds
		changed.Ratings = append(slices.Clone(ds.Ratings), movierec.DatasetRating{UserID: 1, MovieID: 1, Score: 1, RatedAt: at(900)})
		if _, err := s.ImportStream(ctx, streamOf(&changed), nil); err != nil {
			t.Fatal(err)
		}
		var score float64
		if err := s.Conn().QueryRow(ctx, `SELECT score FROM ratings WHERE user_id = 1 AND movie_id = 1`).Scan(&score); err != nil || score != 1 {
			t.Errorf("after merging a later rating: %v, %v; want 1", score, err)
		}
		if _, err := s.ImportStream(ctx, streamOf(ds), nil); err != nil {
			t.Fatal(err)
		}
		check(t, s)
	})
}

// TestImportStreamFailure: a stream that fails half way (bad input, a
// read error), or a row the database refuses, leaves the database as it
// was, the bulk path's dropped indexes and constraints included; the
// stream's failure comes back as it is.
func TestImportStreamFailure(t *testing.T) {
	bad := movierec.Errorf(movierec.EINVALID, "ratings.csv line 7: rating 9 is not between 0.5 and 5.0")
	for _, c := range []struct {
		fresh bool
		opts  []sqlstore.ImportOption
	}{{true, nil}, {false, nil}, {true, []sqlstore.ImportOption{sqlstore.Exclusive}}} {
		fresh := c.fresh
		name := map[bool]string{true: "EmptyTables", false: "Merge"}[fresh]
		if c.opts != nil {
			name += "Exclusive" // on SQLite in a rollback journal
		}
		t.Run(name, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
				ctx := context.Background()
				ds := storetest.Fixture(fixtureMovies)
				if !fresh {
					if _, err := s.Import(ctx, ds, nil); err != nil {
						t.Fatal(err)
					}
				}
				schema, before := schemaOf(t, s), snapshot(t, s)
				st := streamOf(ds)
				st.Movies = append(slices.Clone(ds.Movies), movierec.Movie{ID: 999, Title: "Only in the failed import"})
				st.Ratings = func(yield func(movierec.DatasetRating) error) error {
					for i, r := range ds.Ratings {
						if i == len(ds.Ratings)/2 {
							return bad
						}
						if err := yield(r); err != nil {
							return err
						}
					}
					return nil
				}
				_, err := s.ImportStream(ctx, st, nil, c.opts...)
				if !errors.Is(err, bad) || movierec.ErrorMessage(err) != movierec.ErrorMessage(bad) {
					t.Fatalf("import error %v, want the stream's %v", err, bad)
				}
				// A row the database refuses (a score out of range) half
				// way through the load.
				refused := *ds
				refused.Ratings = slices.Clone(ds.Ratings)
				refused.Ratings[len(refused.Ratings)/2].Score = 9
				if _, err := s.ImportStream(ctx, streamOf(&refused), nil, c.opts...); err == nil {
					t.Fatal("a rating of 9 was imported")
				}
				if after := schemaOf(t, s); after != schema {
					t.Errorf("schema after the failed import:\n%s\nwant\n%s", after, schema)
				}
				if after := snapshot(t, s); after != before {
					t.Error("the failed import changed the database")
				}
				// The store works on: an import that succeeds, then a
				// rating.
				if _, err := s.ImportStream(ctx, streamOf(ds), nil, c.opts...); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.RateMovie(ctx, 1, 2, 3, ""); err != nil {
					t.Error(err)
				}
			})
		})
	}
}
