package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/auth"
)

// CatalogWriter is what staff catalog edits need.
type CatalogWriter interface {
	CreateMovie(ctx context.Context, m movierec.Movie) (movierec.Movie, error)
	UpdateMovie(ctx context.Context, m movierec.Movie) (movierec.Movie, error)
	DeleteMovie(ctx context.Context, id int64) error
	CreateGenre(ctx context.Context, g movierec.Genre) (movierec.Genre, error)
	UpdateGenre(ctx context.Context, g movierec.Genre) (movierec.Genre, error)
	DeleteGenre(ctx context.Context, id int64) error
	CreateTag(ctx context.Context, t movierec.Tag) (movierec.Tag, error)
	UpdateTag(ctx context.Context, t movierec.Tag) (movierec.Tag, error)
	DeleteTag(ctx context.Context, id int64) error
}

var imdbIDPattern = regexp.MustCompile(`^tt[0-9]{7,10}$`)

func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2000 {
		return "must be an absolute http(s) URL"
	}
	return ""
}

func between[T int | int64 | float64](lo, hi T) func(T) string {
	return func(v T) string {
		if v < lo || v > hi {
			return fmt.Sprintf("must be between %v and %v", lo, hi)
		}
		return ""
	}
}

// applyMovie applies a movie body onto m. With full (POST, PUT) absent
// optional fields are cleared and title is required; with PATCH they are
// left alone.
func applyMovie(b *body, m *movierec.Movie, full bool) {
	if full {
		*m = movierec.Movie{ID: m.ID}
	}
	b.str("title", &m.Title, full, 500)
	if b.has("title") && m.Title == "" && !full {
		b.fail("title", "may not be blank")
	}
	b.str("description", &m.Description, false, 10000)
	nullable(b, "release_year", &m.ReleaseYear, "must be an integer year", between(1870, 2100))
	var date *string
	if nullable(b, "release_date", &date, "must be a date (YYYY-MM-DD)", nil) {
		m.ReleaseDate = nil
		if date != nil {
			if d, err := time.Parse(time.DateOnly, *date); err != nil {
				b.fail("release_date", "must be a date (YYYY-MM-DD)")
			} else {
				m.ReleaseDate = &d
				if !b.has("release_year") {
					y := d.Year()
					m.ReleaseYear = &y
				}
			}
		}
	}
	if m.ReleaseDate != nil && m.ReleaseYear != nil && *m.ReleaseYear != m.ReleaseDate.Year() {
		b.fail("release_year", "must match the year of release_date")
	}
	nullable(b, "duration", &m.Duration, "must be an integer number of minutes", between(1, 1500))
	nullable(b, "imdb_rating", &m.IMDbRating, "must be a number", between(0.0, 10.0))
	nullable(b, "poster_url", &m.PosterURL, "must be a string", checkURL)
	nullable(b, "trailer_url", &m.TrailerURL, "must be a string", checkURL)
	nullable(b, "imdb_id", &m.IMDbID, "must be a string", func(s string) string {
		if !imdbIDPattern.MatchString(s) {
			return `must look like "tt0114709"`
		}
		return ""
	})
	nullable(b, "tmdb_id", &m.TMDbID, "must be an integer", between[int64](1, 1<<53))
	if b.has("genres") {
		var names []string
		if b.isNull("genres") {
			b.fail("genres", "must be a list of genre names")
		} else if b.decode("genres", &names, "must be a list of genre names") {
			m.Genres = m.Genres[:0]
			for _, n := range names {
				m.Genres = append(m.Genres, movierec.Genre{Name: n})
			}
		}
	}
	b.readOnly("id", "popularity_score", "average_rating", "rating_count", "rating_distribution", "tags", "created_at", "updated_at")
}

func (s *Server) createMovie(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	b, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var m movierec.Movie
	applyMovie(b, &m, true)
	if err := b.err(); err != nil {
		return err
	}
	created, err := s.store.CreateMovie(r.Context(), m)
	if err != nil {
		return err
	}
	w.Header().Set("Location", absURL(r, fmt.Sprintf("/api/movies/%d/", created.ID)))
	writeJSON(w, http.StatusCreated, newMovieDetail(created))
	return nil
}

// updateMovie serves PUT (replace) and PATCH (partial update).
func (s *Server) updateMovie(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	m, err := s.store.Movie(r.Context(), id)
	if err != nil {
		return err
	}
	b, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	applyMovie(b, &m, r.Method == http.MethodPut)
	if err := b.err(); err != nil {
		return err
	}
	updated, err := s.store.UpdateMovie(r.Context(), m)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newMovieDetail(updated))
	return nil
}

// deleteByID serves a staff DELETE of the {id} resource.
func (s *Server) deleteByID(del func(ctx context.Context, id int64) error) handler {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		id, err := pathID(r)
		if err == nil {
			err = newQuery(r).err()
		}
		if err == nil {
			err = del(r.Context(), id)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// named describes a genre-or-tag resource for saveNamed.
type named[T any] struct {
	path           string // "/api/movies/genres/"
	load           func(ctx context.Context, id int64) (T, error)
	create, update func(ctx context.Context, v T) (T, error)
	// read applies the body's fields to v; full (POST, PUT) requires the
	// name and clears omitted fields.
	read   func(b *body, v *T, full bool)
	id     func(T) int64
	render func(T) any
}

// saveNamed serves POST (create, 201 with Location), PUT and PATCH of a
// genre or tag.
func saveNamed[T any](s *Server, res named[T]) handler {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		var v T
		if r.Method != http.MethodPost {
			id, err := pathID(r)
			if err == nil {
				v, err = res.load(r.Context(), id)
			}
			if err != nil {
				return err
			}
		}
		b, err := readBody(w, r, false)
		if err != nil {
			return err
		}
		res.read(b, &v, r.Method != http.MethodPatch)
		b.readOnly("id", "movie_count")
		if err := b.err(); err != nil {
			return err
		}
		save, status := res.update, http.StatusOK
		if r.Method == http.MethodPost {
			save, status = res.create, http.StatusCreated
		}
		if v, err = save(r.Context(), v); err != nil {
			return err
		}
		if status == http.StatusCreated {
			w.Header().Set("Location", absURL(r, fmt.Sprintf("%s%d/", res.path, res.id(v))))
		}
		writeJSON(w, status, res.render(v))
		return nil
	}
}

// readName reads the required-when-full, never blank name field.
func readName(b *body, name *string, full bool) {
	b.str("name", name, full, 100)
	if b.has("name") && *name == "" {
		b.fail("name", "may not be blank")
	}
}

func (s *Server) genreResource() named[movierec.Genre] {
	return named[movierec.Genre]{
		path: "/api/movies/genres/", load: s.store.Genre, create: s.store.CreateGenre, update: s.store.UpdateGenre,
		read: func(b *body, g *movierec.Genre, full bool) {
			if full {
				g.Description = ""
			}
			readName(b, &g.Name, full)
			b.str("description", &g.Description, false, 2000)
		},
		id:     func(g movierec.Genre) int64 { return g.ID },
		render: func(g movierec.Genre) any { return newGenreJSON(g) },
	}
}

func (s *Server) tagResource() named[movierec.Tag] {
	return named[movierec.Tag]{
		path: "/api/movies/tags/", load: s.store.Tag, create: s.store.CreateTag, update: s.store.UpdateTag,
		read:   func(b *body, t *movierec.Tag, full bool) { readName(b, &t.Name, full) },
		id:     func(t movierec.Tag) int64 { return t.ID },
		render: func(t movierec.Tag) any { return tagJSON{ID: t.ID, Name: t.Name, MovieCount: t.MovieCount} },
	}
}
