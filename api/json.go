package api

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/movierec/movierec"
)

// writeJSON encodes v with status. Encoding into a buffer first means a
// failure to encode is a 500, not half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"INTERNAL_ERROR","message":"Internal error."}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// round2 rounds to two decimals for display; stored values keep full
// precision.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// date renders a date as "2006-01-02".
type date time.Time

func (d date) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(d).Format(time.DateOnly) + `"`), nil
}

// movieItem is the list representation of a movie.
type movieItem struct {
	ID              int64    `json:"id"`
	Title           string   `json:"title"`
	ReleaseYear     *int     `json:"release_year"`
	ReleaseDate     *date    `json:"release_date"`
	Genres          []string `json:"genres"`
	IMDbRating      *float64 `json:"imdb_rating"`
	PopularityScore float64  `json:"popularity_score"`
	AverageRating   *float64 `json:"average_rating"` // null without ratings
	RatingCount     int      `json:"rating_count"`
	PosterURL       *string  `json:"poster_url"`
}

func newMovieItem(m movierec.Movie) movieItem {
	return movieItem{
		ID: m.ID, Title: m.Title, ReleaseYear: m.ReleaseYear, ReleaseDate: (*date)(m.ReleaseDate),
		Genres: m.GenreNames(), IMDbRating: m.IMDbRating, PopularityScore: round2(m.PopularityScore),
		AverageRating: averageOf(m), RatingCount: m.RatingCount, PosterURL: m.PosterURL,
	}
}

// averageOf is a movie's average_rating as the API shows it, rounded to 2
// decimals: null (nil) for a movie nobody rated, as DRF's aggregate is.
func averageOf(m movierec.Movie) *float64 {
	if m.RatingCount == 0 {
		return nil
	}
	v := round2(m.AverageRating)
	return &v
}

func newMovieItems(ms []movierec.Movie) []movieItem {
	out := make([]movieItem, len(ms))
	for i, m := range ms {
		out[i] = newMovieItem(m)
	}
	return out
}

type genreRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type tagCountJSON struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// movieDetail is the detail representation: the list fields (with genres
// as objects) plus the rest.
type movieDetail struct {
	ID                 int64          `json:"id"`
	Title              string         `json:"title"`
	Description        string         `json:"description"`
	ReleaseYear        *int           `json:"release_year"`
	ReleaseDate        *date          `json:"release_date"`
	Duration           *int           `json:"duration"`
	Genres             []genreRef     `json:"genres"`
	Tags               []tagCountJSON `json:"tags"`
	IMDbRating         *float64       `json:"imdb_rating"`
	PopularityScore    float64        `json:"popularity_score"`
	AverageRating      *float64       `json:"average_rating"` // null without ratings
	RatingCount        int            `json:"rating_count"`
	RatingDistribution map[string]int `json:"rating_distribution"`
	PosterURL          *string        `json:"poster_url"`
	TrailerURL         *string        `json:"trailer_url"`
	IMDbID             *string        `json:"imdb_id"`
	TMDbID             *int64         `json:"tmdb_id"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

func newMovieDetail(m movierec.Movie) movieDetail {
	d := movieDetail{
		ID: m.ID, Title: m.Title, Description: m.Description, ReleaseYear: m.ReleaseYear,
		ReleaseDate: (*date)(m.ReleaseDate), Duration: m.Duration, Genres: []genreRef{},
		Tags: []tagCountJSON{}, IMDbRating: m.IMDbRating, PopularityScore: round2(m.PopularityScore),
		AverageRating: averageOf(m), RatingCount: m.RatingCount,
		RatingDistribution: m.RatingDistribution, PosterURL: m.PosterURL, TrailerURL: m.TrailerURL,
		IMDbID: m.IMDbID, TMDbID: m.TMDbID, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
	for _, g := range m.Genres {
		d.Genres = append(d.Genres, genreRef{ID: g.ID, Name: g.Name})
	}
	for _, t := range m.Tags {
		d.Tags = append(d.Tags, tagCountJSON{ID: t.ID, Name: t.Name, Count: t.Count})
	}
	return d
}

type genreJSON struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	MovieCount  int    `json:"movie_count"`
}

type tagJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	MovieCount int    `json:"movie_count"`
}

// pageJSON is DRF's PageNumberPagination shape.
type pageJSON[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}
