package netlinkdiag

// SetBufferSize gives c a receive buffer of n bytes, for benchmarks that
// compare sizes.
func SetBufferSize(c *Conn, n int) {
	c.buf = make([]byte, n)
}

// DialEventsBuffer is DialEvents with a receive buffer of n bytes, for
// tests that overflow it.
func DialEventsBuffer(cfg *Config, n int, groups ...Group) (*EventConn, error) {
	return dialEvents(cfg, n, groups)
}
