package socktest_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/socktest"
)

// listeningPrefix starts the line in which a helper says where it listens.
const listeningPrefix = "helper listening on "

// TestVerifyTestMain re-executes the test binary to run this test alone in
// a helper mode, under the package's TestMain, which is VerifyTestMain:
// a passing test that leaks a listener must make the binary exit 1 and name
// the listener on standard error; one that closes it, exit 0 and say
// nothing; a failing test, exit 1 without a leak report.
func TestVerifyTestMain(t *testing.T) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
	case "leak", "clean", "fail":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(listeningPrefix + ln.Addr().String())
		if mode == "clean" {
			ln.Close()
		}
		if mode == "fail" {
			t.Error("failing on purpose")
		}
		return
	default:
		t.Fatalf("unknown helper mode %s=%q", helperEnv, mode)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode     string
		exitCode int
		// stderr is what VerifyTestMain must print, given the listener's
		// address.
		stderr func(addr string) string
	}{
		{mode: "leak", exitCode: 1, stderr: func(addr string) string {
			return fmt.Sprintf("socktest: 1 TCP socket left open:\n\ttcp LISTEN %s -> 0.0.0.0:* (for T)\n", addr)
		}},
		{mode: "clean", exitCode: 0, stderr: func(string) string { return "" }},
		{mode: "fail", exitCode: 1, stderr: func(string) string { return "" }},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestVerifyTestMain$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.mode)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}

			var addr string
			for l := range strings.Lines(stdout.String()) {
				if a, ok := strings.CutPrefix(l, listeningPrefix); ok {
					addr = strings.TrimSpace(a)
				}
			}
			if addr == "" {
				t.Fatalf("helper said nothing of its listener; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			if code != tc.exitCode {
				t.Errorf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.exitCode, stdout.String(), stderr.String())
			}
			got, times := splitTimes(t, stderr.String())
			checkTimes(t, stderr.String(), times, socktest.DefaultTimeout)
			if diff := cmp.Diff(tc.stderr(addr), got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}
