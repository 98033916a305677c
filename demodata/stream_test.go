package demodata

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/movierec/movierec"
)

// TestStreamMatchesGenerate: Stream hands out exactly Generate's data set,
// in order, user by user.
func TestStreamMatchesGenerate(t *testing.T) {
	for _, opts := range append(slices.Clone(testOptions), ScaleOptions(30_000, 3), Options{Users: 5, Ratings: 10}) {
		want := datasetFor(t, opts)
		got := &movierec.Dataset{Ratings: []movierec.DatasetRating{}, Tags: []movierec.DatasetTag{}}
		var reports int
		err := Stream(context.Background(), opts, Sink{
			Movies: func(m []movierec.Movie) error { got.Movies = m; return nil },
			Users:  func(u []movierec.DatasetUser) error { got.Users = u; return nil },
			Ratings: func(rs []movierec.DatasetRating, ts []movierec.DatasetTag) error {
				for _, r := range rs[1:] {
					if r.UserID != rs[0].UserID {
						t.Fatalf("one call has ratings of users %d and %d", rs[0].UserID, r.UserID)
					}
				}
				got.Ratings = append(got.Ratings, rs...)
				got.Tags = append(got.Tags, ts...)
				return nil
			},
		}, func(stage string, done, total int) { reports++ })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: Stream's data set differs from Generate's (%d/%d ratings, %d/%d tags)",
				opts, len(got.Ratings), len(want.Ratings), len(got.Tags), len(want.Tags))
		}
		if reports == 0 {
			t.Errorf("%+v: no progress reported", opts)
		}
	}
}

// TestStreamStops: an error of the sink or a cancelled context stops the
// generation and comes back.
func TestStreamStops(t *testing.T) {
	boom := errors.New("disk full")
	calls := 0
	err := Stream(context.Background(), ScaleOptions(200_000, 1), Sink{
		Ratings: func([]movierec.DatasetRating, []movierec.DatasetTag) error {
			calls++
			if calls == 3 {
				return boom
			}
			return nil
		},
	}, nil)
	if !errors.Is(err, boom) || calls != 3 {
		t.Errorf("sink failing on call 3: err %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Stream(ctx, ScaleOptions(200_000, 1), Sink{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

// TestScaleOptions: the MovieLens-shaped data set has MovieLens 25M's
// proportions, at least 20 ratings per user, activity over more than 20
// years, a long tail of movie popularity and a heavy tail of user
// activity.
func TestScaleOptions(t *testing.T) {
	opts := ScaleOptions(25_000_000, 1)
	if opts.Movies != 62_000 || opts.Users != 162_000 || opts.Ratings != 25_000_000 {
		t.Errorf("ScaleOptions(25M) = %+v, want MovieLens 25M's 62,000 movies and 162,000 users", opts)
	}
	opts = ScaleOptions(200_000, 5)
	ds := Generate(opts)
	if len(ds.Ratings) != opts.Ratings {
		t.Errorf("%d ratings, want %d", len(ds.Ratings), opts.Ratings)
	}
	perMovie, perUser := counts(ds)
	if m := slices.Min(perUser); m < 20 {
		t.Errorf("a user has %d ratings, want at least 20", m)
	}
	first, last := ds.Ratings[0].RatedAt, ds.Ratings[0].RatedAt
	for _, r := range ds.Ratings {
		if r.RatedAt.Before(first) {
			first = r.RatedAt
		}
		if r.RatedAt.After(last) {
			last = r.RatedAt
		}
	}
	if span := last.Sub(first); span < 20*365*24*time.Hour {
		t.Errorf("ratings span %v..%v, want over 20 years", first, last)
	}
	// Long tails, where users rate a small part of the catalog (as at
	// MovieLens 25M, not at this small size): the top 1% of movies hold a
	// large share of the ratings; the most active user rates many times
	// the median.
	opts = ScaleOptions(200_000, 5)
	opts.Movies, opts.Users = 5000, 1000
	perMovie, perUser = counts(Generate(opts))
	sorted := slices.Clone(perMovie)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	top := 0
	for _, c := range sorted[:len(sorted)/100] {
		top += c
	}
	if share := float64(top) / float64(opts.Ratings); share < 0.15 {
		t.Errorf("top 1%% of movies hold %.1f%% of the ratings, want a long tail (>= 15%%)", 100*share)
	}
	if mx, med := slices.Max(perUser), median(perUser); mx < 8*med {
		t.Errorf("most active user %d ratings, median %d: want a heavy tail (>= 8x)", mx, med)
	}
	scores := map[float64]int{}
	for _, r := range ds.Ratings {
		scores[r.Score]++
	}
	if len(scores) != 10 {
		t.Errorf("scores used: %v, want all ten half stars", scores)
	}
	if len(ds.Tags) < len(ds.Ratings)/50 {
		t.Errorf("%d tags for %d ratings, want some", len(ds.Tags), len(ds.Ratings))
	}
}

// TestNewStream: the import stream carries Generate's data set, and can be
// read more than once.
func TestNewStream(t *testing.T) {
	opts := Options{Movies: 300, Users: 40, Ratings: 2500, Seed: 7}
	want := Generate(opts)
	st := NewStream(context.Background(), opts)
	if !reflect.DeepEqual(st.Movies, want.Movies) || !reflect.DeepEqual(st.Users, want.Users) || st.RatingsHint != len(want.Ratings) {
		t.Errorf("movies, users or hint differ from Generate's")
	}
	for range 2 {
		var rs []movierec.DatasetRating
		var ts []movierec.DatasetTag
		err := errors.Join(st.Ratings(func(r movierec.DatasetRating) error { rs = append(rs, r); return nil }),
			st.Tags(func(t movierec.DatasetTag) error { ts = append(ts, t); return nil }))
		if err != nil || !reflect.DeepEqual(rs, want.Ratings) || !reflect.DeepEqual(ts, want.Tags) {
			t.Fatalf("read: %v; %d/%d ratings, %d/%d tags", err, len(rs), len(want.Ratings), len(ts), len(want.Tags))
		}
	}
	if st.UserName(12) != "demo_user_12" {
		t.Errorf("UserName(12) = %q", st.UserName(12))
	}
}
