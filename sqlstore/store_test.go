package sqlstore_test

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

const fixtureMovies = 40

// loaded opens a store per backend with the fixture imported.
func loaded(t *testing.T, fn func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset)) {
	storetest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ds := storetest.Fixture(fixtureMovies)
		if _, err := s.Import(context.Background(), ds, nil); err != nil {
			t.Fatalf("Import: %v", err)
		}
		fn(t, s, ds)
	})
}

// allMovies lists every movie in id order.
func allMovies(t *testing.T, s *sqlstore.Store) []movierec.Movie {
	t.Helper()
	p, err := s.ListMovies(context.Background(), movierec.MovieFilter{Limit: 1000,
		Ordering: []movierec.Order{{Field: movierec.OrderCreatedAt}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Count != len(p.Items) {
		t.Fatalf("count %d, items %d", p.Count, len(p.Items))
	}
	return p.Items
}

func TestImportAggregates(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		checkImportAggregates(t, s, ds.Ratings)
	})
}

// checkImportAggregates fails unless the popularity epoch is the newest of
// ratings and every movie's aggregates are those of its ratings.
func checkImportAggregates(t *testing.T, s *sqlstore.Store, ratings []movierec.DatasetRating) {
	t.Helper()
	type agg struct {
		n        int
		sum, pop float64
	}
	// The import moves the popularity epoch E to the newest rating.
	var epoch time.Time
	for _, r := range ratings {
		if r.RatedAt.After(epoch) {
			epoch = r.RatedAt
		}
	}
	if e, err := s.PopularityEpoch(context.Background()); err != nil || !e.Equal(epoch) {
		t.Errorf("PopularityEpoch = %v, %v; want the newest rating, %v", e, err, epoch)
	}
	want := map[int64]*agg{}
	for _, r := range ratings {
		a := want[r.MovieID]
		if a == nil {
			a = &agg{}
			want[r.MovieID] = a
		}
		a.n++
		a.sum += r.Score
		days := r.RatedAt.Sub(epoch).Hours() / 24
		a.pop += r.Score / 5 * math.Pow(2, days/sqlstore.PopularityHalfLifeDays)
	}
	for _, m := range allMovies(t, s) {
		w := want[m.ID]
		if w == nil {
			w = &agg{}
		}
		if m.RatingCount != w.n {
			t.Errorf("movie %d: rating_count %d, want %d", m.ID, m.RatingCount, w.n)
		}
		var avg float64
		if w.n > 0 {
			avg = w.sum / float64(w.n)
		}
		if math.Abs(m.AverageRating-avg) > 1e-9 {
			t.Errorf("movie %d: average_rating %v, want %v", m.ID, m.AverageRating, avg)
		}
		if math.Abs(m.PopularityScore-w.pop) > 1e-9*w.pop {
			t.Errorf("movie %d: popularity_score %v, want %v", m.ID, m.PopularityScore, w.pop)
		}
	}
}

// snapshot renders the rows of every table, so two snapshots are equal
// exactly when nothing changed.
func snapshot(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, username FROM users ORDER BY id`,
		`SELECT id, name FROM genres ORDER BY id`,
		`SELECT id, name FROM tags ORDER BY id`,
		`SELECT id, title, CAST(release_year AS TEXT), CAST(imdb_rating AS TEXT), CAST(popularity_score AS TEXT),
			CAST(average_rating AS TEXT), CAST(rating_count AS TEXT), CAST(updated_at AS TEXT) FROM movies ORDER BY id`,
		`SELECT movie_id, genre_id FROM movie_genres ORDER BY movie_id, genre_id`,
		`SELECT movie_id, tag_id, user_id FROM taggings ORDER BY movie_id, tag_id, user_id`,
		`SELECT id, user_id, movie_id, CAST(score AS TEXT), CAST(rated_at AS TEXT), CAST(updated_at AS TEXT) FROM ratings ORDER BY id`,
	} {
		rows, err := s.Conn().Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n := strings.Count(q[:strings.Index(q, "FROM")], ",") + 1
		for rows.Next() {
			vals := make([]any, n)
			for i := range vals {
				vals[i] = new(*string)
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for _, v := range vals {
				if p := *v.(**string); p != nil {
					b.WriteString(*p)
				}
				b.WriteByte('|')
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

func TestImport(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		t.Run("OK/Idempotent", func(t *testing.T) {
			before := snapshot(t, s)
			s.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
			if _, err := s.Import(ctx, ds, nil); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, s); after != before {
				t.Errorf("second import changed the database")
			}
		})
		t.Run("OK/UpdatesChangedRows", func(t *testing.T) {
			changed := *ds
			changed.Movies = slices.Clone(ds.Movies)
			changed.Movies[0].Title = "Renamed"
			if _, err := s.Import(ctx, &changed, nil); err != nil {
				t.Fatal(err)
			}
			m, err := s.Movie(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if m.Title != "Renamed" || !m.UpdatedAt.After(m.CreatedAt) {
				t.Errorf("movie 1 = %q updated %v created %v", m.Title, m.UpdatedAt, m.CreatedAt)
			}
		})
		t.Run("ErrNothingCommitted", func(t *testing.T) {
			before := snapshot(t, s)
			bad := *ds
			bad.Movies = append(slices.Clone(ds.Movies), movierec.Movie{ID: 9999, Title: "New movie"})
			bad.Ratings = append(slices.Clone(ds.Ratings), movierec.DatasetRating{UserID: 1, MovieID: 12345, Score: 3, RatedAt: time.Now()})
			if _, err := s.Import(ctx, &bad, nil); err == nil {
				t.Fatal("import of a rating for a missing movie succeeded")
			}
			if after := snapshot(t, s); after != before {
				t.Errorf("failed import changed the database")
			}
			if _, err := s.Movie(ctx, 9999); !errors.Is(err, movierec.ErrNotFound) {
				t.Errorf("movie of the failed import exists: %v", err)
			}
		})
	})
}

func TestListMoviesOrdering(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		all := allMovies(t, s)
		var orderings [][]movierec.Order
		for _, f := range movierec.OrderFields {
			orderings = append(orderings, []movierec.Order{{Field: f}}, []movierec.Order{{Field: f, Desc: true}})
		}
		orderings = append(orderings,
			[]movierec.Order{{Field: movierec.OrderRatingCount, Desc: true}, {Field: movierec.OrderTitle}},
			[]movierec.Order{{Field: movierec.OrderReleaseDate}, {Field: movierec.OrderIMDbRating, Desc: true}})
		for _, ord := range orderings {
			want := storetest.MovieIDs(storetest.SortMovies(all, ord))
			// Walk the ordering in pages of 7 to check the pages join up.
			var got []int64
			for off := 0; off < len(all); off += 7 {
				p, err := s.ListMovies(context.Background(), movierec.MovieFilter{Ordering: ord, Offset: off, Limit: 7})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, storetest.MovieIDs(p.Items)...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ordering %v:\n got %v\nwant %v", ord, got, want)
			}
		}
		t.Run("Default", func(t *testing.T) {
			p, err := s.ListMovies(context.Background(), movierec.MovieFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if want := storetest.MovieIDs(storetest.SortMovies(all, movierec.DefaultOrdering)); !slices.Equal(storetest.MovieIDs(p.Items), want) {
				t.Errorf("default ordering: got %v, want %v", storetest.MovieIDs(p.Items), want)
			}
		})
		t.Run("ErrUnknownField", func(t *testing.T) {
			_, err := s.ListMovies(context.Background(), movierec.MovieFilter{Ordering: []movierec.Order{{Field: "id; DROP TABLE movies"}}})
			if movierec.ErrorCode(err) != movierec.EINVALID {
				t.Errorf("got %v, want a validation error", err)
			}
		})
	})
}

func TestListMoviesFilters(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		all := allMovies(t, s)
		tagsOf := map[int64][]string{}
		for _, tg := range ds.Tags {
			tagsOf[tg.MovieID] = append(tagsOf[tg.MovieID], tg.Tag)
		}
		hasGenre := func(m movierec.Movie, name string) bool {
			return slices.ContainsFunc(m.Genres, func(g movierec.Genre) bool { return strings.EqualFold(g.Name, name) })
		}
		f := func(v float64) *float64 { return &v }
		year := func(m movierec.Movie) int {
			if m.ReleaseYear == nil {
				return 0
			}
			return *m.ReleaseYear
		}
		var genreID int64
		for _, m := range all {
			for _, g := range m.Genres {
				if g.Name == "Drama" {
					genreID = g.ID
				}
			}
		}
		cases := []struct {
			name   string
			filter movierec.MovieFilter
			keep   func(movierec.Movie) bool
		}{
			{"SearchTitle", movierec.MovieFilter{Search: "ALPHA"}, func(m movierec.Movie) bool {
				return strings.Contains(strings.ToLower(m.Title), "alpha") ||
					slices.ContainsFunc(tagsOf[m.ID], func(t string) bool { return strings.Contains(t, "alpha") })
			}},
			{"SearchLikeMetacharacters", movierec.MovieFilter{Search: "0% pure_"}, func(m movierec.Movie) bool { return m.ID == 3 }},
			{"SearchGenre", movierec.MovieFilter{Search: "sci-f"}, func(m movierec.Movie) bool {
				return hasGenre(m, "Sci-Fi") || strings.Contains(strings.ToLower(m.Title), "sci-f")
			}},
			{"SearchTag", movierec.MovieFilter{Search: "bending"}, func(m movierec.Movie) bool {
				return slices.Contains(tagsOf[m.ID], "mind-bending")
			}},
			{"Genre", movierec.MovieFilter{Genres: []string{"drama"}}, func(m movierec.Movie) bool { return hasGenre(m, "Drama") }},
			{"GenresAll", movierec.MovieFilter{Genres: []string{"Drama", "COMEDY"}}, func(m movierec.Movie) bool {
				return hasGenre(m, "Drama") && hasGenre(m, "Comedy")
			}},
			{"GenreUnknown", movierec.MovieFilter{Genres: []string{"Nope"}}, func(m movierec.Movie) bool { return false }},
			{"GenreID", movierec.MovieFilter{GenreID: genreID}, func(m movierec.Movie) bool { return hasGenre(m, "Drama") }},
			{"Tag", movierec.MovieFilter{Tags: []string{"Funny"}}, func(m movierec.Movie) bool { return slices.Contains(tagsOf[m.ID], "funny") }},
			{"Year", movierec.MovieFilter{Year: year(all[0])}, func(m movierec.Movie) bool { return year(m) == year(all[0]) }},
			{"YearRange", movierec.MovieFilter{YearGTE: 1990, YearLTE: 2005}, func(m movierec.Movie) bool {
				return year(m) >= 1990 && year(m) <= 2005
			}},
			{"IMDbRange", movierec.MovieFilter{IMDbRatingGTE: f(3), IMDbRatingLTE: f(6.5)}, func(m movierec.Movie) bool {
				return m.IMDbRating != nil && *m.IMDbRating >= 3 && *m.IMDbRating <= 6.5
			}},
			{"Popularity", movierec.MovieFilter{PopularityGTE: f(0.5), PopularityLTE: f(2)}, func(m movierec.Movie) bool {
				return m.PopularityScore >= 0.5 && m.PopularityScore <= 2
			}},
			{"MinUserRating", movierec.MovieFilter{MinAverageRating: f(3)}, func(m movierec.Movie) bool { return m.AverageRating >= 3 }},
			{"MinRatingCount", movierec.MovieFilter{MinRatingCount: 5}, func(m movierec.Movie) bool { return m.RatingCount >= 5 }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.filter.Limit = 1000
				p, err := s.ListMovies(context.Background(), c.filter)
				if err != nil {
					t.Fatal(err)
				}
				var want []int64
				for _, m := range storetest.SortMovies(all, movierec.DefaultOrdering) {
					if c.keep(m) {
						want = append(want, m.ID)
					}
				}
				if got := storetest.MovieIDs(p.Items); !slices.Equal(got, want) || p.Count != len(want) {
					t.Errorf("got %v (count %d), want %v", got, p.Count, want)
				}
			})
		}
	})
}

func TestMovie(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		t.Run("OK", func(t *testing.T) {
			for _, want := range ds.Movies[:12] {
				m, err := s.Movie(ctx, want.ID)
				if err != nil {
					t.Fatal(err)
				}
				if m.Title != want.Title || !slices.Equal(m.GenreNames(), want.GenreNames()) {
					t.Errorf("movie %d: %q %v, want %q %v", want.ID, m.Title, m.GenreNames(), want.Title, want.GenreNames())
				}
				if (m.ReleaseDate == nil) != (want.ReleaseDate == nil) || (m.ReleaseDate != nil && !m.ReleaseDate.Equal(*want.ReleaseDate)) {
					t.Errorf("movie %d: release date %v, want %v", want.ID, m.ReleaseDate, want.ReleaseDate)
				}
				dist := map[string]int{}
				for _, k := range movierec.RatingScores {
					dist[k] = 0
				}
				for _, r := range ds.Ratings {
					if r.MovieID == want.ID {
						dist[movierec.RatingScores[int(r.Score*2)-1]]++
					}
				}
				for k, n := range dist {
					if m.RatingDistribution[k] != n {
						t.Errorf("movie %d: distribution %v, want %v", want.ID, m.RatingDistribution, dist)
						break
					}
				}
				tagCount := map[string]int{}
				for _, tg := range ds.Tags {
					if tg.MovieID == want.ID {
						tagCount[tg.Tag]++
					}
				}
				if len(m.Tags) != len(tagCount) {
					t.Errorf("movie %d: tags %v, want %v", want.ID, m.Tags, tagCount)
				}
				for i, tg := range m.Tags {
					if tagCount[tg.Name] != tg.Count || (i > 0 && m.Tags[i-1].Count < tg.Count) {
						t.Errorf("movie %d: tags %v, want counts %v most used first", want.ID, m.Tags, tagCount)
					}
				}
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := s.Movie(ctx, 424242); !errors.Is(err, movierec.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestRankings(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		all := allMovies(t, s)
		t.Run("Popular", func(t *testing.T) {
			got, err := s.PopularMovies(ctx, 5)
			if err != nil {
				t.Fatal(err)
			}
			if want := storetest.MovieIDs(storetest.SortMovies(all, movierec.DefaultOrdering))[:5]; !slices.Equal(storetest.MovieIDs(got), want) {
				t.Errorf("got %v, want %v", storetest.MovieIDs(got), want)
			}
		})
		t.Run("Trending", func(t *testing.T) {
			var newest time.Time
			for _, r := range ds.Ratings {
				if r.RatedAt.After(newest) {
					newest = r.RatedAt
				}
			}
			period := 30 * 24 * time.Hour
			counts := map[int64]int{}
			for _, r := range ds.Ratings {
				if !r.RatedAt.Before(newest.Add(-period)) {
					counts[r.MovieID]++
				}
			}
			got, err := s.TrendingMovies(ctx, period, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(counts) {
				t.Fatalf("got %d trending movies, want %d", len(got), len(counts))
			}
			for i, m := range got {
				if int(m.Score) != counts[m.ID] || (i > 0 && got[i-1].Score < m.Score) {
					t.Errorf("trending #%d: movie %d score %v, want %d, descending", i, m.ID, m.Score, counts[m.ID])
				}
			}
		})
		t.Run("TopRated", func(t *testing.T) {
			var sum float64
			for _, r := range ds.Ratings {
				sum += r.Score
			}
			c := sum / float64(len(ds.Ratings))
			minRatings := 4
			prior := float64(max(minRatings, sqlstore.TopRatedPrior))
			got, err := s.TopRatedMovies(ctx, minRatings, 100)
			if err != nil {
				t.Fatal(err)
			}
			var want []movierec.Movie
			for _, m := range all {
				if m.RatingCount >= minRatings {
					want = append(want, m)
				}
			}
			wr := func(m movierec.Movie) float64 {
				v := float64(m.RatingCount)
				return (v*m.AverageRating + prior*c) / (v + prior)
			}
			slices.SortStableFunc(want, func(a, b movierec.Movie) int {
				return cmp.Or(cmp.Compare(wr(b), wr(a)), cmp.Compare(a.ID, b.ID))
			})
			if !slices.Equal(storetest.MovieIDs(want), func() []int64 {
				out := make([]int64, len(got))
				for i, m := range got {
					out[i] = m.ID
				}
				return out
			}()) {
				t.Errorf("top rated order differs from the Bayesian average")
			}
			for _, m := range got {
				if math.Abs(m.Score-wr(m.Movie)) > 1e-9 {
					t.Errorf("movie %d: score %v, want %v", m.ID, m.Score, wr(m.Movie))
				}
			}
		})
	})
}

func TestGenresAndTags(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		ctx := context.Background()
		gp, err := s.Genres(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range gp.Items {
			names = append(names, g.Name)
			want := 0
			for _, m := range ds.Movies {
				if slices.Contains(m.GenreNames(), g.Name) {
					want++
				}
			}
			if g.MovieCount != want {
				t.Errorf("genre %s: %d movies, want %d", g.Name, g.MovieCount, want)
			}
			one, err := s.Genre(ctx, g.ID)
			if err != nil || one != g {
				t.Errorf("Genre(%d) = %+v, %v; want %+v", g.ID, one, err, g)
			}
		}
		if !slices.Equal(names, storetest.FixtureGenres) || gp.Count != len(storetest.FixtureGenres) {
			t.Errorf("genres %v (count %d), want %v", names, gp.Count, storetest.FixtureGenres)
		}
		tp, err := s.Tags(ctx, "", 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if tp.Count != len(storetest.FixtureTags) || len(tp.Items) != 2 || tp.Items[0].Name != storetest.FixtureTags[1] {
			t.Errorf("tags page = %+v", tp)
		}
		tp, err = s.Tags(ctx, "FUN", 0, 10)
		if err != nil || tp.Count != 1 || tp.Items[0].Name != "funny" {
			t.Errorf("tags search = %+v, %v", tp, err)
		}
		if _, err := s.Genre(ctx, 999); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("Genre(999): %v", err)
		}
		if _, err := s.Tag(ctx, 999); !errors.Is(err, movierec.ErrNotFound) {
			t.Errorf("Tag(999): %v", err)
		}
	})
}

// TestUserHistory: a user's history is every rating of theirs, with its
// score and time (recommendations weigh the newest sitting by it).
func TestUserHistory(t *testing.T) {
	loaded(t, func(t *testing.T, s *sqlstore.Store, ds *movierec.Dataset) {
		user := ds.Ratings[0].UserID
		want := map[int64]movierec.DatasetRating{}
		for _, r := range ds.Ratings {
			if r.UserID == user {
				want[r.MovieID] = r
			}
		}
		got, err := s.UserHistory(context.Background(), user)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d ratings, want %d", len(got), len(want))
		}
		for _, r := range got {
			w, ok := want[r.MovieID]
			if !ok || r.Score != w.Score || !r.RatedAt.Equal(w.RatedAt) || r.UserID != user {
				t.Errorf("movie %d: got %v %v (user %d), want %v %v", r.MovieID, r.Score, r.RatedAt, r.UserID, w.Score, w.RatedAt)
			}
		}
	})
}
