// Command movierec is the movie recommendation API server and its tools.
//
//	movierec serve                  run the HTTP API (the default command)
//	movierec migrate                apply database migrations
//	movierec import movielens DIR   load a MovieLens CSV directory
//	movierec demo-data              load the generated demo catalog
//	movierec demo-data -ratings N -out DIR   write a MovieLens-shaped data set
//	movierec user create --username NAME --email EMAIL [--staff]
//	movierec user set-password --username NAME
//	movierec bench [-short] [-out DIR]   load tests against the seed's targets
//
// Configuration comes from the environment (see config.go and README.md);
// flags override it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/movierec/movierec"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "movierec:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage: movierec <command> [flags]

commands:
  serve                  run the HTTP API (default when no command is given)
  migrate                apply pending database migrations
  import movielens DIR   import a MovieLens CSV directory (movies.csv, ratings.csv, tags.csv, links.csv)
  demo-data [-ratings N [-movies N] [-users N] [-seed S]] [-out DIR]
                         load the deterministic demo catalog into the database; with -ratings,
                         a synthetic data set shaped like MovieLens at that size (25000000:
                         62,000 movies, 162,000 users, as MovieLens 25M); with -out, write it
                         as MovieLens CSVs in DIR instead of loading it
  user create --username NAME --email EMAIL [--staff]
                         create an account; the password is the first line of stdin (prompted for on a terminal)
  user set-password --username NAME
                         set an account's password (read as for create) and end all of its sessions
  train                  train a recommendation model on the database's ratings and store it
  recommend --user ID [--limit K] [--algorithm A] [--json]
                         print a user's recommendations from the stored model
  eval [-data DIR] [-k 10] [-seed 42 | -seeds 1-5] [-test-fraction 0.25] [-split random|latest] [-algorithms LIST] [-json]
                         offline evaluation of every recommender on a MovieLens directory
  bench [-short] [-out DIR] [-postgres URL] [-redis URL] [-instances N] [-url URLS] ...
                         load-test movierec against the seed guide's targets and a bare
                         net/http baseline; starts its own servers unless -url is given
                         (movierec bench -h lists every flag)

common flags:
  -db URL                database (DATABASE_URL): sqlite:///path/file.db or postgres://...
serve flags:
  -addr HOST:PORT        listen address (MOVIEREC_ADDR, default :8000)
`

// run executes one command; main only adds signals and exit codes.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	// -db may come before the command (movierec -db URL import ...).
	var lead []string
	for len(args) > 0 {
		if args[0] == "-db" || args[0] == "--db" {
			if len(args) < 2 {
				return fmt.Errorf("%w: flag needs an argument: -db", errUsage)
			}
			lead, args = append(lead, args[:2]...), args[2:]
		} else if strings.HasPrefix(args[0], "-db=") || strings.HasPrefix(args[0], "--db=") {
			lead, args = append(lead, args[0]), args[1:]
		} else {
			break
		}
	}
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	args = append(lead, args...)
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&cfg.DatabaseURL, "db", cfg.DatabaseURL, "database URL")
	var recOpts recommendOptions
	var evalOpts evalOptions
	var demoOpts demoOptions
	var benchOpts *benchOptions
	switch cmd {
	case "serve":
		fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	case "recommend":
		recOpts = recommendFlags(fs)
	case "eval":
		evalOpts = evalFlags(fs)
	case "demo-data":
		demoOpts = demoFlags(fs)
	case "bench":
		benchOpts = benchFlags(fs)
		fs.Usage = func() {
			fmt.Fprint(stderr, "usage: movierec bench [flags]\n\nflags:\n")
			fs.PrintDefaults()
		}
	}
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve", "migrate", "import", "demo-data", "user", "train", "recommend", "eval", "bench":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	if err := parseFlags(fs, args, cmd != "user"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	log := cfg.logger()
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		store, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		fmt.Fprintf(stdout, "migrations applied to %s\n", redactURL(cfg.DatabaseURL))
		return nil
	case "import":
		rest := fs.Args()
		if len(rest) != 2 || rest[0] != "movielens" {
			fmt.Fprint(stderr, usage)
			return fmt.Errorf("%w: want: movierec import movielens DIR", errUsage)
		}
		return importMovieLens(ctx, cfg, rest[1], stdout, stderr)
	case "demo-data":
		if len(fs.Args()) > 0 {
			return fmt.Errorf("%w: demo-data takes no arguments (got %q)", errUsage, fs.Args())
		}
		return demoDataCommand(ctx, cfg, demoOpts, stdout, stderr)
	case "user":
		return userCommand(ctx, cfg, fs, stdin, stdout, stderr)
	case "train":
		return trainModel(ctx, cfg, log, stdout, stderr)
	case "recommend":
		return recommendCommand(ctx, cfg, log, recOpts, stdout)
	case "eval":
		return evalCommand(ctx, cfg, evalOpts, stdout, stderr)
	case "bench":
		return benchCommand(ctx, benchOpts, fs.Args(), args, stdout, stderr)
	}
	return nil
}

// parseFlags parses args into fs. With interspersed, flags may also come
// after positional arguments (movierec import movielens -db URL DIR);
// fs.Args() then holds the positional ones. The user command parses its
// subcommand's flags itself, so its flags stop at the first positional.
func parseFlags(fs *flag.FlagSet, args []string, interspersed bool) error {
	if !interspersed {
		return fs.Parse(args)
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional, args = append(positional, args[0]), args[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// exitMessage makes bad-input errors read as such on the command line.
func exitMessage(err error) error {
	if movierec.ErrorCode(err) == movierec.EINVALID {
		return errors.New(movierec.ErrorMessage(err))
	}
	return err
}
