package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/cache"
	"github.com/movierec/movierec/demodata"
	"github.com/movierec/movierec/movielens"
	"github.com/movierec/movierec/observe"
	"github.com/movierec/movierec/sqlstore"
)

// importMovieLens reads dir and loads it, printing progress and timings.
func importMovieLens(ctx context.Context, cfg config, dir string, stdout, stderr io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	progress := newProgress(stderr)
	start := time.Now()
	ds, err := movielens.Read(ctx, dir, progress.report)
	progress.done()
	if err != nil {
		return exitMessage(err)
	}
	read := time.Since(start)
	res, err := store.Import(ctx, ds, progress.report)
	progress.done()
	if err != nil {
		return err
	}
	invalidateShared(ctx, cfg)
	fmt.Fprintf(stdout, "imported %s into %s: %d movies, %d users, %d ratings, %d tag applications (read %v, load %v, total %v)\n",
		dir, store.Dialect(), res.Movies, res.Users, res.Ratings, res.Tags,
		read.Round(time.Millisecond), res.Elapsed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return nil
}

// loadDemoData loads the generated demo catalog.
func loadDemoData(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := importDemo(ctx, store, newProgress(stderr))
	if err != nil {
		return err
	}
	invalidateShared(ctx, cfg)
	fmt.Fprintf(stdout, "loaded demo data into %s: %d movies, %d users, %d ratings, %d tag applications in %v\n",
		store.Dialect(), res.Movies, res.Users, res.Ratings, res.Tags, res.Elapsed.Round(time.Millisecond))
	return nil
}

func importDemo(ctx context.Context, store *sqlstore.Store, p *progress) (sqlstore.ImportResult, error) {
	res, err := store.Import(ctx, demodata.Generate(demodata.DefaultOptions()), p.report)
	p.done()
	return res, err
}

// progress prints a live status line on a terminal and a line per stage
// elsewhere (logs, CI).
type progress struct {
	w     io.Writer
	tty   bool
	stage string
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) report(stage string, done, total int) {
	if p.tty {
		if total > 0 {
			fmt.Fprintf(p.w, "\r\033[K%-22s %9d / %d (%3.0f%%)", stage, done, total, 100*float64(done)/float64(total))
		} else {
			fmt.Fprintf(p.w, "\r\033[K%-22s %9d", stage, done)
		}
		return
	}
	if stage != p.stage {
		p.stage = stage
		fmt.Fprintf(p.w, "%s...\n", stage)
	}
}

// done ends the live status line.
func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.stage = ""
}

var _ movierec.Progress = (&progress{}).report

// invalidateShared tells running servers sharing REDIS_URL that the
// catalog changed.
func invalidateShared(ctx context.Context, cfg config) {
	if cfg.RedisURL == "" {
		return
	}
	c, closeCache, err := newCache(cfg, observe.NewMetrics(), cfg.logger())
	if err != nil || c == nil {
		return
	}
	defer closeCache()
	c.Invalidate(ctx, cache.Scope{})
}
