// Package netlinkdiag speaks the sock_diag protocol for inet and unix
// sockets: it encodes SOCK_DIAG_BY_FAMILY and SOCK_DESTROY requests (struct
// inet_diag_req_v2, struct unix_diag_req) for a NETLINK_SOCK_DIAG socket and
// decodes the replies (struct inet_diag_msg and its attributes: tcp_info,
// the SK_MEMINFO array, tcp_bbr_info; struct unix_diag_msg and its
// UNIX_DIAG_* attributes) into its own records.
//
// It knows kernel formats only and imports no other package of sockstate.
// The formats come from:
//
//   - sock_diag(7), the manual page of the protocol;
//   - include/uapi/linux/sock_diag.h (SOCK_DIAG_BY_FAMILY, SOCK_DESTROY,
//     SK_MEMINFO_*);
//   - include/uapi/linux/inet_diag.h (inet_diag_req_v2, inet_diag_sockid,
//     inet_diag_msg, the INET_DIAG_* attributes, the bytecode operations,
//     tcp_bbr_info);
//   - include/uapi/linux/unix_diag.h (unix_diag_req, unix_diag_msg, the
//     UDIAG_SHOW_* bits and the UNIX_DIAG_* attributes);
//   - include/uapi/linux/tcp.h (struct tcp_info and its TCPI_OPT_* bits, as
//     of Linux 6.18; older kernels send a prefix of it);
//   - include/uapi/linux/netlink.h (nlmsghdr, nlmsgerr, NLMSG_DONE,
//     NLM_F_DUMP_INTR) and netlink(7).
//
// Byte order: in inet_diag_sockid the ports and addresses are in network byte
// order (big endian); every other field of every structure, the netlink
// headers and the attribute headers included, is in the host's native order.
//
// Dump reads the reply of a dump into one buffer that a Conn reuses and
// decodes each message in place into one reused Msg, so listing sockets costs
// no allocation per socket.
package netlinkdiag
