package cli

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/services"
)

// resolveTimeout bounds the system resolver's work for one batch of a
// listing: an address it has not named by then is printed as a number.
const resolveTimeout = 2 * time.Second

// resolveWorkers is how many addresses are looked up at once.
const resolveWorkers = 16

// names is -r's: the host names of addresses, from the system resolver
// (/etc/hosts, then DNS, as getnameinfo(3) would), and the service names
// of ports, from /etc/services, as ss -r prints them.
type names struct {
	hosts map[netip.Addr]string // "" for an address without a name
	svc   *services.DB
}

func newNames() (*names, error) {
	db, err := services.Load()
	if err != nil {
		return nil, err
	}
	return &names{hosts: map[netip.Addr]string{}, svc: db}, nil
}

// resolve looks up the addresses of socks it has not looked up before,
// at most resolveWorkers at a time, for at most resolveTimeout in all.
// ss names no wildcard address, so neither does resolve.
func (n *names) resolve(ctx context.Context, socks []inspect.Socket) {
	var todo []netip.Addr
	for i := range socks {
		for _, a := range [2]netip.Addr{socks[i].Local.Addr(), socks[i].Peer.Addr()} {
			if _, seen := n.hosts[a]; !seen && a.IsValid() && !a.IsUnspecified() {
				n.hosts[a] = ""
				todo = append(todo, a)
			}
		}
	}
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	found := make([]string, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(resolveWorkers, len(todo)) {
		wg.Go(func() {
			for i := range next {
				if hosts, err := net.DefaultResolver.LookupAddr(ctx, todo[i].Unmap().String()); err == nil && len(hosts) > 0 {
					found[i] = strings.TrimSuffix(hosts[0], ".")
				}
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, a := range todo {
		n.hosts[a] = found[i]
	}
}

// appendEndpoint appends ap as ss -r prints it: the host's name, or its
// address as appendEndpoint does, then the port's service name for p, or
// its number.
func (n *names) appendEndpoint(b []byte, ap netip.AddrPort, p inspect.Protocol) []byte {
	host, service := n.endpointNames(ap, p)
	if host == "" {
		b = appendEndpoint(b, netip.AddrPortFrom(ap.Addr(), 0))
		b = b[:len(b)-1] // the * of port 0
	} else {
		b = append(append(b, host...), ':')
	}
	switch {
	case ap.Port() == 0:
		return append(b, '*')
	case service != "":
		return append(b, service...)
	}
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// endpointNames returns the names -r found for ap: its host's, "" for an
// address without one (and the wildcard, which ss names not), and its
// port's service for p, "" for none (and port 0). A nil n has none.
func (n *names) endpointNames(ap netip.AddrPort, p inspect.Protocol) (host, service string) {
	if n == nil {
		return "", ""
	}
	host = n.hosts[ap.Addr()]
	if ap.Port() != 0 && (p == inspect.TCP || p == inspect.UDP) {
		service, _ = n.svc.Name(ap.Port(), p.String())
	}
	return host, service
}
