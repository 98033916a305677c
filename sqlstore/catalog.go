package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// resolveGenres maps genre names (case-insensitively) to IDs; unknown
// names are an EINVALID error on the genres field.
func resolveGenres(ctx context.Context, tx DB, genres []movierec.Genre) ([]int64, error) {
	ids := make([]int64, 0, len(genres))
	var unknown []string
	for _, g := range genres {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM genres WHERE lower(name) = lower($1)`, strings.TrimSpace(g.Name)).Scan(&id)
		if err == ErrNoRows {
			unknown = append(unknown, fmt.Sprintf("unknown genre %q", g.Name))
			continue
		} else if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if len(unknown) > 0 {
		return nil, &movierec.Error{Code: movierec.EINVALID, Message: "Invalid input data.", Details: map[string][]string{"genres": unknown}}
	}
	return ids, nil
}

// movieDate renders a release date as the DATE value both backends store.
func movieDate(d *time.Time) any {
	if d == nil {
		return nil
	}
	return d.UTC().Truncate(24 * time.Hour)
}

// CreateMovie stores a new movie with the given genres (by name), records
// a ChangeMovie in the same transaction and returns the movie as Movie
// would. The caller has validated the fields.
func (s *Store) CreateMovie(ctx context.Context, m movierec.Movie) (movierec.Movie, error) {
	now := s.timestamp()
	var id int64
	err := s.conn.InTx(ctx, func(tx DB) error {
		genreIDs, err := resolveGenres(ctx, tx, m.Genres)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO movies (title, description, release_year, release_date, duration, imdb_rating,
				poster_url, trailer_url, imdb_id, tmdb_id, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
			m.Title, m.Description, m.ReleaseYear, movieDate(m.ReleaseDate), m.Duration, m.IMDbRating,
			m.PosterURL, m.TrailerURL, m.IMDbID, m.TMDbID, now).Scan(&id); err != nil {
			return err
		}
		if err := setMovieGenres(ctx, tx, id, genreIDs); err != nil {
			return err
		}
		return s.recordChange(ctx, tx, movierec.ChangeMovie, id)
	})
	if err != nil {
		return movierec.Movie{}, fmt.Errorf("CreateMovie: %w", err)
	}
	return s.Movie(ctx, id)
}

func setMovieGenres(ctx context.Context, tx DB, movieID int64, genreIDs []int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM movie_genres WHERE movie_id = $1`, movieID); err != nil {
		return err
	}
	for _, g := range genreIDs {
		if _, err := tx.Exec(ctx, `INSERT INTO movie_genres (movie_id, genre_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, movieID, g); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMovie replaces the editable fields and genres of movie m.ID with
// m's and records a ChangeMovie in the same transaction. Aggregates are not
// editable. An unknown movie wraps ErrNotFound.
func (s *Store) UpdateMovie(ctx context.Context, m movierec.Movie) (movierec.Movie, error) {
	err := s.conn.InTx(ctx, func(tx DB) error {
		if err := s.lockMovie(ctx, tx, m.ID); err != nil {
			return err
		}
		genreIDs, err := resolveGenres(ctx, tx, m.Genres)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE movies SET title = $1, description = $2, release_year = $3, release_date = $4,
				duration = $5, imdb_rating = $6, poster_url = $7, trailer_url = $8, imdb_id = $9, tmdb_id = $10, updated_at = $11
			WHERE id = $12`,
			m.Title, m.Description, m.ReleaseYear, movieDate(m.ReleaseDate), m.Duration, m.IMDbRating,
			m.PosterURL, m.TrailerURL, m.IMDbID, m.TMDbID, s.timestamp(), m.ID); err != nil {
			return err
		}
		if err := setMovieGenres(ctx, tx, m.ID, genreIDs); err != nil {
			return err
		}
		return s.recordChange(ctx, tx, movierec.ChangeMovie, m.ID)
	})
	if err != nil {
		return movierec.Movie{}, fmt.Errorf("UpdateMovie(%d): %w", m.ID, err)
	}
	return s.Movie(ctx, m.ID)
}

// DeleteMovie removes a movie with its ratings, favourites, watch history,
// genre links and tag applications (the foreign keys cascade) and records
// a ChangeMovie in the same transaction. An unknown movie wraps
// ErrNotFound.
func (s *Store) DeleteMovie(ctx context.Context, id int64) error {
	err := s.conn.InTx(ctx, func(tx DB) error {
		n, err := tx.Exec(ctx, `DELETE FROM movies WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return movierec.ErrNotFound
		}
		return s.recordChange(ctx, tx, movierec.ChangeMovie, id)
	})
	if err != nil {
		return fmt.Errorf("DeleteMovie(%d): %w", id, err)
	}
	return nil
}

// nameTaken is the error for a duplicate genre or tag name: a conflict
// (409, as the contract has it), with the field named in its details.
func nameTaken(kind string) error {
	return &movierec.Error{Code: movierec.ECONFLICT, Message: fmt.Sprintf("A %s with that name already exists.", kind),
		Details: map[string][]string{"name": {fmt.Sprintf("A %s with that name already exists.", kind)}}}
}

// saveNamed inserts (id 0) or renames a genre or tag row, enforcing
// case-insensitive uniqueness, and records a change of the given kind
// (ChangeGenre or ChangeTag) in the same transaction; it returns the row's
// id.
func (s *Store) saveNamed(ctx context.Context, table, kind, change string, id int64, name string, set string, extra ...any) (int64, error) {
	err := s.conn.InTx(ctx, func(tx DB) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE lower(name) = lower($1) AND id <> $2`, name, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nameTaken(kind)
		}
		now := s.timestamp()
		if id == 0 {
			cols, vals := "name, created_at, updated_at", "$1, $2, $2"
			if set != "" {
				cols, vals = cols+", "+set, vals+", $3"
			}
			if err := s.uniqueName(tx.QueryRow(ctx, `INSERT INTO `+table+` (`+cols+`) VALUES (`+vals+`) RETURNING id`,
				append([]any{name, now}, extra...)...).Scan(&id), kind); err != nil {
				return err
			}
			return s.recordChange(ctx, tx, change, id)
		}
		assign := "name = $1, updated_at = $2"
		if set != "" {
			assign += ", " + set + " = $4"
		}
		cnt, err := tx.Exec(ctx, `UPDATE `+table+` SET `+assign+` WHERE id = $3`, append([]any{name, now, id}, extra...)...)
		if err != nil {
			return s.uniqueName(err, kind)
		}
		if cnt == 0 {
			return movierec.ErrNotFound
		}
		return s.recordChange(ctx, tx, change, id)
	})
	return id, err
}

func (s *Store) uniqueName(err error, kind string) error {
	if err != nil && s.dialect.IsUniqueViolation != nil && s.dialect.IsUniqueViolation(err) {
		return nameTaken(kind)
	}
	return err
}

// CreateGenre stores a new genre and records a ChangeGenre in the same
// transaction. A name taken case-insensitively is an ECONFLICT error
// naming name.
func (s *Store) CreateGenre(ctx context.Context, g movierec.Genre) (movierec.Genre, error) {
	id, err := s.saveNamed(ctx, "genres", "genre", movierec.ChangeGenre, 0, g.Name, "description", g.Description)
	if err != nil {
		return g, fmt.Errorf("CreateGenre: %w", err)
	}
	return s.Genre(ctx, id)
}

// UpdateGenre renames and redescribes genre g.ID and records a
// ChangeGenre in the same transaction. An unknown genre wraps ErrNotFound;
// a name taken case-insensitively is an ECONFLICT error naming name.
func (s *Store) UpdateGenre(ctx context.Context, g movierec.Genre) (movierec.Genre, error) {
	if _, err := s.saveNamed(ctx, "genres", "genre", movierec.ChangeGenre, g.ID, g.Name, "description", g.Description); err != nil {
		return g, fmt.Errorf("UpdateGenre(%d): %w", g.ID, err)
	}
	return s.Genre(ctx, g.ID)
}

// DeleteGenre removes a genre from the catalog and from every movie and
// records a ChangeGenre in the same transaction. An unknown genre wraps
// ErrNotFound.
func (s *Store) DeleteGenre(ctx context.Context, id int64) error {
	return s.deleteNamed(ctx, "genres", movierec.ChangeGenre, id)
}

// CreateTag stores a new tag and records a ChangeTag in the same
// transaction. A name taken case-insensitively is an ECONFLICT error
// naming name.
func (s *Store) CreateTag(ctx context.Context, t movierec.Tag) (movierec.Tag, error) {
	id, err := s.saveNamed(ctx, "tags", "tag", movierec.ChangeTag, 0, t.Name, "")
	if err != nil {
		return t, fmt.Errorf("CreateTag: %w", err)
	}
	return s.Tag(ctx, id)
}

// UpdateTag renames tag t.ID and records a ChangeTag in the same
// transaction. An unknown tag wraps ErrNotFound; a name taken
// case-insensitively is an ECONFLICT error naming name.
func (s *Store) UpdateTag(ctx context.Context, t movierec.Tag) (movierec.Tag, error) {
	if _, err := s.saveNamed(ctx, "tags", "tag", movierec.ChangeTag, t.ID, t.Name, ""); err != nil {
		return t, fmt.Errorf("UpdateTag(%d): %w", t.ID, err)
	}
	return s.Tag(ctx, t.ID)
}

// DeleteTag removes a tag and its applications and records a ChangeTag in
// the same transaction. An unknown tag wraps ErrNotFound.
func (s *Store) DeleteTag(ctx context.Context, id int64) error {
	return s.deleteNamed(ctx, "tags", movierec.ChangeTag, id)
}

// deleteNamed deletes a genre or tag row and records a change of the
// given kind, in one transaction.
func (s *Store) deleteNamed(ctx context.Context, table, change string, id int64) error {
	err := s.conn.InTx(ctx, func(tx DB) error {
		n, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return movierec.ErrNotFound
		}
		return s.recordChange(ctx, tx, change, id)
	})
	if err != nil {
		return fmt.Errorf("delete %s %d: %w", table, id, err)
	}
	return nil
}
