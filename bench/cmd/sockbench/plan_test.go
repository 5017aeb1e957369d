package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestNewPlan(t *testing.T) {
	tests := []struct {
		name         string
		n            int
		twFrac       float64
		ports, fds   int
		wantHelpers  int
		wantTimeWait int
	}{
		{"ci", 1000, 0.2, 8, 20000, 2, 201},
		{"10k", 10000, 0.2, 8, 20000, 2, 2001},
		{"100k", 100000, 0.2, 8, 20000, 5, 20001},
		{"100k no TIME_WAIT", 100000, 0, 8, 20000, 6, 1},
		{"small fd budget", 10000, 0.5, 1, 1000, 6, 5001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newPlan(tt.n, tt.twFrac, tt.ports, tt.fds)
			if err != nil {
				t.Fatal(err)
			}
			if p.sockets() != tt.n || len(p.Pairs) != tt.wantHelpers || p.TimeWait != tt.wantTimeWait {
				t.Errorf("plan %+v: %d sockets, %d helpers, %d TIME_WAIT; want %d, %d, %d",
					p, p.sockets(), len(p.Pairs), p.TimeWait, tt.n, tt.wantHelpers, tt.wantTimeWait)
			}
			for k, pairs := range p.Pairs {
				if fds := 2*pairs + p.Ports + fdReserve; fds > tt.fds {
					t.Errorf("helper %d needs %d descriptors, more than %d", k, fds, tt.fds)
				}
			}
		})
	}
}

func TestNewPlanErrors(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		twFrac    float64
		ports     int
		fds       int
		wantInErr string
	}{
		{"no room for connections", 1000, 0.2, 8, 70, "no room"},
		{"too few sockets", 10, 0, 8, 20000, "fewer than one connection"},
		{"too many helpers", 1_000_000, 0, 8, 2000, "helpers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newPlan(tt.n, tt.twFrac, tt.ports, tt.fds)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("err = %v, want one saying %q", err, tt.wantInErr)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		name string
		got  netip.AddrPort
		want string
	}{
		{"first listener", helperListenAddr(0, 0), "127.0.1.1:5000"},
		{"last listener", helperListenAddr(maxHelpers-1, 63), "127.0.1.250:5063"},
		{"first client", helperClientAddr(0, 0), "127.0.2.1:10000"},
		{"time-wait listener", twListenAddr, "127.0.3.1:4000"},
		{"first time-wait client", twClientAddr(0), "127.0.4.1:10000"},
		{"second time-wait source", twClientAddr(clientPorts), "127.0.4.2:10000"},
		{"last time-wait client", twClientAddr(twTuples - 1), "127.0.4.8:59999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.String() != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
			if !inPlan(tt.got.Addr()) {
				t.Errorf("%s is not in the plan", tt.got)
			}
		})
	}
	for _, a := range []string{"127.0.0.1", "127.0.5.1", "10.0.1.1", "::1"} {
		if inPlan(netip.MustParseAddr(a)) {
			t.Errorf("%s is in the plan", a)
		}
	}
}

func TestNewUnixPlan(t *testing.T) {
	for _, tt := range []struct {
		n, fds int
		want   []int
	}{
		{0, 20000, nil},
		{100_000, 20000, []int{8334, 8334, 8333, 8333, 8333, 8333}},
		{40, 20000, []int{5, 5, 5, 5}},
		{10, 20000, []int{2, 1, 1, 1}},
	} {
		got, err := newUnixPlan(tt.n, tt.fds)
		if err != nil {
			t.Fatalf("newUnixPlan(%d, %d): %v", tt.n, tt.fds, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("newUnixPlan(%d, %d) = %v, want %v", tt.n, tt.fds, got, tt.want)
		}
		p := plan{UnixPairs: got}
		if p.unixSockets() != tt.n {
			t.Errorf("plan of %d unix sockets holds %d", tt.n, p.unixSockets())
		}
	}
	for _, n := range []int{3, 6} {
		if _, err := newUnixPlan(n, 20000); err == nil {
			t.Errorf("newUnixPlan(%d) made a plan", n)
		}
	}
}
