package cgroups

import (
	"errors"
	"strings"
	"testing"
)

func TestFindMount(t *testing.T) {
	hybrid := "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	unified := "27 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
	v1 := "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	for _, tt := range []struct {
		name, in, want string
		err            error
	}{
		{"hybrid", hybrid, "/sys/fs/cgroup/unified", nil},
		{"unified", unified, "/sys/fs/cgroup", nil},
		{"v1 only", v1, "", ErrNoCgroup2},
	} {
		got, err := findMount(strings.NewReader(tt.in))
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: findMount = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestCgroupPath(t *testing.T) {
	for _, tt := range []struct{ dir, want string }{
		{"/sys/fs/cgroup", "/"},
		{"/sys/fs/cgroup/system.slice", "/system.slice"},
		{"/sys/fs/cgroup/system.slice/sshd.service", "/system.slice/sshd.service"},
	} {
		if got := cgroupPath("/sys/fs/cgroup", tt.dir); got != tt.want {
			t.Errorf("cgroupPath(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}
