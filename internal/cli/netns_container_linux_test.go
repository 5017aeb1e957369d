package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect/cgroups"
	"github.com/sockstate/sockstate/internal/testnet"
)

// containerNetnsPort is the port each namespace of
// TestLsAllNetnsContainerNames listens on.
const containerNetnsPort = 7017

// TestLsAllNetnsContainerNames makes two unnamed namespaces whose holding
// processes sit in a docker-shaped and a pod-shaped cgroup made under the
// cgroup2 mount, and a third held by a process in no container: ls
// --all-netns names the first two after their container (docker:ID12,
// pod:UID) in the Netns column and in JSON "netns":{"container"}, and the
// third by its inode.
func TestLsAllNetnsContainerNames(t *testing.T) {
	paths, err := cgroups.NewPaths()
	if err != nil {
		t.Fatal(err)
	}
	const (
		dockerID = "7c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"
		podID    = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
		uid      = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
	)
	top := fmt.Sprintf("sockstate-test-%d", os.Getpid())
	docker := testCgroup(t, paths, top+"-nd.slice/docker-"+dockerID+".scope")
	pod := testCgroup(t, paths, top+"-nk.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"+strings.ReplaceAll(uid, "-", "_")+".slice/cri-containerd-"+podID+".scope")
	want := map[string]jsonNetNS{}
	for _, c := range []struct{ cgroup, label string }{{docker, "docker:" + dockerID[:12]}, {pod, "pod:" + uid}, {"", ""}} {
		ns := testnet.NewUnnamed(t)
		if c.cgroup != "" {
			procs := filepath.Join(paths.Mount, c.cgroup, "cgroup.procs")
			if err := os.WriteFile(procs, []byte(strconv.Itoa(ns.PID())), 0); err != nil {
				t.Fatal(err)
			}
		}
		ns.Listen(t, "tcp", fmt.Sprintf("127.0.0.1:%d", containerNetnsPort))
		ino := nsInode(t, ns)
		label := c.label
		if label == "" {
			label = fmt.Sprintf("net:[%d]", ino)
		}
		want[label] = jsonNetNS{Inode: ino, Container: c.label}
	}
	filter := fmt.Sprintf("sport = :%d", containerNetnsPort)

	stdout, stderr, code := runHost(t, "ls", "-tlnH", "--all-netns", filter)
	if code != 0 {
		t.Fatalf("ls --all-netns: exit %d, stderr %q", code, stderr)
	}
	var labels []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		label, _, _ := strings.Cut(line, " ")
		labels = append(labels, label)
	}
	slices.Sort(labels)
	var wantLabels []string
	for l := range want {
		wantLabels = append(wantLabels, l)
	}
	slices.Sort(wantLabels)
	if diff := cmp.Diff(wantLabels, labels); diff != "" {
		t.Errorf("Netns column (-want +got):\n%s", diff)
	}

	stdout, stderr, code = runHost(t, "ls", "-tlnj", "--all-netns", filter)
	if code != 0 {
		t.Fatalf("ls --all-netns -j: exit %d, stderr %q", code, stderr)
	}
	var socks []struct {
		NetNS jsonNetNS `json:"netns"`
	}
	if err := json.Unmarshal([]byte(stdout), &socks); err != nil {
		t.Fatal(err)
	}
	got := map[string]jsonNetNS{}
	for _, s := range socks {
		label := s.NetNS.Container
		if label == "" {
			label = fmt.Sprintf("net:[%d]", s.NetNS.Inode)
		}
		got[label] = s.NetNS
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON netns (-want +got):\n%s", diff)
	}
}
