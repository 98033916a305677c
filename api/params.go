package api

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/movierec/movierec"
)

// Page sizes of every paginated list.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// query validates a request's query string. Each accessor records a
// problem instead of failing, so one 400 names every bad parameter; a
// parameter that no accessor asked for is an error too (never silently
// ignored).
type query struct {
	values url.Values
	used   map[string]bool
	errs   map[string][]string
}

func newQuery(r *http.Request) *query {
	q := &query{values: r.URL.Query(), used: map[string]bool{}, errs: map[string][]string{}}
	q.choice("format", "json", "json") // DRF clients may send ?format=json
	return q
}

func (q *query) fail(name, msg string) { q.errs[name] = append(q.errs[name], msg) }

// one returns the single value of name ("" when absent); repeating a
// single-valued parameter is an error.
func (q *query) one(name string) string {
	q.used[name] = true
	vs := q.values[name]
	if len(vs) > 1 {
		q.fail(name, "must be given at most once")
	}
	if len(vs) == 0 {
		return ""
	}
	if !q.sane(name, vs[0]) {
		return ""
	}
	return strings.TrimSpace(vs[0])
}

// MaxValueLength bounds a query parameter's value, in bytes: no title,
// genre or tag is longer, and a search's cost grows with its length.
const MaxValueLength = 200

// sane reports whether v may be used as a value of name, failing the
// query when it may not.
func (q *query) sane(name, v string) bool {
	switch {
	case strings.ContainsRune(v, 0):
		q.fail(name, "must not contain NUL characters")
	case len(v) > MaxValueLength:
		q.fail(name, fmt.Sprintf("must be at most %d bytes long", MaxValueLength))
	default:
		return true
	}
	return false
}

// MaxRepeats bounds how often a repeatable filter (genre, tag) may be
// given: each value is one more set to intersect, and no request may cost
// unbounded work.
const MaxRepeats = 10

// all returns every non-empty value of a repeatable parameter, which may
// be given at most MaxRepeats times.
func (q *query) all(name string) []string {
	q.used[name] = true
	if len(q.values[name]) > MaxRepeats {
		q.fail(name, fmt.Sprintf("may be given at most %d times", MaxRepeats))
		return nil
	}
	var out []string
	for _, v := range q.values[name] {
		if !q.sane(name, v) {
			continue
		}
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// int returns name as an integer in [lo, hi], def when absent.
func (q *query) int(name string, def, lo, hi int) int {
	s := q.one(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		q.fail(name, fmt.Sprintf("must be an integer between %d and %d", lo, hi))
		return def
	}
	return n
}

// float returns name as a finite number, nil when absent.
func (q *query) float(name string) *float64 {
	s := q.one(name)
	if s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		q.fail(name, "must be a finite number")
		return nil
	}
	return &f
}

// boolean returns name as a boolean (true/false/1/0), def when absent.
func (q *query) boolean(name string, def bool) bool {
	s := q.one(name)
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		q.fail(name, "must be true or false")
		return def
	}
	return b
}

// choice returns name if it is one of options, def when absent.
func (q *query) choice(name, def string, options ...string) string {
	s := q.one(name)
	if s == "" {
		return def
	}
	if !slices.Contains(options, s) {
		q.fail(name, "must be one of: "+strings.Join(options, ", "))
		return def
	}
	return s
}

// err returns the validation error for everything recorded, or nil.
func (q *query) err() error {
	for name := range q.values {
		if !q.used[name] {
			q.fail(name, "unknown query parameter")
		}
	}
	if len(q.errs) == 0 {
		return nil
	}
	names := make([]string, 0, len(q.errs))
	for n := range q.errs {
		names = append(names, n)
	}
	sort.Strings(names)
	return &movierec.Error{
		Code:    movierec.EINVALID,
		Message: "Invalid query parameter: " + strings.Join(names, ", "),
		Details: q.errs,
	}
}

// pagination reads page and page_size.
func (q *query) pagination() (page, size int) {
	return q.int("page", 1, 1, math.MaxInt32), q.int("page_size", DefaultPageSize, 1, MaxPageSize)
}

// ordering parses "title,-release_date" into orders.
func (q *query) ordering() []movierec.Order {
	s := q.one("ordering")
	if s == "" {
		return nil
	}
	var out []movierec.Order
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		o := movierec.Order{Field: strings.TrimPrefix(part, "-"), Desc: strings.HasPrefix(part, "-")}
		if !slices.Contains(movierec.OrderFields, o.Field) {
			q.fail("ordering", fmt.Sprintf("unknown field %q; use %s, optionally prefixed with -", part, strings.Join(movierec.OrderFields, ", ")))
			return nil
		}
		if slices.ContainsFunc(out, func(p movierec.Order) bool { return p.Field == o.Field }) {
			q.fail("ordering", fmt.Sprintf("field %q is given twice", o.Field))
			return nil
		}
		out = append(out, o)
	}
	return out
}

// movieFilter reads the movie list's filters, ordering and pagination.
func (q *query) movieFilter() (movierec.MovieFilter, int, int) {
	year := func(name string) int { return q.int(name, 0, 1, 9999) }
	f := movierec.MovieFilter{
		Search:           q.one("search"),
		Genres:           q.all("genre"),
		Tags:             q.all("tag"),
		Year:             year("release_date__year"),
		YearGTE:          year("release_date__year__gte"),
		YearLTE:          year("release_date__year__lte"),
		IMDbRatingGTE:    q.float("imdb_rating__gte"),
		IMDbRatingLTE:    q.float("imdb_rating__lte"),
		PopularityGTE:    q.float("popularity_score__gte"),
		PopularityLTE:    q.float("popularity_score__lte"),
		MinAverageRating: q.float("min_user_rating"),
		MinRatingCount:   q.int("min_rating_count", 0, 0, math.MaxInt32),
		Ordering:         q.ordering(),
	}
	page, size := q.pagination()
	f.Offset, f.Limit = (page-1)*size, size
	return f, page, size
}
