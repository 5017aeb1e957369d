// Package ssfilter is ss's filter language: the state selection ("state
// established", "exclude time-wait", the groups), and expressions over
// ports and addresses ("sport = :22 and not dst 10.0.0.0/8"), parsed
// into a Filter that matches sockets here and compiles to the bytecode
// the kernel runs in a sock_diag dump.
//
// Its sources are ss(8) and iproute2's misc/ss.c (ssfilter.y, the state
// groups) for the language, and include/uapi/linux/inet_diag.h and
// net/ipv4/inet_diag.c (inet_diag_bc_run) for the bytecode.
package ssfilter
