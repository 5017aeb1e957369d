package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLsResolveJSON: with -r, JSON keeps each endpoint's address and port
// and adds the names ss -r prints beside them ("host", "service"): the
// rows rebuilt from those names equal ss -tuarH's. Without -r, neither
// key appears. The listener on port 22 is named ssh in each of its
// three endpoints, and 127.0.0.1 localhost (/etc/hosts).
func TestLsResolveJSON(t *testing.T) {
	ns := resolveNS(t)
	type endpoint struct {
		Addr    string  `json:"addr"`
		Host    *string `json:"host"`
		Port    uint16  `json:"port"`
		Service *string `json:"service"`
	}
	type socket struct {
		Netid, State string
		RecvQ        uint32 `json:"recv_q"`
		SendQ        uint32 `json:"send_q"`
		Local, Peer  endpoint
	}
	decode := func(args ...string) []socket {
		var socks []socket
		if err := json.Unmarshal([]byte(mustRun(t, ns, args...)), &socks); err != nil {
			t.Fatal(err)
		}
		return socks
	}
	text := func(e endpoint) string {
		s := e.Addr
		if e.Host != nil {
			s = *e.Host
		}
		switch {
		case e.Port == 0:
			return s + ":*"
		case e.Service != nil:
			return s + ":" + *e.Service
		}
		return fmt.Sprintf("%s:%d", s, e.Port)
	}
	// -m takes the socket through encoding/json, the rest by hand.
	for _, flags := range []string{"-tuarj", "-tuarjm"} {
		socks := decode("ls", flags)
		var rows []string
		named := 0
		for _, s := range socks {
			rows = append(rows, fmt.Sprintf("%s %s %d %d %s %s", s.Netid, s.State, s.RecvQ, s.SendQ, text(s.Local), text(s.Peer)))
			for _, e := range []endpoint{s.Local, s.Peer} {
				if e.Port == 22 && e.Addr == "127.0.0.1" && e.Service != nil && *e.Service == "ssh" && e.Host != nil && *e.Host == "localhost" {
					named++
				}
			}
		}
		if diff := cmp.Diff(normalRows(ns.Run(t, "ss", "-tuarH")), normalRows(strings.Join(rows, "\n"))); diff != "" {
			t.Errorf("rows from ls %s's names (-ss +ls):\n%s", flags, diff)
		}
		if named != 3 {
			t.Errorf("ls %s: %d endpoints are 127.0.0.1 port 22 named localhost and ssh, want 3 (listener, both ends): %+v", flags, named, socks)
		}
	}
	for _, s := range append(decode("ls", "-tuaj"), decode("ls", "-tuajm")...) {
		for _, e := range []endpoint{s.Local, s.Peer} {
			if e.Host != nil || e.Service != nil {
				t.Errorf("ls -tuaj names %+v without -r", e)
			}
		}
	}
}
