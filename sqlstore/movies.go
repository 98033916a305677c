package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// movieColumns are the list-item columns of movies m, in scanMovie's order.
const movieColumns = `m.id, m.title, m.description, m.release_year, m.release_date, m.duration,
	m.imdb_rating, m.poster_url, m.trailer_url, m.imdb_id, m.tmdb_id,
	m.popularity_score, m.average_rating, m.rating_count, m.created_at, m.updated_at`

// scanMovie scans movieColumns (plus extra destinations) from r.
func scanMovie(r Row, m *movierec.Movie, extra ...any) error {
	return scanMovieBetween(r, nil, m, extra)
}

// scanMovieAfter scans the before destinations, then movieColumns.
func scanMovieAfter(r Row, m *movierec.Movie, before ...any) error {
	return scanMovieBetween(r, before, m, nil)
}

func scanMovieBetween(r Row, before []any, m *movierec.Movie, after []any) error {
	var releaseDate nullTime
	var created, updated nullTime
	dest := append(before, &m.ID, &m.Title, &m.Description, &m.ReleaseYear, &releaseDate, &m.Duration,
		&m.IMDbRating, &m.PosterURL, &m.TrailerURL, &m.IMDbID, &m.TMDbID,
		&m.PopularityScore, &m.AverageRating, &m.RatingCount, &created, &updated)
	if err := r.Scan(append(dest, after...)...); err != nil {
		return err
	}
	if releaseDate.Valid {
		d := releaseDate.Time
		m.ReleaseDate = &d
	}
	m.CreatedAt, m.UpdatedAt = created.Time, updated.Time
	return nil
}

// orderColumns maps each orderable field to its column. Only these strings
// ever reach an ORDER BY.
var orderColumns = map[string]string{
	movierec.OrderTitle:           "m.title",
	movierec.OrderReleaseDate:     "m.release_date",
	movierec.OrderIMDbRating:      "m.imdb_rating",
	movierec.OrderPopularityScore: "m.popularity_score",
	movierec.OrderAverageRating:   "(CASE WHEN m.rating_count > 0 THEN m.average_rating END)", // NULL without ratings
	movierec.OrderRatingCount:     "m.rating_count",
	movierec.OrderCreatedAt:       "m.created_at",
}

// nullableOrder marks the orderable columns that may be NULL. Only they
// get an explicit NULLS LAST: on a NOT NULL column it would stop
// PostgreSQL from scanning the (column, id) index backwards.
var nullableOrder = map[string]bool{movierec.OrderReleaseDate: true, movierec.OrderIMDbRating: true,
	movierec.OrderAverageRating: true}

// orderBy renders an ORDER BY clause. NULLs sort last in both directions on
// both backends, and id breaks ties in the first key's direction so that
// an index on (column, id) can serve the whole ordering.
func orderBy(ordering []movierec.Order) (string, error) {
	if len(ordering) == 0 {
		ordering = movierec.DefaultOrdering
	}
	parts := make([]string, 0, len(ordering)+1)
	for _, o := range ordering {
		col, ok := orderColumns[o.Field]
		if !ok {
			return "", movierec.FieldError("ordering", fmt.Sprintf("unknown field %q", o.Field))
		}
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		if nullableOrder[o.Field] {
			dir += " NULLS LAST"
		}
		parts = append(parts, col+dir)
	}
	if ordering[0].Desc {
		parts = append(parts, "m.id DESC")
	} else {
		parts = append(parts, "m.id ASC")
	}
	return strings.Join(parts, ", "), nil
}

// args accumulates positional parameters and hands out their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// likePattern escapes s for a LIKE ... ESCAPE '\' substring match.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// movieWhere renders the WHERE clause of f, appending its parameters to a.
func movieWhere(f movierec.MovieFilter, a *args) string {
	var conds []string
	// Genre and tag conditions are uncorrelated IN subqueries: both
	// databases evaluate them once per statement (a hashed subplan), where
	// a correlated EXISTS would run per movie.
	if f.Search != "" {
		p := a.add(likePattern(f.Search))
		conds = append(conds, `(lower(m.title) LIKE `+p+` ESCAPE '\'
			OR m.id IN (SELECT sg.movie_id FROM movie_genres sg JOIN genres g ON g.id = sg.genre_id
				WHERE lower(g.name) LIKE `+p+` ESCAPE '\')
			OR m.id IN (SELECT st.movie_id FROM taggings st JOIN tags t ON t.id = st.tag_id
				WHERE lower(t.name) LIKE `+p+` ESCAPE '\'))`)
	}
	for _, g := range f.Genres {
		conds = append(conds, `m.id IN (SELECT fg.movie_id FROM movie_genres fg JOIN genres g ON g.id = fg.genre_id
			WHERE lower(g.name) = `+a.add(strings.ToLower(g))+`)`)
	}
	for _, t := range f.Tags {
		conds = append(conds, `m.id IN (SELECT ft.movie_id FROM taggings ft JOIN tags t ON t.id = ft.tag_id
			WHERE lower(t.name) = `+a.add(strings.ToLower(t))+`)`)
	}
	if f.GenreID != 0 {
		conds = append(conds, `m.id IN (SELECT ig.movie_id FROM movie_genres ig WHERE ig.genre_id = `+a.add(f.GenreID)+`)`)
	}
	if f.TagID != 0 {
		conds = append(conds, `m.id IN (SELECT it.movie_id FROM taggings it WHERE it.tag_id = `+a.add(f.TagID)+`)`)
	}
	cmp := func(col, op string, v any) { conds = append(conds, col+" "+op+" "+a.add(v)) }
	if f.Year != 0 {
		cmp("m.release_year", "=", f.Year)
	}
	if f.YearGTE != 0 {
		cmp("m.release_year", ">=", f.YearGTE)
	}
	if f.YearLTE != 0 {
		cmp("m.release_year", "<=", f.YearLTE)
	}
	for _, b := range []struct {
		col, op string
		v       *float64
	}{
		{"m.imdb_rating", ">=", f.IMDbRatingGTE},
		{"m.imdb_rating", "<=", f.IMDbRatingLTE},
		{"m.popularity_score", ">=", f.PopularityGTE},
		{"m.popularity_score", "<=", f.PopularityLTE},
		{"m.average_rating", ">=", f.MinAverageRating},
	} {
		if b.v != nil {
			cmp(b.col, b.op, *b.v)
		}
	}
	if f.MinRatingCount != 0 {
		cmp("m.rating_count", ">=", f.MinRatingCount)
	}
	if f.MinAverageRating != nil && f.MinRatingCount == 0 {
		conds = append(conds, "m.rating_count > 0") // no average is no match, as NULL in SQL
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// ListMovies returns the page of movies selected by f and the total count
// of matches. An unknown ordering field is an EINVALID error.
func (s *Store) ListMovies(ctx context.Context, f movierec.MovieFilter) (movierec.Page[movierec.Movie], error) {
	var page movierec.Page[movierec.Movie]
	countSQL, pageSQL, a, err := ListMoviesSQL(f)
	if err != nil {
		return page, err
	}
	nWhere := len(a) - 2 // the page query adds LIMIT and OFFSET
	if err := s.conn.QueryRow(ctx, countSQL, a[:nWhere]...).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("ListMovies: count: %w", err)
	}
	if page.Count == 0 || f.Offset >= page.Count {
		page.Items = []movierec.Movie{}
		return page, nil
	}
	page.Items, err = s.queryMovies(ctx, pageSQL, a...)
	if err != nil {
		return page, fmt.Errorf("ListMovies: %w", err)
	}
	return page, nil
}

// ListMoviesSQL returns the two statements ListMovies runs for f: the count
// (which takes all but the last two arguments) and the page (which takes
// them all). Tests EXPLAIN them.
func ListMoviesSQL(f movierec.MovieFilter) (countSQL, pageSQL string, a []any, err error) {
	order, err := orderBy(f.Ordering)
	if err != nil {
		return "", "", nil, err
	}
	var params args
	where := movieWhere(f, &params)
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	countSQL = `SELECT count(*) FROM movies m` + where
	pageSQL = `SELECT ` + movieColumns + ` FROM movies m` + where + ` ORDER BY ` + order +
		` LIMIT ` + params.add(limit) + ` OFFSET ` + params.add(f.Offset)
	return countSQL, pageSQL, params, nil
}

// queryMovies runs a query selecting movieColumns and fills in genres with
// one more query for the whole page.
func (s *Store) queryMovies(ctx context.Context, q string, a ...any) ([]movierec.Movie, error) {
	rows, err := s.conn.Query(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	movies := []movierec.Movie{}
	for rows.Next() {
		var m movierec.Movie
		if err := scanMovie(rows, &m); err != nil {
			return nil, err
		}
		movies = append(movies, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return movies, s.attachGenres(ctx, movies)
}

// attachGenres loads the genres of movies in one query.
func (s *Store) attachGenres(ctx context.Context, movies []movierec.Movie) error {
	ptrs := make([]*movierec.Movie, len(movies))
	for i := range movies {
		ptrs[i] = &movies[i]
	}
	return s.attachGenresTo(ctx, ptrs)
}

// attachGenresTo loads the genres of the movies pointed to in one query
// (a movie may appear more than once).
func (s *Store) attachGenresTo(ctx context.Context, movies []*movierec.Movie) error {
	if len(movies) == 0 {
		return nil
	}
	var a args
	var ph []string
	index := make(map[int64][]*movierec.Movie, len(movies))
	for _, m := range movies {
		if _, seen := index[m.ID]; !seen {
			ph = append(ph, a.add(m.ID))
		}
		index[m.ID] = append(index[m.ID], m)
		m.Genres = []movierec.Genre{}
	}
	rows, err := s.conn.Query(ctx, `SELECT mg.movie_id, g.id, g.name FROM movie_genres mg
		JOIN genres g ON g.id = mg.genre_id
		WHERE mg.movie_id IN (`+strings.Join(ph, ", ")+`) ORDER BY mg.movie_id, g.name`, a...)
	if err != nil {
		return fmt.Errorf("attach genres: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var movieID int64
		var g movierec.Genre
		if err := rows.Scan(&movieID, &g.ID, &g.Name); err != nil {
			return fmt.Errorf("attach genres: %w", err)
		}
		for _, m := range index[movieID] {
			m.Genres = append(m.Genres, g)
		}
	}
	return rows.Err()
}

// Movie returns one movie with its genres, tags (most used first) and
// rating distribution, or an error wrapping movierec.ErrNotFound.
func (s *Store) Movie(ctx context.Context, id int64) (movierec.Movie, error) {
	var m movierec.Movie
	err := scanMovie(s.conn.QueryRow(ctx, `SELECT `+movieColumns+` FROM movies m WHERE m.id = $1`, id), &m)
	if err == ErrNoRows {
		return m, fmt.Errorf("Movie(%d): %w", id, movierec.ErrNotFound)
	} else if err != nil {
		return m, fmt.Errorf("Movie(%d): %w", id, err)
	}
	one := []movierec.Movie{m}
	if err := s.attachGenres(ctx, one); err != nil {
		return m, fmt.Errorf("Movie(%d): %w", id, err)
	}
	m = one[0]
	if m.Tags, err = s.movieTags(ctx, id); err != nil {
		return m, fmt.Errorf("Movie(%d): %w", id, err)
	}
	if m.RatingDistribution, err = s.ratingDistribution(ctx, id); err != nil {
		return m, fmt.Errorf("Movie(%d): %w", id, err)
	}
	return m, nil
}

func (s *Store) movieTags(ctx context.Context, movieID int64) ([]movierec.TagCount, error) {
	rows, err := s.conn.Query(ctx, `SELECT t.id, t.name, count(*) AS n FROM taggings tg
		JOIN tags t ON t.id = tg.tag_id WHERE tg.movie_id = $1
		GROUP BY t.id, t.name ORDER BY n DESC, t.name`, movieID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := []movierec.TagCount{}
	for rows.Next() {
		var t movierec.TagCount
		if err := rows.Scan(&t.ID, &t.Name, &t.Count); err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, rows.Err()
}

// ratingDistribution counts a movie's ratings per score, with every allowed
// score present (zero when unused).
func (s *Store) ratingDistribution(ctx context.Context, movieID int64) (map[string]int, error) {
	dist := make(map[string]int, len(movierec.RatingScores))
	for _, k := range movierec.RatingScores {
		dist[k] = 0
	}
	rows, err := s.conn.Query(ctx, `SELECT score, count(*) FROM ratings WHERE movie_id = $1 GROUP BY score`, movieID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var score float64
		var n int
		if err := rows.Scan(&score, &n); err != nil {
			return nil, err
		}
		dist[strconv.FormatFloat(score, 'f', 1, 64)] = n
	}
	return dist, rows.Err()
}

// PopularMovies returns the limit movies with the highest popularity score.
func (s *Store) PopularMovies(ctx context.Context, limit int) ([]movierec.Movie, error) {
	page, err := s.ListMovies(ctx, movierec.MovieFilter{Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("PopularMovies: %w", err)
	}
	return page.Items, nil
}

// TrendingMovies returns the movies with the most ratings in the window of
// length period ending at the newest rating in the store (so a historical
// data set still trends). Score is the number of ratings in the window.
func (s *Store) TrendingMovies(ctx context.Context, period time.Duration, limit int) ([]movierec.ScoredMovie, error) {
	var newest nullTime
	if err := s.conn.QueryRow(ctx, `SELECT max(rated_at) FROM ratings`).Scan(&newest); err != nil {
		return nil, fmt.Errorf("TrendingMovies: newest rating: %w", err)
	}
	if !newest.Valid {
		return []movierec.ScoredMovie{}, nil
	}
	since := newest.Time.Add(-period)
	// The materialized window makes both planners read it through the
	// (rated_at, movie_id) index; grouping directly tempts SQLite into
	// walking every rating in movie order.
	return s.scoredMovies(ctx, "TrendingMovies", `WITH win AS MATERIALIZED (SELECT movie_id FROM ratings WHERE rated_at >= $1)
		SELECT `+movieColumns+`, w.n FROM
		(SELECT movie_id, count(*) AS n FROM win GROUP BY movie_id) w
		JOIN movies m ON m.id = w.movie_id
		ORDER BY w.n DESC, m.popularity_score DESC, m.id ASC LIMIT $2`, since, limit)
}

// TopRatedPrior is the prior count m of the Bayesian average used by
// TopRatedMovies when the caller gives none.
const TopRatedPrior = 10

// TopRatedMovies ranks movies with at least minRatings ratings by the
// IMDb-style Bayesian average  WR = (v·R + m·C) / (v + m),  where v is the
// movie's rating count, R its mean, C the mean of all ratings and m the
// prior count: max(minRatings, TopRatedPrior). Score is WR.
func (s *Store) TopRatedMovies(ctx context.Context, minRatings, limit int) ([]movierec.ScoredMovie, error) {
	var globalMean *float64
	// The mean of all ratings, from the movies' exact aggregates: a scan of
	// the catalog instead of every rating.
	if err := s.conn.QueryRow(ctx, `SELECT sum(average_rating * rating_count) / sum(rating_count)
		FROM movies WHERE rating_count > 0`).Scan(&globalMean); err != nil {
		return nil, fmt.Errorf("TopRatedMovies: mean: %w", err)
	}
	if globalMean == nil {
		return []movierec.ScoredMovie{}, nil
	}
	prior := float64(max(minRatings, TopRatedPrior))
	if minRatings < 1 {
		minRatings = 1
	}
	return s.scoredMovies(ctx, "TopRatedMovies", `SELECT `+movieColumns+`, w.wr FROM
		(SELECT id, (rating_count * average_rating + CAST($1 AS DOUBLE PRECISION) * CAST($2 AS DOUBLE PRECISION))
				/ (rating_count + CAST($1 AS DOUBLE PRECISION)) AS wr
			FROM movies WHERE rating_count >= $3) w
		JOIN movies m ON m.id = w.id
		ORDER BY w.wr DESC, m.id ASC LIMIT $4`, prior, *globalMean, minRatings, limit)
}

// scoredMovies runs a query selecting movieColumns and a score.
func (s *Store) scoredMovies(ctx context.Context, op, q string, a ...any) ([]movierec.ScoredMovie, error) {
	rows, err := s.conn.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []movierec.ScoredMovie
	for rows.Next() {
		var sm movierec.ScoredMovie
		if err := scanMovie(rows, &sm.Movie, &sm.Score); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, sm)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rows.Close()
	movies := make([]*movierec.Movie, len(out))
	for i := range out {
		movies[i] = &out[i].Movie
	}
	if err := s.attachGenresTo(ctx, movies); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if out == nil {
		out = []movierec.ScoredMovie{}
	}
	return out, nil
}
