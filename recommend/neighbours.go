package recommend

import "context"

// nbrTable holds the factor neighbours of every factor movie outside the
// EASE head, as the factor index finds them (a k-nearest-neighbour graph
// of the catalogue, derived from the model like the head's nbrIdx): the
// neighbours of the movie at factor position p are idx/sim[p·maxNeighbours:
// p·maxNeighbours+cnt[p]], item indices and their cosines (at most 1).
//
// Looking one up instead of asking the index spares a similar-movies
// answer the index's scan (at 62,000 movies about half of its CPU: 31
// partitions, ~7,700 vectors and 2 MB read per query); the answers are
// the same, since the table holds exactly what the index returns.
type nbrTable struct {
	cnt []uint8
	idx []int32
	sim []float32
}

// neighbourTableWanted reports whether a table is worth building: only
// catalogues large enough for the factor index (smaller ones scan every
// vector, which is cheap at their size).
func (m *model) neighbourTableWanted() bool { return m.fIndex != nil }

// buildNeighbours fills the neighbour table and publishes it, one movie
// at a time on the calling goroutine (one core: the other serves
// requests meanwhile), and returns the number of movies in it. It returns
// ctx's error if ctx ends first, leaving no table.
func (m *model) buildNeighbours(ctx context.Context) (int, error) {
	if !m.neighbourTableWanted() || m.fNbrs.Load() != nil {
		return 0, nil
	}
	n := len(m.fItems)
	tb := &nbrTable{cnt: make([]uint8, n), idx: make([]int32, n*maxNeighbours), sim: make([]float32, n*maxNeighbours)}
	s := m.getScratch()
	defer m.putScratch(s)
	built := 0
	for p := range int32(n) {
		if p%256 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if m.headPos[m.fItems[p]] >= 0 {
			continue // the head's neighbours are EASE's
		}
		m.indexNeighbours(s, p)
		lo := int(p) * maxNeighbours
		for k, c := range s.nbrTop.c {
			tb.idx[lo+k] = m.fItems[c.item]
			tb.sim[lo+k] = min(c.score, 1)
		}
		tb.cnt[p] = uint8(len(s.nbrTop.c))
		built++
	}
	m.fNbrs.Store(tb)
	return built, nil
}

// BuildNeighbours precomputes the similar-movies neighbours of every
// movie the factor index serves (catalogues of at least 20,000 factor
// movies; otherwise it returns 0 at once), so that a similar-movies answer
// reads them instead of scanning the index, and returns how many movies
// it covered. Answers do not change; until it returns they come from the
// index. It takes one core for a few seconds (about 10 at 62,000 movies)
// and 8 bytes per neighbour (50 MB at 62,000 movies); it stops early,
// building nothing, when ctx ends.
func (m *Model) BuildNeighbours(ctx context.Context) (int, error) { return m.impl.buildNeighbours(ctx) }
