package recommend

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// indexedSmall loads ml-latest-small's model with the factor index on
// (its 3,000-odd factor movies are under the size that turns it on).
func indexedSmall(t *testing.T) *Model {
	t.Helper()
	_, trained := trainedSmall(t)
	data, err := trained.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { ivfMinVectors = n }(ivfMinVectors)
	ivfMinVectors = 1000
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.impl.fIndex == nil {
		t.Fatalf("%d factor movies, over the threshold, and no index", len(m.impl.fItems))
	}
	return m
}

// TestNeighbourTableAnswersAsTheIndex: once BuildNeighbours has run, every
// factor movie's similar movies (scores and reasons included, at the
// largest limit) are what the factor index gave before, and they come
// from the table.
func TestNeighbourTableAnswersAsTheIndex(t *testing.T) {
	m := indexedSmall(t)
	im := m.impl
	before := make(map[int64][]Similar)
	for _, i := range im.fItems {
		id := im.ids[i]
		got, err := m.SimilarMovies(id, nil, maxLimit)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = got
	}
	n, err := m.BuildNeighbours(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tail := 0
	for _, i := range im.fItems {
		if im.headPos[i] < 0 {
			tail++
		}
	}
	if n != tail || tail == 0 {
		t.Fatalf("BuildNeighbours covered %d movies, want the %d factor movies outside the head", n, tail)
	}
	tb := im.fNbrs.Load()
	if tb == nil {
		t.Fatal("no table after BuildNeighbours")
	}
	withNbrs := 0
	for p, i := range im.fItems {
		if im.headPos[i] < 0 && tb.cnt[p] > 0 {
			withNbrs++
		}
	}
	if withNbrs < tail*9/10 {
		t.Fatalf("%d of %d tail movies have neighbours in the table", withNbrs, tail)
	}
	for _, i := range im.fItems {
		id := im.ids[i]
		got, err := m.SimilarMovies(id, nil, maxLimit)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, before[id]) {
			t.Fatalf("movie %d: from the table\n%v\nfrom the index\n%v", id, got, before[id])
		}
	}
	if again, err := m.BuildNeighbours(context.Background()); err != nil || again != 0 {
		t.Errorf("a second BuildNeighbours: %d, %v; want 0, nil (the table is kept)", again, err)
	}
}

// TestNeighbourTableStopsWithItsContext: a cancelled build leaves no table
// (answers keep coming from the index), and a small model builds none.
func TestNeighbourTableStopsWithItsContext(t *testing.T) {
	m := indexedSmall(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := m.BuildNeighbours(ctx); !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("BuildNeighbours with a cancelled context: %d, %v", n, err)
	}
	if m.impl.fNbrs.Load() != nil {
		t.Fatal("a cancelled build left a table")
	}
	_, small := trainedSmall(t)
	if n, err := small.BuildNeighbours(context.Background()); err != nil || n != 0 || small.impl.fNbrs.Load() != nil {
		t.Fatalf("a model without the factor index: BuildNeighbours %d, %v", n, err)
	}
}
