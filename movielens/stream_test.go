package movielens

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/movierec/movierec"
)

// TestOpenStreamsEveryRow: Open holds the movies as Read does and streams
// every rating and non-blank tag row in file order, repeats included (the
// importer resolves them).
func TestOpenStreamsEveryRow(t *testing.T) {
	dir := writeDir(t, fixture(), "\r\n")
	read, err := Read(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ds.Movies, read.Movies) {
		t.Errorf("movies differ from Read's:\n%+v\n%+v", ds.Movies, read.Movies)
	}
	rs, ts, err := drain(ds)
	if err != nil {
		t.Fatal(err)
	}
	want := []movierec.DatasetRating{
		{UserID: 2, MovieID: 1, Score: 4, RatedAt: unix(100)}, {UserID: 1, MovieID: 11, Score: 3.5, RatedAt: unix(200)},
		{UserID: 1, MovieID: 1, Score: 5, RatedAt: unix(300)}, {UserID: 1, MovieID: 1, Score: 2.5, RatedAt: unix(250)},
		{UserID: 2, MovieID: 3, Score: 1, RatedAt: unix(100)}, {UserID: 2, MovieID: 3, Score: 1.5, RatedAt: unix(100)},
		{UserID: 3, MovieID: 5, Score: 0.5, RatedAt: unix(50)}, {UserID: 3, MovieID: 5, Score: 4.5, RatedAt: unix(60)},
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("ratings\n%+v\nwant\n%+v", rs, want)
	}
	if len(ts) != 5 || ts[0].Tag != "Pixar" || ts[4].Tag != "politics, US" {
		t.Errorf("tags %+v, want the 5 non-blank rows, trimmed", ts)
	}
	if ds.UserName(7) != "movielens_7" || ds.RatingsHint < 4 || ds.RatingsHint > 20 {
		t.Errorf("UserName(7) = %q, RatingsHint %d for 8 rows", ds.UserName(7), ds.RatingsHint)
	}
	// A second read gives the same rows again.
	again, _, err := drain(ds)
	if err != nil || !reflect.DeepEqual(again, rs) {
		t.Errorf("second read: %v, %d ratings", err, len(again))
	}
}

// TestOpenStopsOnConsumerError: the consumer's error ends the stream and
// comes back as it is, not as bad input.
func TestOpenStopsOnConsumerError(t *testing.T) {
	ds, err := Open(context.Background(), writeDir(t, fixture(), "\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("database went away")
	n := 0
	err = ds.Ratings(func(movierec.DatasetRating) error {
		n++
		if n == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || movierec.ErrorCode(err) == movierec.EINVALID || n != 2 {
		t.Errorf("err %v after %d rows, want the consumer's error after 2", err, n)
	}
}

// TestOpenChecksHeadersFirst: a directory that is not MovieLens fails at
// Open, before a row is streamed.
func TestOpenChecksHeadersFirst(t *testing.T) {
	for _, file := range []string{RatingsFile, TagsFile} {
		files := fixture()
		files[file] = "a,b,c\n1,2,3\n"
		_, err := Open(context.Background(), writeDir(t, files, "\n"), nil)
		if movierec.ErrorCode(err) != movierec.EINVALID || movierec.ErrorMessage(err) == "" {
			t.Errorf("%s with a wrong header: Open error %v", file, err)
		}
	}
	files := fixture()
	delete(files, RatingsFile)
	if _, err := Open(context.Background(), writeDir(t, files, "\n"), nil); movierec.ErrorCode(err) != movierec.EINVALID {
		t.Errorf("without ratings.csv: Open error %v", err)
	}
	delete(files, TagsFile)
	files[RatingsFile] = fixtureRatings
	ds, err := Open(context.Background(), writeDir(t, files, "\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ts, err := drain(ds); err != nil || len(ts) != 0 {
		t.Errorf("without tags.csv: %d tags, %v", len(ts), err)
	}
}

// TestWriteReadRoundTrip: what Writer writes, Read reads back as the same
// data set (titles with their years, genres, links, ratings, tags).
func TestWriteReadRoundTrip(t *testing.T) {
	year := func(y int) *int { return &y }
	imdb, tmdb := "tt0114709", int64(862)
	movies := []movierec.Movie{
		{ID: 1, Title: "Toy Story", ReleaseYear: year(1995), Genres: genres("Animation", "Comedy"), IMDbID: &imdb, TMDbID: &tmdb},
		{ID: 2, Title: `Say "Cheese", Please`, ReleaseYear: year(2001), Genres: genres("Drama")},
		{ID: 7, Title: "Untitled", Genres: nil},
	}
	ratings := []movierec.DatasetRating{
		{UserID: 1, MovieID: 1, Score: 4.5, RatedAt: unix(1_000_000_000)},
		{UserID: 1, MovieID: 7, Score: 0.5, RatedAt: unix(1_000_000_100)},
		{UserID: 2, MovieID: 2, Score: 3, RatedAt: unix(1_200_000_000)},
	}
	tags := []movierec.DatasetTag{{UserID: 2, MovieID: 2, Tag: "quotes, \"good\" ones", TaggedAt: unix(1_200_000_050)}}
	dir := filepath.Join(t.TempDir(), "new", "dir")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.WriteMovies(movies), w.WriteRatings(ratings[:1]), w.WriteRatings(ratings[1:]),
		w.WriteTags(tags), w.Close()); err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Movies, movies) || !reflect.DeepEqual(got.Ratings, ratings) || !reflect.DeepEqual(got.Tags, tags) {
		t.Errorf("read back\n%+v\n%+v\n%+v", got.Movies, got.Ratings, got.Tags)
	}
	if ids := []int64{got.Users[0].ID, got.Users[1].ID}; !slices.Equal(ids, []int64{1, 2}) {
		t.Errorf("users %+v", got.Users)
	}
	raw, err := os.ReadFile(filepath.Join(dir, RatingsFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := "userId,movieId,rating,timestamp\n1,1,4.5,1000000000\n1,7,0.5,1000000100\n2,2,3.0,1200000000\n"; string(raw) != want {
		t.Errorf("ratings.csv\n%s\nwant\n%s", raw, want)
	}
}
