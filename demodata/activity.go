package demodata

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/movierec/movierec"
)

// anchor is the fixed "now" of the demo catalog: ratings and tags fall in
// the three years before it.
var anchor = time.Date(2026, time.June, 30, 0, 0, 0, 0, time.UTC)

// userInfo holds a user's hidden taste and habits.
type userInfo struct {
	// pref is the user's liking of each genre, -1..1.
	pref [numGenres]float64
	// bias shifts all of the user's scores: some users are harsh.
	bias float64
	// activity is the relative number of ratings the user makes.
	activity float64
	// join is when the user started rating, as a fraction of the window.
	join float64
	// tagging is the relative rate at which the user tags; 0 for most.
	tagging float64
}

// generateUsers makes n users with IDs 1..n and their hidden habits.
func generateUsers(r *rand.Rand, n int) ([]movierec.DatasetUser, []userInfo) {
	users := make([]movierec.DatasetUser, n)
	infos := make([]userInfo, n)
	for i := range n {
		id := int64(i + 1)
		users[i] = movierec.DatasetUser{ID: id, Username: userName(id)}
		u := &infos[i]
		for g := range u.pref {
			u.pref[g] = 0.25 * r.NormFloat64()
		}
		// A few loved genres (popular genres are loved more often) and one
		// or two disliked ones.
		weights := genreWeights
		for range 2 + r.IntN(3) {
			g := pickWeighted(r, weights[:])
			weights[g] = 0
			u.pref[g] = 0.4 + 0.6*r.Float64()
		}
		for range 1 + r.IntN(2) {
			g := r.IntN(numGenres)
			if weights[g] == 0 {
				continue // loved already
			}
			u.pref[g] = -0.4 - 0.6*r.Float64()
		}
		for g := range u.pref {
			u.pref[g] = clampFloat(u.pref[g], -1, 1)
		}
		u.bias = 0.35 * r.NormFloat64()
		u.activity = math.Exp(0.85 * r.NormFloat64())
		// Most users joined early, some later: the service is growing,
		// so activity rises towards the anchor.
		u.join = 0.6 * math.Pow(r.Float64(), 3)
		if r.Float64() < 0.35 {
			u.tagging = math.Exp(r.NormFloat64())
		}
	}
	return users, infos
}

// userName is the username of demo user id.
func userName(id int64) string {
	return "demo_user_" + strconv.FormatInt(id, 10)
}

// affinity returns how much user u likes movie m's genres, -1..1.
func affinity(u *userInfo, m *movieInfo) float64 {
	sum := 0.0
	for _, g := range m.genres {
		sum += u.pref[g]
	}
	return sum / float64(len(m.genres))
}

// pickBias is how strongly genre affinity steers which movies users watch.
const pickBias = 1.2

// activity generates the ratings and tag applications of one catalog, one
// user at a time, so that a data set of any size streams through a fixed
// amount of memory (the movies, the users and one user's ratings).
type activity struct {
	ratingRand, tagRand *rand.Rand
	movies              []movieInfo
	users               []userInfo
	counts              []int     // ratings per user
	total               int       // sum of counts
	cum                 []float64 // cumulative movie popularity
	mark                []int32   // mark[i] == u+1: user u rated movie i
	picked              []int
	start               int64   // unix seconds the activity window opens
	tagScale            float64 // multiplies the users' tagging rates
	weights             []float64
	chosen              []string
}

// newActivity prepares the activity of users on movies: about target
// ratings, at least minPerUser per user (when there are that many
// movies), rated from start to the anchor.
func newActivity(ratingRand, tagRand *rand.Rand, target, minPerUser int, start time.Time,
	movies []movieInfo, users []userInfo) *activity {
	a := &activity{ratingRand: ratingRand, tagRand: tagRand, movies: movies, users: users, start: start.Unix()}
	if len(movies) == 0 || len(users) == 0 {
		return a
	}
	a.counts = ratingCounts(target, minPerUser, len(movies), users)
	for _, c := range a.counts {
		a.total += c
	}
	a.cum = make([]float64, len(movies))
	sum := 0.0
	for i := range movies {
		sum += movies[i].popularity
		a.cum[i] = sum
	}
	a.mark = make([]int32, len(movies))
	a.tagScale = tagScale(a.counts, users)
	a.weights = make([]float64, len(tagDefs))
	return a
}

// user appends the ratings of user ui (0-based), in movie order, to
// ratings and that user's tag applications, in (movie, tag) order, to tags.
func (a *activity) user(ui int, ratings []movierec.DatasetRating, tags []movierec.DatasetTag) ([]movierec.DatasetRating, []movierec.DatasetTag) {
	u := &a.users[ui]
	r := a.ratingRand
	a.picked = pickMovies(r, a.picked[:0], a.counts[ui], int32(ui+1), a.mark, a.cum, a.movies, u)
	slices.Sort(a.picked)
	span := anchor.Unix() - a.start
	joined := a.start + int64(u.join*float64(span))
	first := len(ratings)
	for _, mi := range a.picked {
		m := &a.movies[mi]
		score := m.quality + u.bias + 0.9*affinity(u, m) + 0.6*r.NormFloat64()
		score = clampFloat(math.Round(score*2)/2, 0.5, 5)
		// Nobody rates a movie before it comes out, or before joining.
		lo := max(joined, m.release.Unix())
		width := anchor.Unix() - lo
		off := int64(float64(width) * r.Float64())
		if off >= width {
			off = width - 1
		}
		ratings = append(ratings, movierec.DatasetRating{
			UserID:  int64(ui + 1),
			MovieID: int64(mi + 1),
			Score:   score,
			RatedAt: time.Unix(lo+off, 0).UTC(),
		})
	}
	for _, rt := range ratings[first:] {
		tags = a.tag(rt, tags)
	}
	return ratings, tags
}

// ratingCounts splits target ratings among users by their activity: every
// user rates between min(minPerUser, movies) and all movies, and the counts add up to
// target once it is brought into that range.
func ratingCounts(target, minPerUser, movies int, users []userInfo) []int {
	lo := min(minPerUser, movies)
	target = clampInt(target, lo*len(users), movies*len(users))
	countAt := func(scale float64, counts []int) int {
		total := 0
		for i := range users {
			c := clampInt(int(math.Round(scale*users[i].activity)), lo, movies)
			if counts != nil {
				counts[i] = c
			}
			total += c
		}
		return total
	}
	// The total grows with the scale: find the scale that gives target.
	low, high := 0.0, 1.0
	for countAt(high, nil) < target {
		high *= 2
	}
	for range 60 {
		mid := (low + high) / 2
		if countAt(mid, nil) < target {
			low = mid
		} else {
			high = mid
		}
	}
	counts := make([]int, len(users))
	excess := countAt(high, counts) - target
	// Rounding leaves a few ratings over: take them from the busiest users.
	order := make([]int, len(users))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(users[b].activity, users[a].activity), a-b)
	})
	for excess > 0 {
		for _, i := range order {
			if excess > 0 && counts[i] > lo {
				counts[i]--
				excess--
			}
		}
	}
	return counts
}

// pickMovies appends n distinct movies for user u to dst, drawn by
// popularity and steered by the user's genre affinity. mark records the
// movies picked (value stamp).
func pickMovies(r *rand.Rand, dst []int, n int, stamp int32, mark []int32, cum []float64, movies []movieInfo, u *userInfo) []int {
	total := cum[len(cum)-1]
	maxAttempts := 40*n + 200
	for attempt := 0; len(dst) < n && attempt < maxAttempts; attempt++ {
		i := sort.SearchFloat64s(cum, r.Float64()*total)
		if i >= len(cum) {
			i = len(cum) - 1
		}
		if mark[i] == stamp {
			continue
		}
		if r.Float64() >= math.Exp(pickBias*(affinity(u, &movies[i])-1)) {
			continue
		}
		mark[i] = stamp
		dst = append(dst, i)
	}
	if len(dst) == n {
		return dst
	}
	// The user rates most of the catalog: draw the rest without
	// replacement in one go (Efraimidis-Spirakis keys).
	type keyed struct {
		idx int
		key float64
	}
	var rest []keyed
	for i := range movies {
		if mark[i] == stamp {
			continue
		}
		w := movies[i].popularity * math.Exp(pickBias*(affinity(u, &movies[i])-1))
		rest = append(rest, keyed{i, math.Log(1-r.Float64()) / w})
	}
	slices.SortFunc(rest, func(a, b keyed) int {
		if c := cmp.Compare(b.key, a.key); c != 0 {
			return c
		}
		return a.idx - b.idx
	})
	for _, k := range rest[:n-len(dst)] {
		mark[k.idx] = stamp
		dst = append(dst, k.idx)
	}
	return dst
}

// tagsPerRating is the share of ratings that come with a tag application.
const tagsPerRating = 0.075

// maxTagRate is the highest share of a user's ratings that come with tags.
const maxTagRate = 0.6

// tagScale returns the factor on the users' tagging rates that makes the
// expected number of tag applications tagsPerRating of the ratings, given
// the users' rating counts: a tagging user tags 1-3 tags at once, 1.5 on
// average.
func tagScale(counts []int, users []userInfo) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	expected := func(scale float64) float64 {
		sum := 0.0
		for i := range users {
			sum += float64(counts[i]) * min(maxTagRate, scale*users[i].tagging)
		}
		return 1.5 * sum
	}
	want := tagsPerRating * float64(total)
	low, high := 0.0, 1.0
	for expected(high) < want && high < 1e6 {
		high *= 2
	}
	for range 50 {
		mid := (low + high) / 2
		if expected(mid) < want {
			low = mid
		} else {
			high = mid
		}
	}
	return high
}

// tag appends the tag applications that come with rating rt, if any, in
// tag order.
func (a *activity) tag(rt movierec.DatasetRating, tags []movierec.DatasetTag) []movierec.DatasetTag {
	r := a.tagRand
	u := &a.users[rt.UserID-1]
	if u.tagging == 0 || r.Float64() >= min(maxTagRate, a.tagScale*u.tagging) {
		return tags
	}
	m := &a.movies[rt.MovieID-1]
	weights := a.weights
	possible := false
	for t := range tagDefs {
		weights[t] = tagWeight(&tagDefs[t], m, rt.Score)
		possible = possible || weights[t] > 0
	}
	if !possible {
		return tags
	}
	chosen := a.chosen[:0]
	for range 1 + pickWeighted(r, []float64{0.65, 0.25, 0.10}) {
		t := pickWeighted(r, weights)
		if weights[t] == 0 {
			break
		}
		weights[t] = 0
		chosen = append(chosen, tagDefs[t].name)
	}
	slices.Sort(chosen)
	a.chosen = chosen
	rated := rt.RatedAt.Unix()
	// Most tags come right after rating, some days later.
	maxDelay := min(14*24*3600, anchor.Unix()-rated)
	for _, name := range chosen {
		delay := 1 + int64(float64(maxDelay-1)*math.Pow(r.Float64(), 4))
		tags = append(tags, movierec.DatasetTag{
			UserID:   rt.UserID,
			MovieID:  rt.MovieID,
			Tag:      name,
			TaggedAt: time.Unix(rated+delay, 0).UTC(),
		})
	}
	return tags
}

// tagWeight returns how likely tag t is on movie m given a score: tags that
// fit the movie's genres are likely, generic ones less, others rare; mood
// tags follow the score.
func tagWeight(t *tagDef, m *movieInfo, score float64) float64 {
	if t.cond != nil && !t.cond(m) {
		return 0
	}
	if (t.mood > 0 && score < 4) || (t.mood < 0 && score > 2.5) {
		return 0
	}
	if t.cond != nil {
		return 2
	}
	if len(t.genres) == 0 {
		return 1
	}
	for _, g := range t.genres {
		if hasGenre(m.genres, g) {
			return 4
		}
	}
	return 0.05
}
