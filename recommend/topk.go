package recommend

import "slices"

// cand is a candidate of a ranking: an item index and its score.
type cand struct {
	score float32
	item  int32
}

// better orders candidates best first: higher score, then lower item
// index (lower movie ID), so rankings are total and deterministic.
func better(a, b cand) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.item < b.item
}

// topK keeps the k best candidates seen in a bounded min-heap whose root
// is the worst kept one: offering n candidates costs O(n log k) and no
// allocation once c has capacity k.
type topK struct {
	k int
	c []cand
}

func (t *topK) reset(k int) {
	t.k = k
	t.c = t.c[:0]
}

// full reports whether k candidates are kept; then min is the bar a new
// candidate must beat.
func (t *topK) full() bool { return len(t.c) == t.k }

func (t *topK) min() cand { return t.c[0] }

// offer considers x.
func (t *topK) offer(x cand) {
	if len(t.c) < t.k {
		t.c = append(t.c, x)
		t.up(len(t.c) - 1)
		return
	}
	if t.k == 0 || !better(x, t.c[0]) {
		return
	}
	t.c[0] = x
	t.down(0)
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(t.c[p], t.c[i]) {
			break
		}
		t.c[p], t.c[i] = t.c[i], t.c[p]
		i = p
	}
}

func (t *topK) down(i int) {
	n := len(t.c)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l // the worse child
		if r := l + 1; r < n && better(t.c[l], t.c[r]) {
			w = r
		}
		if !better(t.c[i], t.c[w]) {
			return
		}
		t.c[i], t.c[w] = t.c[w], t.c[i]
		i = w
	}
}

// sorted orders the kept candidates best first (in place) and returns them.
func (t *topK) sorted() []cand {
	slices.SortFunc(t.c, func(a, b cand) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return t.c
}
