package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/sqlstore"
	"github.com/movierec/movierec/storetest"
)

// runCmd runs the binary's entry point with a clean environment plus env
// and an empty stdin.
func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCmdContext(context.Background(), env, args...)
}

// runCmdInput is runCmd with stdin as the command's (piped) standard input.
func runCmdInput(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCmdReader(context.Background(), env, strings.NewReader(stdin), args...)
}

// runCmdContext is runCmd under ctx (cancel it to stop serve).
func runCmdContext(ctx context.Context, env map[string]string, args ...string) (stdout, stderr string, err error) {
	return runCmdReader(ctx, env, strings.NewReader(""), args...)
}

// runCmdReader runs the entry point under ctx with stdin.
func runCmdReader(ctx context.Context, env map[string]string, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(ctx, args, func(k string) string { return env[k] }, stdin, &out, &errOut)
	return out.String(), errOut.String(), err
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dbURLs returns a fresh database URL per backend under test.
func dbURLs(t *testing.T) map[string]string {
	urls := map[string]string{"sqlite": "sqlite://" + filepath.Join(t.TempDir(), "m.db")}
	if pg := os.Getenv(storetest.PostgresURLEnv); pg != "" {
		s := storetest.OpenPostgres(t) // a schema of its own, dropped at the end
		schema := ""
		if err := s.Conn().QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		sep := "?"
		if strings.Contains(pg, "?") {
			sep = "&"
		}
		urls["postgres"] = pg + sep + "search_path=" + schema
	}
	return urls
}

func countMovies(t *testing.T, url string) int {
	t.Helper()
	n := 0
	withStore(t, url, func(s *sqlstore.Store) {
		p, err := s.ListMovies(context.Background(), movierec.MovieFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		n = p.Count
	})
	return n
}

var goodCSV = map[string]string{
	"movies.csv":  "movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n2,\"American President, The (1995)\",Comedy|Drama|Romance\r\n3,Untitled,(no genres listed)\r\n",
	"ratings.csv": "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2,3.5,964982704\r\n2,1,5.0,964982705\r\n",
	"tags.csv":    "userId,movieId,tag,timestamp\r\n2,1,pixar,1445714994\r\n",
	"links.csv":   "movieId,imdbId,tmdbId\r\n1,0114709,862\r\n2,0112346,\r\n3,0000001,3\r\n",
}

func TestImportCommand(t *testing.T) {
	for backend, url := range dbURLs(t) {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": url}
			t.Run("ErrMalformedRow", func(t *testing.T) {
				files := map[string]string{}
				for k, v := range goodCSV {
					files[k] = v
				}
				files["ratings.csv"] = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,lots,964982704\n"
				_, _, err := runCmd(t, env, "import", "movielens", writeFiles(t, files))
				if err == nil || !strings.Contains(err.Error(), "ratings.csv line 3") {
					t.Fatalf("got %v, want an error naming ratings.csv line 3", err)
				}
				if n := countMovies(t, url); n != 0 {
					t.Errorf("a failed import left %d movies", n)
				}
			})
			t.Run("OK", func(t *testing.T) {
				dir := writeFiles(t, goodCSV)
				out, errOut, err := runCmd(t, env, "import", "movielens", dir)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(out, "3 movies, 2 users, 3 ratings, 1 tag applications") {
					t.Errorf("summary %q", out)
				}
				if !strings.Contains(errOut, "load ratings...") {
					t.Errorf("no progress on stderr: %q", errOut)
				}
				if _, _, err := runCmd(t, env, "import", "movielens", dir); err != nil {
					t.Fatalf("second import: %v", err)
				}
				if n := countMovies(t, url); n != 3 {
					t.Errorf("%d movies after importing twice, want 3", n)
				}
			})
		})
	}
}

func TestDemoDataCommand(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "demo.db")
	out, _, err := runCmd(t, map[string]string{"DATABASE_URL": url}, "demo-data")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "4000 movies") || countMovies(t, url) != 4000 {
		t.Errorf("demo-data said %q and loaded %d movies", out, countMovies(t, url))
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"import"}, {"import", "imdb", "x"}, {"serve", "-nope"}} {
		if _, _, err := runCmd(t, nil, args...); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
	if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": "mysql://x"}, "migrate"); err == nil {
		t.Errorf("an unsupported DATABASE_URL was accepted")
	}
	if _, _, err := runCmd(t, map[string]string{"MOVIEREC_DB_MAX_CONNS": "lots"}, "migrate"); err == nil ||
		!strings.Contains(err.Error(), "MOVIEREC_DB_MAX_CONNS") {
		t.Errorf("bad MOVIEREC_DB_MAX_CONNS: %v", err)
	}
}

// TestDBFlagAnywhere: -db names the database before the command, after it,
// or between the command's arguments; it never turns a command into serve.
func TestDBFlagAnywhere(t *testing.T) {
	dir := writeFiles(t, goodCSV)
	for i, args := range [][]string{
		{"-db", "%s", "import", "movielens", dir},
		{"import", "movielens", "-db", "%s", dir},
		{"import", "-db=%s", "movielens", dir},
		{"import", "movielens", dir, "--db", "%s"},
	} {
		url := "sqlite://" + filepath.Join(t.TempDir(), fmt.Sprintf("flag%d.db", i))
		for j := range args {
			args[j] = strings.Replace(args[j], "%s", url, 1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, _, err := runCmdContext(ctx, nil, args...)
		cancel()
		if err != nil || !strings.Contains(out, "3 movies") || countMovies(t, url) != 3 {
			t.Errorf("%v: %q, %v; %d movies imported", args, out, err, countMovies(t, url))
		}
	}
	if _, _, err := runCmd(t, nil, "-db"); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("-db without a value: %v", err)
	}
}

func TestMigrateCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": "sqlite://" + path}, "migrate"); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), path) // opening again finds nothing to do
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.Conn().QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n); err != nil || n == 0 {
		t.Errorf("no migrations recorded: %d, %v", n, err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db": "postgres://u:xxxxx@h:5432/db",
		"postgres://u@h/db":             "postgres://u@h/db",
		"sqlite://x.db":                 "sqlite://x.db",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
