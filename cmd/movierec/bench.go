package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/movierec/movierec/bench"
)

// defaultBenchData is ml-latest-small where the repository's README puts it
// (beside the checkout); without it the bench generates a data set.
const defaultBenchData = "../shared/data/movielens/ml-latest-small"

// benchOptions are `movierec bench`'s flags.
type benchOptions struct {
	opts               bench.Options
	conns, writes      string
	scenarios          string
	urls, urlsNoCache  string
	out                string
	bareAddr, bareFrom string
}

func benchFlags(fs *flag.FlagSet) *benchOptions {
	b := &benchOptions{}
	fs.StringVar(&b.opts.Data, "data", "", "MovieLens directory to import (default "+defaultBenchData+" when it exists, else -ratings 100000)")
	fs.IntVar(&b.opts.Ratings, "ratings", 0, "generate and import a MovieLens-shaped data set of this many ratings instead")
	fs.StringVar(&b.opts.Postgres, "postgres", "", "PostgreSQL server URL: a fresh database is created there and dropped at the end (default: SQLite)")
	fs.StringVar(&b.opts.Redis, "redis", "", "Redis URL for the servers (default: the in-process cache)")
	fs.IntVar(&b.opts.Instances, "instances", 1, "servers of each kind sharing the database (1 or 2)")
	fs.StringVar(&b.urls, "url", "", "measure running servers at these base URLs (comma-separated) instead of starting any")
	fs.StringVar(&b.urlsNoCache, "url-nocache", "", "with -url: servers of the same database with MOVIEREC_CACHE=false, for the cache-off scenarios")
	fs.StringVar(&b.conns, "conns", "", "connection counts of the endpoint scenarios (default 10,50,200; short 10)")
	fs.DurationVar(&b.opts.Duration, "duration", 0, "length of one endpoint run (default 5s; short 1.5s)")
	fs.DurationVar(&b.opts.MixedDuration, "mixed-duration", 0, "length of one mixed-workload run (default 60s; short 3s)")
	fs.IntVar(&b.opts.MixedConns, "mixed-conns", 0, "connections of the mixed workload (default 200; short 50)")
	fs.StringVar(&b.writes, "writes", "", "write shares of the mixed workload in percent (default 0,1,5; short 0,5), or none to leave it out")
	fs.StringVar(&b.scenarios, "scenarios", "", "run only these endpoint scenarios (comma-separated names, or none; default all)")
	fs.StringVar(&b.opts.Staff, "staff", "", "with -url: NAME:PASSWORD of a staff account, for recommendations-data (the data set's users)")
	fs.IntVar(&b.opts.Users, "users", 0, "accounts registered for logins, writes and recommendations (default 100; short 20)")
	fs.BoolVar(&b.opts.Short, "short", false, "regression guard: a subset in about a minute; exits 1 on a gross regression (ratios to the bare baseline)")
	fs.StringVar(&b.out, "out", "", "write report.md, results.json and SVG charts into this directory")
	fs.BoolVar(&b.opts.KeepTemp, "keep", false, "keep the temp directory (database, server logs)")
	fs.Uint64Var(&b.opts.Seed, "seed", 42, "seed of the request sequences")
	fs.StringVar(&b.bareAddr, "bare-addr", "", "internal: serve the bare baseline on this address")
	fs.StringVar(&b.bareFrom, "bare-from", "", "internal: the URL whose answer the bare baseline repeats")
	return b
}

// benchCommand runs `movierec bench`: the Markdown report goes to stdout,
// progress to stderr.
// flagArgs are the command line's flags, for the report.
func benchCommand(ctx context.Context, b *benchOptions, args, flagArgs []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: bench takes no arguments (got %q)", errUsage, args)
	}
	if b.bareAddr != "" {
		return bench.ServeBare(ctx, b.bareAddr, b.bareFrom)
	}
	o := b.opts
	var err error
	if o.Conns, err = intList(b.conns); err != nil {
		return fmt.Errorf("%w: -conns: %v", errUsage, err)
	}
	if b.writes == "none" {
		o.NoMixed, b.writes = true, ""
	}
	shares, err := intList(b.writes)
	if err != nil {
		return fmt.Errorf("%w: -writes: %v", errUsage, err)
	}
	for _, s := range shares {
		if s < 0 || s > 100 {
			return fmt.Errorf("%w: -writes: %d is not a percentage", errUsage, s)
		}
		o.WriteShares = append(o.WriteShares, float64(s)/100)
	}
	for _, c := range o.Conns {
		if c < 1 || c > 10000 {
			return fmt.Errorf("%w: -conns: %d connections is out of range (1..10000)", errUsage, c)
		}
	}
	if o.Instances < 1 || o.Instances > 2 {
		return fmt.Errorf("%w: -instances: want 1 or 2", errUsage)
	}
	o.URLs, o.UncachedURLs = splitList(b.urls), splitList(b.urlsNoCache)
	o.Scenarios = splitList(b.scenarios)
	if len(o.URLs) == 0 {
		if o.Data == "" && o.Ratings == 0 {
			if _, err := os.Stat(defaultBenchData); err == nil {
				o.Data = defaultBenchData
			} else {
				o.Ratings = 100_000
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if o.Command == nil {
		o.Command = func(args ...string) *exec.Cmd { return exec.Command(exe, args...) }
	}
	o.Env = os.Environ()
	o.Progress = stderr
	if f, ok := stderr.(*os.File); ok {
		o.Terminal = term.IsTerminal(int(f.Fd()))
	}
	command := strings.TrimSpace("movierec bench " + strings.Join(flagArgs, " "))
	rep, runErr := bench.Run(ctx, o)
	if rep == nil {
		return runErr
	}
	if err := rep.WriteMarkdown(stdout, command, nil); err != nil {
		return err
	}
	if b.out != "" {
		if err := rep.WriteFiles(b.out, command); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: report written to %s/report.md (took %s)\n", b.out, rep.Took.Round(time.Second))
	}
	if errors.Is(runErr, bench.ErrRegression) {
		fmt.Fprintln(stderr, "bench: the regression guard failed:")
		for _, c := range rep.Checks {
			if !c.Pass {
				fmt.Fprintf(stderr, "  %s: %s (want %s)\n", c.What, c.Got, c.Want)
			}
		}
	}
	return runErr
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
