package testnet

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// CopyForAll copies the running test binary into a new directory that
// every user may enter and read, and returns the copy's path; both go when
// the test ends. Go builds test binaries in a directory only its owner may
// enter, and the kernel lets a process read its own /proc/self/fd only if
// it may read its executable, so a test that re-runs itself as another
// user runs the copy.
func CopyForAll(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sockstate-forall-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			t.Fatalf("%s is %v: other users cannot reach %s; set TMPDIR to a directory everyone may enter", d, fi.Mode().Perm(), dir)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, filepath.Base(exe))
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	// Whatever the umask took away.
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}
