package catalog

import (
	"slices"
	"strings"
)

// trigramIndex maps every three-byte sequence of the lower-case titles to
// the slots whose title contains it, so a substring search reads a few
// short posting lists instead of every title.
type trigramIndex map[uint32][]int32

func trigrams(s string, fn func(uint32)) {
	for i := 0; i+3 <= len(s); i++ {
		fn(uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2]))
	}
}

func (ix trigramIndex) add(title string, slot int32) {
	trigrams(title, func(t uint32) { ix[t] = insertSorted(ix[t], slot) })
}

func (ix trigramIndex) remove(title string, slot int32) {
	trigrams(title, func(t uint32) {
		if s := removeSorted(ix[t], slot); len(s) > 0 {
			ix[t] = s
		} else {
			delete(ix, t)
		}
	})
}

// candidates returns the slots whose title may contain q (len(q) >= 3):
// the intersection of q's trigram posting lists. The caller verifies.
func (ix trigramIndex) candidates(q string) []int32 {
	var lists [][]int32
	seen := map[uint32]bool{}
	missing := false
	trigrams(q, func(t uint32) {
		if seen[t] {
			return
		}
		seen[t] = true
		l, ok := ix[t]
		if !ok {
			missing = true
		}
		lists = append(lists, l)
	})
	if missing || len(lists) == 0 {
		return nil
	}
	slices.SortFunc(lists, func(a, b []int32) int { return len(a) - len(b) })
	out := slices.Clone(lists[0])
	for _, l := range lists[1:] {
		out = intersect(out, l)
		if len(out) == 0 {
			break
		}
	}
	return out
}

// intersect keeps the slots of a (ascending) that are also in b.
func intersect(a, b []int32) []int32 {
	out := a[:0]
	j := 0
	for _, v := range a {
		for j < len(b) && b[j] < v {
			j++
		}
		if j < len(b) && b[j] == v {
			out = append(out, v)
		}
	}
	return out
}

// Relevance tiers of a search match, best first.
const (
	tierTitlePrefix = iota // the title starts with the query
	tierTitleWord          // a word of the title starts with the query
	tierTitle              // the query is elsewhere in the title
	tierGenre              // a genre's name contains the query
	tierTag                // a tag's name contains the query
	tierNone
)

// search returns, by slot, the best relevance tier of every movie
// matching q (already lower-case and non-empty), tierNone for the others:
// title matches rank ahead of genre matches, which rank ahead of tag
// matches.
func (st *state) search(q string) []uint8 {
	out := make([]uint8, len(st.movies))
	for i := range out {
		out[i] = tierNone
	}
	scan := func(slot int32) {
		e := st.movies[slot]
		if e == nil {
			return
		}
		i := strings.Index(e.lowerTitle, q)
		if i < 0 {
			return
		}
		out[slot] = uint8(titleTier(e.lowerTitle, q, i))
	}
	switch len(q) {
	case 1:
		c := q[0]
		for slot, e := range st.movies {
			switch {
			case e == nil || !e.has.contains(c):
			case e.lowerTitle[0] == c:
				out[slot] = tierTitlePrefix
			case e.wordStart.contains(c):
				out[slot] = tierTitleWord
			default:
				out[slot] = tierTitle
			}
		}
	case 2:
		for slot := range st.movies {
			scan(int32(slot))
		}
	default:
		for _, slot := range st.titles.candidates(q) {
			scan(slot)
		}
	}
	better := func(slot int32, tier uint8) {
		if tier < out[slot] {
			out[slot] = tier
		}
	}
	for _, gi := range st.genres {
		if strings.Contains(gi.lower, q) {
			gi.bits.each(func(slot int32) {
				if st.movies[slot] != nil {
					better(slot, tierGenre)
				}
			})
		}
	}
	for _, id := range st.tagOrder {
		if ti := st.tags[id]; strings.Contains(ti.lower, q) {
			for _, slot := range ti.slots {
				better(slot, tierTag)
			}
		}
	}
	return out
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= 0x80
}

// titleTier ranks a title containing q, first at i: a prefix, a word
// starting with q anywhere, or q inside a word.
func titleTier(title, q string, i int) int {
	if i == 0 {
		return tierTitlePrefix
	}
	for i >= 0 {
		if !isWordByte(title[i-1]) {
			return tierTitleWord
		}
		k := strings.Index(title[i+1:], q)
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return tierTitle
}
