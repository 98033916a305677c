package recommend

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestTailReach checks the whole catalogue is reachable collaboratively:
// on ml-latest-small, whose EASE head is capped at maxHead movies, movies
// with at least minHeadRatings ratings outside the head get collaborative
// similar movies, and appear in the collaborative list of someone who
// rated them (asked with that rating left out).
func TestTailReach(t *testing.T) {
	ds, mdl := trainedSmall(t)
	m := mdl.impl
	var tail []int32
	for _, i := range m.fItems {
		if m.headPos[i] < 0 {
			tail = append(tail, i)
		}
	}
	if len(tail) < 1000 {
		t.Fatalf("%d movies with factors outside the %d-movie head, want the ~3,000 of ml-latest-small", len(tail), len(m.head))
	}
	raters := map[int64][]int64{}
	for _, x := range ds.Interactions {
		raters[x.MovieID] = append(raters[x.MovieID], x.UserID)
	}

	// Similar movies: every tail movie has collaborative neighbours.
	for _, i := range tail {
		sims, err := mdl.SimilarMovies(m.ids[i], nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(sims) == 0 || !strings.Contains(sims[0].Reason, "same people") {
			t.Errorf("movie %d (%d ratings): similar movies %+v, want collaborative neighbours", m.ids[i], len(raters[m.ids[i]]), sims)
			break
		}
	}

	// Collaborative lists: 40 tail movies, evenly spread over the tail, each
	// must be in the collaborative top maxLimit of someone who rated it,
	// asked with that rating left out.
	tried := 0
	for k := 0; k < len(tail); k += len(tail) / 40 {
		id := m.ids[tail[k]]
		tried++
		reached := slices.ContainsFunc(raters[id], func(u int64) bool {
			hist := slices.DeleteFunc(historyOf(ds, u), func(x Interaction) bool { return x.MovieID == id })
			recs, err := mdl.Recommend(Request{History: hist, Algorithm: Collaborative, Limit: maxLimit})
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(recs, func(r Recommendation) bool { return r.MovieID == id && r.Algorithm == Collaborative })
		})
		if !reached {
			t.Errorf("movie %d (%d ratings): in none of its raters' collaborative lists", id, len(raters[id]))
		}
	}
	if tried < 40 {
		t.Fatalf("%d tail movies tried", tried)
	}
}

// TestLoadFormat1 checks that a model stored by a build before the factor
// model (format 1: the same body without the factor section) still loads
// and answers like the EASE-only model it is.
func TestLoadFormat1(t *testing.T) {
	ds := syntheticDataset(120, 60, 3)
	cfg := DefaultConfig()
	cfg.Factors = 0
	mdl, err := Train(context.Background(), ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := mdl.impl
	body, err := m.encodeBody(2)
	if err != nil {
		t.Fatal(err)
	}
	// Format 2 ends with fK, fReg, fAlpha0 and two empty slices: 20 bytes.
	body1 := body[:len(body)-20]
	e := &encoder{}
	e.b = append(e.b, magic...)
	e.u32(1)
	e.i64(m.trained.UnixNano())
	e.i64(int64(m.duration))
	e.str(versionOf(m.trained, body1))
	e.b = append(e.b, body1...)
	old, err := Load(e.b)
	if err != nil {
		t.Fatalf("format 1: %v", err)
	}
	if len(old.impl.fItems) != 0 {
		t.Fatal("a format-1 model has factors")
	}
	sameAnswers(t, mdl, old, ds, []int64{1, 2, 7}, 10, "the format-1 model")
	// A format it does not know is refused.
	e.b[len(magic)] = 9
	if _, err := Load(e.b); !errors.Is(err, ErrCorruptModel) {
		t.Errorf("format 9: %v, want ErrCorruptModel", err)
	}
}

// TestSimilarSkipIsExact checks that skipping the catalogue scan when the
// neighbours already outscore any other movie changes no answer: every
// third movie of ml-latest-small at limits 10 and 100, with and without the skip.
func TestSimilarSkipIsExact(t *testing.T) {
	_, mdl := trainedSmall(t)
	m := mdl.impl
	defer func() { similarScanAll = false }()
	skipped, tried := 0, 0
	for k, id := range m.ids {
		if k%3 != 0 {
			continue // a third of them keeps the test quick under -race
		}
		tried++
		for _, limit := range []int{10, 100} {
			similarScanAll = false
			a, _ := mdl.SimilarMovies(id, nil, limit)
			similarScanAll = true
			b, _ := mdl.SimilarMovies(id, nil, limit)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("movie %d, limit %d: %v with the skip, %v without", id, limit, a, b)
			}
			nbrs := m.headPos[k] >= 0 || m.fPos[k] >= 0
			if nbrs && limit == 10 && len(a) == 10 && a[9].Score > (1-similarCollab)*contentBound {
				skipped++
			}
		}
	}
	if skipped == 0 {
		t.Error("the skip never applied")
	}
	t.Logf("the scan was skipped for %d of %d movies at limit 10", skipped, tried)
}

// TestLoadRefusesBadFactors: a model whose body is consistent with its
// checksum but whose factor section is not (crafted, or written by a
// broken build) is refused by Load, never served or a panic.
func TestLoadRefusesBadFactors(t *testing.T) {
	ds := syntheticDataset(120, 60, 5)
	for name, spoil := range map[string]func(m *model){
		"no dimensions":  func(m *model) { m.fK, m.fVec = 0, nil },
		"short vectors":  func(m *model) { m.fVec = m.fVec[:len(m.fVec)-1] },
		"NaN factor":     func(m *model) { m.fVec[3] = float32(math.NaN()) },
		"zero λ":         func(m *model) { m.fReg = 0 },
		"infinite α0":    func(m *model) { m.fAlpha0 = float32(math.Inf(1)) },
		"unsorted items": func(m *model) { m.fItems[0], m.fItems[1] = m.fItems[1], m.fItems[0] },
	} {
		mdl, err := Train(context.Background(), ds, DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(mdl.impl.fItems) < 2 {
			t.Fatalf("%d movies with factors", len(mdl.impl.fItems))
		}
		m := mdl.impl
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
		_, err = Load(b)
		if !errors.Is(err, ErrCorruptModel) || strings.Contains(err.Error(), "checksum") {
			t.Errorf("%s: Load = %v, want ErrCorruptModel from the model's checks", name, err)
		}
	}
}
