package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
)

// Target is a seed-guide response-time target a scenario is held to (its
// p99 must be under it).
type Target struct {
	Name string
	P99  float64 // milliseconds
}

// The seed guide's targets ("API response times <200ms" for the rest).
var (
	targetList   = Target{"movie list < 150 ms", 150}
	targetDetail = Target{"movie detail < 100 ms", 100}
	targetLogin  = Target{"login < 200 ms", 200}
	targetRecs   = Target{"recommendations < 300 ms", 300}
	targetAPI    = Target{"API response < 200 ms", 200}
)

// Scenario is one kind of request the bench measures.
type Scenario struct {
	Name  string // short, used in tables and charts
	About string // what it asks for
	// Cached says the scenario runs against the servers with the HTTP
	// answer cache on (the default configuration); otherwise against the
	// ones with it off, so it measures the work behind an answer.
	Cached bool
	// Gzip asks for compressed answers, as browsers do.
	Gzip   bool
	Target Target
	gen    func(f *Fixture, base func(*rand.Rand) string) Generator
	// staff says the scenario needs a staff account (Fixture.StaffToken).
	staff bool
}

// get makes a GET generator for paths drawn by path.
func get(path func(f *Fixture, r *rand.Rand) string) func(*Fixture, func(*rand.Rand) string) Generator {
	return func(f *Fixture, base func(*rand.Rand) string) Generator {
		return func(r *rand.Rand) Request { return Request{URL: base(r) + path(f, r)} }
	}
}

var orderings = []string{"-popularity_score", "-popularity_score", "-average_rating", "title", "-release_date"}

func listPath(f *Fixture, r *rand.Rand) string {
	return fmt.Sprintf("/api/movies/?page=%d&ordering=%s", listPage(r, (f.ListCount+19)/20), orderings[r.IntN(len(orderings))])
}

func filteredPath(f *Fixture, r *rand.Rand) string {
	q := url.Values{}
	q.Set("genre", f.genre(r).Name)
	switch r.IntN(3) {
	case 0:
		q.Set("min_rating_count", "10")
		q.Set("ordering", "-average_rating")
	case 1:
		q.Set("release_date__year__gte", "1990")
		q.Set("ordering", "-popularity_score")
	default:
		q.Set("min_user_rating", "3.5")
		q.Set("ordering", "-rating_count")
	}
	return "/api/movies/?" + q.Encode()
}

func searchPath(f *Fixture, r *rand.Rand) string {
	return "/api/movies/?search=" + url.QueryEscape(f.Words[r.IntN(len(f.Words))])
}

func detailPath(f *Fixture, r *rand.Rand) string {
	return fmt.Sprintf("/api/movies/%d/", f.movie(r))
}

func popularPath(_ *Fixture, r *rand.Rand) string {
	return []string{"/api/movies/popular/", "/api/movies/popular/?limit=20"}[r.IntN(2)]
}

func trendingPath(_ *Fixture, r *rand.Rand) string {
	return "/api/movies/trending/?period=" + []string{"week", "week", "month", "day"}[r.IntN(4)]
}

func topRatedPath(_ *Fixture, r *rand.Rand) string {
	return []string{"/api/movies/top-rated/", "/api/movies/top-rated/?min_ratings=50"}[r.IntN(2)]
}

func similarPath(f *Fixture, r *rand.Rand) string {
	return fmt.Sprintf("/api/recommendations/movies/%d/similar/?limit=10", f.movie(r))
}

func genreMoviesPath(f *Fixture, r *rand.Rand) string {
	g := f.genre(r)
	return fmt.Sprintf("/api/movies/genres/%d/movies/?page=%d", g.ID, listPage(r, (g.MovieCount+19)/20))
}

func statsPath(f *Fixture, r *rand.Rand) string {
	return fmt.Sprintf("/api/ratings/movies/%d/stats/", f.movie(r))
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func similarAnyPath(f *Fixture, r *rand.Rand) string {
	return fmt.Sprintf("/api/recommendations/movies/%d/similar/?limit=10", f.Sample[r.IntN(len(f.Sample))])
}

// dataRecsRequest asks for a data-set user's recommendations (any of
// 1..DataUsers, evenly) through the staff route.
func dataRecsRequest(f *Fixture, base string, r *rand.Rand) Request {
	return Request{URL: fmt.Sprintf("%s/api/recommendations/users/%d/?limit=20", base, 1+r.IntN(max(1, f.DataUsers))), Header: bearer(f.StaffToken)}
}

func recsRequest(f *Fixture, base string, r *rand.Rand) Request {
	return Request{URL: base + "/api/recommendations/for-me/?limit=20", Header: bearer(f.user(r).Token)}
}

func rateRequest(f *Fixture, base string, r *rand.Rand) Request {
	return Request{
		Method: http.MethodPost,
		URL:    fmt.Sprintf("%s/api/ratings/movies/%d/rate/", base, f.movie(r)),
		Header: http.Header{"Authorization": {"Bearer " + f.user(r).Token}, "Content-Type": {"application/json"}},
		Body:   fmt.Appendf(nil, `{"score": %.1f}`, float64(1+r.IntN(10))/2),
	}
}

func loginRequest(f *Fixture, base string, r *rand.Rand) Request {
	u := f.user(r)
	return Request{
		Method: http.MethodPost,
		URL:    base + "/api/auth/login/",
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   fmt.Appendf(nil, `{"username": %q, "password": %q}`, u.Username, u.Password),
	}
}

// withBase turns a request maker into a scenario generator.
func withBase(mk func(f *Fixture, base string, r *rand.Rand) Request) func(*Fixture, func(*rand.Rand) string) Generator {
	return func(f *Fixture, base func(*rand.Rand) string) Generator {
		return func(r *rand.Rand) Request { return mk(f, base(r), r) }
	}
}

// Endpoint scenarios, in the order they run at each connection count.
// "list-warm" and "recommendations-warm" ask the default servers (answer
// cache on) for answers they have given before; the rest ask the servers
// with the cache off, so they measure the work behind each answer.
func endpointScenarios() []Scenario {
	return []Scenario{
		{Name: "list-warm", About: "GET /api/movies/, warm (answer cache on), gzip", Cached: true, Gzip: true, Target: targetList,
			gen: get(func(*Fixture, *rand.Rand) string { return "/api/movies/" })},
		{Name: "list-warm-plain", About: "GET /api/movies/, warm, uncompressed", Cached: true, Target: targetList,
			gen: get(func(*Fixture, *rand.Rand) string { return "/api/movies/" })},
		{Name: "list", About: "list pages 1–20 (first pages more often), four orderings, cache off", Gzip: true, Target: targetList, gen: get(listPath)},
		{Name: "filtered", About: "a genre plus a rating-count, year or average filter, ordered, cache off", Gzip: true, Target: targetList, gen: get(filteredPath)},
		{Name: "search", About: "?search= a word of a popular title, cache off", Gzip: true, Target: targetList, gen: get(searchPath)},
		{Name: "detail", About: "GET /api/movies/{id}/, popular movies more often (Zipf), cache off", Gzip: true, Target: targetDetail, gen: get(detailPath)},
		{Name: "popular", About: "/api/movies/popular/ (limit 50 or 20), cache off", Gzip: true, Target: targetList, gen: get(popularPath)},
		{Name: "trending", About: "/api/movies/trending/ (week, month, day), cache off", Gzip: true, Target: targetList, gen: get(trendingPath)},
		{Name: "top-rated", About: "/api/movies/top-rated/ (default, min_ratings=50), cache off", Gzip: true, Target: targetList, gen: get(topRatedPath)},
		{Name: "similar", About: "/api/recommendations/movies/{id}/similar/, Zipf over movies, cache off", Gzip: true, Target: targetRecs, gen: get(similarPath)},
		{Name: "similar-any", About: "similar movies of any movie (drawn evenly from the catalog, tail included), cache off", Gzip: true, Target: targetRecs, gen: get(similarAnyPath)},
		{Name: "recommendations", About: "/api/recommendations/for-me/ as one of the run's users (each has ratings), cache off", Gzip: true, Target: targetRecs, gen: withBase(recsRequest)},
		{Name: "recommendations-data", About: "/api/recommendations/users/{id}/ (staff) for the data set's users, evenly, with their whole histories, cache off", Gzip: true, Target: targetRecs, gen: withBase(dataRecsRequest), staff: true},
		{Name: "recommendations-warm", About: "the same, answer cache on and warm", Cached: true, Gzip: true, Target: targetRecs, gen: withBase(recsRequest)},
		{Name: "login", About: "POST /api/auth/login/ (argon2id), the run's users", Cached: true, Target: targetLogin, gen: withBase(loginRequest)},
		{Name: "rate", About: "POST /api/ratings/movies/{id}/rate/, a random user and score (writes)", Cached: true, Target: targetAPI, gen: withBase(rateRequest)},
	}
}

// The mixed "users" workload: what a person browsing does, by share of the
// reads. A rating write replaces a read with probability writeShare.
var mixedReads = []struct {
	share float64
	path  func(*Fixture, *rand.Rand) string
	recs  bool
}{
	{0.22, listPath, false},        // browse the list
	{0.08, filteredPath, false},    // narrow it down
	{0.25, detailPath, false},      // open a movie
	{0.10, searchPath, false},      // search
	{0.03, popularPath, false},     // home page rows
	{0.03, trendingPath, false},    //
	{0.02, topRatedPath, false},    //
	{0.08, similarPath, false},     // "more like this"
	{0.07, nil, true},              // my recommendations
	{0.07, genreMoviesPath, false}, // a genre's page
	{0.05, statsPath, false},       // a movie's rating stats
}

// mixedScenario is the users workload with writeShare of its requests being
// rating writes, against the default servers (answer cache on), gzip.
func mixedScenario(writeShare float64) Scenario {
	return Scenario{
		Name:   "mixed-" + pct(writeShare),
		About:  "people browsing, searching, opening movies, asking for recommendations; " + pct(writeShare) + " rating writes",
		Cached: true, Gzip: true, Target: targetAPI,
		gen: func(f *Fixture, base func(*rand.Rand) string) Generator {
			return func(r *rand.Rand) Request {
				b := base(r)
				if r.Float64() < writeShare {
					return rateRequest(f, b, r)
				}
				x := r.Float64()
				for i, m := range mixedReads {
					if x < m.share || i == len(mixedReads)-1 {
						if m.recs {
							return recsRequest(f, b, r)
						}
						return Request{URL: b + m.path(f, r)}
					}
					x -= m.share
				}
				return Request{URL: b + "/api/movies/"} // not reached: the last share takes the rest

			}
		},
	}
}

// bareScenario asks the bare baseline server for the warm list page's bytes.
func bareScenario(gzip bool) Scenario {
	s := Scenario{Name: "bare-plain", About: "bare net/http handler writing the warm list page's bytes", Gzip: gzip}
	if gzip {
		s.Name, s.About = "bare-gzip", s.About+", gzip"
	}
	s.gen = get(func(*Fixture, *rand.Rand) string { return "/api/movies/" })
	return s
}

// pct renders a share as a percentage ("5%", "0.5%").
func pct(share float64) string {
	return strconv.FormatFloat(math.Round(share*1000)/10, 'f', -1, 64) + "%"
}
