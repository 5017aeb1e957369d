package tunlink

import (
	"net/netip"
	"time"
)

// The link's /30: private, and inside the two namespaces only.
var (
	// ServerAddr is the server side's address, ClientAddr the client's.
	ServerAddr = netip.MustParseAddr("10.77.0.1")
	ClientAddr = netip.MustParseAddr("10.77.0.2")
)

// prefixLen is the link's prefix: a /30 holds the two ends.
const prefixLen = 30

// The devices' names, one in each namespace.
const (
	ServerDev = "sockstate-s"
	ClientDev = "sockstate-c"
)

// queueLen bounds the packets held in each direction; a packet that finds
// its direction's queue full is dropped and counted.
const queueLen = 1024

// Stats count what the relay did.
type Stats struct {
	// Relayed counts the packets written to the other device; Dropped
	// those lost: a full queue, or a failed write.
	Relayed, Dropped uint64
}

// Side is one end of the link: the namespace and its address.
type Side struct {
	// NetNS is the namespace's descriptor, valid until Close.
	NetNS int
	Addr  netip.Addr
}

// held is a packet waiting for its time to be written.
type held struct {
	at  time.Time
	pkt []byte
}
