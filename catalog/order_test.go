package catalog

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movierec/movierec"
)

// TestPagesMatchAFullSort: on a catalog large enough for every shortcut
// (presorted walks, runs of equal first keys such as movies without a
// release date, heaps), every page equals the same window of a plain sort
// of all matches.
func TestPagesMatchAFullSort(t *testing.T) {
	snap := syntheticSnapshot(4000, 300, 200_000, 7)
	st := newState(snap, 30*24*time.Hour)
	st.sortNames()
	r := rand.New(rand.NewPCG(8, 9))
	for range 300 {
		var f movierec.MovieFilter
		for _, i := range r.Perm(len(movierec.OrderFields))[:1+r.IntN(3)] {
			f.Ordering = append(f.Ordering, movierec.Order{Field: movierec.OrderFields[i], Desc: r.IntN(2) == 0})
		}
		if r.IntN(3) == 0 {
			f.MinRatingCount = r.IntN(50)
		}
		if r.IntN(4) == 0 {
			v := float64(r.IntN(90)) / 10
			f.IMDbRatingGTE = &v
		}
		if r.IntN(5) == 0 {
			v := float64(r.IntN(90)) / 10
			f.IMDbRatingLTE = &v
		}
		if r.IntN(4) == 0 {
			v := r.Float64() * 500
			f.PopularityGTE = &v
		}
		if r.IntN(5) == 0 {
			v := r.Float64() * 5
			f.MinAverageRating = &v
		}
		if r.IntN(4) == 0 {
			f.Genres = []string{"Drama"}
		}
		if r.IntN(3) == 0 {
			f.Search = []string{"e", "st", "night", "the last", "ar", "zz"}[r.IntN(6)]
			if r.IntN(2) == 0 {
				f.Ordering = nil // relevance
			}
		}
		f.Limit = 1 + r.IntN(100)
		f.Offset = r.IntN(4000)
		if r.IntN(2) == 0 {
			f.Offset = r.IntN(40)
		}
		page := st.list(f)

		var all []int32
		var tiers []uint8
		if f.Search != "" {
			tiers = st.search(f.Search)
		}
		for slot, e := range st.movies {
			if e == nil || !matches(&e.movie, &f) || tiers != nil && tiers[slot] == tierNone {
				continue
			}
			if len(f.Genres) > 0 && !st.genres[st.genreByName["drama"]].bits.has(int32(slot)) {
				continue
			}
			all = append(all, int32(slot))
		}
		if len(f.Ordering) > 0 {
			tiers = nil
		}
		slices.SortFunc(all, st.orderFunc(f.Ordering, tiers))
		if page.Count != len(all) {
			t.Fatalf("%+v: count %d, want %d", f, page.Count, len(all))
		}
		var want []int64
		for i := f.Offset; i < len(all) && i < f.Offset+f.Limit; i++ {
			want = append(want, st.movies[all[i]].movie.ID)
		}
		var got []int64
		for _, m := range page.Items {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v:\n got %v\nwant %v", f, got, want)
		}
	}
}

// TestSearchTiers: the indexed search (byte sets for one letter, a scan
// for two, trigrams beyond) gives every movie the tier a plain scan of
// titles, genre names and tag names gives it.
func TestSearchTiers(t *testing.T) {
	st := newState(syntheticSnapshot(3000, 300, 100_000, 11), 30*24*time.Hour)
	st.sortNames()
	for _, q := range []string{"e", "s", "(", "1", "st", "ar", " l", "night", "the last", "rings (19", "zzz", "wars 1"} {
		got := st.search(q)
		for slot, e := range st.movies {
			want := uint8(tierNone)
			if i := strings.Index(e.lowerTitle, q); i == 0 {
				want = tierTitlePrefix
			} else if i > 0 && !isWordByte(e.lowerTitle[i-1]) {
				want = tierTitleWord
			} else if i > 0 {
				// A later occurrence may start a word.
				want = tierTitle
				for j := i; j >= 0; {
					if !isWordByte(e.lowerTitle[j-1]) {
						want = tierTitleWord
						break
					}
					k := strings.Index(e.lowerTitle[j+1:], q)
					if k < 0 {
						break
					}
					j += 1 + k
				}
			}
			if want == tierNone {
				for _, g := range e.genreIDs {
					if strings.Contains(st.genres[g].lower, q) {
						want = tierGenre
					}
				}
			}
			if want == tierNone {
				for _, tc := range e.tags {
					if strings.Contains(st.tags[tc.id].lower, q) {
						want = tierTag
					}
				}
			}
			if got[slot] != want {
				t.Fatalf("search %q, movie %q: tier %d, want %d", q, e.lowerTitle, got[slot], want)
			}
		}
	}
}
