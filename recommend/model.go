package recommend

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// model is the trained state behind Model. Every slice is read-only once
// train or load has returned, so one model serves any number of goroutines;
// per-request buffers come from pool.
//
// Items are addressed by their index in ids (sorted by movie ID). The
// catalogue holds every Item of the training Dataset and every movie that
// only appears in its interactions.
type model struct {
	trained  time.Time
	duration time.Duration
	ver      string
	// stages records how long each training stage took. It is not saved:
	// only Evaluate reads it, on a model it has just trained.
	stages stageTimes

	// Catalogue.
	ids        []int64
	titles     []string
	years      []int32
	genreNames []string // genre vocabulary, sorted
	genreStart []int32  // item i's genres are genreIdx[genreStart[i]:genreStart[i+1]]
	genreIdx   []int32

	// Popularity.
	popOrder []int32   // item indices, most popular first
	popScore []float32 // 0..1, non-increasing along popOrder

	// Content: item i's L2-normalised feature vector is
	// featIdx/featVal[featStart[i]:featStart[i+1]], sorted by feature.
	featNames []string // display names: genres, then decades, then tags
	featKind  []uint8  // featGenre, featDecade or featTag
	// featWeight is the weight of a feature before normalisation:
	// kind weight × ln(1 + movies/movies with the feature).
	featWeight []float32
	featStart  []int32
	featIdx    []int32
	featVal    []float32

	// Collaborative (EASE on the head: the most-rated movies).
	alpha    float32   // confidence of a rating r is 1 + alpha·(r−0.5)/4.5
	head     []int32   // head position → item index
	weights  []float32 // len(head)² row-major: row h holds h's weights to every head item
	nbrStart []int32   // head position h's neighbours are nbrIdx/nbrSim[nbrStart[h]:nbrStart[h+1]]
	nbrIdx   []int32   // item indices
	nbrSim   []float32 // cosine of the two movies' rating columns, 0..1

	// Collaborative (iALS over every movie with enough ratings, ials.go).
	fK      int32     // factors; 0: no factor model
	fReg    float32   // λ
	fAlpha0 float32   // α0, the weight of unrated pairs
	fItems  []int32   // factor position → item index, ascending
	fVec    []float32 // len(fItems)×fK row-major: the movies' vectors
	// The factor neighbours of the factor movies outside the head, found
	// by training through the factor index (neighbours.go): position p's
	// are fNbrIdx/fNbrSim[fNbrStart[p]:fNbrStart[p+1]], item indices and
	// cosines. Empty for catalogues without the index (and models stored
	// before format 3), which ask the index or every vector per request.
	fNbrStart []int32
	fNbrIdx   []int32
	fNbrSim   []float32

	// Derived by finish, never saved.
	// featPostStart/featPostItems invert featStart/featIdx: the movies with
	// feature f are featPostItems[featPostStart[f]:featPostStart[f+1]],
	// ascending (similar.go's bounded content scan).
	featPostStart []int32
	featPostItems []int32
	index         map[int64]int32  // movie ID → item index
	headPos       []int32          // item index → head position, or -1
	fPos          []int32          // item index → factor position, or -1
	fGram         []float32        // α0·HᵀH of the factor vectors, fK×fK
	fNorm         []float32        // factor position → length of its vector
	fIndex        *factorIndex     // nil: the stored neighbours (fNbrStart) or, without them, a scan of every factor vector (see ivf.go)
	cfItems       []int32          // the items with a collaborative score: fItems, or head without factors
	genreByName   map[string]int32 // lower-cased genre name → genre index
	featByName    map[string]int32 // featureKey(kind, name) → feature index
	prior         []float32        // item index → (0.1 + popScore)^contentPopExp
	maxPrior      float32          // the largest prior
	// scanOrder is every item index by decreasing factor vector length
	// (0 without factors), then decreasing popularity; along it scanNorm
	// is that length, scanPop and scanPrior the largest popScore and prior
	// from that position on. Recommend's bounded scans walk it.
	scanOrder                    []int32
	scanNorm, scanPop, scanPrior []float32
	// headVec holds the factor vectors of the head movies that have them,
	// contiguous (one matrix product scores them all), in the order of
	// headVecPos (their factor positions).
	headVec    []float32
	headVecPos []int32
	pool       sync.Pool // *scratch
}

// Feature kinds of the content model.
const (
	featGenre uint8 = iota
	featDecade
	featTag
)

// stageTimes records the duration of each training stage.
type stageTimes struct {
	base, content, collaborative time.Duration
}

func featureKey(kind uint8, name string) string {
	return string(rune('0'+kind)) + ":" + strings.ToLower(name)
}

// finish derives the lookup structures of a trained or loaded model.
func (m *model) finish() {
	n := len(m.ids)
	m.index = make(map[int64]int32, n)
	for i, id := range m.ids {
		m.index[id] = int32(i)
	}
	m.headPos = make([]int32, n)
	for i := range m.headPos {
		m.headPos[i] = -1
	}
	for h, i := range m.head {
		m.headPos[i] = int32(h)
	}
	m.fPos = make([]int32, n)
	for i := range m.fPos {
		m.fPos[i] = -1
	}
	for p, i := range m.fItems {
		m.fPos[i] = int32(p)
	}
	m.cfItems = m.head
	m.fGram, m.fNorm, m.fIndex = nil, nil, nil
	if k := int(m.fK); len(m.fItems) > 0 {
		m.cfItems = m.fItems
		g, _ := gramian(context.Background(), 0, m.fVec, k, float64(m.fAlpha0))
		m.fGram = make([]float32, len(g))
		for x, v := range g {
			m.fGram[x] = float32(v)
		}
		m.fNorm = make([]float32, len(m.fItems))
		for p := range m.fItems {
			v := m.fVec[p*k : p*k+k]
			m.fNorm[p] = float32(math.Sqrt(float64(dot(v, v))))
		}
		if len(m.fItems) >= ivfMinVectors && len(m.fNbrStart) == 0 {
			m.fIndex = buildFactorIndex(m.fVec, m.fNorm, k)
		}
	}
	m.genreByName = make(map[string]int32, len(m.genreNames))
	for g, name := range m.genreNames {
		m.genreByName[strings.ToLower(name)] = int32(g)
	}
	m.featByName = make(map[string]int32, len(m.featNames))
	for f, name := range m.featNames {
		m.featByName[featureKey(m.featKind[f], name)] = int32(f)
	}
	m.featPostStart, m.featPostItems = invertCSR(m.featStart, m.featIdx, len(m.featNames))
	m.prior = make([]float32, n)
	for i, p := range m.popScore {
		m.prior[i] = float32(math.Pow(0.1+float64(p), contentPopExp))
		m.maxPrior = max(m.maxPrior, m.prior[i])
	}
	m.buildScanOrder()
	m.headVec, m.headVecPos = nil, nil
	if k := int(m.fK); len(m.fItems) > 0 {
		for _, i := range m.head {
			if p := m.fPos[i]; p >= 0 {
				m.headVecPos = append(m.headVecPos, p)
				m.headVec = append(m.headVec, m.fVec[int(p)*k:int(p)*k+k]...)
			}
		}
	}
	m.pool.New = func() any { return newScratch(m) }
}

// buildScanOrder derives scanOrder and its bounds (see model).
func (m *model) buildScanOrder() {
	n := len(m.ids)
	norm := func(i int32) float32 {
		if p := m.fPos[i]; p >= 0 {
			return m.fNorm[p]
		}
		return 0
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(cmp.Compare(norm(b), norm(a)), cmp.Compare(m.popScore[b], m.popScore[a]), cmp.Compare(a, b))
	})
	m.scanOrder = order
	m.scanNorm = make([]float32, n)
	m.scanPop = make([]float32, n)
	m.scanPrior = make([]float32, n)
	var pop, prior float32
	for k := n - 1; k >= 0; k-- {
		i := order[k]
		pop, prior = max(pop, m.popScore[i]), max(prior, m.prior[i])
		m.scanNorm[k], m.scanPop[k], m.scanPrior[k] = norm(i), pop, prior
	}
}

func (m *model) version() string                 { return m.ver }
func (m *model) trainedAt() time.Time            { return m.trained }
func (m *model) trainingDuration() time.Duration { return m.duration }

// hasGenre reports whether item i has genre g.
func (m *model) hasGenre(i int32, g int32) bool {
	for _, x := range m.genreIdx[m.genreStart[i]:m.genreStart[i+1]] {
		if x == g {
			return true
		}
	}
	return false
}

// invertCSR returns the transpose of the rows×cols CSR pattern start/idx:
// for each column, the rows that hold it, ascending.
func invertCSR(start, idx []int32, cols int) (tStart, tIdx []int32) {
	tStart = make([]int32, cols+1)
	for _, c := range idx {
		tStart[c+1]++
	}
	for c := range cols {
		tStart[c+1] += tStart[c]
	}
	tIdx = make([]int32, len(idx))
	next := slices.Clone(tStart[:cols])
	for r := range len(start) - 1 {
		for _, c := range idx[start[r]:start[r+1]] {
			tIdx[next[c]] = int32(r)
			next[c]++
		}
	}
	return tStart, tIdx
}

// scratch holds one request's buffers. Every slice is returned to its
// resting state (zeros / -1 marks) before the scratch goes back to the pool,
// but for the stamps (fstamp, seen), which later requests outdate.
type scratch struct {
	mark    []int32   // item index → 1 + position in hist, 0 when not in the history
	collab  []float32 // per head position
	fscore  []float32 // per factor position
	fstamp  []uint32  // per factor position: the stamp fscore was computed under
	headF   []float32 // per head movie with factors: its factor score
	cf      []float32 // per item: its collaborative score, when every one is computed (query.dense)
	stamp   uint32    // this request's stamp (see query.factor)
	maxCF   float32   // the largest collaborative score (query.cf)
	fa      []float64 // fK×fK: the fold-in's normal equations
	fa32    []float32 // fK×fK: the same, summed in float32
	fy      []float32 // the fold-in's scaled history vectors, a row each
	fw      []float64 // fK: the fold-in's right-hand side, then the user's vector
	fw32    []float32 // fK: the user's vector
	nbrTop  topK      // SimilarMovies' factor neighbours
	fq      []float32 // fK: SimilarMovies' unit query vector (factorIndex)
	parts   topK      // the factorIndex partitions a query reads
	lists   []float32 // per factorIndex partition: its centroid's score
	sims    []float32 // per item, SimilarMovies' collaborative part
	seen    []uint32  // per item: the seenAt of the last SimilarMovies that offered it
	seenAt  uint32
	qfs     []featWeight // SimilarMovies' query features by weight
	ess     []int32      // SimilarMovies' essential features
	profile []float32    // per feature
	hist    []histEntry
	top     topK
}

// histEntry is one rating of the request's history: its movie, score,
// time (Unix seconds; dated false when unknown) and the confidence the
// collaborative models weigh it with (see foldHistory).
type histEntry struct {
	item  int32
	score float32
	at    int64
	dated bool
	conf  float32
}

func newScratch(m *model) *scratch {
	s := &scratch{
		mark:    make([]int32, len(m.ids)),
		collab:  make([]float32, len(m.head)),
		fscore:  make([]float32, len(m.fItems)),
		fstamp:  make([]uint32, len(m.fItems)),
		headF:   make([]float32, len(m.headVecPos)),
		cf:      make([]float32, len(m.ids)),
		fa:      make([]float64, int(m.fK)*int(m.fK)),
		fa32:    make([]float32, int(m.fK)*int(m.fK)),
		fw:      make([]float64, m.fK),
		fw32:    make([]float32, m.fK),
		nbrTop:  topK{c: make([]cand, 0, maxNeighbours)},
		fq:      make([]float32, m.fK),
		sims:    make([]float32, len(m.ids)),
		seen:    make([]uint32, len(m.ids)),
		profile: make([]float32, len(m.featNames)),
		hist:    make([]histEntry, 0, 256),
		top:     topK{c: make([]cand, 0, maxLimit)},
	}
	if ix := m.fIndex; ix != nil {
		s.parts = topK{c: make([]cand, 0, ix.probe)}
		s.lists = make([]float32, ix.lists)
	}
	return s
}

// nextStamp starts a new stamp for fstamp (clearing it when the counter
// wraps).
func (s *scratch) nextStamp() {
	s.stamp++
	if s.stamp == 0 {
		clear(s.fstamp)
		s.stamp = 1
	}
}

func (m *model) getScratch() *scratch { return m.pool.Get().(*scratch) }

func (m *model) putScratch(s *scratch) {
	for _, h := range s.hist {
		s.mark[h.item] = 0
	}
	s.hist = s.hist[:0]
	s.top.c = s.top.c[:0]
	m.pool.Put(s)
}
