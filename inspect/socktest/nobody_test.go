package socktest_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// nobody is the user and group the package's tests are run as by
// TestAsNobody: the overflow ids, which own nothing.
const nobody = "65534"

// TestAsNobody runs the package's tests as user nobody, without root and
// without capabilities, and requires them to pass: socktest is for
// ordinary tests run by ordinary users. As root it re-runs the test binary
// under setpriv (util-linux); as anyone else, it is that re-run.
func TestAsNobody(t *testing.T) {
	// As anyone but root, the other tests show what socktest does
	// without root.
	testnet.Need(t, "root")
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
	bin := testnet.CopyForAll(t)
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
