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
	// Version is the change's place in the log.
	Version int64
	// Kind is ChangeMovie, ChangeGenre, ChangeTag or ChangeAll.
	Kind string
	// ID is the movie, genre or tag; 0 for ChangeAll.
	ID int64
	// Rating, set only on the ChangeMovie of a rating write, says what
	// the write did, so that a reader can apply it without reloading the
	// movie. It is nil for every other change; a reader that ignores it
	// reloads the movie, which is also correct.
	Rating *RatingChange
}

// RatingChange is what one rating write (a rating created, its score
// replaced, or the rating deleted) did to its movie.
type RatingChange struct {
	// OldScore is the rating's score before the write, 0 when there was
	// no rating (it was created); NewScore is its score after the write,
	// 0 when there is none any more (it was deleted). Scores are
	// 0.5..5, in halves.
	OldScore, NewScore float64
	// RatedAt is the rating's rated_at: the time of the write for a new
	// rating, the original time for a replaced or deleted one (a new
	// score keeps the rating's time).
	RatedAt time.Time
	// Count is the movie's rating_count after the write, as stored in
	// its row.
	Count int
	// Average and Popularity are the movie's average_rating and
	// popularity_score after the write, exactly as stored in its row.
	Average, Popularity float64
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
// start-up, or some of its movies as it reloads them (then Genres and
// Tags are nil).
type CatalogSnapshot struct {
	// Version is the change log's newest version, read in the same
	// snapshot as everything else: the data reflects every change up to
	// it, and every change after it is still to be applied on top.
	Version int64
	Genres  []Genre // ID, Name, Description (MovieCount unset)
	Tags    []Tag   // ID, Name (MovieCount unset)
	Movies  []CatalogMovie
	// Newest is the time of the newest rating in the store (zero when
	// there are none); Since is Newest minus the window asked for (for a
	// reload, the time asked for), and every movie's Recent holds its
	// ratings at or after Since.
	Newest, Since time.Time
}
