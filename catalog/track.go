package catalog

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/movierec/movierec"
)

// Answers that outlive changes.
//
// A list answer is cached under the list version, which moves with every
// batch of writes. Most writes do not change most list pages, though: a
// rating of one movie changes the pages that show it, and those where it
// moves across the page's bounds or into or out of the filter, and no
// other. Track records what an answer read (the filter, ordering and
// bounds of each page, or the genres and tags); the stamp it returns can
// later tell, from the changes applied since (the state's history of old
// and new entries), whether the answer would come out the same, so a
// cached answer is kept instead of being recomputed.

type trackKey struct{}

// tracker collects the catalog reads made for one answer.
type tracker struct {
	mu     sync.Mutex
	st     *state
	seq    int64 // the state's change number at the first read
	reads  []pageRead
	broken bool // something was read that a stamp cannot check
}

type readKind uint8

const (
	readMovies readKind = iota // a page of a movie list
	readGenres                 // genres with their movie counts
	readTags                   // tags with their movie counts
)

// pageRead is one recorded read.
type pageRead struct {
	kind     readKind
	f        movierec.MovieFilter // readMovies: filter, Ordering never empty
	ids      []int64              // the page's movies
	first    *entry               // the page's first and last movies, nil for an empty page
	last     *entry
	genreIDs []int64 // f.Genres resolved (the taxonomy cannot change under a stamp)
	tagIDs   []int64
}

// Track returns a context under which this catalog's reads are recorded,
// and a function that returns a stamp of them once the answer is made: nil
// when nothing was read, or something was read that a stamp cannot check
// (a search, a movie's detail, a ranking: those are recomputed).
func (c *Catalog) Track(ctx context.Context) (context.Context, func() movierec.Stamp) {
	t := &tracker{}
	return context.WithValue(ctx, trackKey{}, t), func() movierec.Stamp {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.broken || t.st == nil {
			return nil
		}
		return &stamp{c: c, st: t.st, seq: t.seq, reads: t.reads}
	}
}

func trackerOf(ctx context.Context) *tracker {
	t, _ := ctx.Value(trackKey{}).(*tracker)
	return t
}

// note records a read of st (made under the read lock); nil r is a read
// a stamp cannot check.
func (t *tracker) note(st *state, r *pageRead) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case r == nil || t.st != nil && t.st != st: // or a reload in between
		t.broken = true
	case t.st == nil:
		t.st, t.seq = st, st.seq
	}
	if !t.broken {
		t.reads = append(t.reads, *r)
	}
}

// untracked marks the answer being made under ctx as one a stamp cannot
// check.
func untracked(ctx context.Context) {
	if t := trackerOf(ctx); t != nil {
		t.mu.Lock()
		t.broken = true
		t.mu.Unlock()
	}
}

// movieRead describes a movie list page of f whose slots are top, or
// returns nil when f is a search (relevance and title matching are not
// checked; searches are recomputed).
func movieRead(st *state, f movierec.MovieFilter, top []int32) *pageRead {
	if f.Search != "" {
		return nil
	}
	r := &pageRead{kind: readMovies, f: f}
	r.f.Genres, r.f.Tags = nil, nil
	if len(r.f.Ordering) == 0 {
		r.f.Ordering = movierec.DefaultOrdering
	} else {
		r.f.Ordering = slices.Clone(r.f.Ordering)
	}
	for _, name := range f.Genres {
		id, ok := st.genreByName[strings.ToLower(name)]
		if !ok {
			id = -1 // matches no movie, now or later (the taxonomy is fixed)
		}
		r.genreIDs = append(r.genreIDs, id)
	}
	if f.GenreID != 0 {
		r.genreIDs = append(r.genreIDs, f.GenreID)
	}
	for _, name := range f.Tags {
		id, ok := st.tagByName[strings.ToLower(name)]
		if !ok {
			id = -1
		}
		r.tagIDs = append(r.tagIDs, id)
	}
	if f.TagID != 0 {
		r.tagIDs = append(r.tagIDs, f.TagID)
	}
	for _, slot := range top {
		r.ids = append(r.ids, st.movies[slot].movie.ID)
	}
	if len(top) > 0 {
		r.first, r.last = st.movies[top[0]], st.movies[top[len(top)-1]]
	}
	return r
}

// stamp is what Track returns: the reads, and the state and change
// number they were made at.
type stamp struct {
	c     *Catalog
	st    *state
	seq   int64
	reads []pageRead
}

// Revalidate implements movierec.Stamp. A full reload, a genre or tag
// change, or more changes than the state remembers make it false.
func (s *stamp) Revalidate() (movierec.Stamp, bool) {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	st := s.c.st
	if st != s.st {
		return nil, false
	}
	if st.seq == s.seq {
		return s, true
	}
	if len(st.hist) == 0 || st.hist[0].seq > s.seq+1 || st.seq-s.seq > maxRevalidate {
		return nil, false // forgotten, or cheaper to recompute
	}
	run := st.hist[s.seq+1-st.hist[0].seq:]
	if len(s.reads) > 1 || len(run) > 64 {
		// Worth reducing first (one page is checked once per change).
		run = netChanges(run)
	}
	for _, h := range run {
		if h.taxonomy {
			return nil, false
		}
		for i := range s.reads {
			if s.reads[i].changedBy(st, h.old, h.new) {
				return nil, false
			}
		}
	}
	return &stamp{c: s.c, st: st, seq: st.seq, reads: s.reads}, true
}

// maxRevalidate is the most changes a stamp is checked against: checking
// a few thousand costs as much as recomputing a list page, so an answer
// last checked longer ago is recomputed.
const maxRevalidate = 512

// netChanges reduces a run of changes to one per movie, from its first
// old entry to its last new one: what an answer made before the run reads
// differs from now only by those (a popular movie rated a hundred times
// is checked once). A taxonomy change is kept as it is.
func netChanges(hist []histItem) []histItem {
	out := make([]histItem, 0, len(hist)/2)
	at := netScratch.Get().(map[int64]int)
	defer func() {
		clear(at)
		netScratch.Put(at)
	}()
	for _, h := range hist {
		if h.taxonomy {
			out = append(out, h)
			continue
		}
		id := movieIDOf(h)
		if i, ok := at[id]; ok {
			out[i].new = h.new
			continue
		}
		at[id] = len(out)
		out = append(out, h)
	}
	return out
}

var netScratch = sync.Pool{New: func() any { return map[int64]int{} }}

// movieIDOf is the movie a change replaced, added or deleted.
func movieIDOf(h histItem) int64 {
	if h.old != nil {
		return h.old.movie.ID
	}
	return h.new.movie.ID
}

// changedBy reports whether replacing old by new (either may be nil: an
// added or deleted movie) may change what r read. It errs on the side of
// true.
func (r *pageRead) changedBy(st *state, old, new *entry) bool {
	switch r.kind {
	case readGenres:
		return old == nil || new == nil || !slices.Equal(old.genreIDs, new.genreIDs)
	case readTags:
		return old == nil || new == nil || !slices.EqualFunc(old.tags, new.tags, func(a, b tagCount) bool { return a.id == b.id })
	}
	in0 := old != nil && r.member(old)
	in1 := new != nil && r.member(new)
	if in0 != in1 {
		return true // the count changes
	}
	if !in0 {
		return false
	}
	if slices.Contains(r.ids, new.movie.ID) {
		return true // shown on the page
	}
	if r.first == nil {
		return false // past the end, which did not move
	}
	before, after := r.side(old), r.side(new)
	return before != after || after == 0
}

// member reports whether e is in r's list (its filter, genres and tags).
func (r *pageRead) member(e *entry) bool {
	if !matches(&e.movie, &r.f) {
		return false
	}
	for _, g := range r.genreIDs {
		if !slices.Contains(e.genreIDs, g) {
			return false
		}
	}
	for _, t := range r.tagIDs {
		if !slices.ContainsFunc(e.tags, func(tc tagCount) bool { return tc.id == t }) {
			return false
		}
	}
	return true
}

// side places e in r's list order: -1 before the page, 1 after it, 0
// within its bounds.
func (r *pageRead) side(e *entry) int {
	if compareMovies(r.f.Ordering, &e.movie, &r.first.movie) < 0 {
		return -1
	}
	if compareMovies(r.f.Ordering, &e.movie, &r.last.movie) > 0 {
		return 1
	}
	return 0
}
