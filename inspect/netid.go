package inspect

// Netid returns ss's netid of s: its unix type's (u_str, u_dgr, u_seq)
// for a unix socket, its protocol's (tcp, udp, raw, mptcp) for others.
func (s *Socket) Netid() string {
	if s.Unix != nil {
		return s.Unix.Type.String()
	}
	return s.Protocol.String()
}
