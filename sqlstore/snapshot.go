package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// catalogChunk is how many movie IDs CatalogMovies puts in one IN list.
const catalogChunk = 500

// CatalogSnapshot loads the whole catalog for an in-memory index: the
// change log's version, read first, then every genre and tag and every
// movie with its detail fields (as Movie returns them) and the times of
// its ratings in the window of length window ending at the newest rating.
//
// It runs a fixed handful of bulk statements, whatever the size of the
// catalog, in one read-only snapshot transaction: the data is exactly the
// catalog at Version, and the changes after Version are still to be
// applied.
func (s *Store) CatalogSnapshot(ctx context.Context, window time.Duration) (movierec.CatalogSnapshot, error) {
	ctx = LongWork(ctx) // bulk: see Deadlines
	snap, err := retryOnPrimary(ctx, func(ctx context.Context) (snap movierec.CatalogSnapshot, err error) {
		err = s.inReadTx(ctx, func(tx DB) error {
			snap = movierec.CatalogSnapshot{}
			var err error
			if snap.Version, err = catalogVersion(ctx, tx); err != nil {
				return fmt.Errorf("version: %w", err)
			}
			if snap.Genres, err = allGenres(ctx, tx); err != nil {
				return fmt.Errorf("genres: %w", err)
			}
			if snap.Tags, err = allTags(ctx, tx); err != nil {
				return fmt.Errorf("tags: %w", err)
			}
			newest, err := newestRating(ctx, tx)
			if err != nil {
				return fmt.Errorf("newest rating: %w", err)
			}
			var since *time.Time
			if !newest.IsZero() {
				snap.Newest, snap.Since = newest, newest.Add(-window)
				since = &snap.Since
			}
			snap.Movies, err = loadCatalogMovies(ctx, tx, nil, since)
			return err
		})
		return snap, err
	})
	if err != nil {
		return movierec.CatalogSnapshot{}, fmt.Errorf("CatalogSnapshot: %w", err)
	}
	return snap, nil
}

// CatalogMovies loads the movies with the given IDs as CatalogSnapshot
// does, in ascending ID order, with Recent holding their ratings at or
// after since. IDs of movies that do not exist (deleted ones) are simply
// absent. The IDs go in batches of 500 per statement, all in one snapshot
// transaction, which also reads the change log's newest version and the
// time of the newest rating in the store: the result's Version, Newest,
// Since (since as given) and Movies, without genres and tags.
//
// Version says what the movies reflect: every change up to it, and none
// after it (versions commit in order, and the read sees one snapshot).
// A reader that reloads movies thus knows which logged changes the
// reload already contains.
func (s *Store) CatalogMovies(ctx context.Context, since time.Time, ids []int64) (movierec.CatalogSnapshot, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	snap, err := retryOnPrimary(ctx, func(ctx context.Context) (snap movierec.CatalogSnapshot, err error) {
		err = s.inReadTx(ctx, func(tx DB) error {
			snap = movierec.CatalogSnapshot{Since: since, Movies: []movierec.CatalogMovie{}}
			var err error
			if snap.Version, err = catalogVersion(ctx, tx); err != nil {
				return fmt.Errorf("version: %w", err)
			}
			if snap.Newest, err = newestRating(ctx, tx); err != nil {
				return fmt.Errorf("newest rating: %w", err)
			}
			for chunk := range slices.Chunk(ids, catalogChunk) {
				got, err := loadCatalogMovies(ctx, tx, chunk, &since)
				if err != nil {
					return err
				}
				snap.Movies = append(snap.Movies, got...)
			}
			return nil
		})
		return snap, err
	})
	if err != nil {
		return movierec.CatalogSnapshot{}, fmt.Errorf("CatalogMovies: %w", err)
	}
	return snap, nil
}

// newestRating returns the time of the newest rating (zero when none).
func newestRating(ctx context.Context, db DB) (time.Time, error) {
	var newest nullTime
	if err := db.QueryRow(ctx, `SELECT max(rated_at) FROM ratings`).Scan(&newest); err != nil {
		return time.Time{}, err
	}
	return newest.Time, nil
}

func allGenres(ctx context.Context, db DB) ([]movierec.Genre, error) {
	rows, err := db.Query(ctx, `SELECT id, name, description FROM genres ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	genres := []movierec.Genre{}
	for rows.Next() {
		var g movierec.Genre
		if err := rows.Scan(&g.ID, &g.Name, &g.Description); err != nil {
			return nil, err
		}
		genres = append(genres, g)
	}
	return genres, rows.Err()
}

func allTags(ctx context.Context, db DB) ([]movierec.Tag, error) {
	rows, err := db.Query(ctx, `SELECT id, name FROM tags ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := []movierec.Tag{}
	for rows.Next() {
		var t movierec.Tag
		if err := rows.Scan(&t.ID, &t.Name); err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, rows.Err()
}

// loadCatalogMovies loads the movies with the given IDs (every movie when
// ids is nil) with their genres, tags, rating distributions and, when
// since is set, the times of their ratings at or after it. Each part is
// one statement for all the movies; genres and tags are ordered as Movie
// orders them, on either backend.
func loadCatalogMovies(ctx context.Context, tx DB, ids []int64, since *time.Time) ([]movierec.CatalogMovie, error) {
	var a args
	var in string // the ID list, or "" for every movie
	if ids != nil {
		ph := make([]string, len(ids))
		for i, id := range ids {
			ph[i] = a.add(id)
		}
		in = "(" + strings.Join(ph, ", ") + ")"
	}
	// where renders the condition of col on the IDs, joined to the
	// statement's other conditions.
	where := func(col string, more ...string) string {
		conds := more
		if in != "" {
			conds = append([]string{col + " IN " + in}, more...)
		}
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}

	var movies []movierec.CatalogMovie
	index := map[int64]int{}
	err := eachRow(ctx, tx, `SELECT `+movieColumns+` FROM movies m`+where("m.id")+` ORDER BY m.id`, a, func(r Rows) error {
		var m movierec.CatalogMovie
		if err := scanMovie(r, &m.Movie); err != nil {
			return err
		}
		m.Genres, m.Tags = []movierec.Genre{}, []movierec.TagCount{}
		m.RatingDistribution = make(map[string]int, len(movierec.RatingScores))
		for _, k := range movierec.RatingScores {
			m.RatingDistribution[k] = 0
		}
		index[m.ID] = len(movies)
		movies = append(movies, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("movies: %w", err)
	}
	if len(movies) == 0 {
		return []movierec.CatalogMovie{}, nil
	}
	// at returns the loaded movie with the given ID, or nil for one created
	// after the movies were read (possible where there is no snapshot).
	at := func(id int64) *movierec.CatalogMovie {
		if i, ok := index[id]; ok {
			return &movies[i]
		}
		return nil
	}

	err = eachRow(ctx, tx, `SELECT mg.movie_id, g.id, g.name FROM movie_genres mg
		JOIN genres g ON g.id = mg.genre_id`+where("mg.movie_id")+` ORDER BY mg.movie_id, g.name`, a, func(r Rows) error {
		var id int64
		var g movierec.Genre
		if err := r.Scan(&id, &g.ID, &g.Name); err != nil {
			return err
		}
		if m := at(id); m != nil {
			m.Genres = append(m.Genres, g)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("genres: %w", err)
	}

	err = eachRow(ctx, tx, `SELECT tg.movie_id, t.id, t.name, count(*) AS n FROM taggings tg
		JOIN tags t ON t.id = tg.tag_id`+where("tg.movie_id")+`
		GROUP BY tg.movie_id, t.id, t.name ORDER BY tg.movie_id, n DESC, t.name`, a, func(r Rows) error {
		var id int64
		var t movierec.TagCount
		if err := r.Scan(&id, &t.ID, &t.Name, &t.Count); err != nil {
			return err
		}
		if m := at(id); m != nil {
			m.Tags = append(m.Tags, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}

	err = eachRow(ctx, tx, `SELECT r.movie_id, r.score, count(*) FROM ratings r`+where("r.movie_id")+`
		GROUP BY r.movie_id, r.score`, a, func(r Rows) error {
		var id int64
		var score float64
		var n int
		if err := r.Scan(&id, &score, &n); err != nil {
			return err
		}
		if m := at(id); m != nil {
			m.RatingDistribution[strconv.FormatFloat(score, 'f', 1, 64)] = n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rating distributions: %w", err)
	}

	if since == nil {
		return movies, nil
	}
	// In rated_at order, so each movie's times arrive ascending.
	ra := append(a[:len(a):len(a)], since.UTC())
	err = eachRow(ctx, tx, `SELECT r.movie_id, r.rated_at FROM ratings r`+
		where("r.movie_id", "r.rated_at >= $"+strconv.Itoa(len(ra)))+` ORDER BY r.rated_at`, ra, func(r Rows) error {
		var id int64
		var ratedAt nullTime
		if err := r.Scan(&id, &ratedAt); err != nil {
			return err
		}
		if m := at(id); m != nil {
			m.Recent = append(m.Recent, ratedAt.Time)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recent ratings: %w", err)
	}
	return movies, nil
}

// eachRow runs a query and calls fn for each row.
func eachRow(ctx context.Context, db DB, q string, a []any, fn func(Rows) error) error {
	rows, err := db.Query(ctx, q, a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
