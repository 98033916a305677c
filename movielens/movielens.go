// Package movielens reads the CSV layout of the MovieLens data sets
// (movies.csv, ratings.csv, tags.csv and links.csv, as in ml-latest-small)
// into a movierec.Dataset.
//
// Malformed input is reported as a *movierec.Error with code
// movierec.EINVALID whose message names the file and the 1-based line (the
// header is line 1). Failures to read a file are returned as other errors.
package movielens

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// MoviesFile, RatingsFile, TagsFile and LinksFile are the names of the files
// Read looks for in its directory.
const (
	MoviesFile  = "movies.csv"
	RatingsFile = "ratings.csv"
	TagsFile    = "tags.csv"
	LinksFile   = "links.csv"
)

// NoGenres is the genres value MovieLens uses for a movie without genres.
const NoGenres = "(no genres listed)"

// progressEvery is how many rows are read between progress reports.
const progressEvery = 10000

// ctxEvery is how many rows are read between checks of the context.
const ctxEvery = 1024

var (
	moviesHeader  = []string{"movieId", "title", "genres"}
	ratingsHeader = []string{"userId", "movieId", "rating", "timestamp"}
	tagsHeader    = []string{"userId", "movieId", "tag", "timestamp"}
	linksHeader   = []string{"movieId", "imdbId", "tmdbId"}
)

// Read parses DIR/movies.csv, ratings.csv, tags.csv and links.csv into a
// dataset. movies.csv and ratings.csv are required; tags.csv and links.csv
// are skipped when absent. progress, if non-nil, is called with the stages
// "movies", "ratings", "tags" and "links" every 10,000 rows and at the end
// of each file (total is 0 while unknown). On any error Read returns a nil
// dataset; malformed input gives a *movierec.Error with code
// movierec.EINVALID naming the file and line.
func Read(ctx context.Context, dir string, progress movierec.Progress) (*movierec.Dataset, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	b := &builder{
		movieIndex: make(map[int64]int),
		genreNames: make(map[string]string),
	}
	steps := []struct {
		file     string
		stage    string
		header   []string
		required bool
		row      func(line int, rec []string) error
	}{
		{MoviesFile, "movies", moviesHeader, true, b.movieRow},
		{RatingsFile, "ratings", ratingsHeader, true, b.ratingRow},
		{TagsFile, "tags", tagsHeader, false, b.tagRow},
		{LinksFile, "links", linksHeader, false, b.linkRow},
	}
	for _, s := range steps {
		if s.file == RatingsFile {
			b.ratingIndex = make(map[ratingKey]int)
		}
		if s.file == TagsFile {
			b.tagIndex = make(map[tagKey]int)
			b.tagNames = make(map[string]string)
		}
		if s.file == LinksFile {
			b.linked = make(map[int64]int)
		}
		err := readFile(ctx, filepath.Join(dir, s.file), s.file, s.stage, s.header, s.required, progress, s.row)
		if err != nil {
			return nil, err
		}
	}
	return b.dataset(), nil
}

// readFile reads one CSV file, checks its header and hands every further
// record to row with its 1-based line number.
func readFile(ctx context.Context, path, name, stage string, header []string, required bool,
	progress movierec.Progress, row func(line int, rec []string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if !required {
				return nil
			}
			return movierec.Errorf(movierec.EINVALID, "%s: file not found in %s", name, filepath.Dir(path))
		}
		return fmt.Errorf("movielens: %w", err)
	}
	defer f.Close()

	br := bufio.NewReaderSize(f, 64<<10)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1 // field counts are checked below, with a clearer message
	r.ReuseRecord = true

	rec, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return movierec.Errorf(movierec.EINVALID, "%s line 1: file is empty; want header %q", name, strings.Join(header, ","))
		}
		return readError(name, err)
	}
	if !headerMatches(rec, header) {
		return movierec.Errorf(movierec.EINVALID, "%s line 1: header is %q; want %q",
			name, strings.Join(rec, ","), strings.Join(header, ","))
	}

	n := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return readError(name, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			return movierec.Errorf(movierec.EINVALID, "%s line %d: %d fields; want %d (%s)",
				name, line, len(rec), len(header), strings.Join(header, ","))
		}
		if err := row(line, rec); err != nil {
			var re rowError
			if !errors.As(err, &re) {
				return err // the consumer's own error, when streaming
			}
			return movierec.Errorf(movierec.EINVALID, "%s line %d: %v", name, line, err)
		}
		n++
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if n%progressEvery == 0 && progress != nil {
			progress(stage, n, 0)
		}
	}
	if progress != nil {
		progress(stage, n, n)
	}
	return nil
}

// readError converts an error of the CSV reader: syntax errors are bad
// input, anything else an I/O failure.
func readError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return movierec.Errorf(movierec.EINVALID, "%s line %d: %v", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("movielens: reading %s: %w", name, err)
}

// headerMatches reports whether rec names the columns of want, in order
// (surrounding spaces ignored).
func headerMatches(rec, want []string) bool {
	if len(rec) != len(want) {
		return false
	}
	for i := range rec {
		if strings.TrimSpace(rec[i]) != want[i] {
			return false
		}
	}
	return true
}

type ratingKey struct{ user, movie int64 }

type tagKey struct {
	user, movie int64
	tag         string // lower case
}

// builder accumulates the dataset while the files are read.
type builder struct {
	movies     []movierec.Movie
	movieIndex map[int64]int     // movie ID → index in movies
	genreNames map[string]string // lower-case genre → first spelling

	ratings     []movierec.DatasetRating
	ratingIndex map[ratingKey]int

	tags     []movierec.DatasetTag
	tagIndex map[tagKey]int
	tagNames map[string]string // lower-case tag → first spelling

	linked map[int64]int // movie ID → line of its link
}

// rowError is a problem with one row; readFile adds the file and line.
type rowError string

func (e rowError) Error() string { return string(e) }

func rowErrorf(format string, args ...any) error {
	return rowError(fmt.Sprintf(format, args...))
}

// parseID parses a positive integer ID column.
func parseID(column, s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, rowErrorf("%s %q is not a positive integer", column, s)
	}
	return id, nil
}

// parseTimestamp parses a column of non-negative unix seconds.
func parseTimestamp(s string) (time.Time, error) {
	ts, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || ts < 0 {
		return time.Time{}, rowErrorf("timestamp %q is not a non-negative integer (unix seconds)", s)
	}
	return time.Unix(ts, 0).UTC(), nil
}

// knownMovie parses a movieId column that must name a movie of movies.csv.
func (b *builder) knownMovie(s string) (int64, error) {
	id, err := parseID("movieId", s)
	if err != nil {
		return 0, err
	}
	if _, ok := b.movieIndex[id]; !ok {
		return 0, rowErrorf("movieId %d is not in %s", id, MoviesFile)
	}
	return id, nil
}

func (b *builder) movieRow(line int, rec []string) error {
	id, err := parseID("movieId", rec[0])
	if err != nil {
		return err
	}
	if _, dup := b.movieIndex[id]; dup {
		return rowErrorf("duplicate movieId %d", id)
	}
	title, year := ParseTitle(rec[1])
	if title == "" {
		return rowErrorf("title is empty")
	}
	var genres []movierec.Genre
	for _, g := range ParseGenres(rec[2]) {
		key := strings.ToLower(g)
		if first, ok := b.genreNames[key]; ok {
			g = first
		} else {
			b.genreNames[key] = g
		}
		if !slices.ContainsFunc(genres, func(x movierec.Genre) bool { return x.Name == g }) {
			genres = append(genres, movierec.Genre{Name: g})
		}
	}
	slices.SortFunc(genres, func(a, b movierec.Genre) int { return strings.Compare(a.Name, b.Name) })
	b.movieIndex[id] = len(b.movies)
	b.movies = append(b.movies, movierec.Movie{
		ID:          id,
		Title:       title,
		ReleaseYear: year,
		Genres:      genres,
	})
	return nil
}

// parseRating parses a row of ratings.csv.
func (b *builder) parseRating(rec []string) (movierec.DatasetRating, error) {
	user, err := parseID("userId", rec[0])
	if err != nil {
		return movierec.DatasetRating{}, err
	}
	movie, err := b.knownMovie(rec[1])
	if err != nil {
		return movierec.DatasetRating{}, err
	}
	score, err := ParseScore(rec[2])
	if err != nil {
		return movierec.DatasetRating{}, err
	}
	at, err := parseTimestamp(rec[3])
	if err != nil {
		return movierec.DatasetRating{}, err
	}
	return movierec.DatasetRating{UserID: user, MovieID: movie, Score: score, RatedAt: at}, nil
}

func (b *builder) ratingRow(line int, rec []string) error {
	r, err := b.parseRating(rec)
	if err != nil {
		return err
	}
	at := r.RatedAt
	k := ratingKey{r.UserID, r.MovieID}
	if i, dup := b.ratingIndex[k]; dup {
		if !at.Before(b.ratings[i].RatedAt) { // latest wins; later row on a tie
			b.ratings[i] = r
		}
		return nil
	}
	b.ratingIndex[k] = len(b.ratings)
	b.ratings = append(b.ratings, r)
	return nil
}

// parseTag parses a row of tags.csv; a blank tag gives an empty Tag.
func (b *builder) parseTag(rec []string) (movierec.DatasetTag, error) {
	user, err := parseID("userId", rec[0])
	if err != nil {
		return movierec.DatasetTag{}, err
	}
	movie, err := b.knownMovie(rec[1])
	if err != nil {
		return movierec.DatasetTag{}, err
	}
	at, err := parseTimestamp(rec[3])
	if err != nil {
		return movierec.DatasetTag{}, err
	}
	return movierec.DatasetTag{UserID: user, MovieID: movie, Tag: strings.TrimSpace(rec[2]), TaggedAt: at}, nil
}

func (b *builder) tagRow(line int, rec []string) error {
	t, err := b.parseTag(rec)
	if err != nil {
		return err
	}
	user, movie, tag, at := t.UserID, t.MovieID, t.Tag, t.TaggedAt
	if tag == "" {
		return nil
	}
	lower := strings.ToLower(tag)
	if first, ok := b.tagNames[lower]; ok {
		tag = first
	} else {
		b.tagNames[lower] = tag
	}
	k := tagKey{user, movie, lower}
	if i, dup := b.tagIndex[k]; dup {
		if at.Before(b.tags[i].TaggedAt) { // earliest application kept
			b.tags[i].TaggedAt = at
		}
		return nil
	}
	b.tagIndex[k] = len(b.tags)
	b.tags = append(b.tags, movierec.DatasetTag{UserID: user, MovieID: movie, Tag: tag, TaggedAt: at})
	return nil
}

func (b *builder) linkRow(line int, rec []string) error {
	movie, err := b.knownMovie(rec[0])
	if err != nil {
		return err
	}
	if prev, dup := b.linked[movie]; dup {
		return rowErrorf("duplicate link for movieId %d (first on line %d)", movie, prev)
	}
	b.linked[movie] = line
	imdb, err := ParseIMDbID(rec[1])
	if err != nil {
		return err
	}
	var tmdb *int64
	if s := strings.TrimSpace(rec[2]); s != "" {
		id, err := parseID("tmdbId", s)
		if err != nil {
			return err
		}
		tmdb = &id
	}
	m := &b.movies[b.movieIndex[movie]]
	m.IMDbID = imdb
	m.TMDbID = tmdb
	return nil
}

// dataset sorts what was read and derives the users.
func (b *builder) dataset() *movierec.Dataset {
	slices.SortFunc(b.movies, func(x, y movierec.Movie) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(b.ratings, func(x, y movierec.DatasetRating) int {
		return cmp.Or(cmp.Compare(x.UserID, y.UserID), cmp.Compare(x.MovieID, y.MovieID))
	})
	slices.SortFunc(b.tags, func(x, y movierec.DatasetTag) int {
		return cmp.Or(cmp.Compare(x.UserID, y.UserID), cmp.Compare(x.MovieID, y.MovieID), strings.Compare(x.Tag, y.Tag))
	})
	var ids []int64
	for _, r := range b.ratings {
		ids = append(ids, r.UserID)
	}
	for _, t := range b.tags {
		ids = append(ids, t.UserID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	users := make([]movierec.DatasetUser, len(ids))
	for i, id := range ids {
		users[i] = movierec.DatasetUser{ID: id, Username: UserName(id)}
	}
	return &movierec.Dataset{Movies: b.movies, Users: users, Ratings: b.ratings, Tags: b.tags}
}

// UserName is the username of the account made for a MovieLens user ID.
func UserName(id int64) string {
	return "movielens_" + strconv.FormatInt(id, 10)
}

// titleYear matches a trailing "(1995)", "(2006-2007)" or "(2006–2007)"
// (also an open range "(2006-)") and any whitespace after it.
var titleYear = regexp.MustCompile(`\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$`)

// ParseTitle splits a MovieLens title such as "Toy Story (1995)" into the
// title and its release year. A range "(2006-2007)" gives the first year.
// A title without a trailing year gives a nil year and the whole (trimmed)
// title. Nothing else of the title is changed ("American President, The"
// stays as it is).
func ParseTitle(raw string) (title string, year *int) {
	raw = strings.TrimSpace(raw)
	m := titleYear.FindStringSubmatchIndex(raw)
	if m == nil {
		return raw, nil
	}
	rest := strings.TrimSpace(raw[:m[0]])
	if rest == "" { // the title is only a year, e.g. "(1990)": keep it
		return raw, nil
	}
	y, _ := strconv.Atoi(raw[m[2]:m[3]])
	return rest, &y
}

// ParseGenres splits a MovieLens genres field such as "Comedy|Drama" into
// trimmed names, dropping empty ones and "(no genres listed)". Order and
// duplicates are kept; Read sorts and deduplicates them.
func ParseGenres(raw string) []string {
	var genres []string
	for g := range strings.SplitSeq(raw, "|") {
		g = strings.TrimSpace(g)
		if g == "" || g == NoGenres {
			continue
		}
		genres = append(genres, g)
	}
	return genres
}

// ParseScore parses a rating, which must be 0.5 to 5.0 in steps of 0.5.
func ParseScore(raw string) (float64, error) {
	s := strings.TrimSpace(raw)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, rowErrorf("rating %q is not a number", raw)
	}
	halves := f * 2
	if halves != math.Trunc(halves) || halves < 1 || halves > 10 {
		return 0, rowErrorf("rating %s is not between 0.5 and 5.0 in steps of 0.5", s)
	}
	return halves / 2, nil
}

// ParseIMDbID turns the imdbId column of links.csv ("0114709") into an IMDb
// ID ("tt0114709"). Leading zeros are kept, and shorter numbers are padded
// to IMDb's 7 digits; a value that already starts with "tt" is accepted.
// An empty column gives nil.
func ParseIMDbID(raw string) (*string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, nil
	}
	digits := strings.TrimPrefix(s, "tt")
	if digits == "" || strings.Trim(digits, "0123456789") != "" || strings.Trim(digits, "0") == "" {
		return nil, rowErrorf("imdbId %q is not a number", raw)
	}
	if len(digits) < 7 {
		digits = strings.Repeat("0", 7-len(digits)) + digits
	}
	id := "tt" + digits
	return &id, nil
}
