//go:build linux

package netlinkdiag

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// skMemInfoVars is SK_MEMINFO_VARS on today's kernels; older ones fill
// fewer, and SO_MEMINFO copies at most what the caller offers.
const skMemInfoVars = 9

// drops reads SK_MEMINFO_DROPS with getsockopt(SO_MEMINFO), the u32 array
// of include/uapi/linux/sock_diag.h in native byte order.
func (t *sockTransport) drops() (uint32, error) {
	var mem [skMemInfoVars]uint32
	size := uint32(unsafe.Sizeof(mem))
	var errno unix.Errno
	err := t.rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&size)), 0)
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return 0, fmt.Errorf("netlinkdiag: SO_MEMINFO: %w", err)
	}
	if size/4 <= skMemInfoDrops {
		return 0, fmt.Errorf("netlinkdiag: SO_MEMINFO of %d bytes has no drop count", size)
	}
	return mem[skMemInfoDrops], nil
}
