// Package monoclock relates the kernel's CLOCK_MONOTONIC, which eBPF
// programs read (bpf_ktime_get_ns), to CLOCK_REALTIME, which socket
// timestamps carry (SO_TIMESTAMPNS, socket(7)): clock_gettime(2).
package monoclock
