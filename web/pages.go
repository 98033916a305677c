package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// What the pages read from the API (the fields they show).
type (
	movie struct {
		ID            int64    `json:"id"`
		Title         string   `json:"title"`
		ReleaseYear   *int     `json:"release_year"`
		Genres        []string `json:"genres"`
		AverageRating *float64 `json:"average_rating"`
		RatingCount   int      `json:"rating_count"`
	}
	moviePage struct {
		Count    int     `json:"count"`
		Next     *string `json:"next"`
		Previous *string `json:"previous"`
		Results  []movie `json:"results"`
	}
	movieDetail struct {
		movie
		Description string `json:"description"`
		Duration    *int   `json:"duration"`
		Tags        []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"tags"`
		IMDbRating *float64 `json:"imdb_rating"`
	}
	stats struct {
		Count        int            `json:"count"`
		Average      *float64       `json:"average"`
		Distribution map[string]int `json:"distribution"`
	}
	similar struct {
		SimilarMovies []struct {
			Movie  movie  `json:"movie"`
			Reason string `json:"reason"`
		} `json:"similar_movies"`
	}
	recommendations struct {
		AlgorithmUsed   string `json:"algorithm_used"`
		Recommendations []struct {
			Movie  movie   `json:"movie"`
			Reason string  `json:"reason"`
			Score  float64 `json:"score"`
		} `json:"recommendations"`
	}
	tokens struct {
		Access  string `json:"access"`
		Refresh string `json:"refresh"`
	}
	myRating struct {
		Score float64 `json:"score"`
		Movie movie   `json:"movie"`
	}
	genre struct {
		Name string `json:"name"`
	}
)

// movieDetailJSON decodes the detail's genres (objects) into names.
type movieDetailJSON struct {
	movieDetail
	Genres []struct {
		Name string `json:"name"`
	} `json:"genres"`
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	v := a.visitor(w, r)
	data := map[string]any{"Title": "movierec", "Msg": messages[r.URL.Query().Get("done")]}
	var popular struct {
		Results []movie `json:"results"`
	}
	if err := a.call(ctx, r, "GET", "/api/movies/popular/", url.Values{"limit": {"12"}}, "", nil, &popular); err != nil {
		a.fail(w, r, v, err)
		return
	}
	data["Popular"] = popular.Results
	if v.User != nil {
		var recs recommendations
		if err := a.call(ctx, r, "GET", "/api/recommendations/for-me/", url.Values{"limit": {"12"}}, v.Token, nil, &recs); err == nil {
			data["Recs"] = recs
		} else {
			data["RecsError"] = err.Error()
		}
	}
	a.render(w, r, v, "home", 0, data)
}

// browseParams are the list filters the browse page passes on.
var browseParams = []string{"search", "genre", "ordering", "release_date__year", "min_user_rating", "page"}

func (a *App) browse(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	v := a.visitor(w, r)
	q := url.Values{}
	for _, p := range browseParams {
		if val := strings.TrimSpace(r.URL.Query().Get(p)); val != "" {
			q.Set(p, val)
		}
	}
	var page moviePage
	err := a.call(ctx, r, "GET", "/api/movies/", q, "", nil, &page)
	var genres struct {
		Results []genre `json:"results"`
	}
	a.call(ctx, r, "GET", "/api/movies/genres/", url.Values{"page_size": {"100"}}, "", nil, &genres)
	data := map[string]any{"Title": "Browse movies", "Q": q, "Genres": genres.Results, "Orderings": orderings}
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.Status == http.StatusBadRequest {
			data["Errors"] = ae.Lines()
			a.render(w, r, v, "browse", http.StatusBadRequest, data)
			return
		}
		a.fail(w, r, v, err)
		return
	}
	data["Page"] = page
	n, _ := strconv.Atoi(q.Get("page"))
	n = max(n, 1)
	if page.Next != nil {
		data["NextURL"] = pageURL(q, n+1)
	}
	if page.Previous != nil {
		data["PrevURL"] = pageURL(q, n-1)
	}
	a.render(w, r, v, "browse", 0, data)
}

// orderings are the browse page's choices, as (value, label).
var orderings = [][2]string{{"", "Most popular"}, {"-average_rating", "Best rated"}, {"-rating_count", "Most rated"},
	{"-release_date", "Newest"}, {"release_date", "Oldest"}, {"title", "Title A–Z"}}

func pageURL(q url.Values, n int) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	c.Set("page", strconv.Itoa(n))
	return "/movies/?" + c.Encode()
}

func (a *App) movie(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	v := a.visitor(w, r)
	id := r.PathValue("id")
	var d movieDetailJSON
	if err := a.call(ctx, r, "GET", "/api/movies/"+url.PathEscape(id)+"/", nil, "", nil, &d); err != nil {
		a.fail(w, r, v, err)
		return
	}
	for _, g := range d.Genres {
		d.movie.Genres = append(d.movie.Genres, g.Name)
	}
	data := map[string]any{"Title": d.Title, "M": d.movieDetail, "Msg": messages[r.URL.Query().Get("done")], "Mine": 0.0}
	var st stats
	if a.call(ctx, r, "GET", "/api/ratings/movies/"+url.PathEscape(id)+"/stats/", nil, "", nil, &st) == nil {
		data["Stats"] = st
	}
	var sim similar
	if a.call(ctx, r, "GET", "/api/recommendations/movies/"+url.PathEscape(id)+"/similar/", url.Values{"limit": {"8"}}, "", nil, &sim) == nil {
		data["Similar"] = sim.SimilarMovies
	}
	if v.User != nil {
		var mine struct {
			Score float64 `json:"score"`
		}
		if a.call(ctx, r, "GET", "/api/ratings/movies/"+url.PathEscape(id)+"/rate/", nil, v.Token, nil, &mine) == nil {
			data["Mine"] = mine.Score
		}
	}
	a.render(w, r, v, "movie", 0, data)
}

// messages are the notes a page shows after a form (?done=...).
var messages = map[string]string{"rated": "Your rating is saved.", "favorited": "Added to your favourites.",
	"unfavorited": "Removed from your favourites.",
	"watched":     "Marked as watched.", "signedup": "Welcome! Rate a few movies to get recommendations of your own."}

// movieWrite posts a movie form to the API and goes back to the movie
// with the note done, or the one doneOf picks from the API's answer.
func (a *App) movieWrite(w http.ResponseWriter, r *http.Request, apiPath string, body any, done string, doneOf func(answer map[string]any) string) {
	if !a.form(w, r) {
		return
	}
	ctx, cancel := pageContext(r)
	defer cancel()
	v := a.visitor(w, r)
	id := r.PathValue("id")
	if v.User == nil {
		http.Redirect(w, r, "/login/?next="+url.QueryEscape("/movies/"+id+"/"), http.StatusSeeOther)
		return
	}
	var answer map[string]any
	if err := a.call(ctx, r, "POST", "/api/ratings/movies/"+url.PathEscape(id)+"/"+apiPath+"/", nil, v.Token, body, &answer); err != nil {
		a.fail(w, r, v, err)
		return
	}
	if doneOf != nil {
		done = doneOf(answer)
	}
	http.Redirect(w, r, "/movies/"+url.PathEscape(id)+"/?done="+done, http.StatusSeeOther)
}

func (a *App) rate(w http.ResponseWriter, r *http.Request) {
	score, err := strconv.ParseFloat(r.PostFormValue("score"), 64)
	if err != nil {
		score = 0 // the API says what is wrong with it
	}
	a.movieWrite(w, r, "rate", map[string]any{"score": score}, "rated", nil)
}

func (a *App) favorite(w http.ResponseWriter, r *http.Request) {
	a.movieWrite(w, r, "favorite", map[string]any{}, "", func(answer map[string]any) string {
		if answer["favorited"] == true {
			return "favorited"
		}
		return "unfavorited"
	})
}

func (a *App) watch(w http.ResponseWriter, r *http.Request) {
	a.movieWrite(w, r, "watch", map[string]any{"completed": true}, "watched", nil)
}

func (a *App) ranking(kind string) http.HandlerFunc {
	titles := map[string]string{"popular": "Popular", "trending": "Trending this week", "top-rated": "Top rated"}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := pageContext(r)
		defer cancel()
		v := a.visitor(w, r)
		var list struct {
			Results []movie `json:"results"`
		}
		if err := a.call(ctx, r, "GET", "/api/movies/"+kind+"/", url.Values{"limit": {"50"}}, "", nil, &list); err != nil {
			a.fail(w, r, v, err)
			return
		}
		a.render(w, r, v, "ranking", 0, map[string]any{"Title": titles[kind], "Movies": list.Results})
	}
}

// myMovies serves a page of the caller's movies from one of the API's
// "my" lists (favourites, watch history), newest first.
func (a *App) myMovies(title, apiPath string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := pageContext(r)
		defer cancel()
		v := a.visitor(w, r)
		if v.User == nil {
			http.Redirect(w, r, "/login/?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
			return
		}
		var page struct {
			Count   int `json:"count"`
			Results []struct {
				Movie movie `json:"movie"`
			} `json:"results"`
		}
		if err := a.call(ctx, r, "GET", apiPath, url.Values{"page_size": {"100"}}, v.Token, nil, &page); err != nil {
			a.fail(w, r, v, err)
			return
		}
		movies := make([]movie, len(page.Results))
		for i, it := range page.Results {
			movies[i] = it.Movie
		}
		a.render(w, r, v, "ranking", 0, map[string]any{"Title": title, "Movies": movies, "Count": page.Count})
	}
}

func (a *App) myRatings(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	v := a.visitor(w, r)
	if v.User == nil {
		http.Redirect(w, r, "/login/?next=/me/ratings/", http.StatusSeeOther)
		return
	}
	var page struct {
		Count   int        `json:"count"`
		Results []myRating `json:"results"`
	}
	q := url.Values{"page_size": {"100"}}
	if err := a.call(ctx, r, "GET", "/api/ratings/my-ratings/", q, v.Token, nil, &page); err != nil {
		a.fail(w, r, v, err)
		return
	}
	a.render(w, r, v, "myratings", 0, map[string]any{"Title": "My ratings", "Ratings": page.Results, "Count": page.Count})
}

func (a *App) signupForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, a.visitor(w, r), "signup", 0, map[string]any{"Title": "Sign up"})
}

func (a *App) signup(w http.ResponseWriter, r *http.Request) {
	if !a.form(w, r) {
		return
	}
	ctx, cancel := pageContext(r)
	defer cancel()
	f := map[string]string{}
	for _, k := range []string{"username", "email", "password", "password_confirm", "first_name", "last_name"} {
		f[k] = r.PostFormValue(k)
	}
	var t tokens
	if err := a.call(ctx, r, "POST", "/api/auth/register/", nil, "", f, &t); err != nil {
		a.formError(w, r, "signup", "Sign up", err, map[string]any{"Form": f})
		return
	}
	setTokens(w, r, t)
	http.Redirect(w, r, "/?done=signedup", http.StatusSeeOther)
}

func (a *App) loginForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, a.visitor(w, r), "login", 0, map[string]any{"Title": "Sign in", "Next": localPath(r.URL.Query().Get("next"))})
}

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	if !a.form(w, r) {
		return
	}
	ctx, cancel := pageContext(r)
	defer cancel()
	next := localPath(r.PostFormValue("next"))
	var t tokens
	body := map[string]string{"username": r.PostFormValue("username"), "password": r.PostFormValue("password")}
	if err := a.call(ctx, r, "POST", "/api/auth/login/", nil, "", body, &t); err != nil {
		a.formError(w, r, "login", "Sign in", err, map[string]any{"Next": next, "Username": body["username"]})
		return
	}
	setTokens(w, r, t)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// formError shows a form again with the API's error, its status kept.
func (a *App) formError(w http.ResponseWriter, r *http.Request, page, title string, err error, data map[string]any) {
	v := a.visitor(w, r)
	ae, ok := err.(*apiError)
	if !ok || ae.Status >= 500 {
		a.fail(w, r, v, err)
		return
	}
	data["Title"], data["Errors"] = title, ae.Lines()
	a.render(w, r, v, page, ae.Status, data)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if !a.form(w, r) {
		return
	}
	ctx, cancel := pageContext(r)
	defer cancel()
	if c, err := r.Cookie(refreshCookie); err == nil && c.Value != "" {
		a.call(ctx, r, "POST", "/api/auth/logout/", nil, "", map[string]string{"refresh": c.Value}, nil)
	}
	clearTokens(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
