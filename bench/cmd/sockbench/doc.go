// Command sockbench times sockstate against ss(8), netstat(8) and gopsutil
// on reproducible sets of loopback TCP sockets, and prints a markdown table
// (or JSON with -json).
//
// It runs in three kinds of process. The outer harness builds sockstate and
// the gopsutil peer (bench/gopsutil, a module of its own), then re-executes
// itself with CLONE_NEWNET as the inner harness, so that every socket lives
// in a namespace of its own, network_namespaces(7), that disappears, with its
// TIME_WAIT sockets, when its last process exits. The inner harness starts
// helpers, again itself, each holding up to RLIMIT_NOFILE's worth of
// ESTABLISHED pairs on 127.0.0.0/8 addresses; it makes TIME_WAIT sockets
// itself, since they hold no descriptor. Every child has Pdeathsig, so
// killing the outer harness takes everything down.
//
// Commands are timed interleaved, with stdio on /dev/null. Peak RSS is VmHWM
// from /proc/PID/status (proc(5)) read at a ptrace(2) PTRACE_EVENT_EXIT stop
// in the warm-up runs, not getrusage(2)'s ru_maxrss: exec folds the old
// memory's high-water mark into ru_maxrss, and Go's vfork makes that the
// parent's. Socket counts come from /proc/net/sockstat, as ss -s reads them.
package main
