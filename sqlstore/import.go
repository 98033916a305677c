package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// staging tables an import bulk-loads before merging. Their column types
// are valid on both backends. import_ratings' line is the rating's position
// in the stream, which breaks ties between repeats of a (user, movie).
var stagingDDL = []string{
	`CREATE TEMP TABLE import_users (id BIGINT, username TEXT)`,
	`CREATE TEMP TABLE import_movies (id BIGINT, title TEXT, description TEXT, release_year INTEGER,
		release_date DATE, duration INTEGER, imdb_rating DOUBLE PRECISION, poster_url TEXT,
		trailer_url TEXT, imdb_id TEXT, tmdb_id BIGINT)`,
	`CREATE TEMP TABLE import_movie_genres (movie_id BIGINT, name TEXT)`,
	`CREATE TEMP TABLE import_ratings (line BIGINT, user_id BIGINT, movie_id BIGINT, score DOUBLE PRECISION, rated_at TIMESTAMP)`,
	`CREATE TEMP TABLE import_taggings (user_id BIGINT, movie_id BIGINT, name TEXT, tagged_at TIMESTAMP)`,
}

// stagingIndexes are built after loading, for the merge's lookups.
var stagingIndexes = []string{
	`CREATE INDEX import_movies_id ON import_movies (id)`,
	`CREATE INDEX import_movie_genres_movie ON import_movie_genres (movie_id)`,
}

var stagingTables = []string{"import_users", "import_movies", "import_movie_genres", "import_ratings", "import_taggings"}

// mergeSQL moves staged rows into the real tables. Every statement is an
// upsert that leaves identical rows untouched, so a repeated import changes
// nothing. $1 is the import's timestamp. The ratings are merged apart (see
// mergeRatingsSQL).
var mergeSQL = []struct{ stage, sql string }{
	{"users", `INSERT INTO users (id, username, date_joined)
		SELECT id, username, $1 FROM import_users WHERE true
		ON CONFLICT (id) DO NOTHING`},
	{"genres", `INSERT INTO genres (name, created_at, updated_at)
		SELECT min(s.name), $1, $1 FROM import_movie_genres s
		WHERE NOT EXISTS (SELECT 1 FROM genres g WHERE lower(g.name) = lower(s.name))
		GROUP BY lower(s.name)`},
	{"tags", `INSERT INTO tags (name, created_at, updated_at)
		SELECT min(s.name), $1, $1 FROM import_taggings s
		WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE lower(t.name) = lower(s.name))
		GROUP BY lower(s.name)`},
	{"movies", `INSERT INTO movies (id, title, description, release_year, release_date, duration,
			imdb_rating, poster_url, trailer_url, imdb_id, tmdb_id, created_at, updated_at)
		SELECT id, title, description, release_year, release_date, duration,
			imdb_rating, poster_url, trailer_url, imdb_id, tmdb_id, $1, $1 FROM import_movies WHERE true
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
			release_year = excluded.release_year, release_date = excluded.release_date,
			duration = excluded.duration, imdb_rating = excluded.imdb_rating,
			poster_url = excluded.poster_url, trailer_url = excluded.trailer_url,
			imdb_id = excluded.imdb_id, tmdb_id = excluded.tmdb_id, updated_at = excluded.updated_at
		WHERE movies.title IS DISTINCT FROM excluded.title
			OR movies.description IS DISTINCT FROM excluded.description
			OR movies.release_year IS DISTINCT FROM excluded.release_year
			OR movies.release_date IS DISTINCT FROM excluded.release_date
			OR movies.duration IS DISTINCT FROM excluded.duration
			OR movies.imdb_rating IS DISTINCT FROM excluded.imdb_rating
			OR movies.poster_url IS DISTINCT FROM excluded.poster_url
			OR movies.trailer_url IS DISTINCT FROM excluded.trailer_url
			OR movies.imdb_id IS DISTINCT FROM excluded.imdb_id
			OR movies.tmdb_id IS DISTINCT FROM excluded.tmdb_id`},
	{"movie genres", `DELETE FROM movie_genres
		WHERE movie_id IN (SELECT id FROM import_movies)
		AND NOT EXISTS (SELECT 1 FROM import_movie_genres s JOIN genres g ON lower(g.name) = lower(s.name)
			WHERE s.movie_id = movie_genres.movie_id AND g.id = movie_genres.genre_id)`},
	{"movie genres", `INSERT INTO movie_genres (movie_id, genre_id)
		SELECT DISTINCT s.movie_id, g.id FROM import_movie_genres s JOIN genres g ON lower(g.name) = lower(s.name)
		WHERE true
		ON CONFLICT DO NOTHING`},
	// A tag applied more than once (in any letter case) counts once, at
	// its earliest time.
	{"taggings", `INSERT INTO taggings (user_id, movie_id, tag_id, tagged_at)
		SELECT s.user_id, s.movie_id, t.id, min(s.tagged_at) FROM import_taggings s
		JOIN tags t ON lower(t.name) = lower(s.name) WHERE true
		GROUP BY s.user_id, s.movie_id, t.id
		ON CONFLICT DO NOTHING`},
}

// mergeRatingsSQL upserts the staged ratings, changing only those that
// differ. The staged ratings hold one row per (user, movie) by then.
const mergeRatingsSQL = `INSERT INTO ratings (user_id, movie_id, score, review, rated_at, updated_at)
	SELECT user_id, movie_id, score, '', rated_at, rated_at FROM import_ratings WHERE true
	ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score,
		rated_at = excluded.rated_at, updated_at = excluded.updated_at
	WHERE ratings.score IS DISTINCT FROM excluded.score OR ratings.rated_at IS DISTINCT FROM excluded.rated_at`

// resolveRepeats is the ON CONFLICT clause of a bulk load into an empty
// ratings table on backends that take one (Dialect.CopyConflicts): a
// repeat of a (user, movie) replaces the row before it unless that one was
// rated later (so of two rated at the same time the later row wins).
const resolveRepeats = `ON CONFLICT (user_id, movie_id) DO UPDATE SET score = excluded.score,
	rated_at = excluded.rated_at, updated_at = excluded.updated_at
	WHERE excluded.rated_at >= ratings.rated_at`

// dedupeSQL deletes from a ratings table T every repeat of a (user, movie)
// but the one rated last (of those, the one with the largest O: the
// latest in the stream).
func dedupeSQL(table, order string) string {
	return `DELETE FROM ` + table + ` WHERE EXISTS (SELECT 1 FROM ` + table + ` w
		WHERE w.user_id = ` + table + `.user_id AND w.movie_id = ` + table + `.movie_id
		AND (w.rated_at > ` + table + `.rated_at OR (w.rated_at = ` + table + `.rated_at AND w.` + order + ` > ` + table + `.` + order + `)))`
}

// ImportResult counts what an import read.
type ImportResult struct {
	Movies, Users, Ratings, Tags int
	Elapsed                      time.Duration
}

// ImportOption tunes ImportStream.
type ImportOption int

// Exclusive tells ImportStream that nothing else is expected to use the
// database during the import (the import command), so that a first import
// may use a cheaper journal (see ImportStream).
const Exclusive ImportOption = 1

// Import loads ds like ImportStream.
func (s *Store) Import(ctx context.Context, ds *movierec.Dataset, progress movierec.Progress) (ImportResult, error) {
	return s.ImportStream(ctx, ds.Stream(), progress)
}

// ImportStream loads ds in one transaction: movies, genres, links, users,
// ratings and tag applications are upserted by their IDs, so importing the
// same data twice changes nothing, and a failure (ds's included) leaves
// the database as it was. Ratings and tags stream through; what the import
// holds is the movies and the set of user IDs.
//
// Into an empty ratings or taggings table the rows load in bulk (see
// bulk): on PostgreSQL the ratings then go straight into the table with
// COPY. Otherwise the ratings are staged and merged.
//
// Before commit, the popularity epoch moves to the newest rating, every
// movie's aggregates (rating_count, rating_total, average_rating,
// popularity_score) are recomputed from scratch, and a ChangeAll is
// recorded. progress gets the stages as they go, with rows done and the
// expected total where known.
//
// With Exclusive, a first import (into an empty ratings table) on SQLite
// journals its transaction in a rollback journal instead of the
// write-ahead log when no other connection has the database open: on
// 5M ratings 30 s instead of 50 (the log would hold every page of the
// load and of its indexes, and be copied into the database again at the
// checkpoint). A killed import still leaves the database as it was (the
// journal is rolled back at the next open). Meanwhile other processes
// cannot open the database: they wait for it (busy_timeout, 10 s), then
// fail. Where another process has it open, the import runs in WAL mode.
func (s *Store) ImportStream(ctx context.Context, ds *movierec.DatasetStream, progress movierec.Progress, opts ...ImportOption) (ImportResult, error) {
	ctx = LongWork(ctx) // bulk: see Deadlines
	start := time.Now()
	if progress == nil {
		progress = func(string, int, int) {}
	}
	if bj, ok := s.raw.(BulkJournalConn); ok && slices.Contains(opts, Exclusive) {
		var rated bool
		if err := s.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ratings)`).Scan(&rated); err != nil {
			return ImportResult{}, fmt.Errorf("import: %w", err)
		}
		if !rated {
			if restore, ok := bj.BulkJournal(ctx); ok {
				defer restore(context.WithoutCancel(ctx))
			}
		}
	}
	var res ImportResult
	var err error
	for _, q := range s.dialect.ImportSetup {
		if _, err = s.conn.Exec(ctx, q); err != nil {
			break
		}
	}
	if err == nil {
		err = s.conn.InTx(ctx, func(tx DB) error {
			im := &importer{s: s, tx: tx, ds: ds, progress: progress, now: s.timestamp(), users: map[int64]bool{}}
			err := im.run(ctx)
			res = im.res
			return err
		})
	}
	for _, q := range s.dialect.ImportCleanup {
		// Even when the import was cancelled: the connection lives on.
		if _, cerr := s.conn.Exec(context.WithoutCancel(ctx), q); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	// Fresh statistics, so the planners pick the right indexes at once
	// instead of after autovacuum (PostgreSQL) or never (SQLite).
	progress("analyze", 0, 1)
	analyze := s.dialect.Analyze
	if analyze == "" {
		analyze = `ANALYZE`
	}
	if _, err := s.conn.Exec(ctx, analyze); err != nil {
		return ImportResult{}, fmt.Errorf("import: analyze: %w", err)
	}
	progress("analyze", 1, 1)
	res.Elapsed = time.Since(start)
	return res, nil
}

// importer is one import's transaction.
type importer struct {
	s        *Store
	tx       DB
	ds       *movierec.DatasetStream
	progress movierec.Progress
	now      time.Time
	res      ImportResult
	users    map[int64]bool // user IDs that ratings and tags name
	// tagMovies are the movie IDs that tags name (aggs has those of
	// the ratings).
	tagMovies map[int64]bool
	// sorted: the ratings came in ascending (user, movie) order without
	// repeats, so none needs removing.
	sorted bool
	// aggs are the movies' aggregates summed as the ratings stream in
	// (used when the ratings table was empty and sorted holds), with
	// popularity weights relative to the first rating's time, aggRef.
	aggs           map[int64]*movieAgg
	aggRef, newest time.Time
}

// movieAgg is one movie's rating count, score total and popularity sum.
type movieAgg struct {
	n          int64
	total, pop float64
}

// progressEvery is how many streamed rows pass between progress reports.
const progressEvery = 100_000

func (im *importer) exec(ctx context.Context, what string, q string, args ...any) error {
	if _, err := im.tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (im *importer) run(ctx context.Context) error {
	d := im.s.dialect
	for _, q := range d.BeforeImport {
		if err := im.exec(ctx, "before import", q); err != nil {
			return err
		}
	}
	for _, t := range stagingTables {
		if err := im.exec(ctx, "staging", `DROP TABLE IF EXISTS `+t); err != nil {
			return err
		}
	}
	for _, ddl := range stagingDDL {
		if err := im.exec(ctx, "staging", ddl); err != nil {
			return err
		}
	}
	if err := im.stageMovies(ctx); err != nil {
		return err
	}
	ratings, err := im.prepareBulk(ctx, "ratings")
	if err != nil {
		return err
	}
	taggings, err := im.prepareBulk(ctx, "taggings")
	if err != nil {
		return err
	}
	// Into an empty table the ratings go straight in; repeats are
	// resolved as they load (SQLite) or deleted afterwards (PostgreSQL's
	// COPY cannot resolve them).
	fresh := ratings.fresh
	if err := im.loadRatings(ctx, fresh); err != nil {
		return err
	}
	if err := im.loadTags(ctx); err != nil {
		return err
	}
	if err := im.checkMovies(ctx); err != nil {
		return err
	}
	if err := im.stageUsers(ctx); err != nil {
		return err
	}
	for _, q := range stagingIndexes {
		if err := im.exec(ctx, "staging", q); err != nil {
			return err
		}
	}
	for i, m := range mergeSQL {
		im.progress("merge: "+m.stage, i, len(mergeSQL)+1)
		var a []any
		if strings.Contains(m.sql, "$1") {
			a = append(a, im.now)
		}
		if err := im.exec(ctx, "merge "+m.stage, m.sql, a...); err != nil {
			return err
		}
	}
	im.progress("merge: ratings", len(mergeSQL), len(mergeSQL)+1)
	switch {
	case fresh && !im.sorted && !d.CopyConflicts:
		err = im.exec(ctx, "merge ratings", dedupeSQL("ratings", "id"))
	case fresh:
	default:
		if !im.sorted {
			if err := im.exec(ctx, "merge ratings", `CREATE INDEX import_ratings_key ON import_ratings (user_id, movie_id)`); err != nil {
				return err
			}
			if err := im.exec(ctx, "merge ratings", dedupeSQL("import_ratings", "line")); err != nil {
				return err
			}
		}
		err = im.exec(ctx, "merge ratings", mergeRatingsSQL)
	}
	if err != nil {
		return err
	}
	// Aggregates before the indexes come back: one scan of the ratings
	// in table order, not index order with a lookup per rating.
	im.progress("aggregates", 0, 1)
	if fresh && im.sorted {
		err = im.storeAggregates(ctx)
	} else {
		err = im.s.recomputeAggregates(ctx, im.tx)
	}
	if err != nil {
		return err
	}
	im.progress("aggregates", 1, 1)
	for _, b := range []*bulk{ratings, taggings} {
		if err := im.finishBulk(ctx, b); err != nil {
			return err
		}
	}
	for _, q := range d.AfterImport {
		if err := im.exec(ctx, "after import", q); err != nil {
			return err
		}
	}
	for _, t := range stagingTables {
		if err := im.exec(ctx, "staging", `DROP TABLE `+t); err != nil {
			return err
		}
	}
	return im.s.recordChange(ctx, im.tx, movierec.ChangeAll, 0)
}

// bulk is a table that was empty when the import began, so that the
// import loads it in bulk: without its secondary indexes, and on
// PostgreSQL without its primary key, unique and foreign-key constraints,
// which it builds again at the end (an index built from sorted rows at
// once costs a fraction of keeping it up to date row by row).
type bulk struct {
	table   string
	fresh   bool
	rebuild []ddl // in order: keys, indexes, foreign keys
}

// ddl is a schema object the bulk load drops and creates again.
type ddl struct{ name, create string }

// prepareBulk checks whether table is empty and, when it is, locks it
// against every other reader and writer (so it stays empty until the
// import has loaded it) and drops its indexes and constraints.
func (im *importer) prepareBulk(ctx context.Context, table string) (*bulk, error) {
	d := im.s.dialect
	b := &bulk{table: table}
	q := `SELECT NOT EXISTS (SELECT 1 FROM ` + table + `)`
	if err := im.tx.QueryRow(ctx, q).Scan(&b.fresh); err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	if !b.fresh || d.TableIndexes == "" {
		b.fresh = false
		return b, nil
	}
	if d.LockTable != "" {
		if err := im.exec(ctx, table, fmt.Sprintf(d.LockTable, table)); err != nil {
			return nil, err
		}
		if err := im.tx.QueryRow(ctx, q).Scan(&b.fresh); err != nil || !b.fresh {
			return b, err
		}
	}
	indexes, err := im.ddls(ctx, d.TableIndexes, table)
	if err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		if err := im.exec(ctx, "drop index", `DROP INDEX `+ix.name); err != nil {
			return nil, err
		}
	}
	var cons []ddl
	if d.TableConstraints != "" {
		if cons, err = im.ddls(ctx, d.TableConstraints, table); err != nil {
			return nil, err
		}
		for _, c := range cons {
			if err := im.exec(ctx, "drop constraint", `ALTER TABLE `+table+` DROP CONSTRAINT `+c.name); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range cons {
		if !strings.Contains(c.create, "FOREIGN KEY") {
			b.rebuild = append(b.rebuild, c)
		}
	}
	b.rebuild = append(b.rebuild, indexes...)
	for _, c := range cons {
		if strings.Contains(c.create, "FOREIGN KEY") {
			b.rebuild = append(b.rebuild, c)
		}
	}
	return b, nil
}

// finishBulk builds again what prepareBulk dropped.
func (im *importer) finishBulk(ctx context.Context, b *bulk) error {
	stage := "index " + b.table
	for i, c := range b.rebuild {
		im.progress(stage, i, len(b.rebuild))
		if err := im.exec(ctx, stage, c.create); err != nil {
			return err
		}
	}
	if len(b.rebuild) > 0 {
		im.progress(stage, len(b.rebuild), len(b.rebuild))
	}
	return nil
}

// ddls runs a query of (name, create statement) rows.
func (im *importer) ddls(ctx context.Context, q, table string) ([]ddl, error) {
	rows, err := im.tx.Query(ctx, q, table)
	if err != nil {
		return nil, fmt.Errorf("%s indexes: %w", table, err)
	}
	defer rows.Close()
	var out []ddl
	for rows.Next() {
		var x ddl
		if err := rows.Scan(&x.name, &x.create); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// stageMovies loads the movies and their genres into the staging tables.
func (im *importer) stageMovies(ctx context.Context) error {
	movies := im.ds.Movies
	var genres [][2]any
	for _, m := range movies {
		for _, g := range m.Genres {
			genres = append(genres, [2]any{m.ID, strings.TrimSpace(g.Name)})
		}
	}
	im.progress("load movies", 0, len(movies))
	_, err := im.tx.CopyIn(ctx, CopyInto{Table: "import_movies", Columns: []string{"id", "title", "description", "release_year", "release_date", "duration",
		"imdb_rating", "poster_url", "trailer_url", "imdb_id", "tmdb_id"}}, CopySlice(len(movies), func(i int) []any {
		m := movies[i]
		var date any
		if m.ReleaseDate != nil {
			date = m.ReleaseDate.UTC().Truncate(24 * time.Hour)
		}
		return []any{m.ID, m.Title, m.Description, m.ReleaseYear, date, m.Duration,
			m.IMDbRating, m.PosterURL, m.TrailerURL, m.IMDbID, m.TMDbID}
	}))
	if err != nil {
		return fmt.Errorf("load movies: %w", err)
	}
	_, err = im.tx.CopyIn(ctx, CopyInto{Table: "import_movie_genres", Columns: []string{"movie_id", "name"}}, CopySlice(len(genres), func(i int) []any {
		return genres[i][:]
	}))
	if err != nil {
		return fmt.Errorf("load movies: %w", err)
	}
	im.progress("load movies", len(movies), len(movies))
	im.res.Movies = len(movies)
	return nil
}

// loadRatings streams the ratings into the ratings table (direct) or the
// staging table.
func (im *importer) loadRatings(ctx context.Context, direct bool) error {
	table, columns := "import_ratings", []string{"line", "user_id", "movie_id", "score", "rated_at"}
	if direct {
		table, columns = "ratings", []string{"user_id", "movie_id", "score", "rated_at", "updated_at"}
	}
	im.sorted = true
	im.aggs = map[int64]*movieAgg{}
	var prevUser, prevMovie int64
	n, hint := 0, im.ds.RatingsHint
	vals := make([]any, len(columns))
	rows := pullRows(im.ds.Ratings, func(r movierec.DatasetRating) []any {
		if r.UserID < prevUser || (r.UserID == prevUser && r.MovieID <= prevMovie) {
			im.sorted = false
		}
		prevUser, prevMovie = r.UserID, r.MovieID
		im.users[r.UserID] = true
		n++
		if n%progressEvery == 0 {
			im.progress("load ratings", n, max(hint, n))
		}
		at := r.RatedAt.UTC().Truncate(time.Microsecond)
		if n == 1 {
			im.aggRef = at
		}
		if at.After(im.newest) {
			im.newest = at
		}
		a := im.aggs[r.MovieID]
		if a == nil {
			a = &movieAgg{}
			im.aggs[r.MovieID] = a
		}
		a.n++
		a.total += r.Score
		a.pop += r.Score / 5 * popularityWeight(at, im.aggRef)
		if direct {
			vals[0], vals[1], vals[2], vals[3], vals[4] = r.UserID, r.MovieID, r.Score, at, at
		} else {
			vals[0], vals[1], vals[2], vals[3], vals[4] = int64(n), r.UserID, r.MovieID, r.Score, at
		}
		return vals
	})
	into := CopyInto{Table: table, Columns: columns}
	if direct && im.s.dialect.CopyConflicts {
		into.OnConflict = resolveRepeats
	}
	if err := copyStream(ctx, im, "load ratings", hint, into, rows); err != nil {
		return err
	}
	im.progress("load ratings", n, n)
	im.res.Ratings = n
	return nil
}

// loadTags streams the tag applications into the staging table.
func (im *importer) loadTags(ctx context.Context) error {
	im.tagMovies = map[int64]bool{}
	n := 0
	vals := make([]any, 4)
	rows := pullRows(im.ds.Tags, func(t movierec.DatasetTag) []any {
		im.users[t.UserID] = true
		im.tagMovies[t.MovieID] = true
		n++
		if n%progressEvery == 0 {
			im.progress("load tags", n, 0)
		}
		vals[0], vals[1], vals[2], vals[3] = t.UserID, t.MovieID, strings.TrimSpace(t.Tag), t.TaggedAt.UTC().Truncate(time.Microsecond)
		return vals
	})
	into := CopyInto{Table: "import_taggings", Columns: []string{"user_id", "movie_id", "name", "tagged_at"}}
	if err := copyStream(ctx, im, "load tags", 0, into, rows); err != nil {
		return err
	}
	im.progress("load tags", n, n)
	im.res.Tags = n
	return nil
}

// copyStream bulk-loads rows into into, reporting stage. A failure of
// the stream itself (bad input, say) comes back as it is.
func copyStream[T any](ctx context.Context, im *importer, stage string, total int, into CopyInto, rows *streamRows[T]) error {
	defer rows.stop()
	im.progress(stage, 0, total)
	if _, err := im.tx.CopyIn(ctx, into, rows); err != nil {
		rows.stop() // the stream has ended: rows.err is settled
		if rows.err != nil {
			return rows.err
		}
		return fmt.Errorf("%s: %w", stage, err)
	}
	return nil
}

// checkMovies fails with EINVALID unless every movie that a rating or tag
// names is in the data set or the database. (The users need no check:
// every user named gets an account.) With this check SQLite can load
// without its per-row foreign-key lookups.
func (im *importer) checkMovies(ctx context.Context) error {
	known := make(map[int64]bool, len(im.ds.Movies))
	for _, m := range im.ds.Movies {
		known[m.ID] = true
	}
	rows, err := im.tx.Query(ctx, `SELECT id FROM movies`)
	if err != nil {
		return fmt.Errorf("movies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("movies: %w", err)
		}
		known[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("movies: %w", err)
	}
	for _, set := range []struct {
		what string
		ids  iter.Seq[int64]
	}{{"a rating", maps.Keys(im.aggs)}, {"a tag", maps.Keys(im.tagMovies)}} {
		var missing []int64
		for id := range set.ids {
			if !known[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return movierec.Errorf(movierec.EINVALID, "%s names movie %d, which is neither in the data set nor in the database (%d such movies)",
				set.what, missing[0], len(missing))
		}
	}
	return nil
}

// stageUsers stages the listed users and an account for every other user
// that the ratings and tags named, in ID order.
func (im *importer) stageUsers(ctx context.Context) error {
	users := slices.Clone(im.ds.Users)
	for _, u := range users {
		delete(im.users, u.ID)
	}
	for id := range im.users {
		users = append(users, movierec.DatasetUser{ID: id, Username: im.ds.UserName(id)})
	}
	slices.SortFunc(users, func(a, b movierec.DatasetUser) int { return cmp.Compare(a.ID, b.ID) })
	im.progress("load users", 0, len(users))
	_, err := im.tx.CopyIn(ctx, CopyInto{Table: "import_users", Columns: []string{"id", "username"}}, CopySlice(len(users), func(i int) []any {
		return []any{users[i].ID, users[i].Username}
	}))
	if err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	im.progress("load users", len(users), len(users))
	im.res.Users = len(users)
	return nil
}

// storeAggregates sets the movies' aggregates from those summed while the
// ratings streamed in, as recomputeAggregates would from the table: the
// popularity epoch moves to the newest rating and each popularity sum,
// made relative to the first rating, is scaled to it.
func (im *importer) storeAggregates(ctx context.Context) error {
	epoch := im.newest
	if epoch.IsZero() {
		epoch = im.s.timestamp()
	}
	if err := setPopularityEpoch(ctx, im.tx, epoch); err != nil {
		return fmt.Errorf("aggregates: %w", err)
	}
	if err := im.exec(ctx, "aggregates", `CREATE TEMP TABLE import_aggregates
		(movie_id BIGINT, n BIGINT, total DOUBLE PRECISION, pop DOUBLE PRECISION)`); err != nil {
		return err
	}
	scale := popularityWeight(im.aggRef, epoch)
	ids := slices.Sorted(maps.Keys(im.aggs))
	_, err := im.tx.CopyIn(ctx, CopyInto{Table: "import_aggregates", Columns: []string{"movie_id", "n", "total", "pop"}}, CopySlice(len(ids), func(i int) []any {
		a := im.aggs[ids[i]]
		return []any{ids[i], a.n, a.total, a.pop * scale}
	}))
	if err != nil {
		return fmt.Errorf("aggregates: %w", err)
	}
	for _, q := range []string{
		`UPDATE movies SET (rating_count, rating_total, average_rating, popularity_score) = (0, 0, 0, 0)
			WHERE rating_count <> 0 OR rating_total <> 0 OR average_rating <> 0 OR popularity_score <> 0`,
		`UPDATE movies SET (rating_count, rating_total, average_rating, popularity_score) = (a.n, a.total, a.total / a.n, a.pop)
			FROM import_aggregates a WHERE a.movie_id = movies.id`,
		`DROP TABLE import_aggregates`,
	} {
		if err := im.exec(ctx, "aggregates", q); err != nil {
			return err
		}
	}
	return nil
}

// streamRows adapts a pushing stream (movierec.DatasetStream's Ratings or
// Tags) to the pulling CopyRows. The stream runs in a goroutine of its own
// and hands over batches of rows, so that reading and parsing the source
// (CSV, say) runs on one core while the database load runs on another.
type streamRows[T any] struct {
	batches chan []T
	free    chan []T
	quit    chan struct{}
	values  func(T) []any
	cur     []T
	i       int
	err     error // the stream's own error, set before batches closes
	closed  bool
}

// streamBatch is how many rows a batch of streamRows carries.
const streamBatch = 4096

func pullRows[T any](stream func(yield func(T) error) error, values func(T) []any) *streamRows[T] {
	r := &streamRows[T]{batches: make(chan []T, 4), free: make(chan []T, 6), quit: make(chan struct{}), values: values}
	go func() {
		defer close(r.batches)
		batch := make([]T, 0, streamBatch)
		send := func() error {
			select {
			case r.batches <- batch:
			case <-r.quit:
				return errStopStream
			}
			select {
			case batch = <-r.free:
				batch = batch[:0]
			default:
				batch = make([]T, 0, streamBatch)
			}
			return nil
		}
		err := stream(func(x T) error {
			batch = append(batch, x)
			if len(batch) == streamBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		if err != nil && !errors.Is(err, errStopStream) {
			r.err = err
		}
	}()
	return r
}

var errStopStream = errors.New("sqlstore: stream stopped")

// stop ends the stream early (when the load failed) and waits for its
// goroutine.
func (r *streamRows[T]) stop() {
	if !r.closed {
		close(r.quit)
		for range r.batches {
		}
		r.closed = true
	}
}

func (r *streamRows[T]) Next() bool {
	r.i++
	if r.i < len(r.cur) {
		return true
	}
	if r.cur != nil {
		select {
		case r.free <- r.cur:
		default:
		}
	}
	var ok bool
	if r.cur, ok = <-r.batches; !ok {
		r.cur = nil
		return false
	}
	r.i = 0
	return true
}
func (r *streamRows[T]) Values() ([]any, error) { return r.values(r.cur[r.i]), nil }
func (r *streamRows[T]) Err() error             { return r.err }

// recomputeAggregates moves the popularity epoch E to the newest rating
// in the store (the current time when there are none) and sets every
// movie's rating_count, rating_total, average_rating (rating_total /
// rating_count, 0 without ratings) and popularity_score from its ratings,
// in one statement. The popularity score is
//
//	Σ over the movie's ratings of (score / 5) · 2^((rated_at − E) / 365 days)
//
// (see PopularityHalfLifeDays), unrounded, summed in whatever order the
// database's plan reads the ratings (a grouped scan, in parallel on
// PostgreSQL; sorting 25M ratings by ID for the sake of the last bits of a
// sum took five times as long), so two imports of the same data may differ
// in the last bits of a score.
func (s *Store) recomputeAggregates(ctx context.Context, tx DB) error {
	epoch, err := newestRating(ctx, tx)
	if err != nil {
		return fmt.Errorf("recompute aggregates: %w", err)
	}
	if epoch.IsZero() {
		epoch = s.timestamp()
	}
	epoch = epoch.UTC().Truncate(time.Microsecond)
	if err := setPopularityEpoch(ctx, tx, epoch); err != nil {
		return fmt.Errorf("recompute aggregates: %w", err)
	}
	// Every movie to zero, then those with ratings from one grouped scan
	// (one pass over the ratings, where a subquery per movie would read
	// each movie's ratings through an index).
	if _, err := tx.Exec(ctx, `UPDATE movies SET (rating_count, rating_total, average_rating, popularity_score) = (0, 0, 0, 0)
		WHERE rating_count <> 0 OR rating_total <> 0 OR average_rating <> 0 OR popularity_score <> 0`); err != nil {
		return fmt.Errorf("recompute aggregates: %w", err)
	}
	q := `UPDATE movies SET (rating_count, rating_total, average_rating, popularity_score) = (a.n, a.total, a.total / a.n, a.pop)
		FROM (SELECT r.movie_id, count(*) AS n, sum(r.score) AS total,
			sum(r.score / 5.0 * power(2.0, (` + s.dialect.Epoch(`r.rated_at`) + ` - $1) / $2)) AS pop
			FROM ratings r GROUP BY r.movie_id) a
		WHERE a.movie_id = movies.id`
	if _, err := tx.Exec(ctx, q, epochSeconds(epoch), float64(popularityHalfLife)); err != nil {
		return fmt.Errorf("recompute aggregates: %w", err)
	}
	return nil
}
