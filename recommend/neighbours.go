package recommend

import "context"

// Similar movies of a movie outside the EASE head come from its factor
// neighbours. At catalogue sizes that use the factor index (ivf.go) the
// index's scan costs a similar-movies answer most of its CPU (at 62,000
// movies 31 partitions, ~7,700 vectors and 2 MB read per query: half of
// the server's CPU under load), so training asks the index once for
// every such movie and stores what it found with the model, as EASE's
// neighbours are for the head: a k-nearest-neighbour graph of the
// catalogue, read at request time. The answers are those the index would
// give; at 62,000 movies the graph costs training 8.5 s on two cores and
// the model 8 bytes a neighbour (48 MB), and spares every serving
// instance the index (16 MB of vectors, 0.4 s to build at each load).

// neighbourWorkChunk is how many movies one parallel chunk asks the index
// about.
const neighbourWorkChunk = 256

// buildNeighbours fills fNbrStart/fNbrIdx/fNbrSim from the factor index
// with up to workers goroutines, reporting progress as stage "neighbours",
// then drops the index (the loaded model will not build one). Without an
// index it does nothing.
func (m *model) buildNeighbours(ctx context.Context, workers int, report Progress) error {
	if m.fIndex == nil {
		return nil
	}
	n := len(m.fItems)
	// Fixed-stride scratch first (chunks write only their own rows), then
	// compacted.
	cnt := make([]uint8, n)
	idx := make([]int32, n*maxNeighbours)
	sim := make([]float32, n*maxNeighbours)
	report("neighbours", 0, n)
	err := parallelFor(ctx, workers, n, neighbourWorkChunk, func(lo, hi int) {
		s := m.getScratch()
		defer m.putScratch(s)
		for p := lo; p < hi; p++ {
			if m.headPos[m.fItems[p]] >= 0 {
				continue // the head's neighbours are EASE's
			}
			m.indexNeighbours(s, int32(p))
			row := p * maxNeighbours
			for k, c := range s.nbrTop.c {
				idx[row+k] = m.fItems[c.item]
				sim[row+k] = min(c.score, 1)
			}
			cnt[p] = uint8(len(s.nbrTop.c))
		}
	}, func(done int) { report("neighbours", done, n) })
	if err != nil {
		return err
	}
	total := 0
	for _, c := range cnt {
		total += int(c)
	}
	m.fNbrStart = make([]int32, n+1)
	m.fNbrIdx = make([]int32, 0, total)
	m.fNbrSim = make([]float32, 0, total)
	for p, c := range cnt {
		row := p * maxNeighbours
		m.fNbrIdx = append(m.fNbrIdx, idx[row:row+int(c)]...)
		m.fNbrSim = append(m.fNbrSim, sim[row:row+int(c)]...)
		m.fNbrStart[p+1] = int32(len(m.fNbrIdx))
	}
	m.fIndex = nil
	return nil
}
