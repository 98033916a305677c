package recommend

import (
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
		t.reset(limit)
		for i := range int32(len(m.ids)) {
			if !known || i != idx {
				offer(i)
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
