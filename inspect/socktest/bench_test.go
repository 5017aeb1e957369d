package socktest_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"
	"github.com/sockstate/sockstate/inspect/sockdiag"
	"github.com/sockstate/sockstate/inspect/socktest"
	"github.com/sockstate/sockstate/inspect/ssfilter"
)

// holdPairs is how many connections the benchmark's helper holds open,
// both ends of each: 10,000 sockets of another process.
const holdPairs = 5000

// holdingPrefix starts the line in which the helper says it is ready.
const holdingPrefix = "holding sockets on "

// hold is the benchmark's helper: it opens holdPairs connections to a
// listener of its own on 127.0.0.1, says so on out, and holds them until in
// ends. It returns the exit code.
func hold(in io.Reader, out io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	conns := make([]net.Conn, 0, 2*holdPairs)
	for range holdPairs {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		s, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		conns = append(conns, c, s)
	}
	fmt.Fprintln(out, holdingPrefix+ln.Addr().String())
	io.Copy(io.Discard, in)
	for _, c := range conns {
		c.Close()
	}
	ln.Close()
	return 0
}

// startHolder runs the test binary as hold in a child process, stopped
// when the benchmark ends, and returns the helper's listening port once
// it holds its sockets.
func startHolder(b *testing.B) uint16 {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=hold")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer pr.Close()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		b.Fatal(err)
	}
	pw.Close()
	b.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("helper: %v", err)
		}
	})
	if err := pr.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		b.Fatal(err)
	}
	l, err := bufio.NewReader(pr).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(l), holdingPrefix)
	if err != nil || !ok {
		b.Fatalf("helper said %q, %v; want %q and its address", l, err, holdingPrefix)
	}
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return uint16(ap.Port)
}

// counter is a testing.TB that counts the failures it is given.
type counter struct {
	testing.TB
	errors int
}

func (c *counter) Helper() {}

func (c *counter) Errorf(string, ...any) { c.errors++ }

// BenchmarkVerifyNone checks a process that holds a listener and both ends
// of a connection, in a namespace where another process holds 10,000
// established sockets: "ignored" ignores the three (the usual passing
// test), "reported" reports them (a failing test, checking once), and the
// last two find them as VerifyNone does when it cannot look sockets up.
func BenchmarkVerifyNone(b *testing.B) {
	port := startHolder(b)
	// The 10,000 must be there, or the benchmark measures nothing.
	f, err := ssfilter.Parse([]string{fmt.Sprintf("sport = :%d or dport = :%d", port, port)})
	if err != nil {
		b.Fatal(err)
	}
	held, err := (&sockdiag.Source{}).Sockets(context.Background(), inspect.Query{
		Protocols: []inspect.Protocol{inspect.TCP}, States: inspect.StatesOf(inspect.Established), Filter: f,
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(held) != 2*holdPairs {
		b.Fatalf("helper holds %d established sockets, want %d", len(held), 2*holdPairs)
	}

	ignore := socktest.IgnoreCurrent()
	ln := listen(b, "127.0.0.1")
	connect(b, ln)
	for _, bc := range []struct {
		name string
		opts []socktest.Option
		// errors is how many times VerifyNone fails per call.
		errors int
	}{
		{name: "ignored", opts: []socktest.Option{socktest.IgnoreCurrent()}},
		{name: "reported", opts: []socktest.Option{ignore, socktest.Timeout(0)}, errors: 1},
		// The same through a dump of the ports, which walks every
		// socket in the kernel, and through /proc, which prints them.
		{name: "reported-dump", opts: []socktest.Option{ignore, socktest.Timeout(0), socktest.WithSource(&sockdiag.Source{})}, errors: 1},
		{name: "reported-proc", opts: []socktest.Option{ignore, socktest.Timeout(0), socktest.WithSource(&procsrc.Source{})}, errors: 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &counter{TB: b}
			calls := 0
			b.ReportAllocs()
			for b.Loop() {
				socktest.VerifyNone(c, bc.opts...)
				calls++
			}
			if c.errors != bc.errors*calls {
				b.Errorf("VerifyNone failed %d times in %d calls, want %d", c.errors, calls, bc.errors*calls)
			}
		})
	}
}
