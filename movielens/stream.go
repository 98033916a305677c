package movielens

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/movierec/movierec"
)

// Open reads DIR's movies.csv and links.csv, checks that ratings.csv (and
// tags.csv, when present) start with MovieLens headers, and returns the
// data set as a stream: its Ratings and Tags read their files as they are
// loaded, so the ratings are never all in memory. Bad input in movies.csv
// or links.csv, a missing ratings.csv or a wrong header is reported here;
// a malformed rating or tag row stops the stream with the same kind of
// error as Read's (file and line), and the importer rolls back. Unlike
// Read, the stream leaves repeats to the importer (see
// movierec.DatasetStream). progress gets the stages "movies" and "links".
func Open(ctx context.Context, dir string, progress movierec.Progress) (*movierec.DatasetStream, error) {
	b := &builder{
		movieIndex: make(map[int64]int),
		genreNames: make(map[string]string),
		linked:     make(map[int64]int),
	}
	if err := readFile(ctx, filepath.Join(dir, MoviesFile), MoviesFile, "movies", moviesHeader, true, progress, b.movieRow); err != nil {
		return nil, err
	}
	ratingsPath, tagsPath := filepath.Join(dir, RatingsFile), filepath.Join(dir, TagsFile)
	hint, err := checkHeader(ctx, ratingsPath, RatingsFile, ratingsHeader, true)
	if err != nil {
		return nil, err
	}
	if _, err := checkHeader(ctx, tagsPath, TagsFile, tagsHeader, false); err != nil {
		return nil, err
	}
	if err := readFile(ctx, filepath.Join(dir, LinksFile), LinksFile, "links", linksHeader, false, progress, b.linkRow); err != nil {
		return nil, err
	}
	movies := b.dataset().Movies
	return &movierec.DatasetStream{
		Movies:   movies,
		UserName: UserName,
		Ratings: func(yield func(movierec.DatasetRating) error) error {
			return readFile(ctx, ratingsPath, RatingsFile, "ratings", ratingsHeader, true, nil, func(_ int, rec []string) error {
				r, err := b.parseRating(rec)
				if err != nil {
					return err
				}
				return yield(r)
			})
		},
		Tags: func(yield func(movierec.DatasetTag) error) error {
			return readFile(ctx, tagsPath, TagsFile, "tags", tagsHeader, false, nil, func(_ int, rec []string) error {
				t, err := b.parseTag(rec)
				if err != nil || t.Tag == "" {
					return err
				}
				return yield(t)
			})
		},
		RatingsHint: hint,
	}, nil
}

// checkHeader checks the header of a CSV file (and the field count of its
// first row) as Read would, and estimates its rows from the length of its
// first lines. A file that is not required may be missing.
func checkHeader(ctx context.Context, path, name string, header []string, required bool) (rows int, err error) {
	err = readFile(ctx, path, name, "", header, required, nil, func(int, []string) error { return errHeaderRead })
	if err != nil && !errors.Is(err, errHeaderRead) {
		return 0, err
	}
	return estimateRows(path), nil
}

// errHeaderRead stops checkHeader's read after the first row.
var errHeaderRead = errors.New("movielens: header read")

// estimateRows guesses the lines of a file from its size and the length
// of the lines in its first megabyte (0 when it cannot tell).
func estimateRows(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	head := make([]byte, 1<<20)
	n, _ := io.ReadFull(f, head)
	if lines := bytes.Count(head[:n], []byte("\n")); lines > 1 {
		return int(st.Size() / int64(n/lines))
	}
	return 0
}
