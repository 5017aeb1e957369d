// Package exporter is sockstate's Prometheus collector: socket counts by
// protocol, family and state (node_exporter's tcpstat, for TCP, UDP and
// unix sockets), the accept queues of listeners and the kernel's listen
// overflow and drop counters (/proc/net/netstat's TcpExt), connections per
// listening port with the age of their oldest CLOSE_WAIT, and ephemeral
// ports in use per destination against net.ipv4.ip_local_port_range.
//
// It counts while the source decodes, a batch at a time (inspect.Each), so
// a scrape of 100,000 sockets holds no list of them; what it keeps between
// scrapes is the first sighting of each CLOSE_WAIT socket on a listening
// port. Concurrent scrapes share the collection in progress.
//
// Names follow Prometheus's naming guide
// (https://prometheus.io/docs/practices/naming/); states are the kernel's
// names from include/net/tcp_states.h, with UNCONN for an unconnected UDP
// or unix socket as ss(8) prints it.
package exporter
