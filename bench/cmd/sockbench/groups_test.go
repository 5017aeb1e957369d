package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectGroups(t *testing.T) {
	tests := []struct {
		name string
		only string
		want []string
	}{
		{"all", "", []string{
			"tan: sockstate ls -tan, ss -tan, netstat -tan",
			"json: sockstate ls -tan -j, ss -tan",
			"info: sockstate ls -tani, ss -tani",
			"procs: sockstate ls -tanp, ss -tanp",
			"filter: sockstate ls -tan 'sport = :5000', ss -tan 'sport = :5000'",
			"cgroup: sockstate ls -tan --cgroup, sockstate ls -tan, ss -tan --cgroup",
			`gopsutil: gopsutil net.Connections("tcp"), ss -tanp`,
		}},
		{"without sockstate", "ss,netstat,gopsutil", []string{
			"tan: ss -tan, netstat -tan",
			"info: ss -tani",
			"procs: ss -tanp",
			"filter: ss -tan 'sport = :5000'",
			"cgroup: ss -tan --cgroup",
			`gopsutil: gopsutil net.Connections("tcp"), ss -tanp`,
		}},
		{"ss alone", "ss", []string{
			"tan: ss -tan",
			"info: ss -tani",
			"procs: ss -tanp",
			"filter: ss -tan 'sport = :5000'",
			"cgroup: ss -tan --cgroup",
		}},
		{"gopsutil alone", "gopsutil", []string{`gopsutil: gopsutil net.Connections("tcp")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			only, err := parseOnly(tt.only)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range selectGroups(groupSpecs(), only) {
				var cmds []string
				for _, c := range g.Commands {
					cmds = append(cmds, c.String())
				}
				got = append(got, g.Name+": "+strings.Join(cmds, ", "))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseOnly(t *testing.T) {
	got, err := parseOnly(" gopsutil,ss ")
	if want := []string{"ss", "gopsutil"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("parseOnly = %q, %v; want %q in allTools order", got, err, want)
	}
	if _, err := parseOnly("ss,lsof"); err == nil || !strings.Contains(err.Error(), `"lsof"`) {
		t.Errorf("parseOnly(ss,lsof) err = %v, want one naming lsof", err)
	}
}

func TestNetnsGroups(t *testing.T) {
	only, err := parseOnly("sockstate,ss")
	if err != nil {
		t.Fatal(err)
	}
	g := netnsGroups(only)
	if len(g) != 1 || len(g[0].Commands) != 2 {
		t.Fatalf("netnsGroups = %+v, want one group of two commands", g)
	}
	got := []string{g[0].Commands[0].String(), g[0].Commands[1].String()}
	want := []string{"sockstate ls -tan --all-netns", `sh -c 'for ns in $(ls /run/netns); do ip netns exec "$ns" ss -tan; done'`}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
