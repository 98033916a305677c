package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/movierec/movierec"
	"github.com/movierec/movierec/sqlite"
	"github.com/movierec/movierec/storetest"
)

// TestDiskFull: a server whose disk fills up answers writes with the
// "out of disk space" error (a 503 in the API), loses nothing it had, and
// works again, writes included, once space is freed: the store it has and
// a new one opened in the same process.
func TestDiskFull(t *testing.T) {
	disk := storetest.SmallDisk(t, 16, -1, -1)
	path := filepath.Join(disk, "m.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Import(ctx, storetest.Fixture(20), nil); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := s.Conn().QueryRow(ctx, `SELECT count(*) FROM ratings`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()

	free := storetest.FillDisk(t, disk, 64<<10)
	big := storetest.Fixture(400)
	_, err = s.Import(ctx, big, nil)
	if !errors.Is(err, movierec.ErrStoreFull) || !errors.Is(err, movierec.ErrStoreUnavailable) || movierec.ErrorMessage(err) != movierec.ErrStoreFull.Message {
		t.Fatalf("import onto a full disk: %v, want ErrStoreFull", err)
	}
	if n := count(); n != before {
		t.Fatalf("%d ratings after the failed import, %d before", n, before)
	}
	free()

	if _, _, err := s.RateMovie(ctx, 1, 2, 4.5, "after the disk was freed"); err != nil {
		t.Fatalf("rating once space was freed: %v", err)
	}
	s.Close()
	// Not even room for the log's shared-memory index: opening fails,
	// saying why.
	free = storetest.FillDisk(t, disk, 0)
	if s3, err := sqlite.Open(ctx, path); err == nil {
		s3.Close()
		t.Error("opened the database on a disk without a free byte")
	} else if !strings.Contains(err.Error(), "the disk is full") {
		t.Errorf("opening on a full disk: %v does not say the disk is full", err)
	}
	free()
	s2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("opening the database again once space was freed: %v", err)
	}
	defer s2.Close()
	if _, err := s2.Import(ctx, big, nil); err != nil {
		t.Fatalf("import once space was freed: %v", err)
	}
}
