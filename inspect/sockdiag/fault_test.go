package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/procsrc"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// scriptedDiag is a DiagConn whose n-th dump (from 0) replies with cookies
// 10n+1, 10n+2, 10n+3, interrupted when intr[n] says so.
type scriptedDiag struct {
	intr  []bool
	dumps int
}

func (d *scriptedDiag) DumpOnce(ctx context.Context, req netlinkdiag.Request, fn func(*netlinkdiag.Msg) error) error {
	n := d.dumps
	d.dumps++
	for i := range 3 {
		cookie := uint64(10*n + i + 1)
		m := netlinkdiag.Msg{
			Family: req.Family,
			State:  uint8(inspect.Established),
			Src:    netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(cookie)),
			Dst:    netip.MustParseAddrPort("127.0.0.1:80"),
			Cookie: cookie,
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	if n < len(d.intr) && d.intr[n] {
		return fmt.Errorf("scripted: %w", netlinkdiag.ErrDumpInterrupted)
	}
	return nil
}

func (d *scriptedDiag) Close() error { return nil }

// TestNetlinkDumpInterrupted requires an interrupted table to be dumped
// again with the interrupted attempt's sockets dropped, at most 3 times,
// and a persistent interruption to return the last attempt's sockets with
// an error that says so.
func TestNetlinkDumpInterrupted(t *testing.T) {
	tests := []struct {
		name    string
		intr    []bool // per dump request
		dumps   int
		cookies []uint64
		err     error
	}{
		{name: "clean", intr: nil, dumps: 1, cookies: []uint64{1, 2, 3}},
		{name: "retried once", intr: []bool{true}, dumps: 2, cookies: []uint64{11, 12, 13}},
		{name: "retried twice", intr: []bool{true, true}, dumps: 3, cookies: []uint64{21, 22, 23}},
		{name: "persists", intr: []bool{true, true, true, true}, dumps: 3, cookies: []uint64{21, 22, 23}, err: netlinkdiag.ErrDumpInterrupted},
	}
	for _, tt := range tests {
		// With -i the sockets go through the decoding pipeline, which
		// drops an interrupted attempt's sockets on its goroutine.
		for _, info := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/info=%v", tt.name, info), func(t *testing.T) {
				d := &scriptedDiag{intr: tt.intr}
				src := &Source{Dial: func(*netlinkdiag.Config) (DiagConn, error) { return d, nil }}
				q := inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates, Info: info}
				socks, err := src.Sockets(context.Background(), q)
				if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
					t.Errorf("Sockets: %v, want %v", err, tt.err)
				}
				if d.dumps != tt.dumps {
					t.Errorf("%d dumps, want %d", d.dumps, tt.dumps)
				}
				var cookies []uint64
				for _, s := range socks {
					cookies = append(cookies, s.Cookie)
				}
				if diff := cmp.Diff(tt.cookies, cookies); diff != "" {
					t.Errorf("cookies (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestNetlinkDumpInterruptedKeepsOtherTables interrupts every dump of the
// first table only: the second table's sockets follow the first's last
// attempt, once each, and the error names the interrupted table.
func TestNetlinkDumpInterruptedKeepsOtherTables(t *testing.T) {
	d := &scriptedDiag{intr: []bool{true, true, true, false}}
	src := &Source{Dial: func(*netlinkdiag.Config) (DiagConn, error) { return d, nil }}
	// UDP: TCP's two families may come from one dump.
	q := inspect.Query{Protocols: []inspect.Protocol{inspect.UDP}, Families: []inspect.Family{inspect.INet, inspect.INet6}, States: inspect.AllStates}
	socks, err := src.Sockets(context.Background(), q)
	want := "inspect: netlink dump of udp/inet, 3 attempts each: dump interrupted"
	if err == nil || err.Error() != want || !errors.Is(err, netlinkdiag.ErrDumpInterrupted) {
		t.Errorf("Sockets: %v, want %q", err, want)
	}
	var cookies []uint64
	for _, s := range socks {
		cookies = append(cookies, s.Cookie)
	}
	if diff := cmp.Diff([]uint64{21, 22, 23, 31, 32, 33}, cookies); diff != "" {
		t.Errorf("cookies (-want +got):\n%s", diff)
	}
}

// failingSource is a Source that always fails with err.
type failingSource struct {
	err   error
	calls int
}

func (s *failingSource) Sockets(context.Context, inspect.Query) ([]inspect.Socket, error) {
	s.calls++
	return nil, s.err
}

// listSource is a Source that always returns socks.
type listSource struct{ socks []inspect.Socket }

func (s *listSource) Sockets(context.Context, inspect.Query) ([]inspect.Socket, error) {
	return s.socks, nil
}

// TestAutoSourceFallback requires the errors that mean sock_diag is
// unavailable to switch AutoSource to /proc for good, with one call of
// OnFallback over several polls, and any other error to be returned as is.
func TestAutoSourceFallback(t *testing.T) {
	procSocks := []inspect.Socket{{Protocol: inspect.TCP, Family: inspect.INet, State: inspect.Listen, Local: netip.MustParseAddrPort("127.0.0.1:80")}}
	errBroken := errors.New("broken dump")
	tests := []struct {
		name      string
		err       error
		fallbacks int
		netlink   int // calls of the netlink source over 3 polls
	}{
		{"protocol not supported", fmt.Errorf("inspect: netlink: %w", unix.EPROTONOSUPPORT), 1, 1},
		{"permission", fmt.Errorf("inspect: netlink: %w", unix.EPERM), 1, 1},
		{"no inet_diag module", unix.ENOENT, 1, 1},
		{"other failure", errBroken, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nl := &failingSource{err: tt.err}
			var reasons []error
			src := &AutoSource{Netlink: nl, Proc: &listSource{procSocks}, OnFallback: func(r error) { reasons = append(reasons, r) }}
			for range 3 {
				socks, err := src.Sockets(context.Background(), inspect.Query{States: inspect.AllStates})
				if tt.fallbacks == 0 {
					if err != tt.err || socks != nil {
						t.Fatalf("Sockets: %v, %v; want nil, %v", socks, err, tt.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Sockets: %v", err)
				}
				if !slices.Equal(procSocks, socks) {
					t.Fatalf("sockets %v, want /proc's %v", socks, procSocks)
				}
			}
			if len(reasons) != tt.fallbacks {
				t.Errorf("OnFallback called %d times, want %d", len(reasons), tt.fallbacks)
			}
			if tt.fallbacks > 0 && reasons[0] != tt.err {
				t.Errorf("fallback reason %v, want %v", reasons[0], tt.err)
			}
			if nl.calls != tt.netlink {
				t.Errorf("netlink asked %d times, want %d", nl.calls, tt.netlink)
			}
		})
	}
}

// TestNetlinkBadNamespace points Source at a file that is not a
// network namespace: the error keeps the kernel's EINVAL, which is not one
// that makes AutoSource fall back, since the caller asked for a namespace
// /proc could not show either.
func TestNetlinkBadNamespace(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/notns")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = (&Source{NetNS: int(f.Fd())}).Sockets(context.Background(), inspect.Query{States: inspect.AllStates})
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Sockets in a regular file's namespace: %v, want EINVAL", err)
	}
	if NetlinkUnavailable(err) {
		t.Errorf("%v counts as netlink unavailable", err)
	}
}

// TestProcUnreadable points procsrc.Source at an empty directory: the error
// names the file it could not read and keeps fs.ErrNotExist.
func TestProcUnreadable(t *testing.T) {
	root := t.TempDir()
	_, err := (&procsrc.Source{Root: root}).Sockets(context.Background(), inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates})
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("Sockets: %v, want ENOENT", err)
	}
	if want := root + "/net/tcp"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Sockets: %v, want it to name %s", err, want)
	}
}

// TestProcListsSocketOnce feeds procsrc.Source a table in which the kernel's
// walk listed a TIME_WAIT socket twice, with its timer read at two
// moments, as it does under churn: the socket is listed once.
func TestProcListsSocketOnce(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(root+"/net", 0o755); err != nil {
		t.Fatal(err)
	}
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:9BB4 0100007F:1E6E 06 00000000:00000000 03:00001765 00000000     0        0 0 3 000000008dd58983\n" +
		"   1: 0100007F:E43A 0100007F:1E6C 06 00000000:00000000 03:0000175B 00000000     0        0 0 3 00000000c9c6e793\n" +
		"   2: 0100007F:9BB4 0100007F:1E6E 06 00000000:00000000 03:00001760 00000000     0        0 0 3 000000008dd58983\n"
	if err := os.WriteFile(root+"/net/tcp", []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	socks, err := (&procsrc.Source{Root: root}).Sockets(context.Background(), inspect.Query{Protocols: []inspect.Protocol{inspect.TCP}, Families: []inspect.Family{inspect.INet}, States: inspect.AllStates})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range socks {
		got = append(got, fmt.Sprintf("%v %v %v", s.State, s.Local, s.Peer))
	}
	want := []string{"TIME_WAIT 127.0.0.1:39860 127.0.0.1:7790", "TIME_WAIT 127.0.0.1:58426 127.0.0.1:7788"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sockets (-want +got):\n%s", diff)
	}
}
