package api

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestQueryMemo: a cache key's query is what url.Values.Encode makes of
// it, whether or not the memo has seen it, and the memo stays bounded
// under endless distinct queries.
func TestQueryMemo(t *testing.T) {
	var q queryMemo
	for _, raw := range []string{
		"", "page=2", "ordering=-popularity_score&page=3", "page=3&ordering=-popularity_score",
		"genre=Drama&genre=Comedy&page=1", "genre=Comedy&page=1&genre=Drama", "search=the%20last", "search=the+last",
		"a=1&;b=2", "bad=%zz&page=2", "x", "title=%C3%A9t%C3%A9&page_size=50", strings.Repeat("g=a&", 200) + "page=9",
	} {
		v, _ := url.ParseQuery(raw) // as r.URL.Query(): malformed pairs dropped
		want := v.Encode()
		for round := range 2 { // the second round reads the memo
			if got := q.canonical(raw); got != want {
				t.Errorf("round %d: canonical(%q) = %q, want %q", round, raw, got, want)
			}
		}
	}
	if q.canonical("page=3&ordering=title") != q.canonical("ordering=title&page=3") {
		t.Error("the same query in another order gets another key")
	}
	for i := range 3 * queryMemoMax {
		raw := fmt.Sprintf("page=%d", i)
		if got := q.canonical(raw); got != raw {
			t.Fatalf("canonical(%q) = %q", raw, got)
		}
	}
	n := 0
	q.m.Range(func(_, _ any) bool { n++; return true })
	if n > queryMemoMax || q.n.Load() > queryMemoMax {
		t.Errorf("%d queries kept (count %d), want at most %d", n, q.n.Load(), queryMemoMax)
	}
	long := strings.Repeat("x", queryMemoLen) + "=1"
	q.canonical(long)
	if _, ok := q.m.Load(long); ok {
		t.Error("a query longer than queryMemoLen was kept")
	}
}

// BenchmarkCacheKey: a list page's cache key, its query parsed and
// encoded each time (parse) against read from the memo (memo).
func BenchmarkCacheKey(b *testing.B) {
	const raw = "page=3&ordering=-popularity_score&genre=Drama&min_rating_count=20"
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := url.ParseQuery(raw)
			_ = v.Encode()
		}
	})
	b.Run("memo", func(b *testing.B) {
		var q queryMemo
		b.ReportAllocs()
		for b.Loop() {
			_ = q.canonical(raw)
		}
	})
}
