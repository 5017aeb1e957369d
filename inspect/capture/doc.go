// Package capture reads a TCP port's packets off an interface with an
// AF_PACKET socket (packet(7)) and a classic BPF filter the kernel runs on
// each frame (SO_ATTACH_FILTER, Documentation/networking/filter.rst), and
// decodes them with gopacket's layers. It needs CAP_NET_RAW; it uses
// neither cgo nor libpcap.
//
// # Clocks
//
// The kernel stamps each frame with CLOCK_REALTIME (SO_TIMESTAMPNS,
// socket(7)); the tracepoint source stamps state changes with
// bpf_ktime_get_ns, CLOCK_MONOTONIC. Packet carries both: Time as the
// kernel stamped it and Mono converted by the offset between the two
// clocks that Open measures.
package capture
