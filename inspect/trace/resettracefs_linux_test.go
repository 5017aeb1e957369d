package trace

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/internal/testnet"
)

// The print formats of tcp:tcp_receive_reset and tcp:tcp_send_reset in
// tracefs (include/trace/events/tcp.h), after the "timestamp: name: " the
// trace file prefixes.
var (
	receiveResetLine = regexp.MustCompile(`: tcp_receive_reset: family=\S+ sport=\d+ dport=\d+ .* sock_cookie=([0-9a-f]+)$`)
	sendResetLine    = regexp.MustCompile(`: tcp_send_reset: skbaddr=\S+ skaddr=(\S+) src=(\S+) dest=(\S+) `)
)

// TestResetsAgainstTracefs holds the causes of the trace to the kernel's
// own record of the resets in the same run: the events tcp_receive_reset
// and tcp_send_reset in a private tracefs instance. The sockets whose move
// to CLOSE the trace says reset-received or refused are exactly those,
// by cookie, that tracefs says got an RST; the sockets it says reset-sent
// are exactly those, by address tuple, that tracefs says sent one (an RST
// sent for a segment no socket owns, as for a refused connect, names no
// socket and is left out).
func TestResetsAgainstTracefs(t *testing.T) {
	for _, how := range []testnet.Ending{testnet.OrderlyClientFirst, testnet.ClientLinger0, testnet.ServerLinger0, testnet.Refused, testnet.AcceptQueue} {
		t.Run(string(how), func(t *testing.T) {
			ns := testnet.New(t)
			// tracefs sees every namespace: the port, picked before,
			// tells this run's events.
			var port uint16
			ns.Do(t, func() error {
				ln, err := net.Listen("tcp4", "127.0.0.1:0")
				if err != nil {
					return err
				}
				port = ln.Addr().(*net.TCPAddr).AddrPort().Port()
				return ln.Close()
			})
			r := startReader(t, open(t, ns, Options{}))
			dir := tracefsInstance(t)
			rcv := filepath.Join(dir, "events", "tcp", "tcp_receive_reset")
			snd := filepath.Join(dir, "events", "tcp", "tcp_send_reset")
			writeFile(t, filepath.Join(rcv, "filter"), fmt.Sprintf("sport == %d || dport == %d", port, port))
			for _, ev := range []string{rcv, snd} {
				writeFile(t, filepath.Join(ev, "enable"), "1")
				t.Cleanup(func() { writeFile(t, filepath.Join(ev, "enable"), "0") })
			}

			e := ns.End(t, how, port)
			got := r.take(t, countLines(endingLines(how, e)), 10*time.Second)
			for _, ev := range []string{rcv, snd} {
				writeFile(t, filepath.Join(ev, "enable"), "0")
			}
			text, err := os.ReadFile(filepath.Join(dir, "trace"))
			if err != nil {
				t.Fatal(err)
			}

			var oursGot, oursSent, theirsGot, theirsSent []string
			for i := range got {
				tr := &got[i]
				switch tr.Cause {
				case inspect.CauseResetReceived, inspect.CauseRefused:
					oursGot = append(oursGot, fmt.Sprintf("%x", tr.Cookie))
				case inspect.CauseResetSent:
					oursSent = append(oursSent, fmt.Sprintf("%v %v", tr.Local, tr.Peer))
				}
			}
			ofPort := fmt.Sprintf(":%d", port)
			for _, l := range strings.Split(string(text), "\n") {
				if m := receiveResetLine.FindStringSubmatch(l); m != nil {
					theirsGot = append(theirsGot, m[1])
				}
				m := sendResetLine.FindStringSubmatch(l)
				if m == nil || strings.Trim(m[1], "0") == "" {
					continue
				}
				if strings.HasSuffix(m[2], ofPort) || strings.HasSuffix(m[3], ofPort) {
					theirsSent = append(theirsSent, m[2]+" "+m[3])
				}
			}
			for _, s := range [][]string{oursGot, oursSent, theirsGot, theirsSent} {
				slices.Sort(s)
			}
			t.Logf("tracefs: %d sockets got an RST, %d sent one", len(theirsGot), len(theirsSent))
			if diff := cmp.Diff(theirsGot, oursGot); diff != "" {
				t.Errorf("sockets that got an RST (-tracefs +trace):\n%s\ntracefs:\n%s\ntrace:\n%s", diff, text, lines(got))
			}
			if diff := cmp.Diff(theirsSent, oursSent); diff != "" {
				t.Errorf("sockets that sent an RST (-tracefs +trace):\n%s\ntracefs:\n%s\ntrace:\n%s", diff, text, lines(got))
			}
		})
	}
}
