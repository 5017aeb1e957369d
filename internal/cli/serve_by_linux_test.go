package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// groupSeries gets serve's /metrics at addr and returns the
// sockstate_sockets series whose label (netns, cgroup or container) has
// the value, as "protocol family STATE" -> count.
func groupSeries(t *testing.T, addr, label, value string) map[string]float64 {
	t.Helper()
	_, body := get(t, "GET", "http://"+addr+"/metrics")
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, "sockstate_sockets{")
		if !ok || !strings.Contains(rest, fmt.Sprintf("%s=%q", label, value)) {
			continue
		}
		labels, v, _ := strings.Cut(rest, "} ")
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		kv := map[string]string{}
		for _, l := range strings.Split(labels, ",") {
			k, val, _ := strings.Cut(l, "=")
			kv[k], _ = strconv.Unquote(val)
		}
		out[kv["protocol"]+" "+kv["family"]+" "+kv["state"]] = n
	}
	return out
}

// ssGroup counts ss's lines (-tuanH, run with args) as groupSeries does;
// keep picks the lines.
func ssGroup(lines []string, keep func(fields []string) bool) map[string]float64 {
	out := map[string]float64{}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 5 || !keep(f) {
			continue
		}
		family := "inet"
		if strings.HasPrefix(f[4], "[") {
			family = "inet6"
		}
		state := f[1]
		if s, ok := testnet.SSStates[state]; ok {
			state = s
		}
		out[f[0]+" "+family+" "+state]++
	}
	return out
}

// TestServeAllNetnsByNetns serves every namespace of the host by
// namespace: the series of the test's namespace are exactly ss's counts
// in it.
func TestServeAllNetnsByNetns(t *testing.T) {
	ns, _ := settledNS(t)
	addr := startServe(t, "--all-netns", "--by", "netns", "--max-series", "100000")
	want := ssGroup(strings.Split(strings.TrimSpace(ns.Run(t, "ss", "-tuanH")), "\n"), func([]string) bool { return true })
	if len(want) < 8 {
		t.Fatalf("ss lists too little in %s: %v", ns.Name, want)
	}
	if diff := cmp.Diff(want, groupSeries(t, addr, "netns", ns.Name)); diff != "" {
		t.Errorf("netns %s (-ss +serve)\n%s", ns.Name, diff)
	}
}

// TestServeByCgroup moves children into two cgroups of the test's, one
// laid out as a docker container's, each connecting to a listener of the
// test: by cgroup, each cgroup's series are ss --cgroup's counts of its
// sockets; by container, the docker one is named as ls -C names it.
//
// It runs in the host's namespace, as ip netns exec mounts a /sys of its
// own, without the cgroup2 mount.
func TestServeByCgroup(t *testing.T) {
	paths, port := cgroupTest(t)
	const dockerID = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
	top := fmt.Sprintf("sockstate-test-%d-serve", os.Getpid())
	plain := testCgroup(t, paths, top+".slice")
	docker := testCgroup(t, paths, top+"-d.slice/docker-"+dockerID+".scope")
	for range 2 {
		connectFrom(t, paths, plain, port)
	}
	connectFrom(t, paths, docker, port)
	ss := strings.Split(strings.TrimSpace(ssOutput(t, "-tuanH", "--cgroup")), "\n")
	in := func(cg string) func([]string) bool {
		return func(f []string) bool { return f[len(f)-1] == "cgroup:"+cg }
	}
	wantPlain, wantDocker := ssGroup(ss, in(plain)), ssGroup(ss, in(docker))
	if diff := cmp.Diff(map[string]float64{"tcp inet ESTABLISHED": 2}, wantPlain); diff != "" {
		t.Fatalf("ss --cgroup in %s (-want +ss)\n%s", plain, diff)
	}

	addr := startServe(t, "--by", "cgroup", "--max-series", "100000")
	if diff := cmp.Diff(wantPlain, groupSeries(t, addr, "cgroup", plain)); diff != "" {
		t.Errorf("cgroup %s (-ss +serve)\n%s", plain, diff)
	}
	if diff := cmp.Diff(wantDocker, groupSeries(t, addr, "cgroup", docker)); diff != "" {
		t.Errorf("cgroup %s (-ss +serve)\n%s", docker, diff)
	}
	addr = startServe(t, "--by", "container", "--max-series", "100000")
	if diff := cmp.Diff(wantDocker, groupSeries(t, addr, "container", "docker:"+dockerID[:12])); diff != "" {
		t.Errorf("container docker:%s (-ss +serve)\n%s", dockerID[:12], diff)
	}
}
