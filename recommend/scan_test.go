package recommend

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// skewedModel is a synthetic model with k factors whose vectors are long
// for popular movies and short for the rest, as iALS's are, so that the
// bounded scans of Recommend stop early.
func skewedModel(t *testing.T, k int) *model {
	t.Helper()
	m := syntheticModel(8000, 400, 3)
	from := int(m.fK)
	vecs := make([]float32, 0, len(m.fItems)*k)
	for p, i := range m.fItems {
		p2 := m.popScore[i] * m.popScore[i]
		s := 0.02 + 3*p2*p2
		for _, v := range m.fVec[p*from : p*from+k] {
			vecs = append(vecs, v*s)
		}
	}
	m.fK, m.fVec = int32(k), vecs
	m.finish()
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBoundedScansAreExact: Recommend's scans that stop by a bound (see
// collabScores and hybrid) give exactly the answers of scoring every
// movie, for every algorithm, with and without a genre, IncludeRated,
// cold and heavy users, on ml-latest-small's model and on a synthetic one
// where the bounds cut deep; and on the synthetic one they do skip movies.
func TestBoundedScansAreExact(t *testing.T) {
	defer func(n, g int) { recsScanAll, boundedMin, boundedGiveUp = false, n, g }(boundedMin, boundedGiveUp)
	boundedMin = 0 // try the bounded scans on small models too
	// The synthetic models: factor vectors of alike lengths (the bound
	// cuts little, so every score is computed at once) and skewed ones.
	// (50 factors: rows not 16-byte aligned, whose dot products gonum sums
	// in an order that depends on the arguments' addresses.)
	models := map[string]*model{"synthetic": skewedModel(t, 64), "synthetic-50": skewedModel(t, 50), "alike": syntheticModel(8000, 400, 4)}
	if !testing.Short() {
		_, small := trainedSmall(t)
		models["ml-latest-small"] = small.impl
	}
	// With the usual give-up, and never giving up (so ml-latest-small's
	// real iALS vectors run the bounded scans to their end; with the usual
	// one they always go dense, and dense against dense proves nothing).
	for _, giveUp := range []int{boundedGiveUp, 1} {
		boundedGiveUp = giveUp
		for name, m := range models {
			if name == "ml-latest-small" && giveUp != 1 {
				continue
			}
			name += fmt.Sprintf(" (give up at 1/%d)", giveUp)
			rng := rand.New(rand.NewPCG(5, 5))
			genres := []string{"", m.genreNames[0], m.genreNames[len(m.genreNames)-1]}
			pruned, asked := 0, 0
			users := 30
			if strings.HasPrefix(name, "ml-latest-small") {
				users = 120 // real vectors: the bounds come closest to the scores
			}
			for u := range users {
				var hist []Interaction
				size := []int{1, 2, 5, 40, 300}[u%5]
				for range size {
					i := rng.IntN(len(m.ids))
					if rng.IntN(2) == 0 {
						i = int(m.popOrder[rng.IntN(min(len(m.popOrder), 300))])
					}
					hist = append(hist, Interaction{UserID: 1, MovieID: m.ids[i], Score: float64(1+rng.IntN(10)) / 2})
				}
				for _, algo := range []string{Hybrid, Collaborative} {
					for _, g := range genres {
						req := Request{History: hist, Algorithm: algo, Genre: g, Limit: []int{10, 100}[rng.IntN(2)], IncludeRated: rng.IntN(4) == 0}
						// Bounded first: the dense way leaves every score in the
						// scratch, which a bounded scan must not need.
						got, err := m.recommend(req)
						if err != nil {
							t.Fatal(err)
						}
						recsScanAll = true
						want, err := m.recommend(req)
						if err != nil {
							t.Fatal(err)
						}
						recsScanAll = false
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s, user %d, %s %q limit %d: bounded scans gave\n%v\nscoring every movie gave\n%v", name, u, algo, g, req.Limit, got, want)
						}
						asked++
						if scored := factorScored(m, req); scored >= 0 && scored < len(m.fItems) {
							pruned++
						}
					}
				}
			}
			t.Logf("%s: %d of %d requests scored fewer than all %d factor movies", name, pruned, asked, len(m.fItems))
			if strings.HasPrefix(name, "synthetic") && pruned < asked/2 {
				t.Errorf("%s: the bounds cut only %d of %d requests short", name, pruned, asked)
			}
		}
	}
}

// factorScored runs req as recommend does and counts the factor movies
// whose score it computed (all of them when it went dense; -1 when the
// history has none with factors).
func factorScored(m *model, req Request) int {
	q := query{m: m, limit: req.Limit, genre: -1, incl: req.IncludeRated}
	if req.Genre != "" {
		q.genre = m.genreByName[strings.ToLower(req.Genre)]
	}
	q.s = m.getScratch()
	defer m.putScratch(q.s)
	m.foldHistory(q.s, req.History)
	if req.Algorithm == Collaborative {
		q.collaborative(nil)
	} else {
		q.hybrid(nil)
	}
	if q.nf == 0 {
		return -1
	}
	if q.dense {
		return len(m.fItems)
	}
	n := 0
	for _, st := range q.s.fstamp {
		if st == q.s.stamp {
			n++
		}
	}
	return n
}
