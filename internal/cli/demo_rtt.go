package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/tunlink"
)

// demoLink is the delayed link of demo --rtt: the server and the client
// each in a namespace of its own, their packets relayed with the delay.
type demoLink struct {
	rtt  time.Duration
	link *tunlink.Link
}

// open makes the link; as a user who may not make namespaces it refuses
// in one line.
func (d *demoLink) open() error {
	l, err := tunlink.Open(d.rtt)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("demo: --rtt makes two network namespaces, which needs root: run as root (%v)", err)
		}
		return fmt.Errorf("demo: --rtt: %w", err)
	}
	d.link = l
	return nil
}

func (d *demoLink) close() {
	if d.link != nil {
		d.link.Close()
	}
}

// describe is the line after the timeline's heading.
func (d *demoLink) describe() string {
	return fmt.Sprintf("across a link with a round trip of %v: the server at %v and the client at %v, each in a network namespace of its own with a TUN device, this process relaying their packets %v late each way",
		d.rtt, tunlink.ServerAddr, tunlink.ClientAddr, d.rtt/2)
}

// events polls the sockets of both namespaces with the source --source
// names (auto: sock_diag); runDemo refuses the tracer, whose lookups
// follow one namespace.
func (d *demoLink) events(source string, q inspect.Query, interval time.Duration, stderr io.Writer) (w watcher, release func(), desc string, err error) {
	switch source {
	case "auto":
		source = "netlink"
	case "netlink", "proc":
	default:
		return nil, nil, "", usagef("demo: --source %q: use auto, netlink, proc or trace", source)
	}
	var ws []watcher
	var releases []func()
	release = func() {
		for _, r := range releases {
			r()
		}
	}
	destroyed := true
	for _, ns := range []int{d.link.Server.NetNS, d.link.Client.NetNS} {
		pw, rel, err := newWatcher(source, q, interval, ns, stderr)
		if err != nil {
			release()
			return nil, nil, "", err
		}
		ws, releases = append(ws, pw), append(releases, rel)
		destroyed = destroyed && pw.Destroyed != nil
	}
	return &mergedWatcher{ws: ws}, release, sourceDescription(source, interval, destroyed) + " in both namespaces", nil
}
