package socktest_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// echoServer is the server of the leak the package exists to catch: it
// echoes what each connection sends, and when the client hangs up it closes
// its end, unless it is the leaky version, which forgets to. The kernel then
// keeps the server's end in CLOSE_WAIT for as long as the process lives.
type echoServer struct {
	ln    net.Listener
	leaky bool
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn // every accepted connection, so the test can clean up the leaks
}

// startEcho starts a server on 127.0.0.1, stopped when the test ends, and
// the leaked connections closed then.
func startEcho(t *testing.T, leaky bool) *echoServer {
	t.Helper()
	s := &echoServer{ln: listen(t, "127.0.0.1"), leaky: leaky}
	s.wg.Go(s.serve)
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *echoServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Go(func() {
			io.Copy(c, c)
			if !s.leaky {
				c.Close()
			}
		})
	}
}

// Close stops accepting and waits for every connection's goroutine to end.
func (s *echoServer) Close() {
	s.ln.Close()
	s.wg.Wait()
}

// echo connects to s, has one message echoed, and hangs up.
func echo(t *testing.T, s *echoServer) (client, server string) {
	t.Helper()
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: read %q, %v; want \"ping\"", buf, err)
	}
	return c.LocalAddr().String(), c.RemoteAddr().String()
}
