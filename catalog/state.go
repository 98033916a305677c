package catalog

import (
	"slices"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

// entry is one movie as the catalog keeps it. Entries are never modified
// once published: a change replaces the entry, so a reader may keep using
// one after it has released the lock.
type entry struct {
	movie      movierec.Movie // list and detail fields; Genres, Tags and RatingDistribution unset
	lowerTitle string
	// has and wordStart are the bytes of lowerTitle, and those starting a
	// word after its first byte: a one-letter search tests two bits.
	has, wordStart byteSet
	genreIDs       []int64
	tags           []tagCount // most used first, then by name
	dist           [10]int32  // counts of 0.5, 1.0, ..., 5.0
	recent         []int64    // unix microseconds of ratings in the trending window, ascending
	version        int64      // change-log version its data reflects: its last applied change, or the version a reload read it at
}

type tagCount struct {
	id    int64
	count int
}

type genreInfo struct {
	genre movierec.Genre // ID, Name, Description
	lower string
	bits  bitset
}

type tagInfo struct {
	tag   movierec.Tag // ID, Name
	lower string
	slots []int32 // ascending
}

// state is the catalog's data. It is guarded by Catalog.mu: readers hold
// the read lock while they look at it, appliers the write lock.
type state struct {
	movies []*entry // by slot; nil where a movie was deleted
	vals   []values // by slot: the value filters' fields of movies[slot] (see values)
	slot   map[int64]int32
	live   int // movies not deleted

	genres      map[int64]*genreInfo
	genreByName map[string]int64
	genreOrder  []int64 // by name, then id; nil when it must be rebuilt
	tags        map[int64]*tagInfo
	tagByName   map[string]int64
	tagOrder    []int64 // by name, then id; nil when it must be rebuilt

	titles trigramIndex
	orders sortedOrders
	// building is set while newState adds movies: the orders are sorted
	// once at the end instead of per movie.
	building bool

	newest time.Time // newest rating in the store (zero: none)
	window time.Duration

	// seq numbers the changes made to the state since it was built, and
	// hist remembers the latest of them (see record), so that an answer
	// computed earlier can tell whether they changed it (see track.go).
	seq  int64
	hist []histItem
}

// histItem is one change to the state: a movie replaced (old and new
// set), added (old nil) or deleted (new nil), or a genre or tag change
// (taxonomy), which may change every movie's answers.
type histItem struct {
	seq      int64
	old, new *entry
	taxonomy bool
}

// histKeep is how many changes the state remembers at least; an answer
// older than that is recomputed rather than checked.
const histKeep = 8192

// record numbers a change and remembers it. Changes made while the state
// is being built are not changes to anything an answer saw.
func (st *state) record(old, new *entry, taxonomy bool) {
	if st.building {
		return
	}
	st.seq++
	if len(st.hist) >= 2*histKeep {
		st.hist = append(st.hist[:0], st.hist[len(st.hist)-histKeep:]...)
	}
	st.hist = append(st.hist, histItem{seq: st.seq, old: old, new: new, taxonomy: taxonomy})
}

// since is the start of the trending window for reloads.
func (st *state) since() time.Time {
	if st.newest.IsZero() {
		return time.Time{}
	}
	return st.newest.Add(-st.window)
}

func newState(snap movierec.CatalogSnapshot, window time.Duration) *state {
	st := &state{
		slot:        make(map[int64]int32, len(snap.Movies)),
		genres:      make(map[int64]*genreInfo, len(snap.Genres)),
		genreByName: make(map[string]int64, len(snap.Genres)),
		tags:        make(map[int64]*tagInfo, len(snap.Tags)),
		tagByName:   make(map[string]int64, len(snap.Tags)),
		titles:      trigramIndex{},
		newest:      snap.Newest,
		window:      window,
		movies:      make([]*entry, 0, len(snap.Movies)),
		vals:        make([]values, 0, len(snap.Movies)),
		building:    true,
	}
	for _, g := range snap.Genres {
		st.putGenre(g)
	}
	for _, t := range snap.Tags {
		st.putTag(t)
	}
	for _, m := range snap.Movies {
		st.putMovie(newEntry(m, snap.Version))
	}
	st.orders.build(st.movies)
	st.building = false
	return st
}

func newEntry(cm movierec.CatalogMovie, version int64) *entry {
	e := &entry{movie: cm.Movie, lowerTitle: strings.ToLower(cm.Title), version: version}
	for i := 0; i < len(e.lowerTitle); i++ {
		e.has.add(e.lowerTitle[i])
		if i > 0 && !isWordByte(e.lowerTitle[i-1]) {
			e.wordStart.add(e.lowerTitle[i])
		}
	}
	e.movie.Genres, e.movie.Tags, e.movie.RatingDistribution = nil, nil, nil
	for _, g := range cm.Genres {
		e.genreIDs = append(e.genreIDs, g.ID)
	}
	for _, t := range cm.Tags {
		e.tags = append(e.tags, tagCount{id: t.ID, count: t.Count})
	}
	for i, k := range movierec.RatingScores {
		e.dist[i] = int32(cm.RatingDistribution[k])
	}
	e.recent = make([]int64, len(cm.Recent))
	for i, t := range cm.Recent {
		e.recent[i] = t.UnixMicro()
	}
	slices.Sort(e.recent)
	return e
}

// putMovie adds e, or replaces the movie of the same ID, keeping every
// index in step.
func (st *state) putMovie(e *entry) {
	slot, ok := st.slot[e.movie.ID]
	if !ok {
		slot = int32(len(st.movies))
		st.movies = append(st.movies, nil)
		st.vals = append(st.vals, values{})
		st.slot[e.movie.ID] = slot
		st.live++
	}
	old := st.movies[slot]
	st.record(old, e, false)
	st.unlink(slot, old)
	if old != nil && old.lowerTitle != e.lowerTitle {
		st.titles.remove(old.lowerTitle, slot)
	}
	if !st.building {
		st.orders.update(st.movies, slot, old, e)
	}
	st.movies[slot] = e
	st.vals[slot] = valuesOf(&e.movie)
	for _, g := range e.genreIDs {
		if gi := st.genres[g]; gi != nil {
			gi.bits.set(slot)
		}
	}
	for _, t := range e.tags {
		if ti := st.tags[t.id]; ti != nil {
			ti.slots = insertSorted(ti.slots, slot)
		}
	}
	if old == nil || old.lowerTitle != e.lowerTitle {
		st.titles.add(e.lowerTitle, slot)
	}
	if n := len(e.recent); n > 0 {
		if t := time.UnixMicro(e.recent[n-1]).UTC(); t.After(st.newest) {
			st.newest = t
		}
	}
}

// unlink removes the movie old (at slot) from the genre, tag and title
// indexes; a nil old is nothing to remove.
func (st *state) unlink(slot int32, old *entry) {
	if old == nil {
		return
	}
	for _, g := range old.genreIDs {
		if gi := st.genres[g]; gi != nil {
			gi.bits.clear(slot)
		}
	}
	for _, t := range old.tags {
		if ti := st.tags[t.id]; ti != nil {
			ti.slots = removeSorted(ti.slots, slot)
		}
	}
}

// deleteMovie removes a movie (its slot stays empty).
func (st *state) deleteMovie(id int64) {
	slot, ok := st.slot[id]
	if !ok {
		return
	}
	old := st.movies[slot]
	st.record(old, nil, false)
	st.unlink(slot, old)
	if old != nil {
		st.titles.remove(old.lowerTitle, slot)
		st.orders.update(st.movies, slot, old, nil)
	}
	st.movies[slot] = nil
	st.vals[slot] = values{}
	delete(st.slot, id)
	st.live--
}

func (st *state) putGenre(g movierec.Genre) {
	st.record(nil, nil, true)
	gi := st.genres[g.ID]
	if gi == nil {
		gi = &genreInfo{}
		st.genres[g.ID] = gi
	} else if st.genreByName[gi.lower] == g.ID {
		delete(st.genreByName, gi.lower)
	}
	g.MovieCount = 0
	gi.genre, gi.lower = g, strings.ToLower(g.Name)
	st.genreByName[gi.lower] = g.ID
	st.genreOrder = nil
}

// deleteGenre removes a genre from the catalog and from its movies (the
// store's foreign keys did the same).
func (st *state) deleteGenre(id int64) {
	st.record(nil, nil, true)
	gi := st.genres[id]
	if gi == nil {
		return
	}
	gi.bits.each(func(slot int32) {
		if e := st.movies[slot]; e != nil {
			ne := *e
			ne.genreIDs = slices.DeleteFunc(slices.Clone(e.genreIDs), func(g int64) bool { return g == id })
			st.movies[slot] = &ne
		}
	})
	if st.genreByName[gi.lower] == id {
		delete(st.genreByName, gi.lower)
	}
	delete(st.genres, id)
	st.genreOrder = nil
}

func (st *state) putTag(t movierec.Tag) {
	st.record(nil, nil, true)
	ti := st.tags[t.ID]
	if ti == nil {
		ti = &tagInfo{}
		st.tags[t.ID] = ti
	} else if st.tagByName[ti.lower] == t.ID {
		delete(st.tagByName, ti.lower)
	}
	t.MovieCount = 0
	ti.tag, ti.lower = t, strings.ToLower(t.Name)
	st.tagByName[ti.lower] = t.ID
	st.tagOrder = nil
}

func (st *state) deleteTag(id int64) {
	st.record(nil, nil, true)
	ti := st.tags[id]
	if ti == nil {
		return
	}
	for _, slot := range ti.slots {
		if e := st.movies[slot]; e != nil {
			ne := *e
			ne.tags = slices.DeleteFunc(slices.Clone(e.tags), func(t tagCount) bool { return t.id == id })
			st.movies[slot] = &ne
		}
	}
	if st.tagByName[ti.lower] == id {
		delete(st.tagByName, ti.lower)
	}
	delete(st.tags, id)
	st.tagOrder = nil
}

// entryByID returns the live entry of a movie, or nil.
func (st *state) entryByID(id int64) *entry {
	if slot, ok := st.slot[id]; ok {
		return st.movies[slot]
	}
	return nil
}

// listMovie renders e's list fields: the movie with its genres (ID and
// name, sorted by name).
func (st *state) listMovie(e *entry) movierec.Movie {
	m := e.movie
	m.Genres = make([]movierec.Genre, 0, len(e.genreIDs))
	for _, g := range e.genreIDs {
		if gi := st.genres[g]; gi != nil {
			m.Genres = append(m.Genres, movierec.Genre{ID: g, Name: gi.genre.Name})
		}
	}
	slices.SortFunc(m.Genres, func(a, b movierec.Genre) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return m
}

// detailMovie renders e with tags and rating distribution too.
func (st *state) detailMovie(e *entry) movierec.Movie {
	m := st.listMovie(e)
	m.Tags = make([]movierec.TagCount, 0, len(e.tags))
	for _, t := range e.tags {
		if ti := st.tags[t.id]; ti != nil {
			m.Tags = append(m.Tags, movierec.TagCount{Tag: movierec.Tag{ID: t.id, Name: ti.tag.Name}, Count: t.count})
		}
	}
	// Renames may have changed the order among equal counts.
	slices.SortStableFunc(m.Tags, func(a, b movierec.TagCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Name, b.Name)
	})
	m.RatingDistribution = distribution(e.dist)
	return m
}

func distribution(d [10]int32) map[string]int {
	out := make(map[string]int, len(d))
	for i, k := range movierec.RatingScores {
		out[k] = int(d[i])
	}
	return out
}

// insertSorted adds v to the ascending slice s (once).
func insertSorted(s []int32, v int32) []int32 {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

// removeSorted removes v from the ascending slice s.
func removeSorted(s []int32, v int32) []int32 {
	if i, found := slices.BinarySearch(s, v); found {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// relinkGenre adds the movies that already name a genre new to the
// catalog (its change was applied after theirs) to its set.
func (st *state) relinkGenre(id int64) {
	gi := st.genres[id]
	for slot, e := range st.movies {
		if e != nil && slices.Contains(e.genreIDs, id) {
			gi.bits.set(int32(slot))
		}
	}
}

// relinkTag does the same for a tag new to the catalog.
func (st *state) relinkTag(id int64) {
	ti := st.tags[id]
	for slot, e := range st.movies {
		if e != nil && slices.ContainsFunc(e.tags, func(t tagCount) bool { return t.id == id }) {
			ti.slots = insertSorted(ti.slots, int32(slot))
		}
	}
}

// byteSet is a set of byte values.
type byteSet [4]uint64

func (b *byteSet) add(c byte)           { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) contains(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }
