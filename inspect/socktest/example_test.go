package socktest_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/socktest"
)

// printer stands in for the *testing.T of a test in these examples: it
// prints the failures it is given, with the ports the kernel picked
// replaced by names.
type printer struct {
	testing.TB
	ports *strings.Replacer
}

func (p printer) Helper() {}

func (p printer) Errorf(format string, args ...any) {
	fmt.Println(p.ports.Replace(fmt.Sprintf(format, args...)))
}

func (p printer) Fatalf(format string, args ...any) { p.Errorf(format, args...) }

// A server forgets to close a connection the client has closed: the
// kernel keeps the server's end in CLOSE_WAIT, and VerifyNone names it.
// Once the server closes it, VerifyNone passes.
func ExampleVerifyNone() {
	// In a test: defer socktest.VerifyNone(t, socktest.IgnoreCurrent())
	ignore := socktest.IgnoreCurrent()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	server, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	ln.Close()
	client.Close()

	t := printer{ports: strings.NewReplacer(
		server.LocalAddr().String(), "127.0.0.1:SERVER",
		server.RemoteAddr().String(), "127.0.0.1:CLIENT")}
	// The server's end is in CLOSE_WAIT once the client's FIN arrives.
	socktest.WaitForState(t, fmt.Sprintf("src %s and dst %s", server.LocalAddr(), server.RemoteAddr()), inspect.CloseWait, time.Second)
	// WaitForState saw it there, so checking once says what a second of
	// checks, the default, would.
	socktest.VerifyNone(t, ignore, socktest.Timeout(0))

	server.Close()
	socktest.VerifyNone(t, ignore)
	// Output:
	// socktest: 1 TCP socket left open:
	//	tcp CLOSE_WAIT 127.0.0.1:SERVER -> 127.0.0.1:CLIENT (for 0s)
}

// The server half-closes a connection: it sends its FIN and can still
// read. Its end moves to FIN_WAIT2 and the client's to CLOSE_WAIT.
func ExampleWaitForState() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer server.Close()
	t := printer{ports: strings.NewReplacer()}

	if err := server.(*net.TCPConn).CloseWrite(); err != nil {
		fmt.Println(err)
		return
	}
	s := socktest.WaitForState(t, fmt.Sprintf("src %s and dst %s", client.LocalAddr(), client.RemoteAddr()), inspect.CloseWait, time.Second)
	fmt.Println("client:", s.State, s.Local == client.LocalAddr().(*net.TCPAddr).AddrPort())
	s = socktest.WaitForState(t, fmt.Sprintf("sport = :%d and dst %s", s.Peer.Port(), s.Local), inspect.FinWait2, time.Second)
	fmt.Println("server:", s.State, s.Local == server.LocalAddr().(*net.TCPAddr).AddrPort())

	socktest.WaitForState(t, "sport = :nosuchservice", inspect.Established, time.Second)
	// Output:
	// client: CLOSE_WAIT true
	// server: FIN_WAIT2 true
	// socktest: WaitForState "sport = :nosuchservice": filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 10
}
