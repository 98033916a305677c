package recommend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// BenchmarkRecommend is one request of a user with about 100 ratings on
// ml-latest-small (9,742 movies), per algorithm.
func BenchmarkRecommend(b *testing.B) {
	ds, m := trainedSmall(b)
	hist := historyOf(ds, userWithAbout(ds, 100))
	for _, algo := range Algorithms {
		b.Run(algo, func(b *testing.B) {
			req := Request{History: hist, Algorithm: algo, Limit: 20}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Recommend(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSimilar is SimilarMovies for a popular movie (collaborative and
// content), a rarely rated one (content only) and a movie unknown to the
// model.
func BenchmarkSimilar(b *testing.B) {
	_, m := trainedSmall(b)
	unknown := &Item{ID: -7, Title: "New", Year: 2020, Genres: []string{"Comedy", "Drama"}, Tags: []string{"funny"}}
	for _, c := range []struct {
		name string
		id   int64
		item *Item
	}{{"popular", 1, nil}, {"rare", 193609, nil}, {"unknown", -7, unknown}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.SimilarMovies(c.id, c.item, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecommend60k is the scoring path on a generated catalogue of
// 60,000 movies (a 2,000-movie collaborative head with random weights, 20
// genres, 1,000 tags, 12 decades) for a user with 100 ratings.
func BenchmarkRecommend60k(b *testing.B) {
	m := syntheticModel(60000, 2000, 7)
	mdl := &Model{impl: m}
	// A user with about the median history of the 25M-size data set, and
	// one with its longest (4,596 ratings; half in the head, as for
	// MovieLens's heaviest raters).
	for _, n := range []int{100, 4600} {
		hist := syntheticHistory(m, n, 8)
		for _, algo := range Algorithms {
			name := algo
			if n != 100 {
				name = fmt.Sprintf("%s-%d", algo, n)
			}
			b.Run(name, func(b *testing.B) {
				req := Request{History: hist, Algorithm: algo, Limit: 20}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := mdl.Recommend(req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	tail := slices.IndexFunc(m.fItems, func(i int32) bool { return m.headPos[i] < 0 })
	for _, c := range []struct {
		name string
		item int32
	}{{"similar", m.head[3]}, {"similar-tail", m.fItems[tail]}} {
		b.Run(c.name, func(b *testing.B) {
			id := m.ids[c.item]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := mdl.SimilarMovies(id, nil, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// syntheticHistory draws n distinct ratings of m's movies, every other one
// from the head.
func syntheticHistory(m *model, n int, seed uint64) []Interaction {
	rng := rand.New(rand.NewPCG(seed, seed))
	seen := map[int64]bool{}
	var hist []Interaction
	for len(hist) < n {
		var id int64
		if len(hist)%2 == 0 && len(seen) < len(m.head)*3/4 {
			id = m.ids[m.head[rng.IntN(len(m.head))]]
		} else {
			id = m.ids[rng.IntN(len(m.ids))]
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		hist = append(hist, Interaction{UserID: 1, MovieID: id, Score: float64(1+rng.IntN(10)) / 2})
	}
	return hist
}

// syntheticModel builds a model directly, without training: n movies,
// a head of nHead with random EASE weights and neighbours, random factor
// vectors for the movies with at least 3 ratings, random genres, decades
// and tags.
func syntheticModel(n, nHead int, seed uint64) *model {
	rng := rand.New(rand.NewPCG(seed, 1))
	const genres, tags, decades = 20, 1000, 12
	m := &model{alpha: 1}
	for g := range genres {
		m.genreNames = append(m.genreNames, "Genre "+strconv.Itoa(g))
		m.featNames = append(m.featNames, m.genreNames[g])
		m.featKind = append(m.featKind, featGenre)
	}
	for d := range decades {
		m.featNames = append(m.featNames, decadeName(int32(1910+10*d)))
		m.featKind = append(m.featKind, featDecade)
	}
	for t := range tags {
		m.featNames = append(m.featNames, "tag "+strconv.Itoa(t))
		m.featKind = append(m.featKind, featTag)
	}
	m.featWeight = make([]float32, len(m.featNames))
	for f := range m.featWeight {
		m.featWeight[f] = 1 + rng.Float32()
	}
	m.genreStart = []int32{0}
	m.featStart = []int32{0}
	counts := make([]float64, n)
	for i := range n {
		m.ids = append(m.ids, int64(i+1))
		m.titles = append(m.titles, "Movie "+strconv.Itoa(i+1))
		year := int32(1910 + rng.IntN(10*decades))
		m.years = append(m.years, year)
		var fs []int32
		for range 1 + rng.IntN(3) {
			if g := int32(rng.IntN(genres)); !slices.Contains(fs, g) {
				fs = append(fs, g)
			}
		}
		slices.Sort(fs)
		m.genreIdx = append(m.genreIdx, fs...)
		m.genreStart = append(m.genreStart, int32(len(m.genreIdx)))
		fs = append(fs, int32(genres)+(year-1910)/10)
		for range rng.IntN(4) {
			if t := int32(genres + decades + rng.IntN(tags)); !slices.Contains(fs, t) {
				fs = append(fs, t)
			}
		}
		slices.Sort(fs)
		norm := float32(math.Sqrt(float64(len(fs))))
		for _, f := range fs {
			m.featIdx = append(m.featIdx, f)
			m.featVal = append(m.featVal, 1/norm)
		}
		m.featStart = append(m.featStart, int32(len(m.featIdx)))
		counts[i] = math.Floor(math.Exp(rng.NormFloat64() * 2))
	}
	m.popOrder = make([]int32, n)
	for i := range m.popOrder {
		m.popOrder[i] = int32(i)
	}
	slices.SortFunc(m.popOrder, func(a, b int32) int {
		if counts[a] != counts[b] {
			if counts[a] > counts[b] {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	m.popScore = make([]float32, n)
	top := counts[m.popOrder[0]]
	for _, i := range m.popOrder {
		m.popScore[i] = float32(math.Log1p(counts[i]) / math.Log1p(top))
	}
	m.head = slices.Clone(m.popOrder[:nHead])
	slices.Sort(m.head)
	m.weights = make([]float32, nHead*nHead)
	for k := range m.weights {
		m.weights[k] = float32(rng.NormFloat64() * 0.01)
	}
	m.nbrStart = []int32{0}
	for range nHead {
		for range maxNeighbours {
			m.nbrIdx = append(m.nbrIdx, m.head[rng.IntN(nHead)])
			m.nbrSim = append(m.nbrSim, rng.Float32())
		}
		m.nbrStart = append(m.nbrStart, int32(len(m.nbrIdx)))
	}
	// Factors for every movie with at least 3 "ratings", as training gives.
	m.fK, m.fReg, m.fAlpha0 = 64, 0.01, 0.03
	for i := range n {
		if counts[i] >= 3 || slices.Contains(m.head, int32(i)) {
			m.fItems = append(m.fItems, int32(i))
			for range m.fK {
				m.fVec = append(m.fVec, float32(rng.NormFloat64()*0.1))
			}
		}
	}
	m.trained = clock().UTC()
	m.ver = "synthetic"
	m.finish()
	return m
}

// TestSyntheticModelIsValid keeps the benchmark's generated model honest:
// it passes the checks Load applies, and answers.
func TestSyntheticModelIsValid(t *testing.T) {
	m := syntheticModel(3000, 200, 1)
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	recs, err := m.recommend(Request{History: []Interaction{{MovieID: m.ids[m.head[0]], Score: 5}}, Limit: 10})
	if err != nil || len(recs) != 10 {
		t.Fatalf("%d recommendations, %v", len(recs), err)
	}
}
