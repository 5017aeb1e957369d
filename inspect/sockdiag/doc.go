// Package sockdiag lists sockets with sock_diag (NETLINK_SOCK_DIAG) into
// sockstate's model: a Source that streams (Each) and polls over one
// connection (NewPoll), the extensions (tcp_info, skmeminfo, the
// congestion control's record), Lookup of one socket, Destroy
// (SOCK_DESTROY), the kernel's reports of destroyed sockets
// (SubscribeDestroyed), and AutoSource, which falls back to /proc where
// sock_diag is unavailable.
//
// Its sources are sock_diag(7) and include/uapi/linux/inet_diag.h, and
// include/uapi/linux/tcp.h for struct tcp_info.
package sockdiag
