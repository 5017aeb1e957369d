package netlinkdiag

// SetBufferSize gives c a receive buffer of n bytes, for benchmarks that
// compare sizes.
func SetBufferSize(c *Conn, n int) {
	c.buf = make([]byte, n)
}
