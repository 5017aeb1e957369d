package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

var errMalformed = errors.New("malformed")

// parseSockstat reads the TCP line of /proc/net/sockstat (proc(5)): "TCP:
// inuse N orphan N tw N alloc N mem N". inuse and tw are per network
// namespace; alloc is not, so it is not used.
func parseSockstat(r io.Reader) (sockstat, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		var s sockstat
		seen := 0
		for i := 1; i+1 < len(f); i += 2 {
			var dst *int
			switch f[i] {
			case "inuse":
				dst = &s.InUse
			case "tw":
				dst = &s.TimeWait
			default:
				continue
			}
			n, err := strconv.Atoi(f[i+1])
			if err != nil {
				return sockstat{}, fmt.Errorf("sockstat: %q: %w", sc.Text(), errMalformed)
			}
			*dst = n
			seen++
		}
		if seen != 2 {
			return sockstat{}, fmt.Errorf("sockstat: %q: %w", sc.Text(), errMalformed)
		}
		return s, nil
	}
	if err := sc.Err(); err != nil {
		return sockstat{}, fmt.Errorf("sockstat: %w", err)
	}
	return sockstat{}, fmt.Errorf("sockstat: no TCP line: %w", errMalformed)
}

func readSockstat() (sockstat, error) {
	f, err := os.Open("/proc/net/sockstat")
	if err != nil {
		return sockstat{}, fmt.Errorf("sockstat: %w", err)
	}
	defer f.Close()
	return parseSockstat(f)
}

// countPlanSockets counts the sockets in a /proc/net/tcp table whose local or
// remote address is in the plan. Addresses there are hex of the address's
// bytes in network order read as a native (little-endian here) word:
// 127.0.1.1 is 0101007F.
func countPlanSockets(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	n := 0
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if line == 1 {
			continue
		}
		if len(f) < 3 {
			return 0, fmt.Errorf("proc tcp: line %d %q: %w", line, sc.Text(), errMalformed)
		}
		for _, hostPort := range f[1:3] {
			a, err := parseProcAddr4(hostPort)
			if err != nil {
				return 0, fmt.Errorf("proc tcp: line %d %q: %w", line, sc.Text(), err)
			}
			if inPlan(a) {
				n++
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("proc tcp: %w", err)
	}
	return n, nil
}

// parseProcAddr4 decodes the address half of /proc/net/tcp's "0101007F:1388".
func parseProcAddr4(s string) (netip.Addr, error) {
	host, _, ok := strings.Cut(s, ":")
	b, err := hex.DecodeString(host)
	if !ok || err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("address %q: %w", s, errMalformed)
	}
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), nil
}

// hostPlanSockets counts this namespace's IPv4 TCP sockets on plan addresses.
func hostPlanSockets() (int, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, fmt.Errorf("proc tcp: %w", err)
	}
	defer f.Close()
	return countPlanSockets(f)
}

// parseKiB returns a field of the form "Key:  N kB", as /proc/meminfo and
// /proc/PID/status print them, in KiB.
func parseKiB(r io.Reader, key string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != key {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", sc.Text(), errMalformed)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s: %w", key, errMalformed)
}

// readKiB reads a field from a file in parseKiB's format.
func readKiB(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	v, err := parseKiB(f, key)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
