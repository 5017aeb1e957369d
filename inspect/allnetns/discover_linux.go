//go:build linux

package allnetns

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/sockstate/sockstate/inspect/cgroups"
	"github.com/sockstate/sockstate/internal/mountinfo"
	"github.com/sockstate/sockstate/netns"
)

// Discover finds every network namespace it can see on the host under
// procRoot ("/proc"; tests pass no other) and netns.Dir.
func Discover(procRoot string) (Found, error) {
	var s set
	var found Found
	own, err := inode(procRoot + "/thread-self/ns/net")
	if err != nil {
		return found, err
	}
	s.add(Namespace{Inode: own, Path: procRoot + "/thread-self/ns/net", Own: true})

	// Named namespaces first, so that their names stick.
	entries, err := os.ReadDir(netns.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return found, err
	}
	for _, e := range entries {
		p := netns.Dir + "/" + e.Name()
		if ino, err := inode(p); err == nil && isNetNS(p) {
			s.add(Namespace{Inode: ino, Name: e.Name(), Path: p})
		}
	}

	procs, err := os.ReadDir(procRoot)
	if err != nil {
		return found, err
	}
	mntSeen := map[uint64]bool{}
	for _, e := range procs {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		dir := procRoot + "/" + pid
		ino, err := inode(dir + "/ns/net")
		switch {
		case err == nil:
			n := Namespace{Inode: ino, Path: dir + "/ns/net"}
			if s.unnamed(ino) {
				n.Container = containerOf(dir)
			}
			s.add(n)
		case errors.Is(err, fs.ErrPermission):
			found.Unreadable++
			continue
		default:
			// The process ended, or is a kernel thread being reaped.
			continue
		}
		// Bind mounts are per mount namespace: each mountinfo is read
		// once, through one of its processes.
		mnt, err := inode(dir + "/ns/mnt")
		if err != nil || mntSeen[mnt] {
			continue
		}
		mntSeen[mnt] = true
		addBindMounts(&s, dir)
	}
	found.Namespaces = s.sorted()
	return found, nil
}

// addBindMounts adds the network namespaces bind-mounted in the mount
// namespace of the process whose /proc directory is dir, opened through
// its root.
func addBindMounts(s *set, dir string) {
	f, err := os.Open(dir + "/mountinfo")
	if err != nil {
		return
	}
	mounts, err := mountinfo.Parse(f)
	f.Close()
	if err != nil {
		return
	}
	for _, m := range mounts {
		if m.FSType != "nsfs" {
			continue
		}
		ino, err := nsfsInode(m.Root)
		if err != nil {
			continue
		}
		name := ""
		if d, base := path.Split(m.Point); d == netns.Dir+"/" || d == "/var"+netns.Dir+"/" {
			name = base
		}
		s.add(Namespace{Inode: ino, Name: name, Path: dir + "/root" + m.Point})
	}
}

// inode returns the inode of the file at p, following links: for
// /proc/PID/ns/net, the namespace's.
func inode(p string) (uint64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, errors.New("allnetns: no inode for " + p)
	}
	return st.Ino, nil
}

// isNetNS reports whether p is a network namespace file, as a file under
// /run/netns may be something else.
func isNetNS(p string) bool {
	f, err := netns.Open(p)
	if err != nil {
		return !errors.Is(err, netns.ErrNotNetNS)
	}
	f.Close()
	return true
}

// containerOf names the container of the process whose /proc directory is
// dir, from its cgroup paths (/proc/PID/cgroup, "HIERARCHY:CONTROLLERS:
// PATH" a line): the unified hierarchy's (0::) first, then the v1 ones',
// where a hybrid host's runtime may place it. "" for none.
func containerOf(dir string) string {
	b, err := os.ReadFile(dir + "/cgroup")
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, unified := range []bool{true, false} {
		for _, line := range lines {
			if strings.HasPrefix(line, "0::") != unified {
				continue
			}
			_, path, _ := strings.Cut(line, ":")
			_, path, ok := strings.Cut(path, ":")
			if !ok {
				continue
			}
			c, ok := cgroups.Recognize(path)
			switch {
			case !ok:
			case c.PodUID != "":
				return "pod:" + c.PodUID
			case c.ID != "":
				return c.Runtime + ":" + c.Short()
			}
		}
	}
	return ""
}
