package demodata

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
)

// The default dataset is generated once and shared by the read-only tests.
var defaultDataset = Generate(DefaultOptions())

var testOptions = []Options{
	DefaultOptions(),
	{Movies: 50, Users: 10, Ratings: 300, Seed: 2},
	{Movies: 300, Users: 40, Ratings: 2500, Seed: 7},
	{Movies: 1000, Users: 1000, Ratings: 20000, Seed: 42},
}

func datasetFor(t *testing.T, opts Options) *movierec.Dataset {
	t.Helper()
	if opts == DefaultOptions() {
		return defaultDataset
	}
	return Generate(opts)
}

func TestDefaultOptions(t *testing.T) {
	want := Options{Movies: 4000, Users: 400, Ratings: 40000, Seed: 1}
	if got := DefaultOptions(); got != want {
		t.Fatalf("DefaultOptions() = %+v, want %+v", got, want)
	}
}

func TestDeterministic(t *testing.T) {
	again := Generate(DefaultOptions())
	if !reflect.DeepEqual(defaultDataset, again) {
		t.Fatal("two runs with the same options differ")
	}
	small := Options{Movies: 300, Users: 40, Ratings: 2500, Seed: 7}
	if !reflect.DeepEqual(Generate(small), Generate(small)) {
		t.Fatal("two runs with the same small options differ")
	}

	opts := DefaultOptions()
	opts.Seed = 2
	other := Generate(opts)
	if reflect.DeepEqual(defaultDataset, other) {
		t.Fatal("a different seed gives the same dataset")
	}
	if reflect.DeepEqual(defaultDataset.Movies, other.Movies) {
		t.Fatal("a different seed gives the same movies")
	}
	if reflect.DeepEqual(defaultDataset.Ratings, other.Ratings) {
		t.Fatal("a different seed gives the same ratings")
	}
}

func TestSizes(t *testing.T) {
	for _, opts := range testOptions {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			ds := datasetFor(t, opts)
			if len(ds.Movies) != opts.Movies {
				t.Errorf("%d movies, want %d", len(ds.Movies), opts.Movies)
			}
			for i, m := range ds.Movies {
				if m.ID != int64(i+1) {
					t.Fatalf("movie %d has ID %d", i, m.ID)
				}
			}
			if len(ds.Users) != opts.Users {
				t.Errorf("%d users, want %d", len(ds.Users), opts.Users)
			}
			for i, u := range ds.Users {
				if u.ID != int64(i+1) || u.Username != fmt.Sprintf("demo_user_%d", i+1) {
					t.Fatalf("user %d is %+v", i, u)
				}
			}
			lo, hi := float64(opts.Ratings)*0.9, float64(opts.Ratings)*1.1
			if n := float64(len(ds.Ratings)); n < lo || n > hi {
				t.Errorf("%d ratings, want %d ±10%%", len(ds.Ratings), opts.Ratings)
			}
		})
	}
}

func TestRatingsValid(t *testing.T) {
	start, end := anchor.AddDate(-3, 0, 0), anchor
	for _, opts := range testOptions {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			ds := datasetFor(t, opts)
			perUser := make([]int, len(ds.Users))
			for i, r := range ds.Ratings {
				if r.Score < 0.5 || r.Score > 5 || r.Score*2 != math.Trunc(r.Score*2) {
					t.Fatalf("rating %+v: invalid score", r)
				}
				if r.UserID < 1 || r.UserID > int64(len(ds.Users)) {
					t.Fatalf("rating %+v: no such user", r)
				}
				if r.MovieID < 1 || r.MovieID > int64(len(ds.Movies)) {
					t.Fatalf("rating %+v: no such movie", r)
				}
				if i > 0 {
					p := ds.Ratings[i-1]
					if p.UserID == r.UserID && p.MovieID == r.MovieID {
						t.Fatalf("duplicate rating of movie %d by user %d", r.MovieID, r.UserID)
					}
					if p.UserID > r.UserID || (p.UserID == r.UserID && p.MovieID > r.MovieID) {
						t.Fatalf("ratings not sorted by (user, movie) at %d: %+v after %+v", i, r, p)
					}
				}
				if r.RatedAt.Before(start) || !r.RatedAt.Before(end) {
					t.Fatalf("rating %+v: RatedAt outside %v..%v", r, start, end)
				}
				if r.RatedAt.Location() != time.UTC || r.RatedAt.Nanosecond() != 0 {
					t.Fatalf("rating %+v: RatedAt not in whole UTC seconds", r)
				}
				if rel := ds.Movies[r.MovieID-1].ReleaseDate; r.RatedAt.Before(*rel) {
					t.Fatalf("rating %+v: before the movie's release %v", r, rel)
				}
				perUser[r.UserID-1]++
			}
			for i, n := range perUser {
				if n < 5 {
					t.Errorf("user %d has %d ratings, want at least 5", i+1, n)
				}
			}
		})
	}
}

// counts returns the number of ratings of each movie and by each user.
func counts(ds *movierec.Dataset) (perMovie, perUser []int) {
	perMovie = make([]int, len(ds.Movies))
	perUser = make([]int, len(ds.Users))
	for _, r := range ds.Ratings {
		perMovie[r.MovieID-1]++
		perUser[r.UserID-1]++
	}
	return perMovie, perUser
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestLongTail(t *testing.T) {
	perMovie, perUser := counts(defaultDataset)
	top, med := slices.Max(perMovie), median(perMovie)
	if med < 1 || top < 10*med {
		t.Errorf("most-rated movie has %d ratings, median movie %d: want a long tail (max >= 10 x median >= 10)", top, med)
	}
	if top < 100 {
		t.Errorf("most-rated movie has %d ratings, want hundreds", top)
	}
	if !slices.Contains(perMovie, 0) {
		t.Error("every movie is rated, want some without ratings")
	}
	topUser, medUser := slices.Max(perUser), median(perUser)
	if topUser < 200 || medUser < 20 || medUser > 100 {
		t.Errorf("most active user has %d ratings, median user %d: want hundreds and 20..100", topUser, medUser)
	}
}

// TestRatingSignal checks that ratings follow the hidden quality: movies
// with a high IMDb rating are rated higher than those with a low one.
func TestRatingSignal(t *testing.T) {
	var sum [2]float64
	var n [2]int
	for _, r := range defaultDataset.Ratings {
		imdb := *defaultDataset.Movies[r.MovieID-1].IMDbRating
		switch {
		case imdb >= 7.5:
			sum[1] += r.Score
			n[1]++
		case imdb <= 5.5:
			sum[0] += r.Score
			n[0]++
		}
	}
	if n[0] == 0 || n[1] == 0 {
		t.Fatalf("no ratings of good (%d) or bad (%d) movies", n[1], n[0])
	}
	bad, good := sum[0]/float64(n[0]), sum[1]/float64(n[1])
	if good < bad+0.7 {
		t.Errorf("mean score of movies rated >= 7.5 on IMDb is %.2f, of those <= 5.5 %.2f: want a clear gap", good, bad)
	}
}

func TestMovies(t *testing.T) {
	known := make(map[string]bool)
	for _, g := range genreNames {
		known[g] = true
	}
	imdbPattern := regexp.MustCompile(`^tt[0-9]{7}$`)
	for _, opts := range testOptions {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			ds := datasetFor(t, opts)
			imdbIDs := make(map[string]bool)
			tmdbIDs := make(map[int64]bool)
			titles := make(map[string]bool)
			dupTitles := 0
			for _, m := range ds.Movies {
				if m.Title == "" || strings.TrimSpace(m.Title) != m.Title {
					t.Fatalf("movie %d: bad title %q", m.ID, m.Title)
				}
				if titles[m.Title] {
					dupTitles++
				}
				titles[m.Title] = true
				if m.Description == "" || !strings.ContainsAny(m.Description[len(m.Description)-1:], ".?!") {
					t.Fatalf("movie %d: bad description %q", m.ID, m.Description)
				}

				names := m.GenreNames()
				if len(names) < 1 || len(names) > 3 {
					t.Fatalf("movie %d has %d genres", m.ID, len(names))
				}
				for i, name := range names {
					if !known[name] {
						t.Fatalf("movie %d: unknown genre %q", m.ID, name)
					}
					if i > 0 && names[i-1] >= name {
						t.Fatalf("movie %d: genres %q not sorted and unique", m.ID, names)
					}
				}

				if m.IMDbID == nil || !imdbPattern.MatchString(*m.IMDbID) {
					t.Fatalf("movie %d: bad IMDb ID %v", m.ID, m.IMDbID)
				}
				if imdbIDs[*m.IMDbID] {
					t.Fatalf("movie %d: duplicate IMDb ID %s", m.ID, *m.IMDbID)
				}
				imdbIDs[*m.IMDbID] = true
				if m.TMDbID == nil || *m.TMDbID <= 0 || tmdbIDs[*m.TMDbID] {
					t.Fatalf("movie %d: bad or duplicate TMDb ID %v", m.ID, m.TMDbID)
				}
				tmdbIDs[*m.TMDbID] = true

				if m.ReleaseYear == nil || *m.ReleaseYear < 1950 || *m.ReleaseYear > 2025 {
					t.Fatalf("movie %d: bad release year %v", m.ID, m.ReleaseYear)
				}
				d := m.ReleaseDate
				if d == nil || d.Year() != *m.ReleaseYear || d.Location() != time.UTC || !d.Equal(d.Truncate(24*time.Hour)) {
					t.Fatalf("movie %d: bad release date %v for year %d", m.ID, d, *m.ReleaseYear)
				}
				if m.Duration == nil || *m.Duration < 80 || *m.Duration > 180 {
					t.Fatalf("movie %d: bad duration %v", m.ID, m.Duration)
				}
				if r := m.IMDbRating; r == nil || *r < 1 || *r > 9.5 || math.Round(*r*10)/10 != *r {
					t.Fatalf("movie %d: bad IMDb rating %v", m.ID, r)
				}
				if m.PosterURL != nil || m.TrailerURL != nil {
					t.Fatalf("movie %d: poster or trailer URL set", m.ID)
				}
				if !m.CreatedAt.IsZero() || !m.UpdatedAt.IsZero() {
					t.Fatalf("movie %d: timestamps set", m.ID)
				}
			}
			if dupTitles*100 > len(ds.Movies) {
				t.Errorf("%d of %d titles repeat, want them mostly unique", dupTitles, len(ds.Movies))
			}
		})
	}
}

func TestMovieDistributions(t *testing.T) {
	var recent, old int
	var sum, sumSq float64
	for _, m := range defaultDataset.Movies {
		switch {
		case *m.ReleaseYear >= 2000:
			recent++
		case *m.ReleaseYear < 1975:
			old++
		}
		sum += *m.IMDbRating
		sumSq += *m.IMDbRating * *m.IMDbRating
	}
	if recent <= 2*old {
		t.Errorf("%d movies from 2000 on, %d before 1975: want skew to recent decades", recent, old)
	}
	n := float64(len(defaultDataset.Movies))
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	if math.Abs(mean-6.5) > 0.3 || sd < 0.6 || sd > 1.5 {
		t.Errorf("IMDb ratings have mean %.2f, sd %.2f: want bell-shaped around 6.5", mean, sd)
	}
}

func TestTags(t *testing.T) {
	known := make(map[string]bool)
	for _, d := range tagDefs {
		if known[d.name] {
			t.Fatalf("tag %q listed twice", d.name)
		}
		known[d.name] = true
	}
	for _, opts := range testOptions {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			ds := datasetFor(t, opts)
			type key struct{ user, movie int64 }
			ratedAt := make(map[key]time.Time, len(ds.Ratings))
			for _, r := range ds.Ratings {
				ratedAt[key{r.UserID, r.MovieID}] = r.RatedAt
			}
			for i, tg := range ds.Tags {
				if !known[tg.Tag] {
					t.Fatalf("tag %+v: unknown tag", tg)
				}
				rated, ok := ratedAt[key{tg.UserID, tg.MovieID}]
				if !ok {
					t.Fatalf("tag %+v: the user did not rate the movie", tg)
				}
				if !tg.TaggedAt.After(rated) || tg.TaggedAt.After(anchor) {
					t.Fatalf("tag %+v: TaggedAt not after the rating (%v) and by the anchor", tg, rated)
				}
				if tg.TaggedAt.Location() != time.UTC || tg.TaggedAt.Nanosecond() != 0 {
					t.Fatalf("tag %+v: TaggedAt not in whole UTC seconds", tg)
				}
				if i > 0 {
					p := ds.Tags[i-1]
					c := cmpTag(p, tg)
					if c == 0 {
						t.Fatalf("duplicate tag %+v", tg)
					}
					if c > 0 {
						t.Fatalf("tags not sorted at %d: %+v after %+v", i, tg, p)
					}
				}
			}
		})
	}
	if n := len(defaultDataset.Tags); n < 1000 || n > 10000 {
		t.Errorf("%d tags in the default dataset, want a few thousand", n)
	}
}

func cmpTag(a, b movierec.DatasetTag) int {
	switch {
	case a.UserID != b.UserID:
		return int(a.UserID - b.UserID)
	case a.MovieID != b.MovieID:
		return int(a.MovieID - b.MovieID)
	default:
		return strings.Compare(a.Tag, b.Tag)
	}
}

func TestEdgeCases(t *testing.T) {
	empty := Generate(Options{})
	if len(empty.Movies)+len(empty.Users)+len(empty.Ratings)+len(empty.Tags) != 0 {
		t.Errorf("zero options give %d movies, %d users, %d ratings, %d tags",
			len(empty.Movies), len(empty.Users), len(empty.Ratings), len(empty.Tags))
	}
	if ds := Generate(Options{Movies: 10, Users: -3, Ratings: 100}); len(ds.Movies) != 10 || len(ds.Users) != 0 || len(ds.Ratings) != 0 {
		t.Errorf("no users: %d movies, %d users, %d ratings", len(ds.Movies), len(ds.Users), len(ds.Ratings))
	}
	// Too few ratings requested: every user still gets 5.
	if ds := Generate(Options{Movies: 20, Users: 8, Ratings: 1}); len(ds.Ratings) != 40 {
		t.Errorf("Ratings: 1 with 8 users gives %d ratings, want 40", len(ds.Ratings))
	}
	// Fewer movies than 5: every user rates them all.
	if ds := Generate(Options{Movies: 3, Users: 4}); len(ds.Ratings) != 12 {
		t.Errorf("3 movies, 4 users give %d ratings, want 12", len(ds.Ratings))
	}
	// More ratings than pairs: one per pair.
	if ds := Generate(Options{Movies: 30, Users: 6, Ratings: 1000}); len(ds.Ratings) != 180 {
		t.Errorf("30 movies, 6 users, 1000 ratings give %d ratings, want 180", len(ds.Ratings))
	}
	// Nearly everything rated: the fallback sampler fills the rest.
	if ds := Generate(Options{Movies: 40, Users: 5, Ratings: 195}); len(ds.Ratings) != 195 {
		t.Errorf("40 movies, 5 users, 195 ratings give %d ratings", len(ds.Ratings))
	}
}

func BenchmarkGenerateDefault(b *testing.B) {
	for b.Loop() {
		Generate(DefaultOptions())
	}
}
