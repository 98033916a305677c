package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// noGenres is MovieLens's placeholder for a movie without genres; it is not
// a genre.
const noGenres = "(no genres listed)"

// ratingTable is the de-duplicated training ratings, grouped by user.
type ratingTable struct {
	userStart []int32 // user u's ratings are items/scores[userStart[u]:userStart[u+1]]
	items     []int32 // item indices, ascending within a user
	scores    []float32
	times     []uint32 // seconds after the earliest rating (saturating; unknownTime when unknown); only for the session kernel
	count     []int32  // ratings per item
}

func (r *ratingTable) users() int { return len(r.userStart) - 1 }

func (cfg Config) validate() error {
	switch {
	case !(cfg.Regularization > 0) || math.IsInf(cfg.Regularization, 0):
		return fmt.Errorf("recommend: Regularization must be positive, not %v", cfg.Regularization)
	case !(cfg.Alpha >= 0) || math.IsInf(cfg.Alpha, 0):
		return fmt.Errorf("recommend: Alpha must be non-negative, not %v", cfg.Alpha)
	case cfg.Factors < 0 || cfg.Factors > maxFactors:
		return fmt.Errorf("recommend: Factors must be 0..%d, not %d", maxFactors, cfg.Factors)
	case cfg.Factors > 0 && (!(cfg.FactorRegularization > 0) || math.IsInf(cfg.FactorRegularization, 0)):
		return fmt.Errorf("recommend: FactorRegularization must be positive, not %v", cfg.FactorRegularization)
	case cfg.Factors > 0 && (!(cfg.UnobservedWeight > 0) || math.IsInf(cfg.UnobservedWeight, 0)):
		return fmt.Errorf("recommend: UnobservedWeight must be positive, not %v", cfg.UnobservedWeight)
	case !(cfg.SessionWeight >= 0 && cfg.SessionWeight <= 1):
		return fmt.Errorf("recommend: SessionWeight must be 0..1, not %v", cfg.SessionWeight)
	case cfg.SessionWeight > 0 && cfg.SessionTime <= 0:
		return fmt.Errorf("recommend: SessionTime must be positive with a SessionWeight, not %v", cfg.SessionTime)
	case !(cfg.SideWeight >= 0) || math.IsInf(cfg.SideWeight, 0):
		return fmt.Errorf("recommend: SideWeight must be non-negative, not %v", cfg.SideWeight)
	case cfg.Iterations < 0 || cfg.Iterations > maxIterations || (cfg.Factors > 0 && cfg.Iterations == 0):
		return fmt.Errorf("recommend: Iterations must be 1..%d with factors, not %d", maxIterations, cfg.Iterations)
	}
	return nil
}

func train(ctx context.Context, ds *Dataset, cfg Config, progress Progress) (*Model, error) {
	start := clock()
	if ds == nil {
		return nil, errors.New("recommend: nil Dataset")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	report := func(stage string, done, total int) {
		if progress != nil {
			progress(stage, done, total)
		}
	}

	m := &model{alpha: float32(cfg.Alpha)}
	t := clock()
	report("catalogue", 0, 1)
	items := buildCatalogue(m, ds)
	r := buildRatings(m, ds.Interactions, cfg.SessionWeight > 0)
	// buildRatings' sort buffer (40 bytes a rating) is garbage now: return
	// it before the collaborative stages allocate theirs, which keeps the
	// peak at 25M ratings about a gigabyte lower.
	runtime.GC()
	report("catalogue", 1, 1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	report("popularity", 0, 1)
	buildPopularity(m, items, r)
	report("popularity", 1, 1)
	m.stages.base = clock().Sub(t)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	t = clock()
	report("content", 0, 1)
	buildContent(m, items)
	report("content", 1, 1)
	m.stages.content = clock().Sub(t)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	t = clock()
	if err := trainEASE(ctx, m, r, cfg, report); err != nil {
		return nil, err
	}
	if err := trainFactors(ctx, m, r, cfg, report); err != nil {
		return nil, err
	}
	m.finish()
	// The factor neighbours stored for similar movies (neighbours.go) are
	// part of the collaborative stage's time.
	if err := m.buildNeighbours(ctx, cfg.Workers, report); err != nil {
		return nil, err
	}
	m.stages.collaborative = clock().Sub(t)
	m.trained = clock().UTC()
	m.duration = m.trained.Sub(start)
	body, err := m.encodeBody(formatNumber)
	if err != nil {
		return nil, err
	}
	m.ver = versionOf(m.trained, body)
	return &Model{impl: m}, nil
}

// buildCatalogue fills the catalogue of m from ds: every Item (the first of
// duplicates wins) and every movie that only has interactions. It returns
// the Items by item index (zero Items for the latter).
func buildCatalogue(m *model, ds *Dataset) []Item {
	byID := make(map[int64]int, len(ds.Items))
	for i, it := range ds.Items {
		if _, dup := byID[it.ID]; !dup {
			byID[it.ID] = i
		}
	}
	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	seen := make(map[int64]bool)
	for _, x := range ds.Interactions {
		if _, ok := byID[x.MovieID]; !ok && !seen[x.MovieID] {
			seen[x.MovieID] = true
			ids = append(ids, x.MovieID)
		}
	}
	slices.Sort(ids)
	n := len(ids)
	m.ids = ids
	m.titles = make([]string, n)
	m.years = make([]int32, n)
	items := make([]Item, n)
	for i, id := range ids {
		if k, ok := byID[id]; ok {
			items[i] = ds.Items[k]
		} else {
			items[i] = Item{ID: id}
		}
		m.titles[i] = items[i].Title
		if m.titles[i] == "" {
			m.titles[i] = "movie " + strconv.FormatInt(id, 10)
		}
		m.years[i] = int32(items[i].Year)
	}

	// Genres: one vocabulary entry per name, compared case-insensitively;
	// the spelling of the lowest movie ID wins.
	canon := make(map[string]string)
	for _, it := range items {
		for _, g := range it.Genres {
			g = strings.TrimSpace(g)
			k := strings.ToLower(g)
			if g == "" || k == noGenres {
				continue
			}
			if _, ok := canon[k]; !ok {
				canon[k] = g
			}
		}
	}
	keys := make([]string, 0, len(canon))
	for k := range canon {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	gidx := make(map[string]int32, len(keys))
	m.genreNames = make([]string, len(keys))
	for g, k := range keys {
		m.genreNames[g] = canon[k]
		gidx[k] = int32(g)
	}
	m.genreStart = make([]int32, n+1)
	for i, it := range items {
		start := len(m.genreIdx)
		for _, g := range it.Genres {
			x, ok := gidx[strings.ToLower(strings.TrimSpace(g))]
			if ok && !slices.Contains(m.genreIdx[start:], x) {
				m.genreIdx = append(m.genreIdx, x)
			}
		}
		slices.Sort(m.genreIdx[start:])
		m.genreStart[i+1] = int32(len(m.genreIdx))
	}
	return items
}

// buildRatings groups the interactions by user, keeping one rating per user
// and movie: the latest (the last in ds order among equal times). With
// times it also fills r.times, which only the session kernel reads.
func buildRatings(m *model, ints []Interaction, times bool) *ratingTable {
	type row struct {
		user  int64
		item  int32
		score float32
		at    int64 // UnixNano; noTime without a time (sorts first)
		pos   int
	}
	const noTime = math.MinInt64
	rows := make([]row, len(ints))
	t0 := int64(math.MaxInt64) // the earliest known time
	for k, x := range ints {
		at := int64(noTime)
		if !x.At.IsZero() {
			at = x.At.UnixNano()
			t0 = min(t0, at)
		}
		rows[k] = row{x.UserID, m.index0(x.MovieID), float32(x.Score), at, k}
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.item, b.item),
			cmp.Compare(a.at, b.at), cmp.Compare(a.pos, b.pos))
	})
	r := &ratingTable{count: make([]int32, len(m.ids)), userStart: []int32{0},
		items: make([]int32, 0, len(rows)), scores: make([]float32, 0, len(rows))}
	if times {
		r.times = make([]uint32, 0, len(rows))
	}
	var last int64
	for k, x := range rows {
		if k+1 < len(rows) && rows[k+1].user == x.user && rows[k+1].item == x.item {
			continue // a later rating of the same movie replaces this one
		}
		if len(r.items) > 0 && x.user != last {
			r.userStart = append(r.userStart, int32(len(r.items)))
		}
		last = x.user
		r.items = append(r.items, x.item)
		r.scores = append(r.scores, x.score)
		if times {
			t := uint32(unknownTime)
			if x.at != noTime {
				t = uint32(min((x.at-t0)/1e9, unknownTime-1))
			}
			r.times = append(r.times, t)
		}
		r.count[x.item]++
	}
	if len(r.items) > 0 {
		r.userStart = append(r.userStart, int32(len(r.items)))
	}
	return r
}

// unknownTime marks a rating without a time in ratingTable.times: it
// shares no sitting with any other rating. Known times are whole seconds
// after the earliest, saturated below it (136 years).
const unknownTime = math.MaxUint32

// index0 finds a movie of the catalogue while it is being built (before
// finish made the map).
func (m *model) index0(id int64) int32 {
	i, _ := slices.BinarySearch(m.ids, id)
	return int32(i)
}

// buildPopularity orders the catalogue by Item.Popularity, then
// Item.RatingCount, then the number of training ratings, then movie ID.
// popScore is log(1+c)/log(1+max c) with c the larger of RatingCount and
// the training count, made non-increasing along that order so that a
// popularity answer's scores never rise.
func buildPopularity(m *model, items []Item, r *ratingTable) {
	n := len(m.ids)
	count := func(i int32) int {
		return max(items[i].RatingCount, int(r.count[i]))
	}
	m.popOrder = make([]int32, n)
	for i := range m.popOrder {
		m.popOrder[i] = int32(i)
	}
	slices.SortFunc(m.popOrder, func(a, b int32) int {
		return cmp.Or(cmp.Compare(items[b].Popularity, items[a].Popularity),
			cmp.Compare(items[b].RatingCount, items[a].RatingCount),
			cmp.Compare(r.count[b], r.count[a]), cmp.Compare(a, b))
	})
	top := 0
	for i := range n {
		top = max(top, count(int32(i)))
	}
	m.popScore = make([]float32, n)
	prev := float32(1)
	for _, i := range m.popOrder {
		s := float32(0)
		if top > 0 {
			s = float32(math.Log1p(float64(count(i))) / math.Log1p(float64(top)))
		}
		s = min(s, prev)
		m.popScore[i] = s
		prev = s
	}
}

// Content model weights. A movie's vector holds its genres, its decade and
// up to maxItemTags of its tags (tags used on fewer than minTagMovies movies
// are dropped: they match nothing). Each feature is weighted by
// kind weight × ln(1 + movies/movies with the feature), a tag also by
// 1/sqrt(1+rank) (Item.Tags is most used first), and the vector is
// L2-normalised, so a dot product of two vectors is their cosine.
const (
	maxItemTags  = 10
	minTagMovies = 2
	genreWeight  = 1.0
	decadeWeight = 0.6
	tagWeight    = 0.8
)

func decadeName(year int32) string { return strconv.Itoa(int(year/10*10)) + "s" }

func normTag(t string) string { return strings.ToLower(strings.Join(strings.Fields(t), " ")) }

func buildContent(m *model, items []Item) {
	n := len(m.ids)
	// Vocabulary: genres, decades, tags.
	decades := map[int32]bool{}
	tagDF := map[string]int{}
	for i, it := range items {
		if m.years[i] > 0 {
			decades[m.years[i]/10] = true
		}
		for _, t := range itemTags(it) {
			tagDF[t]++
		}
	}
	m.featNames = append(m.featNames, m.genreNames...)
	for range m.genreNames {
		m.featKind = append(m.featKind, featGenre)
	}
	decadeIdx := map[int32]int32{}
	for _, d := range slices.Sorted(maps.Keys(decades)) {
		decadeIdx[d] = int32(len(m.featNames))
		m.featNames = append(m.featNames, decadeName(d*10))
		m.featKind = append(m.featKind, featDecade)
	}
	tagIdx := map[string]int32{}
	for _, t := range slices.Sorted(maps.Keys(tagDF)) {
		if tagDF[t] >= minTagMovies {
			tagIdx[t] = int32(len(m.featNames))
			m.featNames = append(m.featNames, t)
			m.featKind = append(m.featKind, featTag)
		}
	}
	// Document frequencies and weights.
	df := make([]int, len(m.featNames))
	type fv struct {
		f int32
		v float64
	}
	vecs := make([][]fv, n)
	for i, it := range items {
		var v []fv
		for _, g := range m.genreIdx[m.genreStart[i]:m.genreStart[i+1]] {
			v = append(v, fv{g, genreWeight})
		}
		if m.years[i] > 0 {
			v = append(v, fv{decadeIdx[m.years[i]/10], decadeWeight})
		}
		for rank, t := range itemTags(it) {
			if f, ok := tagIdx[t]; ok {
				v = append(v, fv{f, tagWeight / math.Sqrt(1+float64(rank))})
			}
		}
		for _, x := range v {
			df[x.f]++
		}
		vecs[i] = v
	}
	idf := make([]float64, len(df))
	m.featWeight = make([]float32, len(df))
	kindWeight := [...]float64{featGenre: genreWeight, featDecade: decadeWeight, featTag: tagWeight}
	for f, c := range df {
		if c > 0 {
			idf[f] = math.Log1p(float64(n) / float64(c))
		}
		m.featWeight[f] = float32(kindWeight[m.featKind[f]] * idf[f])
	}
	m.featStart = make([]int32, n+1)
	for i, v := range vecs {
		var norm float64
		for k := range v {
			v[k].v *= idf[v[k].f]
			norm += v[k].v * v[k].v
		}
		slices.SortFunc(v, func(a, b fv) int { return cmp.Compare(a.f, b.f) })
		norm = math.Sqrt(norm)
		for _, x := range v {
			m.featIdx = append(m.featIdx, x.f)
			m.featVal = append(m.featVal, float32(x.v/norm))
		}
		m.featStart[i+1] = int32(len(m.featIdx))
	}
}

// itemTags returns up to maxItemTags distinct normalised tags of it, most
// used first.
func itemTags(it Item) []string {
	var out []string
	for _, t := range it.Tags {
		t = normTag(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
			if len(out) == maxItemTags {
				break
			}
		}
	}
	return out
}
