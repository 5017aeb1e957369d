//go:build linux

package tunlink

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The sizes of struct ifinfomsg and struct ifaddrmsg
// (include/uapi/linux/rtnetlink.h, if_addr.h).
const (
	sizeofIfInfomsg = 16
	sizeofIfAddrmsg = 8
)

// configure brings loopback and the device dev up and gives dev addr on
// the link's /30, over rtnetlink(7) in the caller's namespace. Loopback
// is up so that the namespace's own sockets (the capture's clock probe)
// work.
func configure(dev string, addr netip.Addr) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return fmt.Errorf("tunlink: rtnetlink: %w", err)
	}
	defer c.Close()
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return fmt.Errorf("tunlink: device %q: %w", dev, err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("tunlink: loopback: %w", err)
	}
	msg, err := addrMsg(ifi.Index, addr)
	if err == nil {
		err = request(c, unix.RTM_NEWADDR, netlink.Create|netlink.Excl, msg)
	}
	if err != nil {
		return fmt.Errorf("tunlink: %s: address %v/%d: %w", dev, addr, prefixLen, err)
	}
	for _, i := range []*net.Interface{lo, ifi} {
		if err := request(c, unix.RTM_NEWLINK, 0, upMsg(i.Index)); err != nil {
			return fmt.Errorf("tunlink: %s: up: %w", i.Name, err)
		}
	}
	return nil
}

// request sends one rtnetlink request and waits for its acknowledgment.
func request(c *netlink.Conn, typ uint16, flags netlink.HeaderFlags, data []byte) error {
	_, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request | netlink.Acknowledge | flags},
		Data:   data,
	})
	return err
}

// upMsg is an ifinfomsg that sets IFF_UP on the link at index; native byte
// order, as every rtnetlink field.
func upMsg(index int) []byte {
	b := make([]byte, sizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], unix.IFF_UP)  // ifi_flags
	binary.NativeEndian.PutUint32(b[12:], unix.IFF_UP) // ifi_change
	return b
}

// addrMsg is an ifaddrmsg giving the link at index addr on the /30, with
// IFA_LOCAL and IFA_ADDRESS; the addresses in network byte order.
func addrMsg(index int, addr netip.Addr) ([]byte, error) {
	b := make([]byte, sizeofIfAddrmsg)
	b[0] = unix.AF_INET
	b[1] = prefixLen
	b[3] = unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	ae := netlink.NewAttributeEncoder()
	a := addr.As4()
	ae.Bytes(unix.IFA_LOCAL, a[:])
	ae.Bytes(unix.IFA_ADDRESS, a[:])
	attrs, err := ae.Encode()
	return append(b, attrs...), err
}
