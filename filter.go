package movierec

// Orderable movie fields, as accepted by the ordering query parameter.
const (
	OrderTitle           = "title"
	OrderReleaseDate     = "release_date"
	OrderIMDbRating      = "imdb_rating"
	OrderPopularityScore = "popularity_score"
	OrderAverageRating   = "average_rating"
	OrderRatingCount     = "rating_count"
	OrderCreatedAt       = "created_at"
)

// OrderFields lists every field a movie list can be ordered by.
var OrderFields = []string{
	OrderTitle, OrderReleaseDate, OrderIMDbRating, OrderPopularityScore,
	OrderAverageRating, OrderRatingCount, OrderCreatedAt,
}

// DefaultOrdering is the ordering of a movie list when none is asked for.
var DefaultOrdering = []Order{{Field: OrderPopularityScore, Desc: true}}

// Order is one key of a list ordering.
type Order struct {
	Field string
	Desc  bool
}

// MovieFilter selects and orders a page of movies. Zero values mean "no
// constraint"; pointers distinguish an absent bound from zero.
type MovieFilter struct {
	// Search matches titles, genre names and tag names, case-insensitively.
	Search string
	// Genres and Tags are names; a movie must carry all of them.
	Genres []string
	Tags   []string
	// GenreID and TagID restrict to one genre or tag (the nested routes).
	GenreID int64
	TagID   int64

	Year, YearGTE, YearLTE int
	IMDbRatingGTE          *float64
	IMDbRatingLTE          *float64
	PopularityGTE          *float64
	PopularityLTE          *float64
	MinAverageRating       *float64
	MinRatingCount         int

	// Ordering defaults to DefaultOrdering when empty. Ties are broken by
	// id in the direction of the first key, so pages are stable.
	Ordering []Order

	Offset int
	Limit  int
}

// Page is a window of a list: its items and how many exist in total.
type Page[T any] struct {
	Items []T
	Count int
}
