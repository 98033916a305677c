package movielens

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/movierec/movierec"
)

// Writer writes a data set in the MovieLens CSV layout that Read reads:
// movies.csv and links.csv at once (WriteMovies), ratings.csv and tags.csv
// as rows arrive, so that a data set of any size streams through it.
// Titles carry their year as "Title (1995)", genres are joined with "|",
// IMDb IDs lose their "tt" and times are unix seconds. Lines end in "\n".
type Writer struct {
	dir           string
	ratingsFile   *os.File
	tagsFile      *os.File
	ratings, tags *bufio.Writer
	tagCSV        *csv.Writer
	buf           []byte
	tagRec        []string
}

// Create makes dir (and its parents) if needed and starts ratings.csv and
// tags.csv there, replacing files of those names.
func Create(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("movielens: %w", err)
	}
	w := &Writer{dir: dir, tagRec: make([]string, 4)}
	var err error
	if w.ratingsFile, err = os.Create(filepath.Join(dir, RatingsFile)); err != nil {
		return nil, fmt.Errorf("movielens: %w", err)
	}
	if w.tagsFile, err = os.Create(filepath.Join(dir, TagsFile)); err != nil {
		w.ratingsFile.Close()
		return nil, fmt.Errorf("movielens: %w", err)
	}
	w.ratings = bufio.NewWriterSize(w.ratingsFile, 1<<20)
	w.tags = bufio.NewWriterSize(w.tagsFile, 256<<10)
	w.tagCSV = csv.NewWriter(w.tags)
	w.ratings.WriteString(strings.Join(ratingsHeader, ",") + "\n")
	w.tagCSV.Write(tagsHeader)
	return w, nil
}

// WriteMovies writes movies.csv and links.csv (the latter with the movies'
// IMDb and TMDb IDs; empty when a movie has neither).
func (w *Writer) WriteMovies(movies []movierec.Movie) error {
	err := writeCSV(filepath.Join(w.dir, MoviesFile), moviesHeader, len(movies), func(i int, rec []string) {
		m := &movies[i]
		title := m.Title
		if m.ReleaseYear != nil {
			title += " (" + strconv.Itoa(*m.ReleaseYear) + ")"
		}
		genres := make([]string, len(m.Genres))
		for j, g := range m.Genres {
			genres[j] = g.Name
		}
		rec[0], rec[1], rec[2] = strconv.FormatInt(m.ID, 10), title, strings.Join(genres, "|")
		if len(genres) == 0 {
			rec[2] = NoGenres
		}
	})
	if err != nil {
		return err
	}
	return writeCSV(filepath.Join(w.dir, LinksFile), linksHeader, len(movies), func(i int, rec []string) {
		m := &movies[i]
		rec[0], rec[1], rec[2] = strconv.FormatInt(m.ID, 10), "", ""
		if m.IMDbID != nil {
			rec[1] = strings.TrimPrefix(*m.IMDbID, "tt")
		}
		if m.TMDbID != nil {
			rec[2] = strconv.FormatInt(*m.TMDbID, 10)
		}
	})
}

// writeCSV writes a whole small CSV file: header, then n records filled by
// row.
func writeCSV(path string, header []string, n int, row func(i int, rec []string)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("movielens: %w", err)
	}
	bw := bufio.NewWriter(f)
	cw := csv.NewWriter(bw)
	cw.Write(header)
	rec := make([]string, len(header))
	for i := range n {
		row(i, rec)
		cw.Write(rec)
	}
	cw.Flush()
	err = errors.Join(cw.Error(), bw.Flush(), f.Close())
	if err != nil {
		return fmt.Errorf("movielens: writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// WriteRatings appends ratings to ratings.csv.
func (w *Writer) WriteRatings(ratings []movierec.DatasetRating) error {
	for _, r := range ratings {
		b := w.buf[:0]
		b = strconv.AppendInt(b, r.UserID, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.MovieID, 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, r.Score, 'f', 1, 64)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.RatedAt.Unix(), 10)
		b = append(b, '\n')
		w.buf = b
		if _, err := w.ratings.Write(b); err != nil {
			return fmt.Errorf("movielens: writing %s: %w", RatingsFile, err)
		}
	}
	return nil
}

// WriteTags appends tag applications to tags.csv.
func (w *Writer) WriteTags(tags []movierec.DatasetTag) error {
	for _, t := range tags {
		w.tagRec[0] = strconv.FormatInt(t.UserID, 10)
		w.tagRec[1] = strconv.FormatInt(t.MovieID, 10)
		w.tagRec[2] = t.Tag
		w.tagRec[3] = strconv.FormatInt(t.TaggedAt.Unix(), 10)
		if err := w.tagCSV.Write(w.tagRec); err != nil {
			return fmt.Errorf("movielens: writing %s: %w", TagsFile, err)
		}
	}
	return nil
}

// Close flushes and closes ratings.csv and tags.csv.
func (w *Writer) Close() error {
	w.tagCSV.Flush()
	err := errors.Join(w.ratings.Flush(), w.tagCSV.Error(), w.tags.Flush(), w.ratingsFile.Close(), w.tagsFile.Close())
	if err != nil {
		return fmt.Errorf("movielens: %w", err)
	}
	return nil
}
