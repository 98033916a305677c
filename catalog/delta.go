package catalog

import (
	"slices"
	"strconv"
	"time"

	"github.com/movierec/movierec"
)

// Rating writes applied in memory.
//
// The change a rating write records carries what it did (the rating's
// score before and after, its rated_at, and the movie's aggregates after
// the write; see movierec.RatingChange), so the catalog builds the
// movie's next entry from its current one instead of reloading it. A
// delta is applied only on top of an entry older than it (version below
// the change's): an entry reloaded at a snapshot version already holds
// every change up to that version.

// scoreIndex returns the index of score in movierec.RatingScores (and in
// entry.dist), keyed as the store keys its rating distributions; false
// for a score that is not one of them.
func scoreIndex(score float64) (int, bool) {
	i := slices.Index(movierec.RatingScores[:], strconv.FormatFloat(score, 'f', 1, 64))
	return i, i >= 0
}

// appliable reports whether r describes a rating write the catalog can
// apply in memory: a rating created, re-scored or deleted, with scores
// the distribution has. Anything else is reloaded.
func appliable(r *movierec.RatingChange) bool {
	if r == nil || r.OldScore == 0 && r.NewScore == 0 {
		return false
	}
	for _, s := range []float64{r.OldScore, r.NewScore} {
		if _, ok := scoreIndex(s); s != 0 && !ok {
			return false
		}
	}
	return true
}

// withRating returns a new entry: e with the rating write r applied, at
// version. e itself is left alone (readers may hold it). The aggregates
// are the payload's; the distribution loses the old score and gains the
// new one; the recent rating times gain a created rating's time when it
// is at or after since (the trending window's start, as a reload would
// read it) and lose one occurrence of a deleted rating's time. r must be
// appliable.
func withRating(e *entry, r movierec.RatingChange, version int64, since time.Time) *entry {
	ne := *e // dist is an array: copied
	ne.movie.RatingCount, ne.movie.AverageRating, ne.movie.PopularityScore = r.Count, r.Average, r.Popularity
	if i, ok := scoreIndex(r.OldScore); r.OldScore > 0 && ok {
		ne.dist[i]--
	}
	if i, ok := scoreIndex(r.NewScore); r.NewScore > 0 && ok {
		ne.dist[i]++
	}
	at := r.RatedAt.UnixMicro()
	switch {
	case r.OldScore == 0: // created
		if !r.RatedAt.Before(since) {
			i, _ := slices.BinarySearch(e.recent, at)
			ne.recent = slices.Insert(slices.Clone(e.recent), i, at)
		}
	case r.NewScore == 0: // deleted
		if i, found := slices.BinarySearch(e.recent, at); found {
			ne.recent = slices.Delete(slices.Clone(e.recent), i, i+1)
		}
	}
	ne.version = version
	return &ne
}

// applyRating applies the rating change ch (its Rating appliable) to its
// movie, unless the movie's entry already holds it (a reload at a version
// at or after ch's) or the movie is not in the catalog. It reports
// whether it applied it.
func (st *state) applyRating(ch movierec.CatalogChange) bool {
	e := st.entryByID(ch.ID)
	if e == nil || ch.Version <= e.version {
		return false
	}
	r := *ch.Rating
	st.putMovie(withRating(e, r, ch.Version, st.since())) // moves newest forward for a newer rating
	if r.NewScore == 0 && !r.RatedAt.Before(st.newest) {
		// The store's newest rating may be the one deleted: the newest
		// is now the newest still held. (When none is held, every
		// rating left is older than the window, and memory cannot tell
		// when; the newest stays.)
		if n := st.newestHeld(); !n.IsZero() {
			st.newest = n
		}
	}
	return true
}

// newestHeld returns the time of the newest rating in any movie's recent
// ratings (zero when there is none).
func (st *state) newestHeld() time.Time {
	var newest int64
	var found bool
	for _, e := range st.movies {
		if e != nil && len(e.recent) > 0 {
			if t := e.recent[len(e.recent)-1]; !found || t > newest {
				newest, found = t, true
			}
		}
	}
	if !found {
		return time.Time{}
	}
	return time.UnixMicro(newest).UTC()
}
