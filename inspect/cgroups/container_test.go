package cgroups

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The ids and UIDs of the fixtures, in the runtimes' formats.
const (
	id  = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
	id2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	uid = "8dbc2f1e-7f7a-4b7e-9a50-2c1d3e4f5a6b"
	// uidSlice is uid as kubelet's systemd driver writes it.
	uidSlice = "8dbc2f1e_7f7a_4b7e_9a50_2c1d3e4f5a6b"
)

// TestRecognize reads real-world cgroup v2 paths, written from the
// runtimes' documented and source-code formats (see Recognize).
func TestRecognize(t *testing.T) {
	tests := []struct {
		name string
		path string
		want Container
		ok   bool
	}{
		{"docker cgroupfs", "/docker/" + id, Container{Runtime: "docker", ID: id}, true},
		{"docker systemd", "/system.slice/docker-" + id + ".scope", Container{Runtime: "docker", ID: id, Unit: "docker-" + id + ".scope"}, true},
		{"docker rootless", "/user.slice/user-1000.slice/user@1000.service/docker-" + id + ".scope",
			Container{Runtime: "docker", ID: id, Unit: "docker-" + id + ".scope"}, true},
		{"containerd ctr cgroupfs", "/default/" + id, Container{Runtime: "containerd", ID: id}, true},
		{"containerd nerdctl systemd", "/system.slice/nerdctl-" + id + ".scope", Container{Runtime: "containerd", ID: id, Unit: "nerdctl-" + id + ".scope"}, true},
		{"k8s containerd systemd burstable", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSlice + ".slice/cri-containerd-" + id + ".scope",
			Container{Runtime: "containerd", ID: id, PodUID: uid, Unit: "cri-containerd-" + id + ".scope"}, true},
		{"k8s containerd systemd guaranteed", "/kubepods.slice/kubepods-pod" + uidSlice + ".slice/cri-containerd-" + id + ".scope",
			Container{Runtime: "containerd", ID: id, PodUID: uid, Unit: "cri-containerd-" + id + ".scope"}, true},
		{"k8s containerd cgroupfs besteffort", "/kubepods/besteffort/pod" + uid + "/" + id, Container{Runtime: "containerd", ID: id, PodUID: uid}, true},
		{"k8s containerd cgroupfs guaranteed", "/kubepods/pod" + uid + "/" + id, Container{Runtime: "containerd", ID: id, PodUID: uid}, true},
		{"k8s cri-o systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSlice + ".slice/crio-" + id + ".scope",
			Container{Runtime: "cri-o", ID: id, PodUID: uid, Unit: "crio-" + id + ".scope"}, true},
		{"k8s cri-o cgroupfs", "/kubepods/burstable/pod" + uid + "/crio-" + id, Container{Runtime: "cri-o", ID: id, PodUID: uid}, true},
		{"k8s cri-o conmon", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSlice + ".slice/crio-conmon-" + id + ".scope",
			Container{Unit: "crio-conmon-" + id + ".scope"}, true},
		{"k8s pod sandbox without a container", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSlice + ".slice", Container{}, false},
		{"podman rootful", "/machine.slice/libpod-" + id + ".scope", Container{Runtime: "podman", ID: id, Unit: "libpod-" + id + ".scope"}, true},
		{"podman payload", "/machine.slice/libpod-" + id + ".scope/container", Container{Runtime: "podman", ID: id, Unit: "libpod-" + id + ".scope"}, true},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope",
			Container{Runtime: "podman", ID: id, Unit: "libpod-" + id + ".scope"}, true},
		{"podman conmon", "/machine.slice/libpod-conmon-" + id + ".scope", Container{Unit: "libpod-conmon-" + id + ".scope"}, true},
		{"podman cgroupfs", "/libpod_parent/libpod-" + id, Container{Runtime: "podman", ID: id}, true},
		{"kind node in docker, pod inside", "/docker/" + id2 + "/kubepods/burstable/pod" + uid + "/" + id,
			Container{Runtime: "containerd", ID: id, PodUID: uid}, true},
		{"systemd service", "/system.slice/sshd.service", Container{Unit: "sshd.service"}, true},
		{"systemd user service", "/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service", Container{Unit: "dbus.service"}, true},
		{"session scope", "/user.slice/user-1000.slice/session-3.scope", Container{Unit: "session-3.scope"}, true},
		{"root", "/", Container{}, false},
		{"slice only", "/user.slice", Container{}, false},
		{"short id is no container", "/docker/" + id[:12], Container{}, false},
		{"uppercase id is no container", "/docker/" + "3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A", Container{}, false},
		{"hex name deep in a tree", "/a/b/" + id, Container{}, false},
		{"unreachable", "unreachable:8ed7", Container{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Recognize(tt.path)
			if ok != tt.ok {
				t.Errorf("Recognize(%q) ok = %v, want %v", tt.path, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Recognize(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func FuzzRecognize(f *testing.F) {
	f.Add("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSlice + ".slice/cri-containerd-" + id + ".scope")
	f.Add("/docker/" + id)
	f.Fuzz(func(t *testing.T, path string) {
		c, ok := Recognize(path)
		if ok != (c.ID != "" || c.Unit != "") {
			t.Fatalf("Recognize(%q) = %+v, %v", path, c, ok)
		}
		if c.ID != "" && (!isID(c.ID) || c.Runtime == "") || c.ID == "" && (c.Runtime != "" || c.PodUID != "") {
			t.Fatalf("Recognize(%q) = %+v: runtime, id and pod go together", path, c)
		}
		if c.PodUID != "" && !isUID(c.PodUID) {
			t.Fatalf("Recognize(%q): pod UID %q", path, c.PodUID)
		}
	})
}
