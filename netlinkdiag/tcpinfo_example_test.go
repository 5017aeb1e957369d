package netlinkdiag_test

import (
	"encoding/binary"
	"fmt"

	"github.com/sockstate/sockstate/netlinkdiag"
)

func ExampleDecodeTCPInfo() {
	// The 104 bytes of tcp_info an old kernel sends: ESTABLISHED, window
	// scaling 7 both ways, an mss of 1448 and a cwnd of 10. Fields in
	// native byte order; the window scales share byte 6 as bit-fields,
	// laid out here for a little-endian host.
	b := make([]byte, netlinkdiag.SizeofTCPInfoMin)
	b[0] = 1
	b[5] = netlinkdiag.TCPIOptTimestamps | netlinkdiag.TCPIOptSACK | netlinkdiag.TCPIOptWScale
	b[6] = 7<<4 | 7
	binary.NativeEndian.PutUint32(b[16:], 1448) // tcpi_snd_mss
	binary.NativeEndian.PutUint32(b[80:], 10)   // tcpi_snd_cwnd

	var info netlinkdiag.TCPInfo
	if err := netlinkdiag.DecodeTCPInfo(b, &info); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("state %d wscale %d,%d mss %d cwnd %d; bytes_acked %d (not sent by this kernel)\n",
		info.State, info.SndWScale, info.RcvWScale, info.SndMSS, info.SndCwnd, info.BytesAcked)

	err := netlinkdiag.DecodeTCPInfo(b[:100], &info)
	fmt.Println(err)
	// Output:
	// state 1 wscale 7,7 mss 1448 cwnd 10; bytes_acked 0 (not sent by this kernel)
	// netlinkdiag: tcp_info of 100 bytes, want at least 104: message too short
}
