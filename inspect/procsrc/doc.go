// Package procsrc lists sockets from /proc/net/{tcp,tcp6,udp,udp6,unix} into
// sockstate's model, where sock_diag is unavailable, and reads
// /proc/net/sockstat: ss -s's Summary, and the size of a listing to come.
//
// Its sources are proc(5) and iproute2's misc/ss.c (print_summary).
package procsrc
