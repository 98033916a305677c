package api

import (
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// A movie list page is the answer recomputed most often under writes
// (every Coalesce interval, for every page whose movies changed), so its
// JSON is written by hand here instead of by encoding/json's reflection.
// The bytes are exactly what encoding/json (HTML escaping off, as
// writeJSON) writes for the same page: TestMovieListJSON compares them.

// writeMovieList writes a page of movie items as writeJSON would.
func writeMovieList(w http.ResponseWriter, p pageJSON[movieItem]) {
	b := appendMovieList(make([]byte, 0, 1024+512*len(p.Results)), p)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// appendMovieList appends the page's JSON and a newline (as
// json.Encoder does).
func appendMovieList(b []byte, p pageJSON[movieItem]) []byte {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(p.Count), 10)
	b = append(b, `,"next":`...)
	b = appendOptString(b, p.Next)
	b = append(b, `,"previous":`...)
	b = appendOptString(b, p.Previous)
	b = append(b, `,"results":`...)
	if p.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Results {
			if i > 0 {
				b = append(b, ',')
			}
			b = p.Results[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendJSON appends the item as encoding/json marshals movieItem.
func (m *movieItem) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, m.Title)
	b = append(b, `,"release_year":`...)
	if m.ReleaseYear == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*m.ReleaseYear), 10)
	}
	b = append(b, `,"release_date":`...)
	if m.ReleaseDate == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = time.Time(*m.ReleaseDate).AppendFormat(b, time.DateOnly)
		b = append(b, '"')
	}
	b = append(b, `,"genres":`...)
	if m.Genres == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, g := range m.Genres {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, g)
		}
		b = append(b, ']')
	}
	b = append(b, `,"imdb_rating":`...)
	if m.IMDbRating == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONFloat(b, *m.IMDbRating)
	}
	b = append(b, `,"popularity_score":`...)
	b = appendJSONFloat(b, m.PopularityScore)
	b = append(b, `,"average_rating":`...)
	if m.AverageRating == nil {
		b = append(b, "null"...) // nobody rated it (see averageOf)
	} else {
		b = appendJSONFloat(b, *m.AverageRating)
	}
	b = append(b, `,"rating_count":`...)
	b = strconv.AppendInt(b, int64(m.RatingCount), 10)
	b = append(b, `,"poster_url":`...)
	b = appendOptString(b, m.PosterURL)
	return append(b, '}')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

// appendJSONFloat formats f as encoding/json does (the values here are
// finite: ratings, scores and averages).
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does without HTML escaping:
// quotes, backslashes and control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
