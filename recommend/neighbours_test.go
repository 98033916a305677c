package recommend

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustMarshal(t *testing.T, m *Model) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withIndexFrom lowers the size from which a model uses the factor index
// (ml-latest-small's 3,000-odd factor movies are under it) until the test
// ends.
func withIndexFrom(t *testing.T, n int) {
	old := ivfMinVectors
	ivfMinVectors = n
	t.Cleanup(func() { ivfMinVectors = old })
}

// format2 encodes m as a model stored before format 3 would be: the same
// body without the factor neighbours.
func format2(t *testing.T, m *model) []byte {
	t.Helper()
	body, err := m.encodeBody(2)
	if err != nil {
		t.Fatal(err)
	}
	e := &encoder{}
	e.b = append(e.b, magic...)
	e.u32(2)
	e.i64(m.trained.UnixNano())
	e.i64(int64(m.duration))
	e.str(versionOf(m.trained, body))
	e.b = append(e.b, body...)
	return e.b
}

// TestTrainedNeighboursAnswerAsTheIndex: a model large enough for the
// factor index stores its tail movies' factor neighbours, and answers
// similar movies from them (after a save and a load too) exactly as the
// factor index answers per request: every factor movie, at the largest
// limit, scores and reasons included. A model stored without them
// (format 2) still loads and asks the index.
func TestTrainedNeighboursAnswerAsTheIndex(t *testing.T) {
	ds := loadSmall(t)
	withIndexFrom(t, 1000)
	var stages []string
	trained, err := Train(context.Background(), ds, DefaultConfig(), func(stage string, done, total int) {
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if stages[len(stages)-1] != "neighbours" {
		t.Errorf("training stages %v: no neighbours stage last", stages)
	}
	m := trained.impl
	if m.fIndex != nil || len(m.fNbrStart) != len(m.fItems)+1 {
		t.Fatalf("trained: index %v, %d neighbour offsets for %d factor movies", m.fIndex != nil, len(m.fNbrStart), len(m.fItems))
	}
	tail, withNbrs := 0, 0
	for p, i := range m.fItems {
		n := m.fNbrStart[p+1] - m.fNbrStart[p]
		switch {
		case m.headPos[i] >= 0 && n != 0:
			t.Fatalf("head movie %d has %d factor neighbours stored (its are EASE's)", m.ids[i], n)
		case m.headPos[i] < 0:
			tail++
			if n > 0 {
				withNbrs++
			}
		}
		if n > maxNeighbours {
			t.Fatalf("movie %d has %d neighbours", m.ids[i], n)
		}
	}
	if tail == 0 || withNbrs < tail*9/10 {
		t.Fatalf("%d of %d tail movies have stored neighbours", withNbrs, tail)
	}

	data, err := trained.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.impl.fNbrStart, m.fNbrStart) || !reflect.DeepEqual(loaded.impl.fNbrIdx, m.fNbrIdx) ||
		!reflect.DeepEqual(loaded.impl.fNbrSim, m.fNbrSim) || loaded.impl.fIndex != nil {
		t.Fatal("the neighbours differ after a save and a load, or the loaded model built the index")
	}
	old, err := Load(format2(t, m))
	if err != nil {
		t.Fatalf("format 2: %v", err)
	}
	if old.impl.fIndex == nil || len(old.impl.fNbrStart) != 0 {
		t.Fatal("the format-2 model does not ask the index per request")
	}
	for _, i := range m.fItems {
		id := m.ids[i]
		want, err := old.SimilarMovies(id, nil, maxLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, mdl := range []*Model{trained, loaded} {
			got, err := mdl.SimilarMovies(id, nil, maxLimit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("movie %d: from the stored neighbours\n%v\nfrom the index\n%v", id, got, want)
			}
		}
	}
}

// TestNeighboursSmallAndCancelled: a catalogue under the index's size
// stores no neighbours (it scans every vector, cheaply), a damaged
// neighbour section is refused, and training cancelled while it finds
// neighbours returns the cancellation.
func TestNeighboursSmallAndCancelled(t *testing.T) {
	_, small := trainedSmall(t)
	if n := len(small.impl.fNbrStart); n != 0 {
		t.Errorf("a model without the factor index stores %d neighbour offsets", n)
	}
	ds := syntheticDataset(300, 400, 5)
	withIndexFrom(t, 50)
	defer func(n int) { maxHead = n }(maxHead)
	maxHead = 100 // a tail to find neighbours of
	mdl, err := Train(context.Background(), ds, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := mdl.impl
	if len(m.fNbrIdx) == 0 {
		t.Fatalf("%d factor movies over the index's size, and no neighbours stored", len(m.fItems))
	}
	for name, spoil := range map[string]func(m *model){
		"a neighbour out of range": func(m *model) { m.fNbrIdx[0] = int32(len(m.ids)) },
		"offsets cut short":        func(m *model) { m.fNbrStart = m.fNbrStart[:len(m.fNbrStart)-1] },
		"a similarity missing":     func(m *model) { m.fNbrSim = m.fNbrSim[1:] },
		"a movie its own neighbour": func(m *model) {
			for p := range m.fItems {
				if m.fNbrStart[p+1] > m.fNbrStart[p] {
					m.fNbrIdx[m.fNbrStart[p]] = m.fItems[p]
					return
				}
			}
		},
		"a neighbour twice": func(m *model) {
			for p := range m.fItems {
				if lo := m.fNbrStart[p]; m.fNbrStart[p+1] > lo+1 {
					m.fNbrIdx[lo+1] = m.fNbrIdx[lo]
					return
				}
			}
		},
		"a similarity not a number": func(m *model) { m.fNbrSim[0] = float32(math.NaN()) },
	} {
		start, idx, sim, ver := m.fNbrStart, slices.Clone(m.fNbrIdx), slices.Clone(m.fNbrSim), m.ver
		spoil(m)
		body, err := m.encodeBody(formatNumber)
		if err != nil {
			t.Fatal(err)
		}
		m.ver = versionOf(m.trained, body) // a checksum that matches
		b, err := m.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(b); !errors.Is(err, ErrCorruptModel) || strings.Contains(err.Error(), "checksum") {
			t.Errorf("%s: Load = %v, want ErrCorruptModel from the model's checks", name, err)
		}
		m.fNbrStart, m.fNbrIdx, m.fNbrSim, m.ver = start, idx, sim, ver
	}
	if _, err := Load(mustMarshal(t, mdl)); err != nil {
		t.Fatalf("the model, mended: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = Train(ctx, ds, DefaultConfig(), func(stage string, done, total int) {
		if stage == "neighbours" {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("training cancelled while finding neighbours: %v", err)
	}
}

// TestEssentialFeaturesBound: the features essentialFeatures leaves out
// can never lift a movie to minContent alone — the largest cosine a unit
// vector on them reaches, their share of the query's length, stays under
// it — also when minContent is exactly the length of a lightest subset,
// where the split's rounding margin decides; and the split is tight: the
// lightest essential feature added would reach it.
func TestEssentialFeaturesBound(t *testing.T) {
	const nf = 12
	rng := rand.New(rand.NewPCG(3, 4))
	m := &model{featPostStart: make([]int32, nf+1), ids: make([]int64, 100)}
	s := &scratch{}
	for trial := range 2000 {
		n := 1 + rng.IntN(nf)
		qf := make([]int32, 0, n)
		q := make([]float32, nf)
		for _, f := range rng.Perm(nf)[:n] {
			qf = append(qf, int32(f))
			q[f] = float32(0.05 + rng.Float64())
		}
		slices.Sort(qf)
		// minContent: a random share of the query's length, or exactly the
		// length of its lightest features.
		w2 := make([]float64, 0, n)
		for _, f := range qf {
			w2 = append(w2, float64(q[f]*q[f]))
		}
		slices.Sort(w2)
		var norm2 float64
		for _, x := range w2 {
			norm2 += x
		}
		minContent := float32(math.Sqrt(norm2) * rng.Float64())
		if trial%2 == 0 {
			k := rng.IntN(n + 1)
			var sum float64
			for _, x := range w2[:k] {
				sum += x
			}
			minContent = float32(math.Sqrt(sum))
		}
		ess, _ := m.essentialFeatures(s, qf, q, minContent)
		var left, lightest float64
		lightest = math.Inf(1)
		for _, f := range qf {
			x := float64(q[f]) * float64(q[f])
			if slices.Contains(ess, f) {
				lightest = min(lightest, x)
			} else {
				left += x
			}
		}
		if math.Sqrt(left) >= float64(minContent) && left > 0 {
			t.Fatalf("trial %d: the features left out reach %.9g, minContent %.9g", trial, math.Sqrt(left), minContent)
		}
		if len(ess) > 0 && math.Sqrt(left+lightest) < float64(minContent)*(1-2e-3) {
			t.Fatalf("trial %d: the lightest essential feature could be left out too (%.9g < %.9g)", trial, math.Sqrt(left+lightest), minContent)
		}
	}
}
