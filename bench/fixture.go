package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode"

	"golang.org/x/sync/errgroup"
)

// Fixture is what the scenarios draw their requests from: the catalog's
// most-rated movies, its genres, words of its titles, and the accounts
// registered for this run (each has rated a few movies, so it gets personal
// recommendations).
type Fixture struct {
	// Movies are up to 1,000 movie IDs, most rated first; requests pick them
	// Zipf-like (rank r has weight 1/r), as users pick popular titles.
	Movies []int64
	// Genres are the catalog's genres with their sizes.
	Genres []Genre
	// Words are search words taken from the most-rated titles.
	Words []string
	// ListCount is the number of movies in the catalog.
	ListCount int
	// Users are the accounts registered for the run.
	Users []Account
	// Sample are up to 2,000 movie IDs drawn evenly from the whole catalog
	// (tail movies included), for similar-any.
	Sample []int64
	// StaffToken is a staff account's access token ("" without one), and
	// DataUsers the largest user ID 1..DataUsers of the data set has (found
	// by probing the staff route), for recommendations-data.
	StaffToken string
	DataUsers  int

	movieCDF []float64
}

// Genre is one genre of the catalog.
type Genre struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	MovieCount int    `json:"movie_count"`
}

// Account is a registered user with its password and access token.
type Account struct {
	Username, Password, Token string
}

// fixtureOptions says how many accounts to register and how many ratings
// each gives.
type fixtureOptions struct {
	users, ratingsPerUser int
	// prefix makes the run's usernames unique (several runs may share one
	// database when a running server is targeted).
	prefix string
	// staff is "NAME:PASSWORD" of a staff account, or "".
	staff string
}

// statusError is an answer outside 2xx.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// api is a small JSON client for setting up a run.
type api struct {
	base   string
	client *http.Client
}

func (a api) do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data[:min(len(data), 300)]))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// page is the envelope of the API's paginated lists.
type page[T any] struct {
	Count   int `json:"count"`
	Results []T `json:"results"`
}

// loadFixture reads the catalog through the API at base and registers the
// run's accounts. say reports progress.
func loadFixture(ctx context.Context, base string, opts fixtureOptions, say func(string)) (*Fixture, error) {
	a := api{base: base, client: &http.Client{Timeout: 60 * time.Second}}
	f := &Fixture{}
	type movie struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	}
	seenWord := map[string]bool{}
	for p := 1; p <= 10; p++ {
		var pg page[movie]
		if err := a.do(ctx, http.MethodGet, fmt.Sprintf("/api/movies/?ordering=-rating_count&page_size=100&page=%d", p), "", nil, &pg); err != nil {
			return nil, err
		}
		f.ListCount = pg.Count
		for _, m := range pg.Results {
			f.Movies = append(f.Movies, m.ID)
			for _, w := range titleWords(m.Title) {
				if !seenWord[w] && len(f.Words) < 200 {
					seenWord[w] = true
					f.Words = append(f.Words, w)
				}
			}
		}
		if p*100 >= pg.Count {
			break
		}
	}
	if len(f.Movies) == 0 {
		return nil, fmt.Errorf("the catalog at %s has no movies: import a data set first", base)
	}
	if len(f.Words) == 0 {
		f.Words = []string{"the"}
	}
	var genres page[Genre]
	if err := a.do(ctx, http.MethodGet, "/api/movies/genres/", "", nil, &genres); err != nil {
		return nil, err
	}
	for _, g := range genres.Results {
		if g.MovieCount > 0 {
			f.Genres = append(f.Genres, g)
		}
	}
	if len(f.Genres) == 0 {
		return nil, fmt.Errorf("the catalog at %s has no genres with movies", base)
	}
	f.movieCDF = harmonicCDF(len(f.Movies))
	if err := f.sampleCatalog(ctx, a); err != nil {
		return nil, err
	}
	if opts.staff != "" {
		if err := f.findDataUsers(ctx, a, opts.staff); err != nil {
			return nil, err
		}
	}

	if opts.users > 0 {
		say(fmt.Sprintf("registering %d users and giving each %d ratings", opts.users, opts.ratingsPerUser))
		f.Users = make([]Account, opts.users)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(4)
		rng := rand.New(rand.NewPCG(7, 11))
		for i := range f.Users {
			u := &f.Users[i]
			u.Username = fmt.Sprintf("%s%d", opts.prefix, i)
			u.Password = "bench-" + opts.prefix + "-password"
			picks := make([]int64, opts.ratingsPerUser)
			for j := range picks {
				picks[j] = f.Movies[pickIndex(rng, f.movieCDF)]
			}
			g.Go(func() error {
				var out struct {
					Access string `json:"access"`
				}
				body := map[string]string{"username": u.Username, "email": u.Username + "@bench.invalid", "password": u.Password}
				if err := a.do(gctx, http.MethodPost, "/api/auth/register/", "", body, &out); err != nil {
					return err
				}
				u.Token = out.Access
				for j, id := range picks {
					score := float64(1+(i+j)%10) / 2
					if err := a.do(gctx, http.MethodPost, fmt.Sprintf("/api/ratings/movies/%d/rate/", id), u.Token, map[string]float64{"score": score}, nil); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, fmt.Errorf("setting up accounts: %w", err)
		}
	}
	return f, nil
}

// sampleCatalog fills f.Sample with the movies of up to 20 list pages of
// 100 (ordered by title) spread evenly over the catalog.
func (f *Fixture) sampleCatalog(ctx context.Context, a api) error {
	var pg page[struct {
		ID int64 `json:"id"`
	}]
	pages := (f.ListCount + 99) / 100
	step := max(1, pages/20)
	for p := 1; p <= pages && len(f.Sample) < 2000; p += step {
		if err := a.do(ctx, http.MethodGet, fmt.Sprintf("/api/movies/?ordering=title&page_size=100&page=%d", p), "", nil, &pg); err != nil {
			return err
		}
		for _, m := range pg.Results {
			f.Sample = append(f.Sample, m.ID)
		}
	}
	if len(f.Sample) == 0 {
		f.Sample = f.Movies
	}
	return nil
}

// findDataUsers signs in as the staff account and finds the largest n such
// that the data set's user n has recommendations (users 1..n exist): it
// doubles n while user n answers, then bisects. A data set whose user 1
// does not answer has no DataUsers.
func (f *Fixture) findDataUsers(ctx context.Context, a api, staff string) error {
	name, pass, ok := strings.Cut(staff, ":")
	if !ok {
		return fmt.Errorf("bench: staff account %q: want NAME:PASSWORD", staff)
	}
	var out struct {
		Access string `json:"access"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/auth/login/", "", map[string]string{"username": name, "password": pass}, &out); err != nil {
		return fmt.Errorf("bench: signing in as the staff account: %w", err)
	}
	f.StaffToken = out.Access
	has := func(id int) (bool, error) {
		err := a.do(ctx, http.MethodGet, fmt.Sprintf("/api/recommendations/users/%d/?limit=1", id), f.StaffToken, nil, nil)
		if se := (*statusError)(nil); errors.As(err, &se) && se.code == http.StatusNotFound {
			return false, nil
		}
		return err == nil, err
	}
	lo := 0 // user lo answers (0: none known)
	hi := 1 // the first ID not known to answer
	for {
		ok, err := has(hi)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
		if hi > 1<<30 {
			return errors.New("bench: the data set's users do not end")
		}
	}
	for hi-lo > 1 { // lo answers, hi does not
		mid := lo + (hi-lo)/2
		ok, err := has(mid)
		if err != nil {
			return err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	f.DataUsers = lo
	return nil
}

// titleWords returns a title's words of four letters or more, lower-cased.
func titleWords(title string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(title, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len([]rune(w)) >= 4 {
			out = append(out, strings.ToLower(w))
		}
	}
	return out
}

// harmonicCDF is the cumulative distribution of n ranks with weights 1/r.
func harmonicCDF(n int) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range cdf {
		sum += 1 / float64(i+1)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return cdf
}

// pickIndex draws an index from a cumulative distribution.
func pickIndex(r *rand.Rand, cdf []float64) int {
	i := sort.SearchFloat64s(cdf, r.Float64())
	return min(i, len(cdf)-1)
}

// movie draws a movie ID, popular ones more often.
func (f *Fixture) movie(r *rand.Rand) int64 { return f.Movies[pickIndex(r, f.movieCDF)] }

// genre draws a genre, large ones more often.
func (f *Fixture) genre(r *rand.Rand) Genre {
	total := 0
	for _, g := range f.Genres {
		total += g.MovieCount
	}
	n := r.IntN(total)
	for _, g := range f.Genres {
		if n < g.MovieCount {
			return g
		}
		n -= g.MovieCount
	}
	return f.Genres[len(f.Genres)-1]
}

// user draws one of the run's accounts.
func (f *Fixture) user(r *rand.Rand) Account { return f.Users[r.IntN(len(f.Users))] }

// listPage draws a page number in 1..pages (at most 20), first pages more
// often (weight 1/p), as people rarely page deep.
func listPage(r *rand.Rand, pages int) int {
	pages = max(1, min(pages, 20))
	sum := 0.0
	for p := 1; p <= pages; p++ {
		sum += 1 / float64(p)
	}
	x := r.Float64() * sum
	for p := 1; p < pages; p++ {
		if x -= 1 / float64(p); x < 0 {
			return p
		}
	}
	return pages
}
