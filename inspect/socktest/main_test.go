package socktest_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect/socktest"
	"github.com/sockstate/sockstate/internal/testnet"
)

// helperEnv, when set, makes the test binary a helper of the test that
// re-executes it: "hold" holds sockets for the benchmark (see hold), the
// others are modes of TestVerifyTestMain.
const helperEnv = "SOCKTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "hold" {
		os.Exit(hold(os.Stdin, os.Stdout))
	}
	socktest.VerifyTestMain(m)
}

// recorder is a testing.TB that records the failures it is given instead
// of failing; its other methods are the real test's.
type recorder struct {
	testing.TB
	errors []string
	fatals []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}

// forPattern matches the time a failure message says it saw a socket for.
var forPattern = regexp.MustCompile(`\(for ([^)]*)\)`)

// splitTimes returns msg with every "(for D)" made "(for T)", and the
// times D. Polling makes them vary, so tests compare the text and bound
// the times apart.
func splitTimes(t *testing.T, msg string) (string, []time.Duration) {
	t.Helper()
	var times []time.Duration
	for _, m := range forPattern.FindAllStringSubmatch(msg, -1) {
		d, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatalf("message %q: time %q: %v", msg, m[1], err)
		}
		times = append(times, d)
	}
	return forPattern.ReplaceAllString(msg, "(for T)"), times
}

// checkTimes requires every time to be at least least, the time the check
// polled for, and less than a second more: the last poll comes late only by
// the scheduler's delay.
func checkTimes(t *testing.T, msg string, times []time.Duration, least time.Duration) {
	t.Helper()
	for _, d := range times {
		if d < least || d >= least+time.Second {
			t.Errorf("message %q: saw a socket for %v, want %v to %v", msg, d, least, least+time.Second)
		}
	}
}

// closeAll closes what a test opened when it ends, whatever happened to it
// before: closing twice is harmless.
func closeAll(t testing.TB, cs ...io.Closer) {
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
}

// listen opens a TCP listener on loopback (127.0.0.1 or ::1), closed when
// the test ends. It skips the test when the loopback address is missing,
// as ::1 is where IPv6 is disabled.
func listen(t testing.TB, loopback string) net.Listener {
	t.Helper()
	if loopback == "::1" {
		testnet.Need(t, "ipv6")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, ln)
	return ln
}

// connect opens a connection to ln and returns the client's end and the
// server's, closed when the test ends.
func connect(t testing.TB, ln net.Listener) (client, server *net.TCPConn) {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, c)
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, s)
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// tuple is the ss filter that matches exactly c's end of its connection.
func tuple(c net.Conn) string {
	return fmt.Sprintf("src %s and dst %s", c.LocalAddr(), c.RemoteAddr())
}
