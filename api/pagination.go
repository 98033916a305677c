package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/movierec/movierec"
)

// errInvalidPage is DRF's answer to a page past the end.
var errInvalidPage = movierec.Errorf(movierec.ENOTFOUND, "Invalid page.")

// paginate builds the page body, or errInvalidPage when page lies past the
// end (page 1 of an empty list is fine).
func paginate[T any](r *http.Request, count, page, size int, results []T) (pageJSON[T], error) {
	if page > 1 && (page-1)*size >= count {
		return pageJSON[T]{}, errInvalidPage
	}
	p := pageJSON[T]{Count: count, Results: results}
	if page*size < count {
		p.Next = pageURL(r, page+1)
	}
	if page > 1 {
		p.Previous = pageURL(r, page-1)
	}
	return p, nil
}

// pageURL is the absolute URL of the request with its page replaced; as in
// DRF, page 1 drops the parameter.
func pageURL(r *http.Request, page int) *string {
	q := r.URL.Query()
	if page == 1 {
		q.Del("page")
	} else {
		q.Set("page", strconv.Itoa(page))
	}
	u := url.URL{Scheme: scheme(r), Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	s := u.String()
	return &s
}

// absURL returns the absolute URL of path on the host the client used.
func absURL(r *http.Request, path string) string {
	return (&url.URL{Scheme: scheme(r), Host: r.Host, Path: path}).String()
}

func scheme(r *http.Request) string {
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		return "https"
	}
	return "http"
}
