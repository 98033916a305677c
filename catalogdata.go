package movierec

import "time"

// Kinds of catalog change, as recorded in the store's change log.
const (
	// ChangeMovie: a movie's row, genres, tags or rating aggregates changed,
	// or the movie was deleted (ID is the movie).
	ChangeMovie = "movie"
	// ChangeGenre: a genre was created, renamed, redescribed or deleted.
	ChangeGenre = "genre"
	// ChangeTag: a tag was created, renamed or deleted.
	ChangeTag = "tag"
	// ChangeAll: everything may have changed (an import); reload it all.
	ChangeAll = "all"
)

// CatalogChange is one committed change to the catalog. Versions increase
// with every change; a transaction that fails records none.
type CatalogChange struct {
	Version int64
	Kind    string // ChangeMovie, ChangeGenre, ChangeTag or ChangeAll
	ID      int64  // the movie, genre or tag; 0 for ChangeAll
}

// CatalogMovie is a movie with everything an in-memory catalog keeps of it:
// the detail fields (Genres with ID and name, Tags most used first,
// RatingDistribution with every score present) and the times of its
// ratings in the trending window.
type CatalogMovie struct {
	Movie
	// Recent holds the rated_at of the movie's ratings at or after the
	// "since" time asked for, in ascending order.
	Recent []time.Time
}

// CatalogSnapshot is the whole catalog as an in-memory index loads it at
// start-up.
type CatalogSnapshot struct {
	// Version is the change log's newest version, read before anything
	// else: every change after it is still to be applied on top.
	Version int64
	Genres  []Genre // ID, Name, Description (MovieCount unset)
	Tags    []Tag   // ID, Name (MovieCount unset)
	Movies  []CatalogMovie
	// Newest is the time of the newest rating in the store (zero when
	// there are none); Since is Newest minus the window asked for, and
	// every movie's Recent holds its ratings at or after Since.
	Newest, Since time.Time
}
