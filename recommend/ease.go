package recommend

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// The collaborative model is EASE (Steck, "Embarrassingly Shallow
// Autoencoders for Sparse Data", WWW 2019) over the head of the catalogue:
// the maxHead most-rated movies among those with at least minHeadRatings
// training ratings. With X the users × head matrix of rating confidences
// c(r) = 1 + α·(r − 0.5)/4.5 (0 where unrated), G = XᵀX with each pair of
// ratings weighted by how close in time they were (sessionGram), and
// P = (G + λI)⁻¹, the item-item weights are
//
//	B_ij = −P_ij / P_jj (i ≠ j),  B_jj = 0,
//
// the closed-form minimiser of ‖X − XB‖² + λ‖B‖² with a zero diagonal.
// A user's score for head movie j is Σ_h c_h·B_hj over the head movies h
// of the request's History, c_h being c(r_h) weighed by the rating's
// distance from the user's newest sitting (foldHistory): any rating, even
// one made a second ago, counts at once, without retraining.
//
// The inverse is cubic in the head size, so the head is capped at maxHead
// movies; every movie with at least minHeadRatings ratings, head or not,
// also has a vector in the factor model (ials.go), which scores the rest
// of the catalogue.
//
// maxHead and minHeadRatings are variables only so that the tuning test
// can vary them; nothing else writes them.
var (
	maxHead        = 2000
	minHeadRatings = int32(3)
	userExp        = 0.25 // a user's rows of X are scaled by n_u^(−userExp/2)
)

const (
	// maxNeighbours is how many collaborative neighbours SimilarMovies
	// keeps per head movie: the highest cosines of G's columns.
	maxNeighbours = 100
)

func confidence(alpha, r float32) float32 { return 1 + alpha*(r-0.5)/4.5 }

// selectHead returns the head's item indices, ascending.
func selectHead(r *ratingTable) []int32 {
	var head []int32
	for i, c := range r.count {
		if c >= minHeadRatings {
			head = append(head, int32(i))
		}
	}
	if len(head) > maxHead {
		slices.SortFunc(head, func(a, b int32) int {
			return cmp.Or(cmp.Compare(r.count[b], r.count[a]), cmp.Compare(a, b))
		})
		head = head[:maxHead]
		slices.Sort(head)
	}
	return head
}

func trainEASE(ctx context.Context, m *model, r *ratingTable, cfg Config, report Progress) error {
	m.head = selectHead(r)
	n := len(m.head)
	if n == 0 {
		m.nbrStart = []int32{0}
		return nil
	}
	pos := make([]int32, len(m.ids))
	for i := range pos {
		pos[i] = -1
	}
	for h, i := range m.head {
		pos[i] = int32(h)
	}
	// Each user's head ratings, ascending by head position (item indices
	// ascend within a user and the head is ascending).
	sessions := cfg.SessionWeight > 0
	uStart := make([]int32, 1, r.users()+1)
	var uPos []int32
	var uConf []float64
	var uTime []uint32
	for u := range r.users() {
		lo := len(uPos)
		for k := r.userStart[u]; k < r.userStart[u+1]; k++ {
			if p := pos[r.items[k]]; p >= 0 {
				uPos = append(uPos, p)
				uConf = append(uConf, float64(confidence(m.alpha, r.scores[k])))
				if sessions {
					uTime = append(uTime, r.times[k])
				}
			}
		}
		if userExp != 0 && len(uPos) > lo {
			sc := math.Pow(float64(len(uPos)-lo), -userExp/2)
			for k := lo; k < len(uPos); k++ {
				uConf[k] *= sc
			}
		}
		uStart = append(uStart, int32(len(uPos)))
	}

	// G = XᵀX, one block of rows per chunk.
	workers := workerCount(cfg.Workers)
	chunk := max(16, n/(4*workers))
	g := make([]float64, n*n)
	stage := "collaborative: gram"
	report(stage, 0, n)
	err := parallelFor(ctx, workers, n, chunk, func(lo, hi int) {
		for u := range len(uStart) - 1 {
			ps := uPos[uStart[u]:uStart[u+1]]
			cs := uConf[uStart[u]:uStart[u+1]]
			k, _ := slices.BinarySearch(ps, int32(lo))
			for ; k < len(ps) && int(ps[k]) < hi; k++ {
				row := g[int(ps[k])*n : int(ps[k])*n+n]
				ca := cs[k]
				for l, p := range ps {
					row[p] += ca * cs[l]
				}
			}
		}
	}, func(done int) { report(stage, done, n) })
	if err != nil {
		return err
	}

	// Neighbours for SimilarMovies: the cosine of G's columns.
	stage = "collaborative: neighbours"
	report(stage, 0, n)
	nb := make([]int32, n*maxNeighbours)
	ns := make([]float32, n*maxNeighbours)
	cnt := make([]int32, n)
	err = parallelFor(ctx, workers, n, chunk, func(lo, hi int) {
		t := topK{c: make([]cand, 0, maxNeighbours)}
		for a := lo; a < hi; a++ {
			t.reset(maxNeighbours)
			row := g[a*n : a*n+n]
			da := row[a]
			for b, v := range row {
				if b == a || v <= 0 {
					continue
				}
				t.offer(cand{float32(v / math.Sqrt(da*g[b*n+b])), int32(b)})
			}
			for k, c := range t.sorted() {
				nb[a*maxNeighbours+k] = m.head[c.item]
				ns[a*maxNeighbours+k] = min(c.score, 1)
			}
			cnt[a] = int32(len(t.c))
		}
	}, func(done int) { report(stage, done, n) })
	if err != nil {
		return err
	}
	m.nbrStart = make([]int32, n+1)
	for a := range n {
		m.nbrIdx = append(m.nbrIdx, nb[a*maxNeighbours:a*maxNeighbours+int(cnt[a])]...)
		m.nbrSim = append(m.nbrSim, ns[a*maxNeighbours:a*maxNeighbours+int(cnt[a])]...)
		m.nbrStart[a+1] = int32(len(m.nbrIdx))
	}

	if sessions {
		stage = "collaborative: sessions"
		if err := sessionGram(ctx, g, n, uStart, uPos, uConf, uTime, cfg, workers, chunk, func(done int) { report(stage, done, n) }); err != nil {
			return err
		}
	}

	if cfg.SideWeight > 0 {
		stage = "collaborative: side information"
		if err := addSideGram(ctx, m, g, cfg.SideWeight, workers, chunk, func(done int) { report(stage, done, n) }); err != nil {
			return err
		}
	}

	// P = (G + λI)⁻¹ by Cholesky: dense LAPACK, the one stage that cannot
	// stop half-way (a few seconds for the default head).
	stage = "collaborative: solve"
	report(stage, 0, 1)
	for i := range n {
		g[i*n+i] += cfg.Regularization
	}
	tri, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: g})
	if ok {
		_, ok = lapack64.Potri(tri)
	}
	if !ok {
		return errors.New("recommend: the collaborative Gram matrix is not positive definite")
	}
	report(stage, 1, 1)
	if err := ctx.Err(); err != nil {
		return err
	}

	// B_ij = −P_ij/P_jj; P's upper triangle holds the inverse.
	stage = "collaborative: weights"
	report(stage, 0, n)
	w := make([]float32, n*n)
	err = parallelFor(ctx, workers, n, chunk, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := w[i*n : i*n+n]
			for j := range row {
				if j == i {
					continue
				}
				p := g[min(i, j)*n+max(i, j)]
				row[j] = float32(-p / g[j*n+j])
			}
		}
	}, func(done int) { report(stage, done, n) })
	if err != nil {
		return err
	}
	m.weights = w
	return nil
}

// addSideGram adds w·FFᵀ to g, the head's Gram matrix, where row h of F
// is head movie h's content vector (genres, decades and tags, weighted and
// L2-normalised as for the content recommender, buildContent): every
// feature becomes a pseudo-user who "rated" each movie with it by its
// feature value, and two head movies' entry gains w times their content
// cosine. This is collective EASE (Jeunen, Van Balen and Goethals,
// "Closed-Form Models for Collaborative Filtering with Side-Information",
// RecSys 2020: EASE on the ratings stacked over the side information, whose
// Gram matrix is XᵀX + w·TᵀT). Movies that share genres, a decade or tags
// now lean on each other in the weights even where few users rated both;
// FFᵀ is a Gram matrix, so G stays positive definite. Rows are filled in
// blocks by posting lists (feature → head movies with it): 2 ms on
// ml-latest-small, 4 ms at 25M ratings.
func addSideGram(ctx context.Context, m *model, g []float64, w float64, workers, chunk int, progress func(int)) error {
	n := len(m.head)
	type posting struct {
		pos int32
		val float64
	}
	lists := make([][]posting, len(m.featNames))
	for h, i := range m.head {
		for k := m.featStart[i]; k < m.featStart[i+1]; k++ {
			f := m.featIdx[k]
			lists[f] = append(lists[f], posting{int32(h), w * float64(m.featVal[k])})
		}
	}
	return parallelFor(ctx, workers, n, chunk, func(lo, hi int) {
		for a := lo; a < hi; a++ {
			row := g[a*n : a*n+n]
			i := m.head[a]
			for k := m.featStart[i]; k < m.featStart[i+1]; k++ {
				va := float64(m.featVal[k])
				for _, p := range lists[m.featIdx[k]] {
					row[p.pos] += va * p.val
				}
			}
		}
	}, progress)
}

// sessionCutoff is how many SessionTimes apart two ratings may be and still
// count as one sitting: exp(−10) ≈ 4.5e−5 of a pair's weight is dropped
// beyond it, noise beside λ.
const sessionCutoff = 10

// sessionGram turns g = XᵀX into the session-weighted Gram matrix
//
//	G_ij = Σ_u c_ui·c_uj·((1 − w) + w·exp(−|t_ui − t_uj| / τ))
//
// with w = cfg.SessionWeight and τ = cfg.SessionTime: pairs of ratings a
// user made in one sitting weigh up to 1/(1 − w) times as much as pairs
// made far apart. MovieLens users rate in sessions, movies they have just
// seen, or a series, or one director's work; such co-ratings say more about
// two movies being related than two ratings years apart. The kernel
// exp(−|Δ|/τ) is positive definite (Laplace), so G stays a Gram matrix (of
// a feature map of the ratings with time) and EASE's closed form holds; a
// rating's own pair has Δ = 0, so the diagonal stays Σ_u c_ui². Counting
// co-occurrence within a sitting is the idea of session-based neighbourhood
// models (Ludewig and Jannach, "Evaluation of session-based recommendation
// algorithms", UMUAI 2018), here as a soft kernel inside EASE's Gram
// matrix; SessionTime and SessionWeight were tuned like the rest
// (DefaultConfig).
//
// A rating without a time (unknownTime) shares no sitting: its pairs
// weigh (1 − w), its own pair 1. Each user's ratings come in ascending
// head position (uPos[uStart[u]:uStart[u+1]]), as trainEASE builds them.
//
// Work: each rating meets the user's other ratings within sessionCutoff·τ
// of it (sorted by time once per user), so it costs at most what XᵀX did.
func sessionGram(ctx context.Context, g []float64, n int, uStart, uPos []int32, uConf []float64, uTime []uint32, cfg Config, workers, chunk int, report func(done int)) error {
	w := cfg.SessionWeight
	tau := cfg.SessionTime.Seconds()
	window := uint32(min(math.Ceil(sessionCutoff*tau), math.MaxUint32))
	for i := range g {
		g[i] *= 1 - w
	}
	// Each user's head ratings in time order (ties by head position), and
	// each rating's place in that order.
	order := make([]int32, len(uPos))
	rank := make([]int32, len(uPos))
	for u := range len(uStart) - 1 {
		lo, hi := uStart[u], uStart[u+1]
		o := order[lo:hi]
		for k := range o {
			o[k] = lo + int32(k)
		}
		slices.SortFunc(o, func(a, b int32) int {
			return cmp.Or(cmp.Compare(uTime[a], uTime[b]), cmp.Compare(uPos[a], uPos[b]))
		})
		for q, a := range o {
			rank[a] = int32(q)
		}
	}
	report(0)
	return parallelFor(ctx, workers, n, chunk, func(lo, hi int) {
		for u := range len(uStart) - 1 {
			ps := uPos[uStart[u]:uStart[u+1]] // ascending: this block's rows are a run of it
			o := order[uStart[u]:uStart[u+1]]
			k, _ := slices.BinarySearch(ps, int32(lo))
			for ; k < len(ps) && int(ps[k]) < hi; k++ {
				a := uStart[u] + int32(k)
				pa := int(uPos[a])
				row := g[pa*n : pa*n+n]
				ta, ca := uTime[a], w*uConf[a]
				row[pa] += ca * uConf[a] // Δ = 0
				if ta == unknownTime {
					continue // no sitting to share
				}
				q := int(rank[a])
				for l := q - 1; l >= 0 && ta-uTime[o[l]] <= window; l-- {
					b := o[l]
					row[uPos[b]] += ca * uConf[b] * math.Exp(-float64(ta-uTime[b])/tau)
				}
				for l := q + 1; l < len(o) && uTime[o[l]] != unknownTime && uTime[o[l]]-ta <= window; l++ {
					b := o[l]
					row[uPos[b]] += ca * uConf[b] * math.Exp(-float64(uTime[b]-ta)/tau)
				}
			}
		}
	}, report)
}
