// Package mountinfo parses /proc/PID/mountinfo (proc(5), "/proc/pid/mountinfo";
// the kernel's show_mountinfo in fs/proc_namespace.c): one mount a line,
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// mount id, parent id, major:minor, the root of the mount within its file
// system, the mount point, options, optional fields ended by "-", the file
// system type, the source and the super block's options. The kernel
// escapes space, tab, newline and backslash in paths as \ooo octal.
// The namespace and cgroup code find the cgroup2 mount and the bind
// mounts of network namespaces (file system nsfs, root net:[INODE]) in it.
package mountinfo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrMalformed is wrapped by Parse's error for a line that is not a
// mountinfo line.
var ErrMalformed = errors.New("mountinfo: malformed line")

// Mount is one line of mountinfo: the fields sockstate uses.
type Mount struct {
	// Root is the mount's root within its file system: a directory, or
	// for a namespace file (nsfs) its name, such as net:[4026531840].
	Root string
	// Point is the mount point, relative to the process's root.
	Point string
	// FSType is the file system type: cgroup2, nsfs, ext4...
	FSType string
}

// Parse parses mountinfo from r. On an error it returns no mounts.
func Parse(r io.Reader) ([]Mount, error) {
	var mounts []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		m, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo: line %d: %w", n, err)
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return mounts, nil
}

// parseLine parses one line: six fields, optional fields up to "-", then
// the file system type and two more.
func parseLine(line string) (Mount, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+1 >= len(f) {
		return Mount{}, fmt.Errorf("%q: %w", line, ErrMalformed)
	}
	root, err := unescape(f[3])
	if err != nil {
		return Mount{}, fmt.Errorf("%q: %w", line, err)
	}
	point, err := unescape(f[4])
	if err != nil {
		return Mount{}, fmt.Errorf("%q: %w", line, err)
	}
	return Mount{Root: root, Point: point, FSType: f[sep+1]}, nil
}

// unescape undoes the kernel's \ooo escapes (mangle in fs/proc_namespace.c
// escapes " \t\n\\").
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", ErrMalformed
		}
		v := 0
		for _, c := range []byte(s[i+1 : i+4]) {
			if c < '0' || c > '7' {
				return "", ErrMalformed
			}
			v = v*8 + int(c-'0')
		}
		if v > 0xff {
			return "", ErrMalformed
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), nil
}
