package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/internal/testnet"
)

// TestLsServiceNamesMatchSS uses service names in filter expressions,
// which both ls and ss look up in /etc/services, on sockets at the ports
// they name: the same rows from both.
func TestLsServiceNamesMatchSS(t *testing.T) {
	ns := testnet.New(t)
	ns.Listen(t, "tcp4", "127.0.0.1:22")
	ns.Listen(t, "tcp4", "127.0.0.1:53")
	web := ns.Listen(t, "tcp4", "127.0.0.1:80")
	ns.Do(t, func() error {
		c, err := net.Dial("tcp4", web.Addr().String())
		if err != nil {
			return err
		}
		t.Cleanup(func() { c.Close() })
		u, err := net.ListenPacket("udp4", "127.0.0.1:53")
		if err != nil {
			return err
		}
		t.Cleanup(func() { u.Close() })
		return nil
	})

	for _, expr := range []string{
		"sport = :ssh",
		"dport = :http",
		"( sport = :domain or sport = :53 )",
		"sport = :www or dport = :80",
	} {
		t.Run(expr, func(t *testing.T) {
			want := normalRows(ns.Run(t, "ss", "-tuanH", expr))
			got := normalRows(mustRun(t, ns, "ls", "-tuaH", expr))
			if len(want) == 0 {
				t.Fatal("ss lists nothing: the test's sockets are missing")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-ss +ls):\n%s", diff)
			}
		})
	}

	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"ls", "sport", "=", ":nosuchservice"}, &stdout, &stderr)
	want := `sockstate: ls: filter: unknown port "nosuchservice": not a number, nor a service in /etc/services at column 10` + "\n"
	if code != 2 || stdout.Len() != 0 || stderr.String() != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing and %q", code, stdout.String(), stderr.String(), want)
	}
	if strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("stderr %q is not one line", stderr.String())
	}
}
