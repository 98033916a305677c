package api

import (
	"net/http"

	"github.com/movierec/movierec"
)

func (s *Server) listGenres(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	page, size := q.pagination()
	if err := q.err(); err != nil {
		return err
	}
	res, err := s.store.Genres(r.Context(), (page-1)*size, size)
	if err != nil {
		return err
	}
	items := make([]genreJSON, len(res.Items))
	for i, g := range res.Items {
		items[i] = newGenreJSON(g)
	}
	body, err := paginate(r, res.Count, page, size, items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func newGenreJSON(g movierec.Genre) genreJSON {
	return genreJSON{ID: g.ID, Name: g.Name, Description: g.Description, MovieCount: g.MovieCount}
}

func (s *Server) getGenre(w http.ResponseWriter, r *http.Request) error {
	g, err := s.pathGenre(r)
	if err == nil {
		err = newQuery(r).err()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newGenreJSON(g))
	return nil
}

func (s *Server) pathGenre(r *http.Request) (movierec.Genre, error) {
	id, err := pathID(r)
	if err != nil {
		return movierec.Genre{}, err
	}
	return s.store.Genre(r.Context(), id)
}

func (s *Server) genreMovies(w http.ResponseWriter, r *http.Request) error {
	return s.serveMovieList(w, r, func() (movierec.MovieFilter, error) {
		g, err := s.pathGenre(r)
		return movierec.MovieFilter{GenreID: g.ID}, err
	})
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	search := q.one("search")
	page, size := q.pagination()
	if err := q.err(); err != nil {
		return err
	}
	res, err := s.store.Tags(r.Context(), search, (page-1)*size, size)
	if err != nil {
		return err
	}
	items := make([]tagJSON, len(res.Items))
	for i, t := range res.Items {
		items[i] = tagJSON{ID: t.ID, Name: t.Name, MovieCount: t.MovieCount}
	}
	body, err := paginate(r, res.Count, page, size, items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) pathTag(r *http.Request) (movierec.Tag, error) {
	id, err := pathID(r)
	if err != nil {
		return movierec.Tag{}, err
	}
	return s.store.Tag(r.Context(), id)
}

func (s *Server) getTag(w http.ResponseWriter, r *http.Request) error {
	t, err := s.pathTag(r)
	if err == nil {
		err = newQuery(r).err()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tagJSON{ID: t.ID, Name: t.Name, MovieCount: t.MovieCount})
	return nil
}

func (s *Server) tagMovies(w http.ResponseWriter, r *http.Request) error {
	return s.serveMovieList(w, r, func() (movierec.MovieFilter, error) {
		t, err := s.pathTag(r)
		return movierec.MovieFilter{TagID: t.ID}, err
	})
}
