package socktest_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nobody is the user and group the package's tests are run as by
// TestAsNobody: the overflow ids, which own nothing.
const nobody = "65534"

// TestAsNobody runs the package's tests as user nobody, without root and
// without capabilities, and requires them to pass: socktest is for
// ordinary tests run by ordinary users. As root it re-runs the test binary
// under setpriv (util-linux); as anyone else, it is that re-run.
func TestAsNobody(t *testing.T) {
	if uid := os.Geteuid(); uid != 0 {
		t.Skipf("running as uid %d: the other tests show what socktest does without root", uid)
	}
	setpriv, err := exec.LookPath("setpriv")
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("setpriv (util-linux) is not installed, so the tests cannot be re-run as nobody")
	}
	if err != nil {
		t.Fatal(err)
	}

	// The kernel lets a process read its own /proc/self/fd only if it may
	// read its executable (else exec makes it undumpable, and /proc/self
	// root's), so nobody must be able to read the binary and to reach it.
	bin := copyForAll(t)
	cmd := exec.Command(setpriv, "--reuid="+nobody, "--regid="+nobody, "--clear-groups",
		bin, "-test.count=1", "-test.v")
	cmd.Dir = filepath.Dir(bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests as nobody: %v\n%s", err, out)
	}
	// The re-run's own TestAsNobody says whom it ran as.
	if want := "running as uid " + nobody; !strings.Contains(string(out), want) {
		t.Errorf("tests as nobody: output lacks %q:\n%s", want, out)
	}
	for _, name := range []string{"TestVerifyNoneLeakyServer", "TestVerifyNoneStates", "TestWaitForStateHalfClose", "TestVerifyTestMain"} {
		if want := "--- PASS: " + name + " "; !strings.Contains(string(out), want) {
			t.Errorf("tests as nobody: output lacks %q:\n%s", want, out)
		}
	}
}

// copyForAll copies the test binary into a new directory that every user
// may enter, and returns the copy's path; both go when the test ends.
func copyForAll(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "socktest-nobody-")
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
			t.Fatalf("%s is %v: nobody cannot reach %s; set TMPDIR to a directory everyone may enter", d, fi.Mode().Perm(), dir)
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
