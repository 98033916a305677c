package catalog

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// compareField compares two movies on one ordering key: NULLs last in
// both directions, as the SQL store orders them.
func compareField(a, b *movierec.Movie, o movierec.Order) int {
	var c int
	switch o.Field {
	case movierec.OrderTitle:
		c = strings.Compare(a.Title, b.Title)
	case movierec.OrderReleaseDate:
		switch {
		case a.ReleaseDate == nil && b.ReleaseDate == nil:
			return 0
		case a.ReleaseDate == nil:
			return 1
		case b.ReleaseDate == nil:
			return -1
		}
		c = a.ReleaseDate.Compare(*b.ReleaseDate)
	case movierec.OrderIMDbRating:
		switch {
		case a.IMDbRating == nil && b.IMDbRating == nil:
			return 0
		case a.IMDbRating == nil:
			return 1
		case b.IMDbRating == nil:
			return -1
		}
		c = cmp.Compare(*a.IMDbRating, *b.IMDbRating)
	case movierec.OrderPopularityScore:
		c = cmp.Compare(a.PopularityScore, b.PopularityScore)
	case movierec.OrderAverageRating: // NULL (last) for a movie nobody rated
		switch {
		case a.RatingCount == 0 && b.RatingCount == 0:
			return 0
		case a.RatingCount == 0:
			return 1
		case b.RatingCount == 0:
			return -1
		}
		c = cmp.Compare(a.AverageRating, b.AverageRating)
	case movierec.OrderRatingCount:
		c = cmp.Compare(a.RatingCount, b.RatingCount)
	case movierec.OrderCreatedAt:
		c = a.CreatedAt.Compare(b.CreatedAt)
	}
	if o.Desc {
		return -c
	}
	return c
}

// orderFunc compares slots by ordering, ties broken by id in the first
// key's direction (so pages are stable). tiers, when non-nil, ranks search
// relevance ahead of everything (the default ordering of a search).
func (st *state) orderFunc(ordering []movierec.Order, tiers []uint8) func(a, b int32) int {
	if len(ordering) == 0 {
		ordering = movierec.DefaultOrdering
	}
	return func(x, y int32) int {
		if tiers != nil {
			if c := cmp.Compare(tiers[x], tiers[y]); c != 0 {
				return c
			}
		}
		return compareMovies(ordering, &st.movies[x].movie, &st.movies[y].movie)
	}
}

// compareMovies orders two movies as a list with ordering (not empty)
// shows them: by its keys, ties broken by id in the first key's direction.
func compareMovies(ordering []movierec.Order, a, b *movierec.Movie) int {
	for _, o := range ordering {
		if c := compareField(a, b, o); c != 0 {
			return c
		}
	}
	if ordering[0].Desc {
		return cmp.Compare(b.ID, a.ID)
	}
	return cmp.Compare(a.ID, b.ID)
}

// topK returns the first k of slots in the order of compare, sorted. It
// keeps a bounded heap when k is small next to len(slots), so a first
// page costs about one comparison per match.
func topK(slots []int32, k int, compare func(a, b int32) int) []int32 {
	if k <= 0 {
		return nil
	}
	if k*4 >= len(slots) {
		slices.SortFunc(slots, compare)
		return slots[:min(k, len(slots))]
	}
	// h is a heap whose root is the worst slot kept.
	h := make([]int32, 0, k)
	worse := func(i, j int) bool { return compare(h[i], h[j]) > 0 }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			c := l
			if r := l + 1; r < len(h) && worse(r, l) {
				c = r
			}
			if !worse(c, i) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for _, s := range slots {
		if len(h) < k {
			h = append(h, s)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !worse(i, p) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		} else if compare(s, h[0]) < 0 {
			h[0] = s
			down(0)
		}
	}
	slices.SortFunc(h, compare)
	return h
}

// matches reports whether m passes f's value filters (everything but
// search, genres and tags).
func matches(m *movierec.Movie, f *movierec.MovieFilter) bool {
	v := valuesOf(m)
	return v.matches(f)
}

// values are the fields of a movie that the value filters read, kept by
// slot in state.vals: a filtered list tests thousands of movies, and
// reading them from one dense array instead of each movie's entry (a
// pointer, and another for the year) was most of its time at 62,000
// movies.
type values struct {
	avg, pop, imdb float64
	year, count    int32
	hasYear        bool
	hasIMDb        bool
	live           bool // a movie is in the slot
}

func valuesOf(m *movierec.Movie) values {
	v := values{avg: m.AverageRating, pop: m.PopularityScore, count: int32(m.RatingCount), live: true}
	if m.ReleaseYear != nil {
		v.year, v.hasYear = int32(*m.ReleaseYear), true
	}
	if m.IMDbRating != nil {
		v.imdb, v.hasIMDb = *m.IMDbRating, true
	}
	return v
}

// matches reports whether the movie passes f's value filters.
func (v *values) matches(f *movierec.MovieFilter) bool {
	if f.Year != 0 || f.YearGTE != 0 || f.YearLTE != 0 {
		if !v.hasYear {
			return false
		}
		y := int(v.year)
		if f.Year != 0 && y != f.Year || f.YearGTE != 0 && y < f.YearGTE || f.YearLTE != 0 && y > f.YearLTE {
			return false
		}
	}
	if f.IMDbRatingGTE != nil || f.IMDbRatingLTE != nil {
		if !v.hasIMDb {
			return false
		}
		if f.IMDbRatingGTE != nil && v.imdb < *f.IMDbRatingGTE || f.IMDbRatingLTE != nil && v.imdb > *f.IMDbRatingLTE {
			return false
		}
	}
	if f.PopularityGTE != nil && v.pop < *f.PopularityGTE ||
		f.PopularityLTE != nil && v.pop > *f.PopularityLTE {
		return false
	}
	if f.MinAverageRating != nil && (v.count == 0 || v.avg < *f.MinAverageRating) {
		return false
	}
	return f.MinRatingCount == 0 || int(v.count) >= f.MinRatingCount
}

// candidates returns the set of slots allowed by f's genre, tag and search
// constraints (nil: every slot), the search tiers (nil without search),
// and ok false when some constraint can match nothing.
func (st *state) candidates(f *movierec.MovieFilter) (set bitset, tiers []uint8, ok bool) {
	var genreIDs []int64
	for _, name := range f.Genres {
		id, found := st.genreByName[strings.ToLower(name)]
		if !found {
			return nil, nil, false
		}
		genreIDs = append(genreIDs, id)
	}
	if f.GenreID != 0 {
		genreIDs = append(genreIDs, f.GenreID)
	}
	for _, g := range genreIDs {
		gi := st.genres[g]
		if gi == nil {
			return nil, nil, false
		}
		if set == nil {
			set = gi.bits.clone(len(st.movies))
		} else {
			set.and(gi.bits)
		}
	}
	var tagIDs []int64
	for _, name := range f.Tags {
		id, found := st.tagByName[strings.ToLower(name)]
		if !found {
			return nil, nil, false
		}
		tagIDs = append(tagIDs, id)
	}
	if f.TagID != 0 {
		tagIDs = append(tagIDs, f.TagID)
	}
	for _, t := range tagIDs {
		ti := st.tags[t]
		if ti == nil {
			return nil, nil, false
		}
		tb := make(bitset, (len(st.movies)+63)/64)
		for _, s := range ti.slots {
			if set == nil || set.has(s) {
				tb.set(s)
			}
		}
		set = tb
	}
	if f.Search != "" {
		tiers = st.search(strings.ToLower(f.Search))
	}
	return set, tiers, true
}

// hasValueFilter reports whether f constrains anything but search,
// genres and tags.
func hasValueFilter(f *movierec.MovieFilter) bool {
	return f.Year != 0 || f.YearGTE != 0 || f.YearLTE != 0 || f.IMDbRatingGTE != nil || f.IMDbRatingLTE != nil ||
		f.PopularityGTE != nil || f.PopularityLTE != nil || f.MinAverageRating != nil || f.MinRatingCount != 0
}

// list answers a movie list: the page of f and the number of matches.
//
// One pass over the candidates counts the matches (and marks them when
// anything filters); then the page comes from walking the presorted array
// of the first ordering key (about offset+limit steps), or, when few
// movies match, from sorting just those.
func (st *state) list(f movierec.MovieFilter) movierec.Page[movierec.Movie] {
	page, _ := st.listSlots(f)
	return page
}

// listSlots is list, also returning the page's slots.
func (st *state) listSlots(f movierec.MovieFilter) (movierec.Page[movierec.Movie], []int32) {
	page := movierec.Page[movierec.Movie]{Items: []movierec.Movie{}}
	set, tiers, ok := st.candidates(&f)
	if !ok {
		return page, nil
	}
	filtered := set != nil || tiers != nil || hasValueFilter(&f)
	var hit bitset
	var few []int32 // the matches, while there are few of them
	var tierCount [tierNone]int
	// Up to fewSort matches are sorted directly; more are read off the
	// presorted order of a one-key ordering (a pass of cheap bit tests
	// beats comparisons); multi-key orderings sort up to fewMax.
	const fewSort, fewMax = 256, 2048
	switch {
	case !filtered:
		page.Count = st.live
	case tiers == nil && !hasValueFilter(&f):
		// Genres and tags only: the set is the matches (a removed movie
		// leaves the genre and tag indexes, see unlink), counted without
		// visiting them; they are listed only when few enough to sort.
		hit = set
		page.Count = set.count()
		if page.Count <= fewSort || len(f.Ordering) > 1 && page.Count <= fewMax {
			few = make([]int32, 0, page.Count)
			set.each(func(slot int32) { few = append(few, slot) })
		}
	default:
		hit = make(bitset, (len(st.movies)+63)/64)
		consider := func(slot int32) {
			v := &st.vals[slot]
			if !v.live || tiers != nil && tiers[slot] == tierNone || !v.matches(&f) {
				return
			}
			hit.set(slot)
			if tiers != nil {
				tierCount[tiers[slot]]++
			}
			if page.Count < fewMax {
				few = append(few, slot)
			}
			page.Count++
		}
		if set != nil {
			set.each(func(slot int32) {
				if int(slot) < len(st.movies) {
					consider(slot)
				}
			})
		} else if r, ok := st.narrowest(&f); ok && tiers == nil {
			for _, slot := range r {
				consider(slot)
			}
		} else {
			for slot := range st.movies {
				consider(int32(slot))
			}
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	if f.Offset >= page.Count {
		return page, nil
	}
	end := min(f.Offset+limit, page.Count)
	var top []int32 // the page's slots
	switch {
	case tiers != nil && len(f.Ordering) == 0:
		top = st.byRelevance(hit, tiers, &tierCount, end)[f.Offset:]
	case filtered && (page.Count <= fewSort || len(f.Ordering) > 1 && page.Count <= fewMax):
		top = topK(few, end, st.orderFunc(f.Ordering, nil))[f.Offset:]
	case len(f.Ordering) <= 1:
		top = st.walkSingle(f.Ordering, hit, f.Offset, end)
	default:
		top = st.walkOrder(f.Ordering, hit, end)[f.Offset:]
	}
	for _, slot := range top {
		page.Items = append(page.Items, st.listMovie(st.movies[slot]))
	}
	return page, top
}

// walkOrder returns the first n movies (of hit; nil: of all) in the order
// of ordering, walking the first key's presorted array and sorting only
// the runs of equal first keys by the remaining keys.
func (st *state) walkOrder(ordering []movierec.Order, hit bitset, n int) []int32 {
	if len(ordering) == 0 {
		ordering = movierec.DefaultOrdering
	}
	first := ordering[0]
	out := make([]int32, 0, n)
	var last *entry
	st.orders.walk(st.movies, first, func(slot int32) bool {
		if hit != nil && !hit.has(slot) {
			return true
		}
		e := st.movies[slot]
		if len(out) >= n && (len(ordering) == 1 || compareField(&last.movie, &e.movie, first) != 0) {
			return false
		}
		out = append(out, slot)
		last = e
		return true
	})
	if len(ordering) > 1 {
		// The walk broke ties by id ascending; the remaining keys come
		// first, then id in the first key's direction.
		full := st.orderFunc(ordering, nil)
		for i := 0; i < len(out); {
			j := i + 1
			for j < len(out) && compareField(&st.movies[out[i]].movie, &st.movies[out[j]].movie, first) == 0 {
				j++
			}
			if j-i > 1 {
				if need := n - i; need < j-i {
					// The run straddles the page's end: only its first
					// need movies matter.
					var best []int32
					if len(ordering) == 2 && j-i > 256 {
						best = st.walkRun(out[i:j], ordering, need)
					} else {
						best = topK(slices.Clone(out[i:j]), need, full)
					}
					copy(out[i:], best)
					out = out[:i+need]
					break
				}
				slices.SortFunc(out[i:j], full)
			}
			i = j
		}
	}
	return out[:min(n, len(out))]
}

// walkRun orders a large run of movies equal on the first of two keys
// (such as every movie without a release date) by walking the second
// key's presorted array instead of sorting, and returns its first need.
// Ties on the second key are then broken by id in the first key's
// direction, as orderFunc does.
func (st *state) walkRun(run []int32, ordering []movierec.Order, need int) []int32 {
	in := make(bitset, (len(st.movies)+63)/64)
	for _, s := range run {
		in.set(s)
	}
	second := ordering[1]
	out := make([]int32, 0, need+16)
	st.orders.walk(st.movies, second, func(slot int32) bool {
		if !in.has(slot) {
			return true
		}
		if len(out) >= need && compareField(&st.movies[out[len(out)-1]].movie, &st.movies[slot].movie, second) != 0 {
			return false
		}
		out = append(out, slot)
		return true
	})
	full := st.orderFunc(ordering, nil)
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && compareField(&st.movies[out[i]].movie, &st.movies[out[j]].movie, second) == 0 {
			j++
		}
		slices.SortFunc(out[i:j], full)
		i = j
	}
	return out[:min(need, len(out))]
}

// walkSingle returns the movies at positions [from, to) (of hit; nil:
// of all) in the order of a one-key ordering (none: the default), walking
// that key's presorted array: a deep page costs steps, not a sort.
func (st *state) walkSingle(ordering []movierec.Order, hit bitset, from, to int) []int32 {
	o := movierec.DefaultOrdering[0]
	if len(ordering) == 1 {
		o = ordering[0]
	}
	out := make([]int32, 0, to-from)
	i := 0
	st.orders.walk(st.movies, o, func(slot int32) bool {
		if hit != nil && !hit.has(slot) {
			return true
		}
		if i >= from {
			out = append(out, slot)
		}
		i++
		return i < to
	})
	return out
}

// byRelevance returns the first n matches of a search ranked by tier,
// then popularity (descending), then id (descending). counts holds how
// many matches each tier has, so the walk along the popularity order
// keeps only what the page needs and stops as soon as it has it.
func (st *state) byRelevance(hit bitset, tiers []uint8, counts *[tierNone]int, n int) []int32 {
	var keep [tierNone]int
	left, wanted := n, 0
	for t, c := range counts {
		keep[t] = min(c, left)
		left -= keep[t]
		wanted += keep[t]
	}
	var byTier [tierNone][]int32
	got := 0
	st.orders.walk(st.movies, movierec.DefaultOrdering[0], func(slot int32) bool {
		if hit.has(slot) {
			if t := tiers[slot]; len(byTier[t]) < keep[t] {
				byTier[t] = append(byTier[t], slot)
				got++
			}
		}
		return got < wanted
	})
	out := make([]int32, 0, n)
	for _, t := range byTier {
		out = append(out, t...)
	}
	return out
}

// trending ranks the movies with ratings in the window of length period
// ending at the newest rating: most ratings first, then popularity, then
// id.
func (st *state) trending(period time.Duration, limit int) []movierec.ScoredMovie {
	out := []movierec.ScoredMovie{}
	if st.newest.IsZero() {
		return out
	}
	since := st.newest.Add(-period).UnixMicro()
	counts := make(map[int32]int)
	var hits []int32
	for slot, e := range st.movies {
		if e == nil || len(e.recent) == 0 {
			continue
		}
		i, _ := slices.BinarySearch(e.recent, since)
		if n := len(e.recent) - i; n > 0 {
			counts[int32(slot)] = n
			hits = append(hits, int32(slot))
		}
	}
	top := topK(hits, limit, func(x, y int32) int {
		if c := cmp.Compare(counts[y], counts[x]); c != 0 {
			return c
		}
		a, b := &st.movies[x].movie, &st.movies[y].movie
		if c := cmp.Compare(b.PopularityScore, a.PopularityScore); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, slot := range top {
		out = append(out, movierec.ScoredMovie{Movie: st.listMovie(st.movies[slot]), Score: float64(counts[slot])})
	}
	return out
}

// TopRatedPrior is the smallest prior count of the Bayesian average (the
// SQL store's sqlstore.TopRatedPrior).
const TopRatedPrior = 10

// topRated ranks movies with at least minRatings ratings by the IMDb-style
// Bayesian average (v·R + m·C) / (v + m), as the SQL store does.
func (st *state) topRated(minRatings, limit int) []movierec.ScoredMovie {
	out := []movierec.ScoredMovie{}
	var total, count float64
	for _, e := range st.movies {
		if e != nil && e.movie.RatingCount > 0 {
			total += e.movie.AverageRating * float64(e.movie.RatingCount)
			count += float64(e.movie.RatingCount)
		}
	}
	if count == 0 {
		return out
	}
	mean := total / count
	prior := float64(max(minRatings, TopRatedPrior))
	minRatings = max(minRatings, 1)
	wr := make([]float64, len(st.movies))
	var hits []int32
	for slot, e := range st.movies {
		if e == nil || e.movie.RatingCount < minRatings {
			continue
		}
		v := float64(e.movie.RatingCount)
		wr[slot] = (v*e.movie.AverageRating + prior*mean) / (v + prior)
		hits = append(hits, int32(slot))
	}
	top := topK(hits, limit, func(x, y int32) int {
		if c := cmp.Compare(wr[y], wr[x]); c != 0 {
			return c
		}
		return cmp.Compare(st.movies[x].movie.ID, st.movies[y].movie.ID)
	})
	for _, slot := range top {
		out = append(out, movierec.ScoredMovie{Movie: st.listMovie(st.movies[slot]), Score: wr[slot]})
	}
	return out
}

// sortNames rebuilds the name orders of genres and tags after a change.
func (st *state) sortNames() {
	if st.genreOrder == nil {
		st.genreOrder = make([]int64, 0, len(st.genres))
		for id := range st.genres {
			st.genreOrder = append(st.genreOrder, id)
		}
		slices.SortFunc(st.genreOrder, func(a, b int64) int {
			if c := strings.Compare(st.genres[a].genre.Name, st.genres[b].genre.Name); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
	}
	if st.tagOrder == nil {
		st.tagOrder = make([]int64, 0, len(st.tags))
		for id := range st.tags {
			st.tagOrder = append(st.tagOrder, id)
		}
		slices.SortFunc(st.tagOrder, func(a, b int64) int {
			if c := strings.Compare(st.tags[a].tag.Name, st.tags[b].tag.Name); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
	}
}

func (st *state) genre(id int64) (movierec.Genre, bool) {
	gi := st.genres[id]
	if gi == nil {
		return movierec.Genre{}, false
	}
	g := gi.genre
	g.MovieCount = gi.bits.count()
	return g, true
}

func (st *state) tag(id int64) (movierec.Tag, bool) {
	ti := st.tags[id]
	if ti == nil {
		return movierec.Tag{}, false
	}
	t := ti.tag
	t.MovieCount = len(ti.slots)
	return t, true
}

func (st *state) genrePage(offset, limit int) movierec.Page[movierec.Genre] {
	page := movierec.Page[movierec.Genre]{Items: []movierec.Genre{}, Count: len(st.genreOrder)}
	for i := offset; i < len(st.genreOrder) && i < offset+limit; i++ {
		g, _ := st.genre(st.genreOrder[i])
		page.Items = append(page.Items, g)
	}
	return page
}

func (st *state) tagPage(search string, offset, limit int) movierec.Page[movierec.Tag] {
	page := movierec.Page[movierec.Tag]{Items: []movierec.Tag{}}
	q := strings.ToLower(search)
	for _, id := range st.tagOrder {
		if q != "" && !strings.Contains(st.tags[id].lower, q) {
			continue
		}
		if page.Count >= offset && page.Count < offset+limit {
			t, _ := st.tag(id)
			page.Items = append(page.Items, t)
		}
		page.Count++
	}
	return page
}

// narrowest returns the slots that satisfy f's most selective range
// filter on a presorted field (IMDb rating, popularity, average rating,
// rating count), a slice of that field's array found by binary search, so
// a filtered list reads only those movies. ok is false without such a
// filter.
func (st *state) narrowest(f *movierec.MovieFilter) (slots []int32, ok bool) {
	value := func(field string, e *entry) float64 {
		m := &e.movie
		switch field {
		case movierec.OrderIMDbRating:
			return *m.IMDbRating
		case movierec.OrderPopularityScore:
			return m.PopularityScore
		case movierec.OrderAverageRating:
			return m.AverageRating
		}
		return float64(m.RatingCount)
	}
	consider := func(field string, lo, hi *float64) {
		order := st.orders[fieldIndex[field]]
		end := sort.Search(len(order), func(i int) bool { return isNull(field, st.movies[order[i]]) })
		a, b := 0, end
		if lo != nil {
			a = sort.Search(end, func(i int) bool { return value(field, st.movies[order[i]]) >= *lo })
		}
		if hi != nil {
			b = sort.Search(end, func(i int) bool { return value(field, st.movies[order[i]]) > *hi })
		}
		b = max(a, b)
		if !ok || b-a < len(slots) {
			slots, ok = order[a:b], true
		}
	}
	if f.IMDbRatingGTE != nil || f.IMDbRatingLTE != nil {
		consider(movierec.OrderIMDbRating, f.IMDbRatingGTE, f.IMDbRatingLTE)
	}
	if f.PopularityGTE != nil || f.PopularityLTE != nil {
		consider(movierec.OrderPopularityScore, f.PopularityGTE, f.PopularityLTE)
	}
	if f.MinAverageRating != nil {
		consider(movierec.OrderAverageRating, f.MinAverageRating, nil)
	}
	if f.MinRatingCount > 0 {
		n := float64(f.MinRatingCount)
		consider(movierec.OrderRatingCount, &n, nil)
	}
	return slots, ok
}
