package recommend

import (
	"context"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// The factor model reaches the whole catalogue: implicit alternating least
// squares (iALS) over every movie with at least minHeadRatings training
// ratings, however many there are. EASE (ease.go) stays the stronger model
// on the head; the factor model adds a signal there and is the only
// collaborative one for the rest (see query.collabScores).
//
// It minimises, over user vectors w_u and movie vectors h_i of Factors
// dimensions,
//
//	Σ_{(u,i) rated} c_ui·(w_u·h_i − 1)² + α0·Σ_u Σ_i (w_u·h_i)²
//	  + λ·Σ_u (n_u + α0·|I|)^ν ‖w_u‖² + λ·Σ_i (n_i + α0·|U|)^ν ‖h_i‖²
//
// with c_ui the rating confidence of EASE (1 + Alpha·(r − 0.5)/4.5), α0
// the UnobservedWeight, λ the FactorRegularization and ν = 1: the
// formulation and frequency-scaled regularisation of Rendle, Krichene, Zhang
// and Koren, "Revisiting the Performance of iALS on Item Recommendation
// Benchmarks" (RecSys 2022), itself the weighted matrix factorisation of
// Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback
// Datasets" (ICDM 2008). The all-pairs term is never enumerated: with
// G = α0·HᵀH, each user's normal equations are
//
//	(G + Σ_{i rated} c_ui·h_i h_iᵀ + λ_u I) w_u = Σ_{i rated} c_ui·h_i
//
// and symmetrically for movies. Training solves them approximately with a
// few conjugate-gradient steps warm-started from the previous sweep
// (Takács, Pilászy and Tikk, "Applications of the conjugate gradient method
// for implicit feedback collaborative filtering", RecSys 2011), so a sweep
// costs O(ratings·k + rows·k²), never k³ per row. Serving folds a request's
// history in exactly (a k×k Cholesky solve, foldIn), so a rating made a
// second ago counts at once.
//
// alsNu, alsInitScale and alsCGSteps are variables only so that the tuning
// test can vary them.
var (
	alsNu        = 1.0
	alsInitScale = 0.1
	alsCGSteps   = 3
	// factorBlend is the factor model's weight in the collaborative score:
	// EASE/maxEASE + factorBlend·factor/maxFactor (see collabScores).
	factorBlend float32 = 0.3
	// tailImpute is the weight of the factor score standing in for the EASE
	// score of a movie outside the head.
	tailImpute float32 = 0.7
)

// maxFactors bounds Config.Factors (and a loaded model's).
const maxFactors = 512

// maxIterations bounds Config.Iterations.
const maxIterations = 1000

// alsSide is one side of the rating matrix in compressed rows: row r's
// entries are columns col[start[r]:start[r+1]] with confidences conf.
type alsSide struct {
	start []int32
	col   []int32
	conf  []float32
}

func (s *alsSide) rows() int { return len(s.start) - 1 }

// trainFactors fits the factor model of m over the movies with at least
// minHeadRatings ratings. It leaves m.fItems empty when Factors is 0 or no
// movie qualifies.
func trainFactors(ctx context.Context, m *model, r *ratingTable, cfg Config, report Progress) error {
	k := cfg.Factors
	m.fK = int32(k)
	m.fReg = float32(cfg.FactorRegularization)
	m.fAlpha0 = float32(cfg.UnobservedWeight)
	m.fItems, m.fVec = nil, nil
	if k == 0 {
		return nil
	}
	pos := make([]int32, len(m.ids))
	for i, c := range r.count {
		pos[i] = -1
		if c >= minHeadRatings {
			pos[i] = int32(len(m.fItems))
			m.fItems = append(m.fItems, int32(i))
		}
	}
	nf := len(m.fItems)
	if nf == 0 {
		return nil
	}

	// Users: their ratings of factor movies (users without any keep a zero
	// vector and are skipped). Items: the transpose.
	users := alsSide{start: make([]int32, 1, r.users()+1),
		col: make([]int32, 0, len(r.items)), conf: make([]float32, 0, len(r.items))} // at most every rating
	for u := range r.users() {
		for x := r.userStart[u]; x < r.userStart[u+1]; x++ {
			if p := pos[r.items[x]]; p >= 0 {
				users.col = append(users.col, p)
				users.conf = append(users.conf, confidence(m.alpha, r.scores[x]))
			}
		}
		users.start = append(users.start, int32(len(users.col)))
	}
	items := alsSide{start: make([]int32, nf+1), col: make([]int32, len(users.col)), conf: make([]float32, len(users.col))}
	for _, p := range users.col {
		items.start[p+1]++
	}
	for p := range nf {
		items.start[p+1] += items.start[p]
	}
	fill := append([]int32(nil), items.start[:nf]...)
	for u := range users.rows() {
		for x := users.start[u]; x < users.start[u+1]; x++ {
			p := users.col[x]
			items.col[fill[p]] = int32(u)
			items.conf[fill[p]] = users.conf[x]
			fill[p]++
		}
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1a15))
	h := make([]float32, nf*k)
	sd := alsInitScale / math.Sqrt(float64(k))
	for x := range h {
		h[x] = float32(rng.NormFloat64() * sd)
	}
	w := make([]float32, users.rows()*k)
	workers := workerCount(cfg.Workers)
	for it := range cfg.Iterations {
		stage := "collaborative: factors"
		report(stage, it, cfg.Iterations)
		steps := alsCGSteps
		if it == 0 {
			steps = 2 * alsCGSteps // the users start from zero
		}
		if err := alsSweep(ctx, workers, &users, w, h, k, cfg, steps); err != nil {
			return err
		}
		if err := alsSweep(ctx, workers, &items, h, w, k, cfg, alsCGSteps); err != nil {
			return err
		}
	}
	report("collaborative: factors", cfg.Iterations, cfg.Iterations)
	m.fVec = h
	return nil
}

// gramian returns α0·YᵀY (k×k) of the n×k row-major y, summed in fixed
// chunks so that the result does not depend on scheduling.
func gramian(ctx context.Context, workers int, y []float32, k int, alpha0 float64) ([]float64, error) {
	n := len(y) / k
	const chunks = 16
	parts := make([][]float64, chunks)
	per := (n + chunks - 1) / chunks
	err := parallelFor(ctx, workers, chunks, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			g := make([]float64, k*k)
			for r := c * per; r < min(n, (c+1)*per); r++ {
				v := y[r*k : r*k+k]
				for a, va := range v {
					if va == 0 {
						continue
					}
					row := g[a*k : a*k+k]
					for b := a; b < k; b++ {
						row[b] += float64(va * v[b])
					}
				}
			}
			parts[c] = g
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	g := make([]float64, k*k)
	for _, p := range parts {
		for x, v := range p {
			g[x] += v
		}
	}
	for a := range k {
		for b := a; b < k; b++ {
			g[a*k+b] *= alpha0
			g[b*k+a] = g[a*k+b]
		}
	}
	return g, nil
}

// alsSweep updates every row of x (side.rows() × k) with y fixed, by steps
// conjugate-gradient steps on the row's normal equations from its current
// value.
func alsSweep(ctx context.Context, workers int, side *alsSide, x, y []float32, k int, cfg Config, steps int) error {
	g64, err := gramian(ctx, workers, y, k, cfg.UnobservedWeight)
	if err != nil {
		return err
	}
	g := make([]float32, len(g64))
	for i, v := range g64 {
		g[i] = float32(v)
	}
	cols := float64(len(y) / k)
	n := side.rows()
	return parallelFor(ctx, workers, n, 256, func(lo, hi int) {
		buf := make([]float32, 4*k)
		res, dir, ad, b := buf[:k], buf[k:2*k], buf[2*k:3*k], buf[3*k:]
		for row := lo; row < hi; row++ {
			a, e := side.start[row], side.start[row+1]
			if a == e {
				continue
			}
			cs, confs := side.col[a:e], side.conf[a:e]
			reg := float32(cfg.FactorRegularization * math.Pow(float64(e-a)+cfg.UnobservedWeight*cols, alsNu))
			v := x[row*k : row*k+k]
			// res = b − A v, with b = Σ c·y_c.
			clear(b)
			for j, c := range cs {
				axpy(confs[j], y[int(c)*k:int(c)*k+k], b)
			}
			applyA(g, y, cs, confs, reg, v, res, k)
			for d := range res {
				res[d] = b[d] - res[d]
			}
			copy(dir, res)
			rr := dot(res, res)
			for range steps {
				if rr < 1e-12 {
					break
				}
				applyA(g, y, cs, confs, reg, dir, ad, k)
				den := dot(dir, ad)
				if !(den > 0) {
					break // converged to float32 precision
				}
				step := rr / den
				axpy(step, dir, v)
				axpy(-step, ad, res)
				rr1 := dot(res, res)
				beta := rr1 / rr
				for d := range dir {
					dir[d] = res[d] + beta*dir[d]
				}
				rr = rr1
			}
		}
	}, nil)
}

// applyA sets out = (G + Σ_j conf_j·y_j y_jᵀ + reg·I)·v.
func applyA(g, y []float32, cols []int32, confs []float32, reg float32, v, out []float32, k int) {
	for a := range k {
		out[a] = reg*v[a] + dot(g[a*k:a*k+k], v)
	}
	for j, c := range cols {
		yc := y[int(c)*k : int(c)*k+k]
		axpy(confs[j]*dot(yc, v), yc, out)
	}
}

// vec is gonum's pure-Go BLAS, whose float32 kernels are assembly on
// amd64: about 2.5× the speed of a plain loop at 64 factors.
var vec gonumblas.Implementation

// dot is x·y (len(y) ≥ len(x)).
func dot(x, y []float32) float32 { return vec.Sdot(len(x), x, 1, y, 1) }

// foldIn solves the request's user vector from the history (in s.hist)
// into s.fw32 (a movie's predicted preference is its dot product with it:
// query.factor). It returns how many history movies have factors (0:
// s.fw32 is not set).
func (m *model) foldIn(s *scratch) int {
	k := int(m.fK)
	b := s.fw
	clear(b)
	// The history's vectors, each scaled by √c, as the rows of s.fy: then
	// Σ c·h hᵀ = s.fyᵀ·s.fy, one BLAS rank-k update.
	y := s.fy[:0]
	n := 0
	for _, e := range s.hist {
		p := m.fPos[e.item]
		if p < 0 {
			continue
		}
		n++
		c := e.conf
		sc := float32(math.Sqrt(float64(c)))
		for x, v := range m.fVec[int(p)*k : int(p)*k+k] {
			y = append(y, sc*v)
			b[x] += float64(c * v)
		}
	}
	s.fy = y
	if n == 0 {
		return 0
	}
	a32 := s.fa32
	copy(a32, m.fGram)
	vec.Ssyrk(blas.Upper, blas.Trans, k, n, 1, y, k, 1, a32, k)
	a := s.fa
	for x, v := range a32 {
		a[x] = float64(v)
	}
	reg := float64(m.fReg) * math.Pow(float64(n)+float64(m.fAlpha0)*float64(len(m.fItems)), alsNu)
	for x := range k {
		a[x*k+x] += reg
	}
	// The same Cholesky factorisation as EASE's solve, then two triangular
	// solves: b becomes the user's vector.
	u, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: k, Stride: k, Data: a})
	if !ok {
		return 0
	}
	lapack64.Potrs(u, blas64.General{Rows: k, Cols: 1, Stride: 1, Data: b})
	w := s.fw32
	for x, v := range b {
		w[x] = float32(v)
	}
	return n
}

// factorNeighbours sets s.sims, for the movies whose factor vectors are
// nearest the factor movie at position p (cosine, at most maxNeighbours,
// positive only), and returns their item indices (read-only: they may be
// the model's fNbrIdx).
func (m *model) factorNeighbours(s *scratch, p int32) []int32 {
	if len(m.fNbrStart) > 0 {
		lo, hi := m.fNbrStart[p], m.fNbrStart[p+1]
		out := m.fNbrIdx[lo:hi]
		for k, i := range out {
			s.sims[i] = m.fNbrSim[int(lo)+k]
		}
		return out
	}
	m.indexNeighbours(s, p)
	return m.collectNeighbours(s)
}

// indexNeighbours leaves in s.nbrTop the factor neighbours of the factor
// movie at position p (their factor positions and cosines), from the
// factor index when the model has one, else from every vector.
func (m *model) indexNeighbours(s *scratch, p int32) {
	k := int(m.fK)
	q := m.fVec[int(p)*k : int(p)*k+k]
	qn := m.fNorm[p]
	t := &s.nbrTop
	t.reset(maxNeighbours)
	if qn == 0 {
		return
	}
	dots := s.fscore
	if m.fIndex != nil {
		for d, v := range q {
			s.fq[d] = v / qn
		}
		m.fIndex.neighbours(s.fq, p, t, &s.parts, dots, s.lists)
		return
	}
	vec.Sgemv(blas.NoTrans, len(m.fItems), k, 1, m.fVec, k, q, 1, 0, dots, 1)
	for x, d := range dots {
		if int32(x) == p || d <= 0 {
			continue
		}
		c := d / (qn * m.fNorm[x])
		if !t.full() || c >= t.min().score {
			t.offer(cand{c, int32(x)})
		}
	}
}

// collectNeighbours turns the factor neighbours in s.nbrTop into items,
// their cosines set in s.sims.
func (m *model) collectNeighbours(s *scratch) []int32 {
	t := &s.nbrTop
	out := make([]int32, 0, len(t.c))
	for _, c := range t.c {
		i := m.fItems[c.item]
		s.sims[i] = min(c.score, 1)
		out = append(out, i)
	}
	return out
}

// factorReason names the history movie whose factor vector is nearest
// item's, among those the user rated at least their average.
func (m *model) factorReason(s *scratch, item int32) (int32, float32) {
	k := int(m.fK)
	p := m.fPos[item]
	if p < 0 || m.fNorm[p] == 0 {
		return -1, 0
	}
	var mean float32
	for _, h := range s.hist {
		mean += h.score
	}
	mean /= float32(max(1, len(s.hist)))
	q := m.fVec[int(p)*k : int(p)*k+k]
	best, bestC, bestScore := int32(-1), float32(0), float32(0)
	for _, h := range s.hist {
		hp := m.fPos[h.item]
		if hp < 0 || h.item == item || h.score < mean || m.fNorm[hp] == 0 {
			continue
		}
		if c := dot(m.fVec[int(hp)*k:int(hp)*k+k], q) / m.fNorm[hp]; c > bestC {
			best, bestC, bestScore = h.item, c, h.score
		}
	}
	return best, bestScore
}
