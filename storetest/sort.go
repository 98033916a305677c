package storetest

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// compareBy compares two movies on one field, NULLs last either way.
func compareBy(a, b movierec.Movie, o movierec.Order) int {
	nullable := func(x, y *float64) int {
		switch {
		case x == nil && y == nil:
			return 0
		case x == nil:
			return 2 // after everything, whatever the direction
		case y == nil:
			return -2
		}
		return cmp.Compare(*x, *y)
	}
	var c int
	switch o.Field {
	case movierec.OrderTitle:
		c = strings.Compare(a.Title, b.Title)
	case movierec.OrderReleaseDate:
		toF := func(t *time.Time) *float64 {
			if t == nil {
				return nil
			}
			f := float64(t.Unix())
			return &f
		}
		c = nullable(toF(a.ReleaseDate), toF(b.ReleaseDate))
	case movierec.OrderIMDbRating:
		c = nullable(a.IMDbRating, b.IMDbRating)
	case movierec.OrderPopularityScore:
		c = cmp.Compare(a.PopularityScore, b.PopularityScore)
	case movierec.OrderAverageRating:
		avg := func(m movierec.Movie) *float64 {
			if m.RatingCount == 0 {
				return nil // the API's null: nobody rated it
			}
			return &m.AverageRating
		}
		c = nullable(avg(a), avg(b))
	case movierec.OrderRatingCount:
		c = cmp.Compare(a.RatingCount, b.RatingCount)
	case movierec.OrderCreatedAt:
		c = a.CreatedAt.Compare(b.CreatedAt)
	}
	if c == 2 || c == -2 {
		return c / 2
	}
	if o.Desc {
		return -c
	}
	return c
}

// SortMovies sorts a copy of ms the way the store orders movies: by each
// key with NULLs last in both directions, ties broken by id in the first
// key's direction. Tests compare the store against it.
func SortMovies(ms []movierec.Movie, ordering []movierec.Order) []movierec.Movie {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b movierec.Movie) int {
		for _, o := range ordering {
			if c := compareBy(a, b, o); c != 0 {
				return c
			}
		}
		if ordering[0].Desc {
			return cmp.Compare(b.ID, a.ID)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// MovieIDs returns the IDs of ms in order.
func MovieIDs(ms []movierec.Movie) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
