package recommend

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// exactNeighbours is factorNeighbours' exact scan, for comparison.
func exactNeighbours(m *model, p int32, limit int) map[int32]bool {
	k := int(m.fK)
	q := m.fVec[int(p)*k : int(p)*k+k]
	var t topK
	t.reset(limit)
	for x := range int32(len(m.fItems)) {
		if x == p || m.fNorm[x] == 0 {
			continue
		}
		c := dot(q, m.fVec[int(x)*k:int(x)*k+k]) / (m.fNorm[p] * m.fNorm[x])
		if c > 0 && (!t.full() || c >= t.min().score) {
			t.offer(cand{c, x})
		}
	}
	out := map[int32]bool{}
	for _, c := range t.c {
		out[c.item] = true
	}
	return out
}

// indexRecall returns the mean share of the exact top limit that the index
// finds, over every step-th factor movie of m.
func indexRecall(t *testing.T, m *model, ix *factorIndex, limit, step int) float64 {
	t.Helper()
	k := int(m.fK)
	q := make([]float32, k)
	dots := make([]float32, len(m.fItems))
	lists := make([]float32, ix.lists)
	var top, parts topK
	var sum float64
	n := 0
	for p := int32(0); int(p) < len(m.fItems); p += int32(step) {
		if m.fNorm[p] == 0 {
			continue
		}
		exact := exactNeighbours(m, p, limit)
		if len(exact) == 0 {
			continue
		}
		for d, v := range m.fVec[int(p)*k : int(p)*k+k] {
			q[d] = v / m.fNorm[p]
		}
		top.reset(limit)
		ix.neighbours(q, p, &top, &parts, dots, lists)
		found := 0
		for _, c := range top.c {
			if c.item == p {
				t.Fatalf("movie %d is its own neighbour", p)
			}
			if exact[c.item] {
				found++
			}
		}
		sum += float64(found) / float64(len(exact))
		n++
	}
	return sum / float64(n)
}

// TestFactorIndexRecall: the inverted-file index finds most of the exact
// factor neighbours (ml-latest-small's model, indexed although it is under
// ivfMinVectors), and every vector is in exactly one partition.
func TestFactorIndexRecall(t *testing.T) {
	_, mdl := trainedSmall(t)
	m := mdl.impl
	ix := buildFactorIndex(m.fVec, m.fNorm, int(m.fK))
	seen := make([]bool, len(m.fItems))
	for _, p := range ix.pos {
		if seen[p] {
			t.Fatalf("factor position %d in two partitions", p)
		}
		seen[p] = true
	}
	nonzero := 0
	for _, x := range m.fNorm {
		if x > 0 {
			nonzero++
		}
	}
	if int(ix.start[ix.lists]) != nonzero {
		t.Fatalf("the partitions hold %d vectors, want the %d nonzero ones", ix.start[ix.lists], nonzero)
	}
	for _, c := range []struct {
		limit int
		want  float64
	}{{10, 0.9}, {maxNeighbours, 0.8}} {
		r := indexRecall(t, m, ix, c.limit, 1)
		t.Logf("%d factor movies, %d partitions, %d read per query: recall@%d %.3f", len(m.fItems), ix.lists, ix.probe, c.limit, r)
		if r < c.want || math.IsNaN(r) {
			t.Errorf("recall@%d %.3f, want at least %.2f", c.limit, r, c.want)
		}
	}
}

// TestFactorIndexRecallOf measures the index on a stored model given by
// MOVIEREC_IVF_MODEL (a file holding Model.MarshalBinary's bytes, e.g. the
// 25M benchmark's model) for several probe counts, on a sample of 300
// movies (skipped without it).
func TestFactorIndexRecallOf(t *testing.T) {
	path := os.Getenv("MOVIEREC_IVF_MODEL")
	if path == "" {
		t.Skip("MOVIEREC_IVF_MODEL not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mdl, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	m := mdl.impl
	start := time.Now()
	ix := buildFactorIndex(m.fVec, m.fNorm, int(m.fK))
	t.Logf("index built in %v", time.Since(start))
	step := max(1, len(m.fItems)/300)
	for _, probe := range []int{ix.probe, 8, 16, 24, 32, 48} {
		ix.probe = min(probe, ix.lists)
		t.Logf("%d factor movies, %d partitions, probe %d: recall@10 %.3f, recall@100 %.3f", len(m.fItems), ix.lists, ix.probe,
			indexRecall(t, m, ix, 10, step), indexRecall(t, m, ix, maxNeighbours, step))
	}
}

// TestSimilarUsesFactorIndex: a model with at least ivfMinVectors factor
// movies answers similar movies through the index, with nearly the exact
// answers.
func TestSimilarUsesFactorIndex(t *testing.T) {
	_, exact := trainedSmall(t)
	data, err := exact.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { ivfMinVectors = n }(ivfMinVectors)
	ivfMinVectors = 1000
	indexed, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	m := indexed.impl
	if m.fIndex == nil {
		t.Fatalf("%d factor movies, over the threshold, and no index", len(m.fItems))
	}
	var overlap float64
	n := 0
	for p := 0; p < len(m.fItems); p += 25 {
		i := m.fItems[p]
		if m.headPos[i] >= 0 {
			continue // the head's neighbours are EASE's
		}
		a, err := exact.SimilarMovies(m.ids[i], nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		b, err := indexed.SimilarMovies(m.ids[i], nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || len(a) == 0 {
			t.Fatalf("movie %d: %d similar movies with the index, %d without", m.ids[i], len(b), len(a))
		}
		same := 0
		for _, x := range b {
			for _, y := range a {
				if x.MovieID == y.MovieID {
					same++
				}
			}
		}
		overlap += float64(same) / float64(len(a))
		n++
	}
	overlap /= float64(n)
	t.Logf("%d tail movies: %.3f of the exact top 10 found through the index", n, overlap)
	if overlap < 0.85 {
		t.Errorf("the index finds %.3f of the exact similar movies, want at least 0.85", overlap)
	}
	if overlap == 1 {
		t.Error("the answers are exactly the exact scan's: the index (12 of 71 partitions) is not used")
	}
}

// TestFactorIndexEveryPartition: reading every partition, the index gives
// the exact neighbours, for sizes around the partition count and with
// zero vectors (which are nobody's neighbours).
func TestFactorIndexEveryPartition(t *testing.T) {
	const k = 8
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 2, 5, 15, 16, 17, 100, 700} {
		m := &model{fK: k, fItems: make([]int32, n), fVec: make([]float32, n*k), fNorm: make([]float32, n)}
		for p := range n {
			if p%7 == 3 {
				continue // a zero vector
			}
			v := m.fVec[p*k : p*k+k]
			for d := range v {
				v[d] = float32(rng.NormFloat64())
			}
			m.fNorm[p] = float32(math.Sqrt(float64(dot(v, v))))
		}
		ix := buildFactorIndex(m.fVec, m.fNorm, k)
		ix.probe = ix.lists
		indexed := 0
		for l := range ix.lists {
			indexed += int(ix.start[l+1] - ix.start[l])
		}
		zero := 0
		for _, x := range m.fNorm {
			if x == 0 {
				zero++
			}
		}
		if indexed != n-zero || len(ix.pos) != indexed {
			t.Fatalf("n=%d: %d vectors indexed, want the %d nonzero ones", n, indexed, n-zero)
		}
		if n-zero < 2 {
			continue
		}
		if r := indexRecall(t, m, ix, 10, 1); r != 1 && !math.IsNaN(r) { // NaN: no movie has a neighbour
			t.Errorf("n=%d: recall %.3f reading every partition, want 1", n, r)
		}
	}
}
