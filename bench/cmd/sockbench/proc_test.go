package main

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseSockstat(t *testing.T) {
	f, err := os.Open("testdata/sockstat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseSockstat(f)
	if want := (sockstat{InUse: 4, TimeWait: 0}); err != nil || got != want {
		t.Errorf("parseSockstat = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseSockstatErrors(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"no TCP line", "sockets: used 3\nUDP: inuse 0 mem 0\n"},
		{"no tw", "TCP: inuse 4 orphan 0 alloc 4 mem 0\n"},
		{"not a number", "TCP: inuse four orphan 0 tw 0 alloc 4 mem 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseSockstat(strings.NewReader(tt.in)); !errors.Is(err, errMalformed) {
				t.Errorf("err = %v, want errMalformed", err)
			}
		})
	}
}

// testdata/proc_net_tcp holds a listener on 127.0.0.1:7000, outside the plan,
// and a helper's listener and both ends of one of its connections, inside it.
func TestCountPlanSockets(t *testing.T) {
	f, err := os.Open("testdata/proc_net_tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := countPlanSockets(f); err != nil || n != 3 {
		t.Errorf("countPlanSockets = %d, %v; want 3", n, err)
	}
}

func TestCountPlanSocketsErrors(t *testing.T) {
	header := "  sl  local_address rem_address   st\n"
	tests := []struct {
		name, in string
	}{
		{"short line", header + "   0: 0100007F:1B58\n"},
		{"bad hex", header + "   0: 01000G7F:1B58 00000000:0000 0A\n"},
		{"IPv6 width", header + "   0: 00000000000000000000000001000000:1B58 00000000:0000 0A\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := countPlanSockets(strings.NewReader(tt.in)); !errors.Is(err, errMalformed) {
				t.Errorf("err = %v, want errMalformed", err)
			}
		})
	}
}

func TestParseKiB(t *testing.T) {
	status := "Name:\tss\nVmPeak:\t   12000 kB\nVmHWM:\t    3456 kB\n"
	if v, err := parseKiB(strings.NewReader(status), "VmHWM"); err != nil || v != 3456 {
		t.Errorf("parseKiB(VmHWM) = %d, %v; want 3456", v, err)
	}
	if _, err := parseKiB(strings.NewReader(status), "VmRSS"); !errors.Is(err, errMalformed) {
		t.Errorf("parseKiB(VmRSS) err = %v, want errMalformed", err)
	}
	if _, err := parseKiB(strings.NewReader("VmHWM:\tlots kB\n"), "VmHWM"); !errors.Is(err, errMalformed) {
		t.Errorf("parseKiB(lots) err = %v, want errMalformed", err)
	}
}
