package procnet

import (
	"fmt"
	"os"
	"path/filepath"
)

// ReadSNMP reads root/net/snmp, the MIB-II counters (RFC 1213: Ip, Icmp,
// Tcp, Udp), whose layout is /proc/net/netstat's. Errors from opening or
// reading keep the *os.PathError.
func (fsys FS) ReadSNMP() (Netstat, error) {
	f, err := os.Open(filepath.Join(fsys.root, "net", "snmp"))
	if err != nil {
		return nil, fmt.Errorf("procnet: %w", err)
	}
	defer f.Close()
	return parseNetstat(f, "snmp")
}
