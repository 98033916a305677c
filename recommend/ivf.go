package recommend

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
)

// factorIndex finds a movie's factor neighbours without reading every
// factor vector: an inverted file (IVF: the vectors partitioned by
// k-means, a query scans only the partitions whose centroids are nearest
// it; Jégou, Douze and Schmid, "Product Quantization for Nearest Neighbor
// Search", IEEE TPAMI 33(1), 2011, section IV, here without the
// quantization). The exact scan reads all n×k floats per query (16 MB
// at 62,000 movies and 64 factors: milliseconds, memory-bound); the
// index reads the centroids and about probe/lists of the vectors.
// Training asks it once per movie and stores the answers with the model
// (neighbours.go); a model stored before format 3 builds it at load and
// asks it per request.
//
// It is approximate: a true neighbour whose partition is not probed is
// missed. TestFactorIndexRecall measures how often; catalogues under
// ivfMinVectors factor movies keep the exact scan, per request.
type factorIndex struct {
	k, lists, probe int
	centroid        []float32 // lists×k, unit rows
	start           []int32   // partition l holds rows start[l]:start[l+1]
	pos             []int32   // row → factor position (zero vectors are left out)
	vec             []float32 // rows×k: the unit vectors, grouped by partition (a second copy: 16 MB at 62,000×64)
}

// ivfMinVectors is the number of factor movies from which similar movies'
// factor neighbours come from the index (a var so that tests can build it
// on a small model).
var ivfMinVectors = 20000

// IVF tuning: partitions ≈ √n, k-means on a sample of ivfSamplePer rows
// per partition for ivfIterations rounds, and ivfProbe partitions read
// per query (or lists/ivfProbeShare when that is more).
const (
	ivfSamplePer   = 40
	ivfIterations  = 8
	ivfProbe       = 12
	ivfProbeShare  = 8
	ivfAssignChunk = 1024
)

// buildFactorIndex indexes the n = len(norm) factor vectors in vec (n×k,
// row-major, with their lengths in norm). It is deterministic: the same
// vectors give the same index.
func buildFactorIndex(vec, norm []float32, k int) *factorIndex {
	n := len(norm)
	lists := min(n, max(16, int(math.Round(math.Sqrt(float64(n))))))
	unit := make([]float32, n*k)
	for p := range n {
		if norm[p] > 0 {
			inv := 1 / norm[p]
			for d := range k {
				unit[p*k+d] = vec[p*k+d] * inv
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))

	// Spherical k-means on a sample: centroids are unit means.
	sample := rng.Perm(n)[:min(n, lists*ivfSamplePer)]
	sv := make([]float32, len(sample)*k)
	for r, p := range sample {
		copy(sv[r*k:r*k+k], unit[p*k:p*k+k])
	}
	cent := make([]float32, lists*k)
	copy(cent, sv[:lists*k]) // the first sample rows (a random draw)
	assign := make([]int32, len(sample))
	scores := make([]float32, ivfAssignChunk*lists)
	count := make([]int, lists)
	for range ivfIterations {
		nearest(sv, cent, k, lists, assign, scores)
		clear(cent)
		clear(count)
		for r, l := range assign {
			count[l]++
			row := cent[int(l)*k : int(l)*k+k]
			for d, v := range sv[r*k : r*k+k] {
				row[d] += v
			}
		}
		for l := range lists {
			row := cent[l*k : l*k+k]
			if count[l] == 0 { // empty: restart it at a random sample row
				r := rng.IntN(len(sample))
				copy(row, sv[r*k:r*k+k])
				continue
			}
			var s float64
			for _, v := range row {
				s += float64(v) * float64(v)
			}
			if s > 0 {
				inv := float32(1 / math.Sqrt(s))
				for d := range row {
					row[d] *= inv
				}
			}
		}
	}

	// Every vector into its partition, grouped (a counting sort).
	all := make([]int32, n)
	nearest(unit, cent, k, lists, all, scores)
	ix := &factorIndex{k: k, lists: lists, probe: min(lists, max(ivfProbe, lists/ivfProbeShare)), centroid: cent,
		start: make([]int32, lists+1)}
	for p, l := range all {
		if norm[p] > 0 { // a zero vector is nobody's neighbour: not indexed
			ix.start[l+1]++
		}
	}
	for l := range lists {
		ix.start[l+1] += ix.start[l]
	}
	rows := int(ix.start[lists])
	ix.pos, ix.vec = make([]int32, rows), make([]float32, rows*k)
	next := append([]int32(nil), ix.start[:lists]...)
	for p, l := range all {
		if norm[p] == 0 {
			continue
		}
		r := next[l]
		next[l]++
		ix.pos[r] = int32(p)
		copy(ix.vec[int(r)*k:int(r)*k+k], unit[p*k:p*k+k])
	}
	return ix
}

// nearest sets out[r] to the centroid with the largest dot product with
// row r of rows (each rows×k, centroids lists×k), using scores as room
// for ivfAssignChunk rows at a time.
func nearest(rows, cent []float32, k, lists int, out []int32, scores []float32) {
	n := len(rows) / k
	for lo := 0; lo < n; lo += ivfAssignChunk {
		m := min(ivfAssignChunk, n-lo)
		vec.Sgemm(blas.NoTrans, blas.Trans, m, lists, k, 1, rows[lo*k:(lo+m)*k], k, cent, k, 0, scores, lists)
		for r := range m {
			row := scores[r*lists : r*lists+lists]
			best := 0
			for l, s := range row {
				if s > row[best] {
					best = l
				}
			}
			out[lo+r] = int32(best)
		}
	}
}

// neighbours offers to t the factor positions whose cosine with the unit
// query q is positive, from the probe partitions nearest q, skipping
// position self. dots needs room for the largest partition, lists for
// ix.lists entries.
func (ix *factorIndex) neighbours(q []float32, self int32, t *topK, parts *topK, dots, lists []float32) {
	k := ix.k
	vec.Sgemv(blas.NoTrans, ix.lists, k, 1, ix.centroid, k, q, 1, 0, lists[:ix.lists], 1)
	parts.reset(ix.probe)
	for l, s := range lists[:ix.lists] {
		if !parts.full() || s > parts.min().score {
			parts.offer(cand{s, int32(l)})
		}
	}
	for _, c := range parts.c {
		lo, hi := int(ix.start[c.item]), int(ix.start[c.item+1])
		if lo == hi {
			continue
		}
		d := dots[:hi-lo]
		vec.Sgemv(blas.NoTrans, hi-lo, k, 1, ix.vec[lo*k:hi*k], k, q, 1, 0, d, 1)
		for r, s := range d {
			p := ix.pos[lo+r]
			if p == self || s <= 0 {
				continue
			}
			if !t.full() || s >= t.min().score {
				t.offer(cand{s, p})
			}
		}
	}
}
