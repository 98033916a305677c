package movielens

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	hint, err := checkHeader(ratingsPath, RatingsFile, ratingsHeader, true)
	if err != nil {
		return nil, err
	}
	if _, err := checkHeader(tagsPath, TagsFile, tagsHeader, false); err != nil {
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

// checkHeader checks the header of a CSV file and estimates its rows from
// the length of its first lines. A file that is not required may be
// missing.
func checkHeader(path, name string, header []string, required bool) (rows int, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if !required {
				return 0, nil
			}
			return 0, movierec.Errorf(movierec.EINVALID, "%s: file not found in %s", name, filepath.Dir(path))
		}
		return 0, fmt.Errorf("movielens: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("movielens: %w", err)
	}
	head := make([]byte, 1<<20)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("movielens: reading %s: %w", name, err)
	}
	head = bytes.TrimPrefix(head[:n], []byte("\uFEFF"))
	rec, err := csv.NewReader(bufio.NewReader(bytes.NewReader(head))).Read()
	if err != nil {
		if err == io.EOF {
			return 0, movierec.Errorf(movierec.EINVALID, "%s line 1: file is empty; want header %q", name, strings.Join(header, ","))
		}
		return 0, readError(name, err)
	}
	if !headerMatches(rec, header) {
		return 0, movierec.Errorf(movierec.EINVALID, "%s line 1: header is %q; want %q",
			name, strings.Join(rec, ","), strings.Join(header, ","))
	}
	if lines := bytes.Count(head, []byte("\n")); lines > 1 {
		rows = int(st.Size() / int64(len(head)/lines))
	}
	return rows, nil
}
