package ssfilter_test

import (
	"fmt"
	"net/netip"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/ssfilter"
)

func ExampleParse() {
	f, err := ssfilter.Parse([]string{"dport = :443 or ( sport = :22 and not dst 10.0.0.0/8 )"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, conn := range [][2]string{
		{"192.0.2.1:50000", "198.51.100.7:443"},
		{"192.0.2.1:22", "10.1.1.1:61000"},
		{"192.0.2.1:22", "203.0.113.9:62000"},
		{"[2001:db8::1]:22", "[::ffff:10.1.1.1]:61001"},
	} {
		s := inspect.Socket{
			Protocol: inspect.TCP,
			Family:   inspect.INet6,
			State:    inspect.Established,
			Local:    netip.MustParseAddrPort(conn[0]),
			Peer:     netip.MustParseAddrPort(conn[1]),
		}
		if s.Local.Addr().Is4() {
			s.Family = inspect.INet
		}
		fmt.Println(s.Local, s.Peer, f.Match(&s))
	}
	fmt.Println(f)

	_, err = ssfilter.Parse([]string{"sport", "=", ":nosuchservice"})
	fmt.Println(err)
	// Output:
	// 192.0.2.1:50000 198.51.100.7:443 true
	// 192.0.2.1:22 10.1.1.1:61000 false
	// 192.0.2.1:22 203.0.113.9:62000 true
	// [2001:db8::1]:22 [::ffff:10.1.1.1]:61001 false
	// dport = :443 or ( sport = :22 and not dst 10.0.0.0/8 )
	// filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 10
}
