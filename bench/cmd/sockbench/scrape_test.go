//go:build linux

package main

import (
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The lines of each exporter that the comparison reads, and some it must
// not: node_exporter 1.5 puts the queues' bytes among its states.
const (
	sockstateBody = `# TYPE sockstate_sockets gauge
sockstate_sockets{family="inet",protocol="tcp",state="ESTABLISHED"} 80000
sockstate_sockets{family="inet",protocol="tcp",state="LISTEN"} 17
sockstate_sockets{family="inet",protocol="tcp",state="SYN_SENT"} 0
sockstate_sockets{family="inet",protocol="udp",state="ESTABLISHED"} 5
sockstate_sockets{family="inet6",protocol="tcp",state="ESTABLISHED"} 2
sockstate_sockets{family="inet6",protocol="tcp",state="TIME_WAIT"} 3e+04
sockstate_port_sockets{port="5000",state="ESTABLISHED"} 9
`
	nodeBody = `# TYPE node_tcp_connection_states gauge
node_tcp_connection_states{state="established"} 80002
node_tcp_connection_states{state="listen"} 17
node_tcp_connection_states{state="rx_queued_bytes"} 0
node_tcp_connection_states{state="syn_sent"} 0
node_tcp_connection_states{state="time_wait"} 30000
node_tcp_connection_states{state="tx_queued_bytes"} 77926
`
)

func TestExporterStates(t *testing.T) {
	want := map[string]int64{"ESTABLISHED": 80002, "LISTEN": 17, "TIME_WAIT": 30000}
	if diff := cmp.Diff(want, sockstateStates(sockstateBody)); diff != "" {
		t.Errorf("sockstate (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(want, nodeStates(nodeBody)); diff != "" {
		t.Errorf("node_exporter (-want +got)\n%s", diff)
	}
}

func TestParseOptionsScrapes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-scrapes", "5", "-soak", "1m"}, true},
		{[]string{"-scrapes", "5"}, true},
		{[]string{"-soak", "1m"}, false},
		{[]string{"-scrapes", "-1"}, false},
	} {
		o, err := parseOptions(tt.args, io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("%q: %+v, %v", tt.args, o, err)
		}
	}
}
