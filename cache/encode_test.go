package cache

import (
	"bytes"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	for _, e := range []Entry{
		{Status: 200, ContentType: "application/json; charset=utf-8", ETag: `"abc"`, Body: []byte(`{"a":1}`),
			Gzip: []byte{0x1f, 0x8b, 1, 2, 3}, GzipETag: `"abc-gzip"`},
		{Status: 200, ContentType: "application/json", ETag: `"e"`, Body: []byte("plain only")},
		{Status: 200},
	} {
		b := encode(e)
		got, err := decode(b)
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if got.Status != e.Status || got.ContentType != e.ContentType || got.ETag != e.ETag || !bytes.Equal(got.Body, e.Body) ||
			!bytes.Equal(got.Gzip, e.Gzip) || got.GzipETag != e.GzipETag {
			t.Errorf("round trip: %+v, want %+v", got, e)
		}
		for n := range len(b) - len(e.Gzip) { // every cut before the gzip bytes
			if _, err := decode(b[:n]); err == nil {
				t.Errorf("%+v cut to %d bytes decoded", e, n)
			}
		}
	}
}

// TestDecodeRejectsOldFormat: what an older build stored (status first,
// no format byte) is never taken for an entry.
func TestDecodeRejectsOldFormat(t *testing.T) {
	old := append([]byte{0, 200, 16}, "application/json"...)
	old = append(old, 5)
	old = append(old, `"abc"`...)
	old = append(old, `{"count":1}`...)
	if e, err := decode(old); err == nil {
		t.Errorf("a v1 entry decoded as %+v", e)
	}
}
