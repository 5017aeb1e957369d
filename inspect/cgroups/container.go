package cgroups

import (
	"strings"
)

// Container is what a cgroup path says of the container, pod or systemd
// unit a socket belongs to.
type Container struct {
	// Runtime is the runtime that made the container: docker,
	// containerd, cri-o or podman; empty for a plain systemd unit.
	Runtime string
	// ID is the container's id, 64 hex digits.
	ID string
	// PodUID is the Kubernetes pod's UID, for a container of a pod.
	PodUID string
	// Unit is the systemd unit the path ends in (a .service or .scope),
	// if it does.
	Unit string
}

// Short returns the first 12 digits of the id, as docker ps shows it.
func (c *Container) Short() string {
	if len(c.ID) > 12 {
		return c.ID[:12]
	}
	return c.ID
}

// Recognize reads the container, pod or systemd unit out of a cgroup v2
// path as Paths names it, without asking a runtime. It reports false for
// a path that says none, such as "/" or "/user.slice".
//
// The layouts recognised, leaf first (a container nested in another,
// such as a kind node in docker, is the innermost):
//
//   - docker, cgroupfs driver: /docker/ID (moby's default cgroup parent,
//     daemon/daemon_unix.go); systemd driver: .../docker-ID.scope (runc's
//     libcontainer/cgroups/systemd names a scope PREFIX-ID.scope, with
//     moby's prefix "docker"), also under user@UID.service when rootless.
//   - containerd: /NAMESPACE/ID (ctr and nerdctl, cgroupfs; containerd's
//     default namespace is "default"), .../nerdctl-ID.scope (nerdctl,
//     systemd), and in a pod .../cri-containerd-ID.scope (the CRI
//     plugin's systemd prefix) or a bare ID under a kubepods pod.
//   - cri-o: .../crio-ID.scope (systemd) or .../crio-ID (cgroupfs); its
//     monitor's crio-conmon-ID.scope is not the container.
//   - Kubernetes pods (kubelet's pkg/kubelet/cm/cgroup_manager_linux.go):
//     /kubepods[/QOS]/podUID/ID with the cgroupfs driver, and
//     /kubepods.slice[/kubepods-QOS.slice]/kubepods[-QOS]-podUID.slice/...
//     with the systemd driver, which writes the UID's dashes as
//     underscores; QOS is burstable or besteffort (none: guaranteed).
//   - podman: .../libpod-ID.scope (systemd, rootful under machine.slice,
//     rootless under user@UID.service), its payload's libpod-ID.scope/
//     container, and /libpod_parent/libpod-ID (cgroupfs); the monitor's
//     libpod-conmon-ID.scope is not the container.
//   - systemd units: the last component ending in .service or .scope
//     (systemd.unit(5)), for a container's scope and a plain service
//     alike.
func Recognize(path string) (Container, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var c Container
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if c.Unit == "" && (strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".scope")) {
			c.Unit = p
		}
		if c.ID != "" {
			if uid, ok := podUID(p); ok {
				c.PodUID = uid
				break
			}
			continue
		}
		c.Runtime, c.ID = containerOf(p, parts[:i])
	}
	if c.ID == "" {
		c.Runtime, c.PodUID = "", ""
	}
	return c, c.ID != "" || c.Unit != ""
}

// scopes are the systemd scope prefixes of runtimes: PREFIX-ID.scope.
var scopes = []struct{ prefix, runtime string }{
	{"docker-", "docker"},
	{"cri-containerd-", "containerd"},
	{"nerdctl-", "containerd"},
	{"crio-", "cri-o"},
	{"libpod-", "podman"},
}

// containerOf returns the runtime and id of the path component p, whose
// parents are parents; none for a component that names no container.
func containerOf(p string, parents []string) (runtime, id string) {
	name := strings.TrimSuffix(p, ".scope")
	for _, s := range scopes {
		if rest, ok := strings.CutPrefix(name, s.prefix); ok && isID(rest) {
			return s.runtime, rest
		}
	}
	if !isID(p) || len(parents) == 0 {
		return "", ""
	}
	parent := parents[len(parents)-1]
	switch {
	case parent == "docker":
		return "docker", p
	case isPod(parent):
		// A bare id in a pod: containerd's CRI plugin with the
		// cgroupfs driver (cri-o's are crio-ID).
		return "containerd", p
	case len(parents) == 1 && !strings.Contains(parent, "."):
		// /NAMESPACE/ID: containerd with the cgroupfs driver.
		return "containerd", p
	}
	return "", ""
}

// podUID returns the pod UID of a pod's cgroup: podUID (cgroupfs) or
// kubepods[-QOS]-podUID_WITH_UNDERSCORES.slice (systemd).
func podUID(p string) (string, bool) {
	var uid string
	if rest, ok := strings.CutSuffix(p, ".slice"); ok {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 || !strings.HasPrefix(rest, "kubepods") {
			return "", false
		}
		uid = strings.ReplaceAll(rest[i+len("-pod"):], "_", "-")
	} else if rest, ok := strings.CutPrefix(p, "pod"); ok {
		uid = rest
	}
	if !isUID(uid) {
		return "", false
	}
	return uid, true
}

func isPod(p string) bool {
	_, ok := podUID(p)
	return ok
}

// isID reports whether s is a container id: 64 lowercase hex digits.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isUID reports whether s is a UUID as Kubernetes writes pod UIDs:
// 8-4-4-4-12 lowercase hex digits.
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
