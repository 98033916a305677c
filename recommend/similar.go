package recommend

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

func (m *model) similar(movieID int64, item *Item, limit int) ([]Similar, error) {
	limit = min(max(limit, 1), maxLimit)
	s := m.getScratch()
	defer m.putScratch(s)

	// The query's content vector, in s.profile; its features in qf.
	q := s.profile
	clear(q)
	var qf []int32
	idx, known := m.index[movieID]
	if known {
		for k := m.featStart[idx]; k < m.featStart[idx+1]; k++ {
			q[m.featIdx[k]] = m.featVal[k]
		}
		qf = m.featIdx[m.featStart[idx]:m.featStart[idx+1]]
	} else if item != nil {
		qf = m.itemVector(*item, q)
	} else {
		return []Similar{}, nil // nothing known about the movie
	}

	// Collaborative neighbours, in s.sims (reset before returning).
	var nbrs []int32
	if known {
		if h := m.headPos[idx]; h >= 0 {
			nbrs = m.nbrIdx[m.nbrStart[h]:m.nbrStart[h+1]]
			for k, j := range nbrs {
				s.sims[j] = m.nbrSim[int(m.nbrStart[h])+k]
			}
		} else if p := m.fPos[idx]; p >= 0 {
			nbrs = m.factorNeighbours(s, p)
		}
		defer func() {
			for _, j := range nbrs {
				s.sims[j] = 0
			}
		}()
	}
	wc := float32(0)
	if len(nbrs) > 0 {
		wc = similarCollab
	}

	t := &s.top
	t.reset(limit)
	offer := func(i int32) {
		sc := (1-wc)*m.contentScore(q, i) + wc*s.sims[i]
		if sc > 0 && (!t.full() || sc >= t.min().score) {
			t.offer(cand{sc, i})
		}
	}
	// The neighbours first: when limit of them score above what any other
	// movie can (its content cosine is at most 1), the catalogue scan would
	// change nothing and is skipped.
	for _, i := range nbrs {
		offer(i)
	}
	if !t.full() || t.min().score <= (1-wc)*contentBound || similarScanAll {
		floor := float32(0) // no answer scores under it
		if t.full() {
			floor = t.min().score
		}
		t.reset(limit)
		self := int32(-1)
		if known {
			self = idx
		}
		if ess, ok := m.essentialFeatures(s, qf, q, floor/(1-wc)); ok && !similarScanAll {
			// Only the neighbours and the movies with an essential
			// feature can score floor or more (see essentialFeatures).
			s.seenAt++
			if s.seenAt == 0 { // wrapped: old marks could collide
				clear(s.seen)
				s.seenAt = 1
			}
			for _, i := range nbrs {
				s.seen[i] = s.seenAt
				offer(i)
			}
			for _, f := range ess {
				for _, i := range m.featPostItems[m.featPostStart[f]:m.featPostStart[f+1]] {
					if s.seen[i] != s.seenAt && i != self {
						s.seen[i] = s.seenAt
						offer(i)
					}
				}
			}
		} else {
			for i := range int32(len(m.ids)) {
				if i != self {
					offer(i)
				}
			}
		}
	}
	out := make([]Similar, 0, len(t.c))
	for _, c := range t.sorted() {
		out = append(out, Similar{
			MovieID: m.ids[c.item],
			Score:   math.Min(1, float64(c.score)),
			Reason:  m.similarReason(qf, c.item, s.sims[c.item]),
		})
	}
	return out, nil
}

// featWeight is a query feature and its squared weight.
type featWeight struct {
	f  int32
	w2 float32
}

// essentialFeatures returns the features of the query q (its features
// qf) that a movie must have to reach a content cosine of minContent,
// and whether reading their movies is worth it (their postings number
// fewer than half the catalogue's movies; else scan every movie). A movie that shares only
// the set S of q's features has a cosine with q of at most
// √(Σ_{f∈S} q_f²) (Cauchy–Schwarz; its vector has length 1), so the
// lightest features whose squares sum, with room for float32 rounding,
// under minContent² cannot reach it alone (the MaxScore split of Turtle
// and Flood, "Query evaluation: strategies and optimizations",
// Information Processing & Management 31(6), 1995, with this bound).
func (m *model) essentialFeatures(s *scratch, qf []int32, q []float32, minContent float32) ([]int32, bool) {
	fs := s.qfs[:0]
	for _, f := range qf {
		fs = append(fs, featWeight{f, q[f] * q[f]})
	}
	slices.SortFunc(fs, func(a, b featWeight) int { return cmp.Compare(a.w2, b.w2) })
	s.qfs = fs
	limit := float64(minContent) * float64(minContent) * (1 - 1e-3)
	sum := 0.0
	k := 0
	for ; k < len(fs); k++ {
		if sum += float64(fs[k].w2); sum >= limit {
			break
		}
	}
	entries := 0
	ess := s.ess[:0]
	for _, x := range fs[k:] {
		entries += int(m.featPostStart[x.f+1] - m.featPostStart[x.f])
		ess = append(ess, x.f)
	}
	s.ess = ess
	return ess, entries < len(m.ids)/2
}

// contentBound is above every content cosine (1 for unit vectors, plus
// room for float32 rounding).
const contentBound = 1.001

// similarScanAll turns the skip off; only a test sets it, to compare.
var similarScanAll = false

// itemVector writes the content vector of a movie unknown to the model into
// q (using the model's vocabulary and weights) and returns its features.
func (m *model) itemVector(it Item, q []float32) []int32 {
	var fs []int32
	add := func(kind uint8, name string, scale float64) {
		f, ok := m.featByName[featureKey(kind, name)]
		if !ok || q[f] != 0 || m.featWeight[f] <= 0 {
			return
		}
		q[f] = m.featWeight[f] * float32(scale)
		fs = append(fs, f)
	}
	for _, g := range it.Genres {
		add(featGenre, strings.TrimSpace(g), 1)
	}
	if it.Year > 0 {
		add(featDecade, decadeName(int32(it.Year)), 1)
	}
	for rank, t := range itemTags(it) {
		add(featTag, t, 1/math.Sqrt(1+float64(rank)))
	}
	var norm float64
	for _, f := range fs {
		norm += float64(q[f]) * float64(q[f])
	}
	for _, f := range fs {
		q[f] /= float32(math.Sqrt(norm))
	}
	slices.Sort(fs)
	return fs
}

// similarReason says what two movies share: raters (when the collaborative
// part counts), then their common genres, or else common tags, or else the
// decade.
func (m *model) similarReason(qf []int32, item int32, collab float32) string {
	var parts []string
	switch {
	case collab >= 0.1:
		parts = append(parts, "often rated by the same people")
	case collab > 0:
		parts = append(parts, "rated by some of the same people")
	}
	var genres, tags []string
	decade := ""
	its := m.featIdx[m.featStart[item]:m.featStart[item+1]]
	for _, f := range qf {
		if _, ok := slices.BinarySearch(its, f); !ok {
			continue
		}
		switch m.featKind[f] {
		case featGenre:
			if len(genres) < 3 {
				genres = append(genres, m.featNames[f])
			}
		case featTag:
			if len(tags) < 2 {
				tags = append(tags, "'"+m.featNames[f]+"'")
			}
		case featDecade:
			decade = m.featNames[f]
		}
	}
	switch {
	case len(genres) > 0:
		parts = append(parts, "both "+strings.Join(genres, ", "))
	case len(tags) > 0:
		parts = append(parts, "both tagged "+strings.Join(tags, ", "))
	case decade != "":
		parts = append(parts, "both from the "+decade)
	}
	if len(parts) == 0 {
		return "Similar movie"
	}
	r := strings.Join(parts, "; ")
	return strings.ToUpper(r[:1]) + r[1:]
}
