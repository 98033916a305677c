package recommend

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// The binary format (little-endian throughout):
//
//	magic "MOVIEREC" | format uint32 | trained unix ns int64 | duration ns int64
//	| version string | body
//
// where a string is a uint32 length and its bytes, a slice is a uint32
// length and its elements, and the body holds every slice of the model
// (weights and similarities as float32). The version, "20060102T150405Z-xxxxxxxx",
// is the training time and the first 8 hex digits of the body's SHA-256;
// Load recomputes it, so a damaged body is refused.
const (
	magic        = "MOVIEREC"
	formatNumber = 3
)

// Format 1 is format 2 without the factor model (fK … fVec), and format 2
// is format 3 without the factor neighbours (fNbrStart … fNbrSim): Load
// still reads them, so a stored model of an older build keeps serving (EASE
// only, or with the factor index per request) until the next training.

// ErrCorruptModel is returned by Load for bytes that are not a model
// written by MarshalBinary (or were damaged since).
var ErrCorruptModel = errors.New("recommend: corrupt model")

func versionOf(trained time.Time, body []byte) string {
	sum := sha256.Sum256(body)
	return trained.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:4])
}

func (m *model) marshal() ([]byte, error) {
	body, err := m.encodeBody(formatNumber)
	if err != nil {
		return nil, err
	}
	e := &encoder{b: make([]byte, 0, len(body)+64)}
	e.b = append(e.b, magic...)
	e.u32(formatNumber)
	e.i64(m.trained.UnixNano())
	e.i64(int64(m.duration))
	e.str(m.ver)
	e.b = append(e.b, body...)
	return e.b, nil
}

// encodeBody encodes the body of the given format (2 or 3; tests write 2).
func (m *model) encodeBody(format int) ([]byte, error) {
	size := 8*len(m.ids) + 4*len(m.weights) + 4*len(m.fVec) + 8*len(m.nbrIdx) + 8*len(m.fNbrIdx) + 8*len(m.featIdx) + 1<<16
	e := &encoder{b: make([]byte, 0, size)}
	e.i64s(m.ids)
	e.strs(m.titles)
	e.i32s(m.years)
	e.strs(m.genreNames)
	e.i32s(m.genreStart)
	e.i32s(m.genreIdx)
	e.i32s(m.popOrder)
	e.f32s(m.popScore)
	e.strs(m.featNames)
	e.u8s(m.featKind)
	e.f32s(m.featWeight)
	e.i32s(m.featStart)
	e.i32s(m.featIdx)
	e.f32s(m.featVal)
	e.f32(m.alpha)
	e.i32s(m.head)
	e.f32s(m.weights)
	e.i32s(m.nbrStart)
	e.i32s(m.nbrIdx)
	e.f32s(m.nbrSim)
	e.u32(uint32(m.fK))
	e.f32(m.fReg)
	e.f32(m.fAlpha0)
	e.i32s(m.fItems)
	e.f32s(m.fVec)
	if format >= 3 {
		e.i32s(m.fNbrStart)
		e.i32s(m.fNbrIdx)
		e.f32s(m.fNbrSim)
	}
	return e.b, nil
}

func load(data []byte) (*Model, error) {
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a movierec model", ErrCorruptModel)
	}
	d := &decoder{b: data[len(magic):]}
	format := d.u32()
	if d.err == nil && (format < 1 || format > formatNumber) {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrCorruptModel, format, formatNumber)
	}
	m := &model{}
	m.trained = time.Unix(0, d.i64()).UTC()
	m.duration = time.Duration(d.i64())
	stored := d.str()
	if d.err != nil {
		return nil, d.err
	}
	body := d.b
	m.ids = d.i64s()
	m.titles = d.strs()
	m.years = d.i32s()
	m.genreNames = d.strs()
	m.genreStart = d.i32s()
	m.genreIdx = d.i32s()
	m.popOrder = d.i32s()
	m.popScore = d.f32s()
	m.featNames = d.strs()
	m.featKind = d.u8s()
	m.featWeight = d.f32s()
	m.featStart = d.i32s()
	m.featIdx = d.i32s()
	m.featVal = d.f32s()
	m.alpha = d.f32()
	m.head = d.i32s()
	m.weights = d.f32s()
	m.nbrStart = d.i32s()
	m.nbrIdx = d.i32s()
	m.nbrSim = d.f32s()
	if format >= 2 {
		m.fK = int32(d.u32())
		m.fReg = d.f32()
		m.fAlpha0 = d.f32()
		m.fItems = d.i32s()
		m.fVec = d.f32s()
	}
	if format >= 3 {
		m.fNbrStart = d.i32s()
		m.fNbrIdx = d.i32s()
		m.fNbrSim = d.f32s()
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptModel, len(d.b))
	}
	m.ver = versionOf(m.trained, body)
	if m.ver != stored {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptModel)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptModel, err)
	}
	m.finish()
	return &Model{impl: m}, nil
}

// check validates a decoded model's invariants so that serving can index
// without bounds surprises.
func (m *model) check() error {
	n := len(m.ids)
	for i := 1; i < n; i++ {
		if m.ids[i] <= m.ids[i-1] {
			return errors.New("movie IDs not ascending")
		}
	}
	if len(m.titles) != n || len(m.years) != n || len(m.popScore) != n || len(m.popOrder) != n {
		return errors.New("catalogue lengths differ")
	}
	if err := checkCSR(m.genreStart, m.genreIdx, n, len(m.genreNames)); err != nil {
		return fmt.Errorf("genres: %v", err)
	}
	seen := make([]bool, n)
	for _, i := range m.popOrder {
		if i < 0 || int(i) >= n || seen[i] {
			return errors.New("popularity order is not a permutation")
		}
		seen[i] = true
	}
	if len(m.featKind) != len(m.featNames) || len(m.featWeight) != len(m.featNames) || len(m.featVal) != len(m.featIdx) {
		return errors.New("feature lengths differ")
	}
	if err := checkCSR(m.featStart, m.featIdx, n, len(m.featNames)); err != nil {
		return fmt.Errorf("features: %v", err)
	}
	for i, h := range m.head {
		if h < 0 || int(h) >= n || (i > 0 && h <= m.head[i-1]) {
			return errors.New("head out of range")
		}
	}
	if len(m.weights) != len(m.head)*len(m.head) || len(m.nbrSim) != len(m.nbrIdx) {
		return errors.New("collaborative lengths differ")
	}
	if err := checkCSR(m.nbrStart, m.nbrIdx, len(m.head), n); err != nil {
		return fmt.Errorf("neighbours: %v", err)
	}
	if m.fK < 0 || m.fK > maxFactors || len(m.fVec) != len(m.fItems)*int(m.fK) || (len(m.fItems) > 0 && m.fK == 0) {
		return errors.New("factor lengths differ")
	}
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	if len(m.fItems) > 0 && !(m.fReg > 0 && m.fAlpha0 > 0 && finite(m.fReg) && finite(m.fAlpha0)) {
		return errors.New("factor weights out of range")
	}
	for _, v := range m.fVec {
		if !finite(v) {
			return errors.New("a factor is not finite")
		}
	}
	for p, i := range m.fItems {
		if i < 0 || int(i) >= n || (p > 0 && i <= m.fItems[p-1]) {
			return errors.New("factor movies out of range")
		}
	}
	for _, h := range m.head {
		if _, ok := slices.BinarySearch(m.fItems, h); len(m.fItems) > 0 && !ok {
			return errors.New("a head movie has no factors")
		}
	}
	if len(m.fNbrStart) > 0 || len(m.fNbrIdx) > 0 || len(m.fNbrSim) > 0 {
		if len(m.fNbrSim) != len(m.fNbrIdx) {
			return errors.New("factor neighbour lengths differ")
		}
		if err := checkCSR(m.fNbrStart, m.fNbrIdx, len(m.fItems), n); err != nil {
			return fmt.Errorf("factor neighbours: %v", err)
		}
		// What training writes: at most maxNeighbours distinct other
		// movies per row with similarities in (0, 1], none for the head.
		mark := make([]int32, n)
		for p, i := range m.fItems {
			lo, hi := m.fNbrStart[p], m.fNbrStart[p+1]
			if _, inHead := slices.BinarySearch(m.head, i); hi-lo > maxNeighbours || (inHead && hi > lo) {
				return errors.New("factor neighbours: a row too long, or one for a head movie")
			}
			for k := lo; k < hi; k++ {
				j, sim := m.fNbrIdx[k], m.fNbrSim[k]
				if j == i || mark[j] == int32(p)+1 || !(sim > 0 && sim <= 1) {
					return errors.New("factor neighbours: a movie itself, twice, or a similarity outside (0, 1]")
				}
				mark[j] = int32(p) + 1
			}
		}
	}
	return nil
}

func checkCSR(start, idx []int32, rows, cols int) error {
	if len(start) != rows+1 || start[0] != 0 || int(start[rows]) != len(idx) {
		return errors.New("bad offsets")
	}
	for r := range rows {
		if start[r+1] < start[r] {
			return errors.New("offsets decrease")
		}
	}
	for _, x := range idx {
		if x < 0 || int(x) >= cols {
			return errors.New("index out of range")
		}
	}
	return nil
}

type encoder struct{ b []byte }

func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) i64(v int64)  { e.b = binary.LittleEndian.AppendUint64(e.b, uint64(v)) }
func (e *encoder) f32(v float32) {
	e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(v))
}
func (e *encoder) str(s string) { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *encoder) strs(v []string) {
	e.u32(uint32(len(v)))
	for _, s := range v {
		e.str(s)
	}
}
func (e *encoder) u8s(v []uint8) { e.u32(uint32(len(v))); e.b = append(e.b, v...) }
func (e *encoder) i32s(v []int32) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.u32(uint32(x))
	}
}
func (e *encoder) i64s(v []int64) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.i64(x)
	}
}
func (e *encoder) f32s(v []float32) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.f32(x)
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("%w: truncated", ErrCorruptModel)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) i64() int64 {
	if p := d.take(8); p != nil {
		return int64(binary.LittleEndian.Uint64(p))
	}
	return 0
}

func (d *decoder) f32() float32 { return math.Float32frombits(d.u32()) }

// count reads a slice length and checks that the rest of the input can
// hold that many elements of at least size bytes.
func (d *decoder) count(size int) int {
	n := int(d.u32())
	if d.err == nil && n > len(d.b)/size {
		d.err = fmt.Errorf("%w: truncated", ErrCorruptModel)
		return 0
	}
	return n
}

func (d *decoder) str() string { return string(d.take(d.count(1))) }

func (d *decoder) strs() []string {
	v := make([]string, d.count(4))
	for i := range v {
		v[i] = d.str()
	}
	return v
}

func (d *decoder) u8s() []uint8 { return append([]uint8(nil), d.take(d.count(1))...) }

func (d *decoder) i32s() []int32 {
	p := d.take(4 * d.count(4))
	v := make([]int32, len(p)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return v
}

func (d *decoder) i64s() []int64 {
	p := d.take(8 * d.count(8))
	v := make([]int64, len(p)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(p[8*i:]))
	}
	return v
}

func (d *decoder) f32s() []float32 {
	p := d.take(4 * d.count(4))
	v := make([]float32, len(p)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return v
}
