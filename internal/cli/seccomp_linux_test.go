package cli

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// auditArch is the seccomp_data.arch of the test binary's own system
// calls (linux/audit.h), for the architectures the filter knows.
var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64,
	"arm64": unix.AUDIT_ARCH_AARCH64,
}

// denySockDiag installs a seccomp filter on every thread of the process
// that makes socket(AF_NETLINK, *, NETLINK_SOCK_DIAG) fail with errno, as
// a kernel without sock_diag (EPROTONOSUPPORT) or a sandbox that forbids
// it (EPERM) does. Every other system call, and every other socket, is
// allowed. The filter stays for the life of the process.
func denySockDiag(errno unix.Errno) error {
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("no seccomp audit architecture known for %s", runtime.GOARCH)
	}
	// struct seccomp_data (linux/seccomp.h): int nr at 0, __u32 arch at 4,
	// __u64 instruction_pointer at 8, __u64 args[6] at 16, in native byte
	// order; the filter reads the low 32 bits of an argument, the first
	// word on the little-endian architectures above.
	const (
		offNr   = 0
		offArch = 4
		offArgs = 16
	)
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	// jneAllow jumps to the final allow when the accumulator is not k;
	// skip counts the instructions between this one and the allow.
	jneAllow := func(k uint32, skip uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: 0, Jf: skip}
	}
	ret := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}
	}
	prog := []unix.SockFilter{
		ld(offArch),
		jneAllow(arch, 7),
		ld(offNr),
		jneAllow(unix.SYS_SOCKET, 5),
		ld(offArgs + 8*0), // domain
		jneAllow(unix.AF_NETLINK, 3),
		ld(offArgs + 8*2), // protocol
		jneAllow(unix.NETLINK_SOCK_DIAG, 1),
		ret(unix.SECCOMP_RET_ERRNO | uint32(errno)&unix.SECCOMP_RET_DATA),
		ret(unix.SECCOMP_RET_ALLOW),
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}

	// Both calls act on the calling thread, which TSYNC then copies to
	// every other thread of the process, no_new_privs included.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
	}
	tid, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	switch {
	case e != 0:
		return fmt.Errorf("seccomp SECCOMP_SET_MODE_FILTER: %w", e)
	case tid != 0:
		return fmt.Errorf("seccomp SECCOMP_SET_MODE_FILTER: thread %d cannot take the filter", tid)
	}
	return nil
}
