package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/movielens"
	"github.com/movierec/movierec/sqlite"
)

// importBenchRatings is the size of BenchmarkImport100k's data set.
const importBenchRatings = 100_000

// BenchmarkImport100k is `movierec import movielens DIR` of a generated
// MovieLens-shaped data set of about 100,000 ratings (the shape of
// `movierec demo-data -ratings 100000 -out DIR`: 248 movies, 648 users,
// with their tags) into a fresh embedded SQLite database per iteration:
// reading the CSVs, the one-transaction import and its ANALYZE. Writing
// the CSVs (once) and opening and migrating each database are not timed.
// It reports the imported ratings per second and fails when the import
// errors or the database holds other than the generated ratings:
//
//	go test -run '^$' -bench Import100k -benchmem ./sqlstore/
func BenchmarkImport100k(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	ratings, tags := writeMovieLens(b, demodata.ScaleOptions(importBenchRatings, 1), dir)
	var imported int
	for b.Loop() {
		b.StopTimer()
		dbDir := b.TempDir()
		s, err := sqlite.Open(ctx, filepath.Join(dbDir, "movierec.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ds, err := movielens.Open(ctx, dir, nil)
		if err != nil {
			s.Close()
			b.Fatal(err)
		}
		res, err := s.ImportStream(ctx, ds, nil)
		b.StopTimer()
		if err != nil {
			s.Close()
			b.Fatal(err)
		}
		var n int
		if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM ratings`).Scan(&n); err != nil {
			s.Close()
			b.Fatal(err)
		}
		s.Close()
		if res.Ratings != ratings || n != ratings {
			b.Fatalf("imported %d ratings (%d in the database), want the %d generated", res.Ratings, n, ratings)
		}
		if res.Tags != tags {
			b.Fatalf("imported %d tag applications, want the %d generated", res.Tags, tags)
		}
		// b.TempDir's directories last until the benchmark ends; the
		// databases would pile up over many iterations.
		if err := os.RemoveAll(dbDir); err != nil {
			b.Fatal(err)
		}
		imported += ratings
		b.StartTimer()
	}
	b.ReportMetric(float64(imported)/b.Elapsed().Seconds(), "ratings/s")
}

// writeMovieLens writes the data set of opts as MovieLens CSVs into dir,
// as `movierec demo-data -out DIR` does, and returns how many ratings and
// tag applications it wrote.
func writeMovieLens(tb testing.TB, opts demodata.Options, dir string) (ratings, tags int) {
	tb.Helper()
	w, err := movielens.Create(dir)
	if err != nil {
		tb.Fatal(err)
	}
	err = demodata.Stream(context.Background(), opts, demodata.Sink{
		Movies: w.WriteMovies,
		Ratings: func(rs []movierec.DatasetRating, ts []movierec.DatasetTag) error {
			ratings += len(rs)
			tags += len(ts)
			return errors.Join(w.WriteRatings(rs), w.WriteTags(ts))
		},
	}, nil)
	if err = errors.Join(err, w.Close()); err != nil {
		tb.Fatal(err)
	}
	if ratings == 0 {
		tb.Fatal("the generator made no ratings")
	}
	return ratings, tags
}
