package sqlstore

// HoldRatingSlots takes every free turn of s's rating writes (see
// LimitRatingWriters) until release is called.
func HoldRatingSlots(s *Store) (release func()) {
	n := 0
	for full := false; !full; {
		select {
		case s.ratingSlots <- struct{}{}:
			n++
		default:
			full = true
		}
	}
	return func() {
		for range n {
			<-s.ratingSlots
		}
	}
}
