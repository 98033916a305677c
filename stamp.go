package movierec

// Stamp records what an answer read from the in-memory catalog, so that
// the answer can be kept when later changes did not touch it.
type Stamp interface {
	// Revalidate reports whether every change applied since the stamp was
	// made leaves what it records as it was; if so it also returns a stamp
	// of the current state, to check the next changes against.
	Revalidate() (Stamp, bool)
}
