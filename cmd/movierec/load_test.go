package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressLine: the live line shows rows per second and the time left
// once a stage has run a second.
func TestProgressLine(t *testing.T) {
	for _, c := range []struct {
		done, total int
		elapsed     time.Duration
		want        string
	}{
		{1_000_000, 25_000_000, 2 * time.Second, "load ratings       1000000 / 25000000 (  4%)  500,000 rows/s, 48s left"},
		{5, 0, 10 * time.Second, "load ratings             5  0 rows/s"},
		{100, 1000, 500 * time.Millisecond, "load ratings           100 / 1000 ( 10%)"},
		{1000, 1000, 4 * time.Second, "load ratings          1000 / 1000 (100%)  250 rows/s"},
	} {
		if got := progressLine("load ratings", c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("progressLine(%d, %d, %v)\n got %q\nwant %q", c.done, c.total, c.elapsed, got, c.want)
		}
	}
}

// TestProgressStages: off a terminal, each stage prints a line when it
// starts and its duration when the next one does.
func TestProgressStages(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	clock := time.Unix(0, 0)
	p.now = func() time.Time { return clock }
	p.report("load ratings", 0, 10)
	clock = clock.Add(1500 * time.Millisecond)
	p.report("load ratings", 5, 10)
	p.report("aggregates", 0, 1)
	clock = clock.Add(time.Second)
	p.done()
	want := "load ratings...\nload ratings: 1.5s\naggregates...\naggregates: 1s\n"
	if b.String() != want {
		t.Errorf("output\n%s\nwant\n%s", b.String(), want)
	}
}

// TestDemoDataWrite: demo-data -ratings N -out DIR writes a MovieLens
// directory that import reads back (users, movies and ratings as written).
func TestDemoDataWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ml")
	var out, errOut bytes.Buffer
	env := func(string) string { return "" }
	if err := run(t.Context(), []string{"demo-data", "-ratings", "1500", "-seed", "4", "-out", dir}, env, nil, &out, &errOut); err != nil {
		t.Fatalf("demo-data: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "1500 ratings") {
		t.Errorf("demo-data printed %q", out.String())
	}
	for _, f := range []string{"movies.csv", "ratings.csv", "tags.csv", "links.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 30 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The same code paths as a 25M import: bulk into empty tables, then
	// the merge into full ones.
	for backend, db := range dbURLs(t) {
		for _, pass := range []string{"first", "repeat"} {
			out.Reset()
			if err := run(t.Context(), []string{"import", "movielens", dir, "-db", db}, env, nil, &out, &errOut); err != nil {
				t.Fatalf("%s, %s import: %v\n%s", backend, pass, err, errOut.String())
			}
			if !strings.Contains(out.String(), "1500 ratings") || !strings.Contains(out.String(), "100 movies") {
				t.Errorf("%s, %s import printed %q", backend, pass, out.String())
			}
		}
		if n := countMovies(t, db); n != 100 {
			t.Errorf("%s: %d movies", backend, n)
		}
	}
	for _, args := range [][]string{
		{"demo-data", "-movies", "5"},
		{"demo-data", "-ratings", "-1"},
		{"demo-data", "extra"},
	} {
		if err := run(t.Context(), args, env, nil, &out, &errOut); err == nil {
			t.Errorf("%q: no usage error", args)
		}
	}
}
