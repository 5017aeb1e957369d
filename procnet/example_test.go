package procnet_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sockstate/sockstate/procnet"
)

func ExampleParse() {
	// A listener on 0.0.0.0:7788 with three connections waiting to be
	// accepted, and the same row again, as a read of /proc can give it.
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1E6C 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0
   1: 00000000:1E6C 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0
`
	recs, err := procnet.Parse(strings.NewReader(table), procnet.TCP)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Printf("%v state %#02x backlog %d uid %d inode %d\n", r.Local, r.State, r.RxQueue, r.UID, r.Inode)
	}
	// Output:
	// 0.0.0.0:7788 state 0x0a backlog 3 uid 1000 inode 12345
}

func ExampleParse_malformed() {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1E6C 00000000:0000 0D 00000000:00000000 00:00000000 00000000 0 0 1
`
	_, err := procnet.Parse(strings.NewReader(table), procnet.TCP)
	fmt.Println(errors.Is(err, procnet.ErrMalformed))
	fmt.Println(err)
	// Output:
	// true
	// procnet: tcp line 2: "   0: 00000000:1E6C 00000000:0000 0D 00000000:00000000 00:00000000 00000000 0 0 1": state "0D": out of range 1..12: malformed line
}

func ExampleFS_Read() {
	// NewFS("/proc/1") reads the tables of process 1's network namespace;
	// this one reads a copy of a namespace's tables kept in testdata.
	recs, err := procnet.NewFS("testdata/loopback").Read(procnet.TCP)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs[:3] {
		fmt.Println(r.Local, r.Remote, r.State, r.Inode)
	}
	// Output:
	// 127.0.0.1:7788 0.0.0.0:0 10 8494
	// 127.0.0.1:7788 127.0.0.1:58440 1 0
	// 127.0.0.1:7788 127.0.0.1:58422 1 8499
}

func ExampleParseSockstat() {
	// sockstat and sockstat6 parse into one Sockstat.
	var s procnet.Sockstat
	for _, file := range []string{
		"sockets: used 21\nTCP: inuse 9 orphan 0 tw 4 alloc 80006 mem 3\nUDP: inuse 2 mem 1\n",
		"TCP6: inuse 4\nUDP6: inuse 2\n",
	} {
		if err := procnet.ParseSockstat(strings.NewReader(file), &s); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Printf("sockets %d, TCP in use %d+%d, TIME_WAIT %d, UDP %d+%d\n",
		s.Sockets, s.TCP.InUse, s.TCP6.InUse, s.TCP.TW, s.UDP.InUse, s.UDP6.InUse)
	// Output:
	// sockets 21, TCP in use 9+4, TIME_WAIT 4, UDP 2+2
}
