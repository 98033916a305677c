package sqlstore

import (
	"context"
	"fmt"

	"github.com/movierec/movierec"
)

// Genres returns a page of genres ordered by name, each with its number
// of movies.
func (s *Store) Genres(ctx context.Context, offset, limit int) (movierec.Page[movierec.Genre], error) {
	page := movierec.Page[movierec.Genre]{Items: []movierec.Genre{}}
	if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM genres`).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("Genres: %w", err)
	}
	rows, err := s.conn.Query(ctx, `SELECT g.id, g.name, g.description,
		(SELECT count(*) FROM movie_genres mg WHERE mg.genre_id = g.id)
		FROM genres g ORDER BY g.name, g.id LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return page, fmt.Errorf("Genres: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g movierec.Genre
		if err := rows.Scan(&g.ID, &g.Name, &g.Description, &g.MovieCount); err != nil {
			return page, fmt.Errorf("Genres: %w", err)
		}
		page.Items = append(page.Items, g)
	}
	return page, rows.Err()
}

// Genre returns one genre, or an error wrapping movierec.ErrNotFound.
func (s *Store) Genre(ctx context.Context, id int64) (movierec.Genre, error) {
	return retryOnPrimary(ctx, func(ctx context.Context) (movierec.Genre, error) { return s.genre(ctx, id) })
}

func (s *Store) genre(ctx context.Context, id int64) (movierec.Genre, error) {
	var g movierec.Genre
	err := s.conn.QueryRow(ctx, `SELECT g.id, g.name, g.description,
		(SELECT count(*) FROM movie_genres mg WHERE mg.genre_id = g.id)
		FROM genres g WHERE g.id = $1`, id).Scan(&g.ID, &g.Name, &g.Description, &g.MovieCount)
	if err == ErrNoRows {
		return g, fmt.Errorf("Genre(%d): %w", id, movierec.ErrNotFound)
	} else if err != nil {
		return g, fmt.Errorf("Genre(%d): %w", id, err)
	}
	return g, nil
}

// Tags returns a page of tags ordered by name, each with the number of
// distinct movies carrying it. A non-empty search keeps tags whose name
// contains it, case-insensitively.
func (s *Store) Tags(ctx context.Context, search string, offset, limit int) (movierec.Page[movierec.Tag], error) {
	page := movierec.Page[movierec.Tag]{Items: []movierec.Tag{}}
	var a args
	where := ""
	if search != "" {
		where = ` WHERE lower(t.name) LIKE ` + a.add(likePattern(search)) + ` ESCAPE '\'`
	}
	if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM tags t`+where, a...).Scan(&page.Count); err != nil {
		return page, fmt.Errorf("Tags: %w", err)
	}
	rows, err := s.conn.Query(ctx, `SELECT t.id, t.name,
		(SELECT count(DISTINCT tg.movie_id) FROM taggings tg WHERE tg.tag_id = t.id)
		FROM tags t`+where+` ORDER BY t.name, t.id LIMIT `+a.add(limit)+` OFFSET `+a.add(offset), a...)
	if err != nil {
		return page, fmt.Errorf("Tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t movierec.Tag
		if err := rows.Scan(&t.ID, &t.Name, &t.MovieCount); err != nil {
			return page, fmt.Errorf("Tags: %w", err)
		}
		page.Items = append(page.Items, t)
	}
	return page, rows.Err()
}

// Tag returns one tag, or an error wrapping movierec.ErrNotFound.
func (s *Store) Tag(ctx context.Context, id int64) (movierec.Tag, error) {
	return retryOnPrimary(ctx, func(ctx context.Context) (movierec.Tag, error) { return s.tag(ctx, id) })
}

func (s *Store) tag(ctx context.Context, id int64) (movierec.Tag, error) {
	var t movierec.Tag
	err := s.conn.QueryRow(ctx, `SELECT t.id, t.name,
		(SELECT count(DISTINCT tg.movie_id) FROM taggings tg WHERE tg.tag_id = t.id)
		FROM tags t WHERE t.id = $1`, id).Scan(&t.ID, &t.Name, &t.MovieCount)
	if err == ErrNoRows {
		return t, fmt.Errorf("Tag(%d): %w", id, movierec.ErrNotFound)
	} else if err != nil {
		return t, fmt.Errorf("Tag(%d): %w", id, err)
	}
	return t, nil
}
