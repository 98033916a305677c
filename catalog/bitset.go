package catalog

import "math/bits"

// bitset is a set of movie slots. It grows as slots are added.
type bitset []uint64

func (b *bitset) set(i int32) {
	w := int(i >> 6)
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (uint(i) & 63)
}

func (b bitset) clear(i int32) {
	if w := int(i >> 6); w < len(b) {
		b[w] &^= 1 << (uint(i) & 63)
	}
}

func (b bitset) has(i int32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

// count is the number of slots in b.
func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// and keeps in b only the slots also in o.
func (b bitset) and(o bitset) {
	for i := range b {
		if i < len(o) {
			b[i] &= o[i]
		} else {
			b[i] = 0
		}
	}
}

// each calls fn for every slot in b, in ascending order.
func (b bitset) each(fn func(int32)) {
	for wi, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			fn(int32(wi<<6 + t))
			w &= w - 1
		}
	}
}

// clone returns a copy of b with room for n slots.
func (b bitset) clone(n int) bitset {
	out := make(bitset, max(len(b), (n+63)/64))
	copy(out, b)
	return out
}
