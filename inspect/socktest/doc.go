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
// reads "socket:[INODE]" (proc(5)). The descriptor also gives the socket's
// addresses (getsockname(2), getpeername(2)), with which sock_diag
// (sock_diag(7)) finds each listener and connection in the kernel's hash
// tables, without walking the sockets of other processes; a socket still
// connecting, or only bound, is found in a dump of its local port. Where
// sock_diag is unavailable, /proc/net/tcp and /proc/net/tcp6 are read
// instead. None of this needs privilege. States are the kernel's, from
// include/net/tcp_states.h.
//
// Only sockets in the network namespace of the calling thread are seen, and
// VerifyNone checks the whole process, so tests that run in parallel see
// each other's sockets.
package socktest
