package catalog

import (
	"cmp"
	"slices"
	"sort"

	"github.com/movierec/movierec"
)

// fieldIndex numbers the orderable fields (movierec.OrderFields).
var fieldIndex = func() map[string]int {
	m := map[string]int{}
	for i, f := range movierec.OrderFields {
		m[f] = i
	}
	return m
}()

// sortedOrders keeps, for every orderable field, all movie slots in
// ascending order of that field with NULLs after every value and id
// breaking ties. Walking one forwards or backwards yields a list in either
// direction without sorting, so a page costs about offset+limit steps.
type sortedOrders [7][]int32

// cmpEntries is the total order of one field's array.
func cmpEntries(field string, a, b *entry) int {
	if c := compareField(&a.movie, &b.movie, movierec.Order{Field: field}); c != 0 {
		return c
	}
	return cmp.Compare(a.movie.ID, b.movie.ID)
}

// isNull reports whether e has no value for field.
func isNull(field string, e *entry) bool {
	switch field {
	case movierec.OrderReleaseDate:
		return e.movie.ReleaseDate == nil
	case movierec.OrderIMDbRating:
		return e.movie.IMDbRating == nil
	case movierec.OrderAverageRating:
		return e.movie.RatingCount == 0 // the API shows null
	}
	return false
}

// build sorts every field's array from scratch.
func (so *sortedOrders) build(movies []*entry) {
	for fi, field := range movierec.OrderFields {
		order := make([]int32, 0, len(movies))
		for slot, e := range movies {
			if e != nil {
				order = append(order, int32(slot))
			}
		}
		slices.SortFunc(order, func(x, y int32) int { return cmpEntries(field, movies[x], movies[y]) })
		so[fi] = order
	}
}

// position finds where e (at slot or to be put there) sits in field fi's
// array: the index of the first element not before it.
func (so *sortedOrders) position(movies []*entry, fi int, e *entry) int {
	field, order := movierec.OrderFields[fi], so[fi]
	return sort.Search(len(order), func(i int) bool { return cmpEntries(field, movies[order[i]], e) >= 0 })
}

// update moves slot from old's place to e's in every array whose key
// changed; old nil adds the slot, e nil removes it. movies[slot] must
// still hold old (searches compare against the stored entries).
func (so *sortedOrders) update(movies []*entry, slot int32, old, e *entry) {
	for fi, field := range movierec.OrderFields {
		if old != nil && e != nil && compareField(&old.movie, &e.movie, movierec.Order{Field: field}) == 0 {
			continue
		}
		if old != nil {
			if i := so.position(movies, fi, old); i < len(so[fi]) && so[fi][i] == slot {
				so[fi] = slices.Delete(so[fi], i, i+1)
			}
		}
		if e != nil {
			i := so.position(movies, fi, e)
			so[fi] = slices.Insert(so[fi], i, slot)
		}
	}
}

// walk calls fn for the slots of field's array in the direction of o
// (NULLs last either way) until fn returns false.
func (so *sortedOrders) walk(movies []*entry, o movierec.Order, fn func(slot int32) bool) {
	order := so[fieldIndex[o.Field]]
	if !o.Desc {
		for _, s := range order {
			if !fn(s) {
				return
			}
		}
		return
	}
	nullStart := sort.Search(len(order), func(i int) bool { return isNull(o.Field, movies[order[i]]) })
	for i := nullStart - 1; i >= 0; i-- {
		if !fn(order[i]) {
			return
		}
	}
	for i := len(order) - 1; i >= nullStart; i-- {
		if !fn(order[i]) {
			return
		}
	}
}
