// Package tunlink makes a link with a real delay between two network
// namespaces, without a qdisc: each namespace gets a TUN device
// (IFF_TUN|IFF_NO_PI, see the kernel's Documentation/networking/tuntap.rst)
// with an address on a private /30, and this process relays the IP packets
// between the two devices, holding each for half the round-trip time in
// each direction.
//
// The namespaces are made with unshare(2) and never named (no
// /run/netns entry): they live as long as the descriptors Link holds, so
// Close, or the process's end however it ends, removes them and their
// devices.
package tunlink
