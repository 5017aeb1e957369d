package cli

import (
	"fmt"
	"net"
	"regexp"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestWatchAuto runs watch with --source auto as root: with -t it traces,
// says so on stderr, and gives a reset connection's ends their causes;
// with TCP and UDP it traces TCP and polls UDP, and says that.
func TestWatchAuto(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		ns := testnet.New(t)
		ln := ns.Listen(t, "tcp4", "127.0.0.1:7788")
		w := startWatch(t, ns, "watch", "-t", "-4", "-j", "--interval", "10ms")
		w.wantStderr = "sockstate: watch: TCP from the kernel's tracepoints (eBPF), with causes\n"
		w.waitFor(`"event":"new"`, `"to":"LISTEN"`)
		var cl int
		ns.Do(t, func() error {
			c, err := net.Dial("tcp4", "127.0.0.1:7788")
			if err != nil {
				return err
			}
			s, err := ln.Accept()
			if err != nil {
				return err
			}
			defer s.Close()
			cl = c.LocalAddr().(*net.TCPAddr).Port
			if err := c.(*net.TCPConn).SetLinger(0); err != nil {
				return err
			}
			return c.Close()
		})
		client := fmt.Sprintf(`"local":{"addr":"127.0.0.1","port":%d},"peer":{"addr":"127.0.0.1","port":7788}`, cl)
		server := fmt.Sprintf(`"local":{"addr":"127.0.0.1","port":7788},"peer":{"addr":"127.0.0.1","port":%d}`, cl)
		w.waitFor(`"event":"change"`, client, `"from":"ESTABLISHED","to":"CLOSE"`, `"cause":"reset-sent"`)
		w.waitFor(`"event":"gone"`, client, `"cause":"reset-sent"`)
		w.waitFor(`"event":"change"`, server, `"from":"ESTABLISHED","to":"CLOSE"`, `"cause":"reset-received"`)
		w.waitFor(`"event":"gone"`, server, `"cause":"reset-received"`)
		w.stop()
	})
	t.Run("tcp and udp", func(t *testing.T) {
		ns := testnet.New(t)
		ns.Listen(t, "tcp4", "127.0.0.1:7788")
		var u net.PacketConn
		ns.Do(t, func() (err error) {
			u, err = net.ListenPacket("udp4", "127.0.0.1:5353")
			return err
		})
		defer u.Close()
		w := startWatch(t, ns, "watch", "-4", "-j", "--interval", "10ms")
		w.wantStderr = "sockstate: watch: TCP from the kernel's tracepoints (eBPF); UDP polled every 10ms with the kernel's reports of freed sockets (the tracer sees TCP only)\n"
		w.waitFor(`"netid":"tcp"`, `"to":"LISTEN"`)
		w.waitFor(`"netid":"udp"`, `"port":5353`, `"to":"UNCONN"`)
		w.stop()
	})
}

// sourceLine is the first line of watch --source auto on stderr.
var sourceLine = regexp.MustCompile(`^sockstate: watch: (TCP from the kernel's tracepoints \(eBPF\)|[A-Za-z, ]+ polled every )[^\n]*\n`)

// withoutSourceLine returns stderr without watch's source line, if it
// starts with one.
func withoutSourceLine(stderr string) string {
	return sourceLine.ReplaceAllString(stderr, "")
}
