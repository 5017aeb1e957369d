// Package socktest checks, from a Go test, what the kernel thinks of the
// test's TCP sockets: that the test leaves none open (VerifyNone,
// VerifyTestMain), and that a connection reaches a state (WaitForState).
//
// A server that forgets to close a connection leaves it in CLOSE_WAIT for as
// long as the process lives; a listener left open holds its port. goleak
// finds goroutines a test leaves behind; socktest finds sockets:
//
//	func TestServer(t *testing.T) {
//		defer socktest.VerifyNone(t, socktest.IgnoreCurrent())
//		...
//	}
//
// A socket belongs to the test process when the process holds a descriptor
// of it: /proc/self/fd has a symbolic link per descriptor, and a socket's
// reads "socket:[INODE]" (proc(5)). The kernel lists the namespace's TCP
// sockets with their inodes through sock_diag (sock_diag(7)), which needs
// no privilege for the caller's own namespace, or, where sock_diag is
// unavailable, in /proc/net/tcp and /proc/net/tcp6. States are the
// kernel's, from include/net/tcp_states.h.
//
// Only sockets in the network namespace of the calling thread are seen, and
// VerifyNone checks the whole process, so tests that run in parallel see
// each other's sockets.
package socktest
