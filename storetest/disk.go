package storetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"testing"

	"github.com/movierec/movierec/sqlstore"
)

// MountEnv, when set, makes SmallDisk fail instead of skip where it cannot
// mount a file system (CI runs as root and sets it).
const MountEnv = "MOVIEREC_TEST_MOUNT"

// SmallDisk mounts a tmpfs of sizeMB megabytes on a fresh directory, owned
// by uid and gid (-1: root's; see RatingsOnSmallDisk), and unmounts it when the test ends: a disk
// the test can fill. It needs root; elsewhere it skips, unless MountEnv is
// set.
func SmallDisk(tb testing.TB, sizeMB, uid, gid int) string {
	tb.Helper()
	// Not under t.TempDir(), whose parent only its owner may enter: a
	// PostgreSQL server running as another user must reach it.
	dir, err := os.MkdirTemp("", "movierec-disk-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.Remove(dir) })
	opts := "size=" + strconv.Itoa(sizeMB) + "m,mode=0755"
	if uid >= 0 {
		opts += ",uid=" + strconv.Itoa(uid) + ",gid=" + strconv.Itoa(gid)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv(MountEnv) != "" {
			tb.Fatalf("mount a %d MB tmpfs: %v: %s", sizeMB, err, out)
		}
		tb.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// RatingsOnSmallDisk mounts a SmallDisk of sizeMB megabytes that the
// cluster's server may write and moves s's ratings table (s is a store on
// the cluster) into a tablespace on it: the table a full data volume
// refuses rows for first. It returns the disk's directory, for FillDisk.
func (c *Cluster) RatingsOnSmallDisk(s *sqlstore.Store, sizeMB int) string {
	c.tb.Helper()
	uid, gid := os.Getuid(), os.Getgid()
	if c.asUser != "" {
		u, err := user.Lookup(c.asUser)
		if err != nil {
			c.tb.Fatal(err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	dir := SmallDisk(c.tb, sizeMB, uid, gid)
	ctx := context.Background()
	for _, q := range []string{`CREATE TABLESPACE small_disk LOCATION '` + dir + `'`,
		`ALTER TABLE ratings SET TABLESPACE small_disk`} {
		if _, err := s.Conn().Exec(ctx, q); err != nil {
			c.tb.Fatalf("%s: %v", q, err)
		}
	}
	return dir
}

// FillDisk writes a file into dir until the file system has no more than
// leave bytes free, and returns a function that removes it again.
func FillDisk(tb testing.TB, dir string, leave int64) (free func()) {
	tb.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		tb.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "filler-")
	if err != nil {
		tb.Fatal(err)
	}
	path := f.Name()
	fill := int64(st.Bavail)*st.Bsize - leave
	block := make([]byte, 64<<10)
	for fill > 0 {
		n, err := f.Write(block[:min(int64(len(block)), fill)])
		fill -= int64(n)
		if errors.Is(err, syscall.ENOSPC) {
			break
		} else if err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		tb.Fatal(err)
	}
	return func() {
		if err := os.Remove(path); err != nil {
			tb.Fatal(err)
		}
	}
}
