package recommend

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas"
)

// maxLimit is the largest Limit a request may ask for; Limit is clamped to
// 1..maxLimit.
const maxLimit = 100

// Hybrid blending. For a user whose History holds n movies of the
// catalogue, nc of them with a collaborative signal (in the EASE head or
// with factors), the hybrid score of a movie is
//
//	wc·collab/maxCollab + wt·content/maxContent + wp·pop/maxPop
//
// (collaborative and popularity divided by their largest value among the
// eligible movies; content, a cosine times the popularity prior, by the
// largest prior for a user with a collaborative signal, so that its term
// is at most wt and only movies within wt of the list need a content
// score, and by its largest eligible value for a cold user) with
//
//	wc = 1 if nc ≥ coldHistory, else 0
//	wt = hybridContent · hybridHalf/(n + hybridHalf)
//	wp = hybridPopular · hybridHalf/(n + hybridHalf)
//
// so a user with no ratings gets the popular list, a cold user (fewer than
// coldHistory ratings) content and popularity, and a well-known user
// mostly the collaborative model. Each movie is credited to the recommender
// with the largest term. hybridContent and hybridPopular were tuned on the
// validation split (see DefaultConfig's doc); the cold-start shape is a
// judgement call, since the offline protocol has no cold users.
//
// hybridContent and hybridPopular are variables only so that the tuning
// test can vary them; nothing else writes them.
const (
	coldHistory = 3
	hybridHalf  = 20
)

var (
	hybridContent float32 = 0.1
	hybridPopular float32 = 0.1
)

// sittingBoost and sittingTime weigh a request's ratings by how close they
// are to its newest one (see foldHistory). They are variables only so that
// the tuning test can vary them; nothing else writes them.
var (
	sittingBoost = 0.5
	sittingTime  = time.Hour
)

// SimilarMovies blends collaborative and content similarity as
// similarCollab·collab + (1 − similarCollab)·content for a movie with a
// collaborative signal (the head's rating cosines, or else the factor
// model's), content alone otherwise.
const similarCollab = 0.7

// query is one Recommend call's state.
type query struct {
	m       *model
	s       *scratch
	limit   int
	genre   int32 // -1: any
	genreNm string
	incl    bool // IncludeRated

	// Set by collabScores (see there).
	nf         int     // history movies with factors (0: no user vector)
	ke, kf, kt float32 // weights of EASE, of the factor score in the head, and outside it
	un         float32 // the user vector's length
	dense      bool    // every collaborative score is in s.cf (see collabScores)
}

// recsScanAll makes every request dense (see collabScores: every movie is
// scored); only a test sets it, to compare.
var recsScanAll = false

// boundSlack widens the scans' bounds against float32 rounding: a computed
// dot product may exceed the product of the computed lengths by a few ulps.
const boundSlack = 1 + 1e-4

func (q *query) eligible(i int32) bool {
	return (q.incl || q.s.mark[i] == 0) && (q.genre < 0 || q.m.hasGenre(i, q.genre))
}

func (m *model) recommend(req Request) ([]Recommendation, error) {
	algo := strings.ToLower(strings.TrimSpace(req.Algorithm))
	switch algo {
	case "":
		algo = Hybrid
	case Hybrid, Collaborative, Content, Popularity:
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, req.Algorithm)
	}
	q := query{m: m, limit: min(max(req.Limit, 1), maxLimit), genre: -1, incl: req.IncludeRated}
	if g := strings.ToLower(strings.TrimSpace(req.Genre)); g != "" {
		x, ok := m.genreByName[g]
		if !ok {
			return []Recommendation{}, nil // no movie has that genre
		}
		q.genre, q.genreNm = x, m.genreNames[x]
	}
	q.s = m.getScratch()
	defer m.putScratch(q.s)
	m.foldHistory(q.s, req.History)

	out := make([]Recommendation, 0, q.limit)
	switch algo {
	case Popularity:
		out = q.popular(out, 0)
	case Collaborative:
		out = q.collaborative(out)
	case Content:
		out = q.content(out)
	case Hybrid:
		out = q.hybrid(out)
	}
	return out, nil
}

// foldHistory records the request's ratings of catalogue movies in s.hist
// and s.mark (a later rating of the same movie replaces an earlier one),
// with the confidence the collaborative models give each:
//
//	conf = c(r) · (1 + sittingBoost·exp(−(t_last − t)/sittingTime)) / (1 + sittingBoost)
//
// where t_last is the history's newest rating time: ratings of the
// user's latest sitting count fully, older ones down to 1/(1 + sittingBoost)
// of that. It is the request-time side of the session kernel (sessionGram):
// what a user rates next is related most to what they rated in this
// sitting, so a rating made a minute ago steers the list more than one
// made years ago. A history made in one sitting, or without times, is
// weighed by c(r) alone, and so is a rating without a time in a history
// with them.
func (m *model) foldHistory(s *scratch, hist []Interaction) {
	for _, x := range hist {
		i, ok := m.index[x.MovieID]
		if !ok {
			continue // a movie newer than the model: nothing to learn from
		}
		e := histEntry{item: i, score: float32(x.Score), at: x.At.Unix(), dated: !x.At.IsZero()}
		if p := s.mark[i]; p > 0 {
			s.hist[p-1] = e
			continue
		}
		s.hist = append(s.hist, e)
		s.mark[i] = int32(len(s.hist))
	}
	last, dated := int64(math.MinInt64), false
	for _, h := range s.hist {
		if h.dated {
			last, dated = max(last, h.at), true
		}
	}
	for k, h := range s.hist {
		c := confidence(m.alpha, h.score)
		if dated && h.dated && h.at < last && sittingBoost > 0 {
			decay := 0.0 // beyond 30 sittingTimes e^(−x) < 1e−13: skip the exponential
			if x := float64(last-h.at) / sittingTime.Seconds(); x < 30 {
				decay = math.Exp(-x)
			}
			c *= float32((1 + sittingBoost*decay) / (1 + sittingBoost))
		}
		s.hist[k].conf = c
	}
}

// popular appends the most popular eligible movies not yet in out until
// out holds limit. Their scores are popScore + offset.
func (q *query) popular(out []Recommendation, offset float32) []Recommendation {
	m := q.m
	for _, i := range m.popOrder {
		if len(out) >= q.limit {
			break
		}
		if !q.eligible(i) || chosen(out, m.ids[i]) {
			continue
		}
		out = append(out, Recommendation{
			MovieID:   m.ids[i],
			Score:     float64(m.popScore[i] + offset),
			Reason:    q.popularReason(i),
			Algorithm: Popularity,
		})
	}
	return out
}

func chosen(out []Recommendation, id int64) bool {
	for _, r := range out {
		if r.MovieID == id {
			return true
		}
	}
	return false
}

func (q *query) popularReason(i int32) string {
	popular := q.m.popScore[i] >= 0.5
	switch {
	case q.genre < 0 && popular:
		return "Popular with everyone"
	case q.genre < 0:
		return "Next in the popularity ranking"
	case popular:
		return "Popular in " + q.genreNm
	default:
		return "Next in the popularity ranking of " + q.genreNm
	}
}

// collabScores prepares the collaborative score of every movie i,
//
//	cf_i = ease_i/maxEase + factorBlend·factor_i/maxFactor   (head movies)
//	cf_i = (factorBlend + tailImpute)·factor_i/maxFactor     (other movies with factors)
//
// (negative terms count as 0; cf is 0 for history movies, for movies
// without factors in a model that has them, and for movies outside the
// head in one without), where ease is the EASE score, factor the fold-in's
// predicted preference, and each max is taken over the movies not in the
// history. It returns how many history movies have a collaborative signal
// (are in the head or have factors), and sets s.maxCF to the largest cf_i.
//
// Two ways lead there. Dense: every factor score in one matrix product
// and cf in s.cf, read by scans over every movie. Bounded, for catalogues
// of at least boundedMin factor movies: factor scores on demand
// (q.factor), and scans that visit movies by decreasing vector length and
// stop where Cauchy–Schwarz (factor ≤ |user|·|movie|) shows no later movie
// can matter; iALS gives popular movies long vectors and the long tail
// short ones, so at 62,000 movies a list scores about 1–2% of them. When
// the search for maxFactor is not cut short within a sixteenth of the
// catalogue (vectors of alike lengths), the request turns dense.
func (q *query) collabScores() int {
	m, s := q.m, q.s
	n := len(m.head)
	sc := s.collab[:n]
	clear(sc)
	nh := 0
	for _, h := range s.hist {
		p := m.headPos[h.item]
		if p < 0 {
			continue
		}
		nh++
		axpy(h.conf, m.weights[int(p)*n:int(p)*n+n], sc)
	}
	nf := 0
	if len(m.fItems) > 0 {
		nf = m.foldIn(s)
	}
	q.nf, q.ke, q.kf, q.kt, q.un, q.dense = nf, 0, 0, 0, 0, true
	s.nextStamp()
	s.maxCF = 0
	if nh == 0 && nf == 0 {
		clear(s.cf)
		return 0
	}
	var maxE float32
	for h, i := range m.head {
		if s.mark[i] == 0 {
			maxE = max(maxE, sc[h])
		}
	}
	var maxF float32
	if nf > 0 {
		q.un = float32(math.Sqrt(float64(dot(s.fw32, s.fw32))))
		var ok bool
		if maxF, ok = q.boundedMaxFactor(); !ok {
			maxF = q.scoreAll()
		}
	}
	if maxE > 0 {
		q.ke = 1 / maxE
	}
	if maxF > 0 {
		q.kf = factorBlend / maxF
		q.kt = q.kf + tailImpute/maxF // outside the head the factor score stands in for EASE's
	}
	if !q.dense {
		s.maxCF = q.maxCollab(nil)
		return max(nh, nf)
	}
	// Dense: every entry of m.cfItems is written; the rest of s.cf stays 0.
	top := float32(0)
	if len(m.fItems) == 0 {
		for h, i := range m.head {
			v := float32(0)
			if s.mark[i] == 0 && sc[h] > 0 {
				v = q.ke * sc[h]
			}
			s.cf[i] = v
			top = max(top, v)
		}
	} else {
		fs := s.fscore[:len(m.fItems)]
		for p, i := range m.fItems {
			v := float32(0)
			if s.mark[i] == 0 {
				f := float32(0)
				if nf > 0 {
					f = max(0, fs[p])
				}
				if h := m.headPos[i]; h >= 0 {
					v = q.ke*max(0, sc[h]) + q.kf*f
				} else {
					v = q.kt * f
				}
			}
			s.cf[i] = v
			top = max(top, v)
		}
	}
	s.maxCF = top
	return max(nh, nf)
}

// boundedMin is the fewest factor movies for which Recommend tries the
// bounded scans (see collabScores); a variable only so that a test can
// try them on small models.
var boundedMin = 20000

// boundedGiveUp: a request turns dense when the search for maxFactor has
// read 1/boundedGiveUp of the catalogue without being cut (a variable only
// so that a test can keep the bounded scans on).
var boundedGiveUp = 16

// boundedMaxFactor looks for the largest factor score outside the history
// by the bounded scan, scoring the head at once from contiguous vectors
// first. It reports false, having left the request dense, when the model
// is too small or the scan is not cut within a sixteenth of the catalogue.
func (q *query) boundedMaxFactor() (float32, bool) {
	m, s := q.m, q.s
	if len(m.fItems) < boundedMin || recsScanAll {
		return 0, false
	}
	if n := len(m.headVecPos); n > 0 {
		hs := s.headF[:n]
		vec.Sgemv(blas.NoTrans, n, int(m.fK), 1, m.headVec, int(m.fK), s.fw32, 1, 0, hs, 1)
		for x, p := range m.headVecPos {
			s.fscore[p], s.fstamp[p] = hs[x], s.stamp
		}
	}
	var maxF float32
	give := len(m.scanOrder) / boundedGiveUp
	for k, i := range m.scanOrder {
		if q.un*m.scanNorm[k]*boundSlack < maxF {
			q.dense = false
			return maxF, true
		}
		if k == give {
			return 0, false
		}
		if p := m.fPos[i]; p >= 0 && s.mark[i] == 0 {
			maxF = max(maxF, q.factor(p))
		}
	}
	q.dense = false
	return maxF, true
}

// scoreAll computes every factor score in one matrix product (the dense
// way) and returns the largest outside the history.
func (q *query) scoreAll() float32 {
	m, s := q.m, q.s
	vec.Sgemv(blas.NoTrans, len(m.fItems), int(m.fK), 1, m.fVec, int(m.fK), s.fw32, 1, 0, s.fscore, 1)
	var maxF float32
	for p, i := range m.fItems {
		if s.mark[i] == 0 {
			maxF = max(maxF, s.fscore[p])
		}
	}
	return maxF
}

// cf is movie i's collaborative score (see collabScores).
func (q *query) cf(i int32) float32 {
	m, s := q.m, q.s
	if q.dense {
		return s.cf[i]
	}
	if s.mark[i] != 0 {
		return 0
	}
	h := m.headPos[i]
	if len(m.fItems) == 0 {
		if h >= 0 && s.collab[h] > 0 {
			return q.ke * s.collab[h]
		}
		return 0
	}
	p := m.fPos[i]
	if p < 0 {
		return 0
	}
	var f float32
	if q.nf > 0 {
		f = max(0, q.factor(p))
	}
	if h >= 0 {
		return q.ke*max(0, s.collab[h]) + q.kf*f
	}
	return q.kt * f
}

// factor is the fold-in's predicted preference for the movie at factor
// position p, computed once per request.
func (q *query) factor(p int32) float32 {
	m, s := q.m, q.s
	if s.fstamp[p] != s.stamp {
		k := int(m.fK)
		s.fscore[p] = dot(m.fVec[int(p)*k:int(p)*k+k], s.fw32) // as Sgemv multiplies (its sums depend on the order)
		s.fstamp[p] = s.stamp
	}
	return s.fscore[p]
}

// tailBound bounds cf of every movie outside the head at or after
// position k of m.scanOrder.
func (q *query) tailBound(k int) float32 {
	return q.kt * q.un * q.m.scanNorm[k] * boundSlack
}

// maxCollab is the largest cf_i over the movies i that keep reports true
// for (every movie when keep is nil).
func (q *query) maxCollab(keep func(int32) bool) float32 {
	m := q.m
	var top float32
	for _, i := range m.head {
		if keep == nil || keep(i) {
			top = max(top, q.cf(i))
		}
	}
	if q.kt == 0 {
		return top
	}
	if q.dense {
		for _, i := range m.fItems {
			if m.headPos[i] < 0 && (keep == nil || keep(i)) {
				top = max(top, q.cf(i))
			}
		}
		return top
	}
	for k, i := range m.scanOrder {
		if q.tailBound(k) < top {
			break
		}
		if m.headPos[i] < 0 && (keep == nil || keep(i)) {
			top = max(top, q.cf(i))
		}
	}
	return top
}

// axpy adds a·x to y (len(y) ≥ len(x)).
func axpy(a float32, x, y []float32) { vec.Saxpy(len(x), a, x, 1, y, 1) }

func (q *query) collaborative(out []Recommendation) []Recommendation {
	m, s := q.m, q.s
	if q.collabScores() > 0 {
		t := &s.top
		t.reset(q.limit)
		offer := func(i int32) {
			if sc := q.cf(i); sc > 0 && (!t.full() || sc >= t.min().score) && q.eligible(i) {
				t.offer(cand{sc, i})
			}
		}
		if q.dense {
			for _, i := range m.cfItems {
				offer(i)
			}
		} else {
			for _, i := range m.head {
				offer(i)
			}
			for k, i := range m.scanOrder {
				if t.full() && q.tailBound(k) < t.min().score {
					break
				}
				if m.headPos[i] < 0 {
					offer(i)
				}
			}
		}
		for _, c := range t.sorted() {
			out = append(out, Recommendation{
				MovieID:   m.ids[c.item],
				Score:     float64(c.score),
				Reason:    m.collabReason(s, c.item),
				Algorithm: Collaborative,
			})
		}
	}
	// Too little collaborative signal: popular picks, scored below.
	return q.popular(out, -1)
}

// collabReason names the history movie that adds most to item's EASE
// score or, for a movie outside the head (or without such a movie), the
// liked history movie nearest it in the factor model.
func (m *model) collabReason(s *scratch, item int32) string {
	n := len(m.head)
	best, bestC := int32(-1), float32(0)
	var bestScore float32
	if j := m.headPos[item]; j >= 0 {
		for _, h := range s.hist {
			p := m.headPos[h.item]
			if p < 0 || h.item == item {
				continue
			}
			if c := h.conf * m.weights[int(p)*n+int(j)]; c > bestC {
				best, bestC, bestScore = h.item, c, h.score
			}
		}
	}
	if best < 0 && len(m.fItems) > 0 {
		best, bestScore = m.factorReason(s, item)
	}
	if best < 0 {
		return "Rated by people whose ratings resemble yours"
	}
	return "Because you rated " + m.titles[best] + " " + strconv.FormatFloat(float64(bestScore), 'f', 1, 32)
}

// contentProfile sets s.profile to the unit-length taste profile of the
// history: Σ (score − centre)·item vector, where centre is the user's mean
// score shrunk towards 3.0 as if two extra 3.0 ratings were there, so
// movies rated below it count against their features. It reports whether
// some feature is liked.
func (m *model) contentProfile(s *scratch) bool {
	p := s.profile
	clear(p)
	if len(s.hist) == 0 {
		return false
	}
	sum := 6.0
	for _, h := range s.hist {
		sum += float64(h.score)
	}
	centre := float32(sum / float64(len(s.hist)+2))
	for _, h := range s.hist {
		w := h.score - centre
		if w == 0 {
			continue
		}
		for k := m.featStart[h.item]; k < m.featStart[h.item+1]; k++ {
			p[m.featIdx[k]] += w * m.featVal[k]
		}
	}
	var norm float64
	liked := false
	for _, v := range p {
		norm += float64(v) * float64(v)
		liked = liked || v > 0
	}
	if !liked {
		return false
	}
	inv := float32(1 / math.Sqrt(norm))
	for f := range p {
		p[f] *= inv
	}
	return true
}

// contentScore is the cosine of item's vector and the unit profile p.
func (m *model) contentScore(p []float32, item int32) float32 {
	var s float32
	lo, hi := m.featStart[item], m.featStart[item+1]
	idx := m.featIdx[lo:hi]
	val := m.featVal[lo:hi]
	val = val[:len(idx)]
	for k, f := range idx {
		s += p[f] * val[k]
	}
	return s
}

// contentPopExp is the exponent of the popularity prior of the content
// recommender: it ranks by cosine × (0.1 + popScore)^contentPopExp, so that
// among equally good matches the better-known movies come first.
var contentPopExp = 2.0

func (m *model) popPrior(i int32) float32 { return m.prior[i] }

func (q *query) content(out []Recommendation) []Recommendation {
	m, s := q.m, q.s
	if m.contentProfile(s) {
		t := &s.top
		t.reset(q.limit)
		for i := range int32(len(m.ids)) {
			sc := m.contentScore(s.profile, i)
			if sc <= 0 {
				continue
			}
			sc *= m.popPrior(i)
			if (!t.full() || sc >= t.min().score) && q.eligible(i) {
				t.offer(cand{sc, i})
			}
		}
		for _, c := range t.sorted() {
			out = append(out, Recommendation{
				MovieID:   m.ids[c.item],
				Score:     float64(c.score),
				Reason:    m.contentReason(s.profile, c.item),
				Algorithm: Content,
			})
		}
	}
	return q.popular(out, -1)
}

// contentReason names the (at most two) features of item that add most to
// its match with the profile.
func (m *model) contentReason(p []float32, item int32) string {
	var best [2]int32
	var bestC [2]float32
	best[0], best[1] = -1, -1
	for k := m.featStart[item]; k < m.featStart[item+1]; k++ {
		f := m.featIdx[k]
		c := p[f] * m.featVal[k]
		switch {
		case c > bestC[0]:
			best[1], bestC[1] = best[0], bestC[0]
			best[0], bestC[0] = f, c
		case c > bestC[1]:
			best[1], bestC[1] = f, c
		}
	}
	switch {
	case best[0] < 0:
		return "Similar to movies you rated"
	case best[1] < 0:
		return "Because you like " + m.featLabel(best[0])
	default:
		return "Matches your taste for " + m.featLabel(best[0]) + ", " + m.featLabel(best[1])
	}
}

func (m *model) featLabel(f int32) string {
	switch m.featKind[f] {
	case featDecade:
		return m.featNames[f] + " movies"
	case featTag:
		return "'" + m.featNames[f] + "'"
	}
	return m.featNames[f]
}

func (q *query) hybrid(out []Recommendation) []Recommendation {
	m, s := q.m, q.s
	n := len(s.hist)
	if n == 0 {
		return q.popular(out, 0)
	}
	wc := float32(0)
	if nc := q.collabScores(); nc >= coldHistory {
		wc = 1
	}
	decay := float32(hybridHalf) / float32(n+hybridHalf)
	wt := hybridContent * decay
	wp := hybridPopular * decay
	if !m.contentProfile(s) {
		wt = 0
	}

	// Pass 1: the largest collaborative and popularity scores among
	// eligible movies. With a collaborative signal the content term is
	// wt·cosine·prior/maxPrior, at most wt, so it needs no maximum: only
	// the movies whose other two terms come within wt of the list are
	// scored on content (pass 2).
	// popScore falls along popOrder: the first eligible movie there has
	// the largest. Without a genre, eligible is "not rated", which
	// collabScores' maximum already respects.
	var maxC, maxP float32
	for _, i := range m.popOrder {
		if q.eligible(i) {
			maxP = m.popScore[i]
			break
		}
	}
	if q.genre < 0 {
		maxC = s.maxCF
	} else {
		maxC = q.maxCollab(q.eligible)
	}
	var kc, kt, kp float32
	if maxC > 0 {
		kc = wc / maxC
	}
	switch {
	case wt > 0 && wc == 0:
		// A cold user: content is normalised by its best eligible match,
		// as collaborative and popularity are, so it leads the list.
		var maxT float32
		for i := range int32(len(m.ids)) {
			if q.eligible(i) {
				maxT = max(maxT, m.contentScore(s.profile, i)*m.prior[i])
			}
		}
		if maxT > 0 {
			kt = wt / maxT
		}
	case wt > 0 && m.maxPrior > 0:
		kt = wt / m.maxPrior
	}
	if maxP > 0 {
		kp = wp / maxP
	}
	if kc == 0 && kt == 0 && kp == 0 {
		kp = 1
	}
	content := func(i int32) float32 {
		if kt == 0 {
			return 0
		}
		return kt * m.contentScore(s.profile, i) * m.prior[i]
	}

	// Pass 2: the blend. Bounded: head movies first, then the others by
	// decreasing bound. A movie's content term is at most
	// kt·prior·contentBound, so it is scored on content only when its other
	// two terms plus that reach the list's lowest score; and along
	// m.scanOrder the collaborative, popularity and prior bounds all fall,
	// so the walk stops at the first position whose bound is below it.
	t := &s.top
	if q.dense {
		q.blendDense(kc, kt, kp, content)
	} else {
		t.reset(q.limit)
		floor := float32(math.Inf(-1))
		offer := func(i int32) {
			b := kp*m.popScore[i] + kc*q.cf(i)
			if b+kt*m.prior[i]*contentBound < floor || !q.eligible(i) {
				return
			}
			t.offer(cand{b + content(i), i})
			if t.full() {
				floor = t.min().score
			}
		}
		for _, i := range m.head {
			offer(i)
		}
		for k, i := range m.scanOrder {
			if t.full() && kc*q.tailBound(k)+kp*m.scanPop[k]+kt*contentBound*m.scanPrior[k] < floor {
				break
			}
			if m.headPos[i] < 0 {
				offer(i)
			}
		}
	}
	for _, c := range t.sorted() {
		i := c.item
		r := Recommendation{MovieID: m.ids[i], Score: float64(c.score)}
		tc, tt, tp := kc*q.cf(i), content(i), kp*m.popScore[i]
		switch {
		case tc > 0 && tc >= tt && tc >= tp:
			r.Algorithm, r.Reason = Collaborative, m.collabReason(s, i)
		case tt > 0 && tt >= tp:
			r.Algorithm, r.Reason = Content, m.contentReason(s.profile, i)
		default:
			r.Algorithm, r.Reason = Popularity, q.popularReason(i)
		}
		out = append(out, r)
	}
	return out
}

// blendDense is hybrid's pass 2 when every collaborative score is in s.cf:
// the limit best movies without content seed the list; another movie is
// scored on content only when its bound base + kt·prior·contentBound
// reaches the list's lowest score. It leaves the list in s.top.
func (q *query) blendDense(kc, kt, kp float32, content func(int32) float32) {
	m, s := q.m, q.s
	base := func(i int32) float32 { return kp*m.popScore[i] + kc*s.cf[i] }
	seed := &s.nbrTop
	seed.reset(q.limit)
	for i := range int32(len(m.ids)) {
		if b := base(i); (!seed.full() || b >= seed.min().score) && q.eligible(i) {
			seed.offer(cand{b, i})
		}
	}
	t := &s.top
	t.reset(q.limit)
	for _, c := range seed.c {
		t.offer(cand{c.score + content(c.item), c.item})
	}
	floor := float32(math.Inf(-1))
	if t.full() {
		floor = t.min().score
	}
	for i := range int32(len(m.ids)) {
		b := base(i)
		if b+kt*m.prior[i]*contentBound < floor || !q.eligible(i) ||
			slices.ContainsFunc(seed.c, func(c cand) bool { return c.item == i }) {
			continue
		}
		t.offer(cand{b + content(i), i})
		if t.full() {
			floor = t.min().score
		}
	}
}
