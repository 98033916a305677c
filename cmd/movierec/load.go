package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/term"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/movielens"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/sqlstore"
)

// importMovieLens loads dir, streaming its ratings and tags, and prints
// progress and timings.
func importMovieLens(ctx context.Context, cfg config, dir string, stdout, stderr io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	progress := newProgress(stderr)
	start := time.Now()
	ds, err := movielens.Open(ctx, dir, progress.report)
	progress.done()
	if err != nil {
		return exitMessage(err)
	}
	// Exclusive: a first import on SQLite may journal without the WAL
	// (sqlstore.ImportStream).
	res, err := store.ImportStream(ctx, ds, progress.report, sqlstore.Exclusive)
	progress.done()
	if err != nil {
		return exitMessage(err)
	}
	invalidateShared(ctx, cfg, store)
	fmt.Fprintf(stdout, "imported %s into %s: %d movies, %d users, %d ratings, %d tag applications in %v\n",
		dir, store.Dialect(), res.Movies, res.Users, res.Ratings, res.Tags, time.Since(start).Round(time.Millisecond))
	return nil
}

// demoOptions are the flags of demo-data.
type demoOptions struct {
	ratings, movies, users *int
	seed                   *uint64
	out                    *string
}

func demoFlags(fs *flag.FlagSet) demoOptions {
	return demoOptions{
		ratings: fs.Int("ratings", 0, "generate a MovieLens-shaped data set of this many ratings instead of the demo catalog"),
		movies:  fs.Int("movies", 0, "movies of the generated data set (default: as MovieLens 25M per rating)"),
		users:   fs.Int("users", 0, "users of the generated data set (default: as MovieLens 25M per rating)"),
		seed:    fs.Uint64("seed", 1, "seed of the generated data set"),
		out:     fs.String("out", "", "write the data set as MovieLens CSVs into this directory instead of loading it"),
	}
}

// maxDemoRatings bounds -ratings: the 25M shape with room to spare.
const maxDemoRatings = 100_000_000

// options returns the generator's options, or an error for flags that do
// not go together.
func (o demoOptions) options() (demodata.Options, error) {
	if *o.ratings == 0 {
		if *o.movies != 0 || *o.users != 0 {
			return demodata.Options{}, fmt.Errorf("%w: -movies and -users need -ratings", errUsage)
		}
		opts := demodata.DefaultOptions()
		if *o.seed != 1 {
			opts.Seed = *o.seed
		}
		return opts, nil
	}
	if *o.ratings < 0 || *o.ratings > maxDemoRatings || *o.movies < 0 || *o.users < 0 || *o.movies > 1_000_000 || *o.users > 1_000_000 {
		return demodata.Options{}, fmt.Errorf("%w: want -ratings 1..%d, -movies and -users 0..1000000", errUsage, maxDemoRatings)
	}
	opts := demodata.ScaleOptions(*o.ratings, *o.seed)
	if *o.movies > 0 {
		opts.Movies = *o.movies
	}
	if *o.users > 0 {
		opts.Users = *o.users
	}
	return opts, nil
}

// demoDataCommand loads a generated data set, or writes it with -out.
func demoDataCommand(ctx context.Context, cfg config, o demoOptions, stdout, stderr io.Writer) error {
	opts, err := o.options()
	if err != nil {
		return err
	}
	if *o.out != "" {
		return writeDemoData(ctx, opts, *o.out, stdout, stderr)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := importDemo(ctx, store, opts, newProgress(stderr), sqlstore.Exclusive)
	if err != nil {
		return err
	}
	invalidateShared(ctx, cfg, store)
	fmt.Fprintf(stdout, "loaded demo data into %s: %d movies, %d users, %d ratings, %d tag applications in %v\n",
		store.Dialect(), res.Movies, res.Users, res.Ratings, res.Tags, res.Elapsed.Round(time.Millisecond))
	return nil
}

// writeDemoData writes the data set of opts as MovieLens CSVs into dir.
func writeDemoData(ctx context.Context, opts demodata.Options, dir string, stdout, stderr io.Writer) error {
	start := time.Now()
	w, err := movielens.Create(dir)
	if err != nil {
		return err
	}
	p := newProgress(stderr)
	var ratings, tags int
	err = demodata.Stream(ctx, opts, demodata.Sink{
		Movies: w.WriteMovies,
		Ratings: func(rs []movierec.DatasetRating, ts []movierec.DatasetTag) error {
			ratings += len(rs)
			tags += len(ts)
			return errors.Join(w.WriteRatings(rs), w.WriteTags(ts))
		},
	}, p.report)
	p.done()
	if err = errors.Join(err, w.Close()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d movies, %d users, %d ratings, %d tag applications (seed %d) in %v\n",
		dir, opts.Movies, opts.Users, ratings, tags, opts.Seed, time.Since(start).Round(time.Millisecond))
	return nil
}

// importDemo loads the generated data set of opts.
func importDemo(ctx context.Context, store *sqlstore.Store, opts demodata.Options, p *progress, io ...sqlstore.ImportOption) (sqlstore.ImportResult, error) {
	res, err := store.ImportStream(ctx, demodata.NewStream(ctx, opts), p.report, io...)
	p.done()
	return res, err
}

// progress prints a live status line on a terminal (the stage, rows done
// of the total, rows per second and the time left) and a line per stage
// elsewhere (logs, CI), with how long the stage before it took.
type progress struct {
	w       io.Writer
	tty     bool
	stage   string
	started time.Time
	now     func() time.Time
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), now: time.Now}
}

func (p *progress) report(stage string, done, total int) {
	now := p.now()
	if stage != p.stage {
		if !p.tty && p.stage != "" {
			fmt.Fprintf(p.w, "%s: %v\n", p.stage, now.Sub(p.started).Round(time.Millisecond))
		}
		p.stage, p.started = stage, now
		if !p.tty {
			fmt.Fprintf(p.w, "%s...\n", stage)
		}
	}
	if !p.tty {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s", progressLine(stage, done, total, now.Sub(p.started)))
}

// progressLine is the live status: "load ratings 1200000 / 25000000 (5%)
// 410,000 rows/s, 58s left".
func progressLine(stage string, done, total int, elapsed time.Duration) string {
	line := fmt.Sprintf("%-16s %9d", stage, done)
	if total > 0 {
		line += fmt.Sprintf(" / %d (%3.0f%%)", total, 100*float64(done)/float64(total))
	}
	if elapsed < time.Second || done == 0 {
		return line
	}
	rate := float64(done) / elapsed.Seconds()
	line += fmt.Sprintf("  %s rows/s", groupThousands(int64(rate)))
	if total > done {
		line += fmt.Sprintf(", %v left", time.Duration(float64(total-done)/rate*float64(time.Second)).Round(time.Second))
	}
	return line
}

// groupThousands writes n with commas: 1234567 → "1,234,567".
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// done ends the live status line (and, elsewhere, times the last stage).
func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	} else if p.stage != "" {
		fmt.Fprintf(p.w, "%s: %v\n", p.stage, p.now().Sub(p.started).Round(time.Millisecond))
	}
	p.stage = ""
}

var _ movierec.Progress = (&progress{}).report

// invalidateShared tells running servers sharing REDIS_URL that the
// catalog changed.
func invalidateShared(ctx context.Context, cfg config, store *sqlstore.Store) {
	if cfg.RedisURL == "" {
		return
	}
	c, closeCache, err := newCache(ctx, cfg, store, observe.NewMetrics(), cfg.logger())
	if err != nil || c == nil {
		return
	}
	defer closeCache()
	c.Invalidate(ctx, cache.Scope{})
}
