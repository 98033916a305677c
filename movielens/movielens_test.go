package movielens

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
)

// writeDir writes files (name → content) into a new temporary directory.
// Every "\n" of the content becomes eol.
func writeDir(t *testing.T, files map[string]string, eol string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		content = strings.ReplaceAll(content, "\n", eol)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const fixtureMovies = `movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
11,"American President, The (1995)",Comedy|Drama|Romance
3,"Say ""Cheese"" (2001) ",Drama|Comedy|Drama|comedy
40697,Babylon 5,Sci-Fi
171749,Death Note: Desu nôto (2006–2007),(no genres listed)
5,Show (2006-2007),Comedy
`

const fixtureRatings = `userId,movieId,rating,timestamp
2,1,4.0,100
1,11,3.5,200
1,1,5,300
1,1,2.5,250
2,3,1.0,100
2,3,1.5,100
3,5,0.5,50
3,5,4.5,60
`

const fixtureTags = `userId,movieId,tag,timestamp
4,1,  Pixar ,500
4,1,pixar,400
5,11,PIXAR,600
4,1,funny,700
4,1,   ,800
5,11,"politics, US",900
`

const fixtureLinks = `movieId,imdbId,tmdbId
1,0114709,862
11,0112346,
3,,123
40697,114,
`

func fixture() map[string]string {
	return map[string]string{
		"movies.csv":  fixtureMovies,
		"ratings.csv": fixtureRatings,
		"tags.csv":    fixtureTags,
		"links.csv":   fixtureLinks,
	}
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func genres(names ...string) []movierec.Genre {
	var gs []movierec.Genre
	for _, n := range names {
		gs = append(gs, movierec.Genre{Name: n})
	}
	return gs
}

func TestReadFixture(t *testing.T) {
	want := &movierec.Dataset{
		Movies: []movierec.Movie{
			{ID: 1, Title: "Toy Story", ReleaseYear: new(1995), IMDbID: new("tt0114709"), TMDbID: new(int64(862)),
				Genres: genres("Adventure", "Animation", "Children", "Comedy", "Fantasy")},
			{ID: 3, Title: `Say "Cheese"`, ReleaseYear: new(2001), TMDbID: new(int64(123)),
				Genres: genres("Comedy", "Drama")},
			{ID: 5, Title: "Show", ReleaseYear: new(2006), Genres: genres("Comedy")},
			{ID: 11, Title: "American President, The", ReleaseYear: new(1995), IMDbID: new("tt0112346"),
				Genres: genres("Comedy", "Drama", "Romance")},
			{ID: 40697, Title: "Babylon 5", IMDbID: new("tt0000114"), Genres: genres("Sci-Fi")},
			{ID: 171749, Title: "Death Note: Desu nôto", ReleaseYear: new(2006)},
		},
		Users: []movierec.DatasetUser{
			{ID: 1, Username: "movielens_1"}, {ID: 2, Username: "movielens_2"}, {ID: 3, Username: "movielens_3"}, {ID: 4, Username: "movielens_4"}, {ID: 5, Username: "movielens_5"},
		},
		Ratings: []movierec.DatasetRating{
			{UserID: 1, MovieID: 1, Score: 5, RatedAt: unix(300)},
			{UserID: 1, MovieID: 11, Score: 3.5, RatedAt: unix(200)},
			{UserID: 2, MovieID: 1, Score: 4, RatedAt: unix(100)},
			{UserID: 2, MovieID: 3, Score: 1.5, RatedAt: unix(100)},
			{UserID: 3, MovieID: 5, Score: 4.5, RatedAt: unix(60)},
		},
		Tags: []movierec.DatasetTag{
			{UserID: 4, MovieID: 1, Tag: "Pixar", TaggedAt: unix(400)},
			{UserID: 4, MovieID: 1, Tag: "funny", TaggedAt: unix(700)},
			{UserID: 5, MovieID: 11, Tag: "Pixar", TaggedAt: unix(600)},
			{UserID: 5, MovieID: 11, Tag: "politics, US", TaggedAt: unix(900)},
		},
	}
	tests := []struct {
		name  string
		eol   string
		files func() map[string]string
	}{
		{"LF", "\n", fixture},
		{"CRLF", "\r\n", fixture},
		{"BOM", "\n", func() map[string]string {
			f := fixture()
			for k, v := range f {
				f[k] = "\uFEFF" + v
			}
			return f
		}},
		{"no trailing newline", "\r\n", func() map[string]string {
			f := fixture()
			for k, v := range f {
				f[k] = strings.TrimSuffix(v, "\n")
			}
			return f
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files(), tt.eol)
			got, err := Read(context.Background(), dir, nil)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			compareDataset(t, got, want)
		})
	}
}

func compareDataset(t *testing.T, got, want *movierec.Dataset) {
	t.Helper()
	if len(got.Movies) != len(want.Movies) {
		t.Errorf("got %d movies, want %d", len(got.Movies), len(want.Movies))
	}
	for i := range min(len(got.Movies), len(want.Movies)) {
		if !reflect.DeepEqual(got.Movies[i], want.Movies[i]) {
			t.Errorf("movie %d:\n got %s\nwant %s", i, showMovie(got.Movies[i]), showMovie(want.Movies[i]))
		}
	}
	if !reflect.DeepEqual(got.Users, want.Users) {
		t.Errorf("users:\n got %v\nwant %v", got.Users, want.Users)
	}
	if !reflect.DeepEqual(got.Ratings, want.Ratings) {
		t.Errorf("ratings:\n got %v\nwant %v", got.Ratings, want.Ratings)
	}
	if !reflect.DeepEqual(got.Tags, want.Tags) {
		t.Errorf("tags:\n got %v\nwant %v", got.Tags, want.Tags)
	}
}

func showMovie(m movierec.Movie) string {
	s := fmt.Sprintf("{ID:%d Title:%q Genres:%v", m.ID, m.Title, m.GenreNames())
	if m.ReleaseYear != nil {
		s += fmt.Sprintf(" Year:%d", *m.ReleaseYear)
	}
	if m.IMDbID != nil {
		s += " IMDb:" + *m.IMDbID
	}
	if m.TMDbID != nil {
		s += fmt.Sprintf(" TMDb:%d", *m.TMDbID)
	}
	return s + "}"
}

func TestParseTitle(t *testing.T) {
	tests := []struct {
		name, raw, title string
		year             *int
	}{
		{"plain", "Toy Story (1995)", "Toy Story", new(1995)},
		{"trailing space", "From Dusk Till Dawn 2: Texas Blood Money (1999) ", "From Dusk Till Dawn 2: Texas Blood Money", new(1999)},
		{"article kept", "American President, The (1995)", "American President, The", new(1995)},
		{"inner parentheses", "Assembly (Ji jie hao) (2007)", "Assembly (Ji jie hao)", new(2007)},
		{"hyphen range", "Show (2006-2007)", "Show", new(2006)},
		{"en dash range", "Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", new(2006)},
		{"open range", "Series (2016- )", "Series", new(2016)},
		{"no year", "Babylon 5", "Babylon 5", nil},
		{"no year, parentheses", "Nocturnal Animals (Director's Cut)", "Nocturnal Animals (Director's Cut)", nil},
		{"year not last", "Movie (1995) Extended", "Movie (1995) Extended", nil},
		{"five digits", "Movie (19950)", "Movie (19950)", nil},
		{"only a year", "(1990)", "(1990)", nil},
		{"space trimmed", "  Heat  ", "Heat", nil},
		{"number title", "1917 (2019)", "1917", new(2019)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, year := ParseTitle(tt.raw)
			if title != tt.title || !reflect.DeepEqual(year, tt.year) {
				t.Errorf("ParseTitle(%q) = %q, %v; want %q, %v", tt.raw, title, deref(year), tt.title, deref(tt.year))
			}
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestParseGenres(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"several", "Adventure|Animation", []string{"Adventure", "Animation"}},
		{"one", "Drama", []string{"Drama"}},
		{"none listed", "(no genres listed)", nil},
		{"empty", "", nil},
		{"blank parts", " Drama || Comedy ", []string{"Drama", "Comedy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseGenres(tt.raw); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseGenres(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParseScore(t *testing.T) {
	tests := []struct {
		raw   string
		want  float64
		valid bool
	}{
		{"0.5", 0.5, true}, {"5.0", 5, true}, {"5", 5, true}, {"3.5", 3.5, true}, {" 4.0 ", 4, true},
		{"0", 0, false}, {"0.0", 0, false}, {"5.5", 0, false}, {"3.25", 0, false}, {"-1", 0, false},
		{"abc", 0, false}, {"", 0, false}, {"NaN", 0, false}, {"Inf", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseScore(tt.raw)
			if tt.valid && (err != nil || got != tt.want) {
				t.Errorf("ParseScore(%q) = %v, %v; want %v", tt.raw, got, err, tt.want)
			}
			if !tt.valid && err == nil {
				t.Errorf("ParseScore(%q) = %v, want an error", tt.raw, got)
			}
		})
	}
}

func TestParseIMDbID(t *testing.T) {
	tests := []struct {
		raw   string
		want  *string
		valid bool
	}{
		{"0114709", new("tt0114709"), true},
		{"114709", new("tt0114709"), true},
		{"12345678", new("tt12345678"), true},
		{"tt0114709", new("tt0114709"), true},
		{"", nil, true},
		{"abc", nil, false},
		{"tt", nil, false},
		{"0000000", nil, false},
		{"-114709", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := ParseIMDbID(tt.raw)
			if tt.valid && (err != nil || !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("ParseIMDbID(%q) = %v, %v; want %v", tt.raw, got, err, tt.want)
			}
			if !tt.valid && err == nil {
				t.Errorf("ParseIMDbID(%q) = %v, want an error", tt.raw, got)
			}
		})
	}
}

func TestReadMalformed(t *testing.T) {
	tests := []struct {
		name     string
		file     string // the file replaced in the fixture
		content  string
		eol      string // "\n" when empty
		wantLine int
		wantText string // in the message after "FILE line N: "
	}{
		{"movies wrong field count", "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Jumanji (1995)\n", "", 3, "2 fields; want 3"},
		{"movies too many fields", "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy,extra\n", "", 2, "4 fields; want 3"},
		{"movies non-integer id", "movies.csv", "movieId,title,genres\n1,A (1995),Comedy\n2,B,Drama\nx,C,Drama\n", "", 4, `movieId "x" is not a positive integer`},
		{"movies zero id", "movies.csv", "movieId,title,genres\n0,A (1995),Comedy\n", "", 2, `movieId "0" is not a positive integer`},
		{"movies duplicate id", "movies.csv", "movieId,title,genres\n1,A (1995),Comedy\n2,B,Drama\n1,C,Drama\n", "", 4, "duplicate movieId 1"},
		{"movies empty title", "movies.csv", "movieId,title,genres\n1, ,Comedy\n", "", 2, "title is empty"},
		{"movies bare quote", "movies.csv", "movieId,title,genres\n1,A (1995),Comedy\n2,B \"x\" (1990),Drama\n", "", 3, `bare "`},
		{"movies line after multi-line field", "movies.csv", "movieId,title,genres\n1,\"Two\nLines (1995)\",Comedy\n2,B\n", "", 4, "2 fields; want 3"},
		{"movies CRLF", "movies.csv", "movieId,title,genres\n1,A (1995),Comedy\n\n2,B,Drama\nx,C,Drama\n", "\r\n", 5, `movieId "x" is not a positive integer`},
		{"movies wrong header", "movies.csv", "id,title,genres\n1,A (1995),Comedy\n", "", 1, `header is "id,title,genres"; want "movieId,title,genres"`},
		{"movies header missing", "movies.csv", "1,Toy Story (1995),Comedy\n", "", 1, "header is"},
		{"movies empty file", "movies.csv", "", "", 1, "file is empty"},

		{"ratings not a number", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,11,abc,1\n", "", 3, `rating "abc" is not a number`},
		{"ratings too high", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,5.5,1\n", "", 2, "rating 5.5 is not between 0.5 and 5.0 in steps of 0.5"},
		{"ratings zero", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,0,1\n", "", 2, "rating 0 is not between"},
		{"ratings off step", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,3.3,1\n", "", 2, "rating 3.3 is not between"},
		{"ratings unknown movie", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,1\n1,2,4,1\n", "", 3, "movieId 2 is not in movies.csv"},
		{"ratings bad user", "ratings.csv", "userId,movieId,rating,timestamp\n1.5,1,4,1\n", "", 2, `userId "1.5" is not a positive integer`},
		{"ratings bad timestamp", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,yesterday\n", "", 2, `timestamp "yesterday"`},
		{"ratings negative timestamp", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,-5\n", "", 2, `timestamp "-5"`},
		{"ratings wrong field count", "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4\n", "", 2, "3 fields; want 4"},
		{"ratings wrong header", "ratings.csv", "userId,movieId,score,timestamp\n1,1,4,1\n", "", 1, `header is "userId,movieId,score,timestamp"`},

		{"tags unknown movie", "tags.csv", "userId,movieId,tag,timestamp\n1,1,fun,1\n1,1,ok,2\n1,99,fun,1\n", "", 4, "movieId 99 is not in movies.csv"},
		{"tags bad user", "tags.csv", "userId,movieId,tag,timestamp\nbob,1,fun,1\n", "", 2, `userId "bob" is not a positive integer`},
		{"tags bad timestamp", "tags.csv", "userId,movieId,tag,timestamp\n1,1,fun,1.5\n", "", 2, `timestamp "1.5"`},
		{"tags wrong field count", "tags.csv", "userId,movieId,tag,timestamp\n1,1,fun,with,comma,1\n", "", 2, "6 fields; want 4"},
		{"tags wrong header", "tags.csv", "userId,movieId,tag\n1,1,fun\n", "", 1, `want "userId,movieId,tag,timestamp"`},

		{"links unknown movie", "links.csv", "movieId,imdbId,tmdbId\n1,0114709,862\n2,0113497,8844\n", "", 3, "movieId 2 is not in movies.csv"},
		{"links bad imdb", "links.csv", "movieId,imdbId,tmdbId\n1,tt01x,862\n", "", 2, `imdbId "tt01x" is not a number`},
		{"links bad tmdb", "links.csv", "movieId,imdbId,tmdbId\n1,0114709,8.62\n", "", 2, `tmdbId "8.62" is not a positive integer`},
		{"links duplicate", "links.csv", "movieId,imdbId,tmdbId\n1,0114709,862\n11,0112346,\n1,0114709,862\n", "", 4, "duplicate link for movieId 1 (first on line 2)"},
		{"links wrong field count", "links.csv", "movieId,imdbId,tmdbId\n1,0114709\n", "", 2, "2 fields; want 3"},
		{"links wrong header", "links.csv", "movieId,imdbId\n1,0114709\n", "", 1, `header is "movieId,imdbId"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := fixture()
			files[tt.file] = tt.content
			eol := cmp.Or(tt.eol, "\n")
			ds, err := Read(context.Background(), writeDir(t, files, eol), nil)
			if err == nil {
				t.Fatal("Read succeeded, want an error")
			}
			if ds != nil {
				t.Errorf("Read returned a dataset with its error")
			}
			if code := movierec.ErrorCode(err); code != movierec.EINVALID {
				t.Errorf("error code %q, want %q (error %v)", code, movierec.EINVALID, err)
			}
			prefix := fmt.Sprintf("%s line %d: ", tt.file, tt.wantLine)
			msg := movierec.ErrorMessage(err)
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg[len(prefix):], tt.wantText) {
				t.Errorf("message %q, want %q followed by %q", msg, prefix, tt.wantText)
			}
			// The stream reports the same error: from Open, or while its
			// ratings and tags are read.
			stream, err := Open(context.Background(), writeDir(t, files, eol), nil)
			if err == nil {
				_, _, err = drain(stream)
			}
			if got := movierec.ErrorMessage(err); movierec.ErrorCode(err) != movierec.EINVALID || got != msg {
				t.Errorf("Open: error %v, want the message of Read: %q", err, msg)
			}
		})
	}
}

// drain reads a stream's ratings and tags.
func drain(ds *movierec.DatasetStream) ([]movierec.DatasetRating, []movierec.DatasetTag, error) {
	var rs []movierec.DatasetRating
	var ts []movierec.DatasetTag
	err := ds.Ratings(func(r movierec.DatasetRating) error { rs = append(rs, r); return nil })
	if err == nil {
		err = ds.Tags(func(t movierec.DatasetTag) error { ts = append(ts, t); return nil })
	}
	return rs, ts, err
}

func TestReadMissingFiles(t *testing.T) {
	tests := []struct {
		name    string
		missing []string
		wantErr string // message prefix; "" when Read must succeed
	}{
		{"no tags", []string{"tags.csv"}, ""},
		{"no links", []string{"links.csv"}, ""},
		{"no optional files", []string{"tags.csv", "links.csv"}, ""},
		{"no movies", []string{"movies.csv"}, "movies.csv: file not found"},
		{"no ratings", []string{"ratings.csv"}, "ratings.csv: file not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := fixture()
			for _, f := range tt.missing {
				delete(files, f)
			}
			ds, err := Read(context.Background(), writeDir(t, files, "\n"), nil)
			if tt.wantErr != "" {
				if ds != nil || err == nil {
					t.Fatalf("Read = %v, %v; want nil and an error", ds, err)
				}
				if code, msg := movierec.ErrorCode(err), movierec.ErrorMessage(err); code != movierec.EINVALID || !strings.HasPrefix(msg, tt.wantErr) {
					t.Errorf("error %v, want %s %q", err, movierec.EINVALID, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(ds.Movies) != 6 || len(ds.Ratings) != 5 {
				t.Errorf("got %d movies and %d ratings, want 6 and 5", len(ds.Movies), len(ds.Ratings))
			}
			_, hasTags := files["tags.csv"]
			if wantTags := map[bool]int{true: 4, false: 0}[hasTags]; len(ds.Tags) != wantTags {
				t.Errorf("got %d tags, want %d", len(ds.Tags), wantTags)
			}
			// Users 4 and 5 only tag.
			if wantUsers := map[bool]int{true: 5, false: 3}[hasTags]; len(ds.Users) != wantUsers {
				t.Errorf("got %d users, want %d", len(ds.Users), wantUsers)
			}
			_, hasLinks := files["links.csv"]
			if got := ds.Movies[0].IMDbID != nil; got != hasLinks {
				t.Errorf("movie 1 has IMDb ID: %v, want %v", got, hasLinks)
			}
		})
	}
}

func TestReadIOError(t *testing.T) {
	dir := writeDir(t, fixture(), "\n")
	// A directory named ratings.csv opens but cannot be read.
	if err := os.Remove(filepath.Join(dir, "ratings.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "ratings.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	ds, err := Read(context.Background(), dir, nil)
	if ds != nil || err == nil {
		t.Fatalf("Read = %v, %v; want nil and an error", ds, err)
	}
	if code := movierec.ErrorCode(err); code != movierec.EINTERNAL {
		t.Errorf("error code %q, want %q for an I/O failure (error %v)", code, movierec.EINTERNAL, err)
	}
}

func TestReadProgressAndCancel(t *testing.T) {
	// 25,000 ratings of one movie by distinct users.
	var b strings.Builder
	b.WriteString("userId,movieId,rating,timestamp\n")
	for u := 1; u <= 25000; u++ {
		fmt.Fprintf(&b, "%d,1,%d.0,%d\n", u, u%5+1, u)
	}
	files := fixture()
	files["ratings.csv"] = b.String()
	dir := writeDir(t, files, "\n")

	t.Run("progress", func(t *testing.T) {
		type call struct {
			stage       string
			done, total int
		}
		var calls []call
		ds, err := Read(context.Background(), dir, func(stage string, done, total int) {
			calls = append(calls, call{stage, done, total})
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []call{
			{"movies", 6, 6},
			{"ratings", 10000, 0}, {"ratings", 20000, 0}, {"ratings", 25000, 25000},
			{"tags", 6, 6},
			{"links", 4, 4},
		}
		if !reflect.DeepEqual(calls, want) {
			t.Errorf("progress calls\n got %v\nwant %v", calls, want)
		}
		// The tagging users 4 and 5 are among the 25,000 raters.
		if len(ds.Ratings) != 25000 || len(ds.Users) != 25000 {
			t.Errorf("got %d ratings and %d users, want 25000 and 25000", len(ds.Ratings), len(ds.Users))
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var stages []string
		ds, err := Read(ctx, dir, func(stage string, done, total int) {
			stages = append(stages, stage)
			if stage == "ratings" {
				cancel()
			}
		})
		if ds != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("Read = %v, %v; want nil and context.Canceled", ds, err)
		}
		if want := []string{"movies", "ratings"}; !reflect.DeepEqual(stages, want) {
			t.Errorf("stages reported %v, want %v", stages, want)
		}
	})
}

const smallDir = "../../shared/data/movielens/ml-latest-small"

func readSmall(tb testing.TB) *movierec.Dataset {
	tb.Helper()
	if _, err := os.Stat(smallDir); errors.Is(err, os.ErrNotExist) {
		tb.Skipf("%s is absent", smallDir)
	}
	ds, err := Read(context.Background(), smallDir, nil)
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return ds
}

func TestReadMovieLensSmall(t *testing.T) {
	start := time.Now()
	ds := readSmall(t)
	t.Logf("read ml-latest-small in %v", time.Since(start))

	counts := []struct {
		name      string
		got, want int
	}{
		{"movies", len(ds.Movies), 9742},
		{"ratings", len(ds.Ratings), 100836},
		{"users", len(ds.Users), 610},
	}
	for _, c := range counts {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %d %s, want %d", c.got, c.name, c.want)
			}
		})
	}

	t.Run("Toy Story", func(t *testing.T) {
		if len(ds.Movies) == 0 || ds.Movies[0].ID != 1 {
			t.Fatal("movie 1 is not first")
		}
		m := ds.Movies[0]
		if m.Title != "Toy Story" {
			t.Errorf("title %q, want %q", m.Title, "Toy Story")
		}
		if m.ReleaseYear == nil || *m.ReleaseYear != 1995 {
			t.Errorf("year %v, want 1995", deref(m.ReleaseYear))
		}
		if want := []string{"Adventure", "Animation", "Children", "Comedy", "Fantasy"}; !reflect.DeepEqual(m.GenreNames(), want) {
			t.Errorf("genres %q, want %q", m.GenreNames(), want)
		}
		if m.IMDbID == nil || *m.IMDbID != "tt0114709" {
			t.Errorf("IMDb ID %v, want tt0114709", m.IMDbID)
		}
		if m.TMDbID == nil || *m.TMDbID != 862 {
			t.Errorf("TMDb ID %v, want 862", m.TMDbID)
		}
		n, sum := 0, 0.0
		for _, r := range ds.Ratings {
			if r.MovieID == 1 {
				n++
				sum += r.Score
			}
		}
		if n != 215 || sum != 843.0 {
			t.Errorf("movie 1 has %d ratings summing to %v, want 215 and 843", n, sum)
		}
	})

	t.Run("sorted and unique", func(t *testing.T) {
		for i := 1; i < len(ds.Movies); i++ {
			if ds.Movies[i-1].ID >= ds.Movies[i].ID {
				t.Fatalf("movies %d and %d out of order", ds.Movies[i-1].ID, ds.Movies[i].ID)
			}
		}
		for i := 1; i < len(ds.Ratings); i++ {
			a, b := ds.Ratings[i-1], ds.Ratings[i]
			if a.UserID > b.UserID || a.UserID == b.UserID && a.MovieID >= b.MovieID {
				t.Fatalf("ratings %d out of order", i)
			}
		}
		names := map[string]string{}
		for _, tag := range ds.Tags {
			if prev, ok := names[strings.ToLower(tag.Tag)]; ok && prev != tag.Tag {
				t.Fatalf("tag spelled %q and %q", prev, tag.Tag)
			}
			names[strings.ToLower(tag.Tag)] = tag.Tag
		}
		if len(ds.Tags) == 0 || len(names) == 0 {
			t.Errorf("no tags read")
		}
		t.Logf("%d tag applications, %d distinct tags", len(ds.Tags), len(names))
	})
}

func BenchmarkReadMovieLensSmall(b *testing.B) {
	for b.Loop() {
		readSmall(b)
	}
}
