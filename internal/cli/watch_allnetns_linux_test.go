package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockstate/sockstate/internal/testnet"
)

// watchAllNetnsPort is the port TestWatchAllNetns's listeners use.
const watchAllNetnsPort = 7019

// netnsWatchLine is a watch --all-netns -j line.
type netnsWatchLine struct {
	watchLine
	NetNS *jsonNetNS `json:"netns"`
}

// TestWatchAllNetns watches every namespace while a namespace is made,
// gets a listener, and ends: the listener of a namespace there from the
// start is new in the first poll, the new namespace's listener is new
// once it listens, and gone once its namespace ends, each tagged with its
// namespace's inode and name; by polling and by the tracer (to which a
// listen(2) is CLOSE -> LISTEN).
func TestWatchAllNetns(t *testing.T) {
	for _, tc := range []struct{ source, listened string }{{"netlink", "new"}, {"trace", "change"}} {
		t.Run(tc.source, func(t *testing.T) { watchAllNetns(t, tc.source, tc.listened) })
	}
}

func watchAllNetns(t *testing.T, source, listened string) {
	first := testnet.New(t)
	firstLn := first.Listen(t, "tcp", fmt.Sprintf("127.0.0.1:%d", watchAllNetnsPort))
	// The filter keeps the other namespaces' sockets, which the tracer
	// sees by the thousand under churn, out of the output.
	cmd := exec.Command(executable(t), "watch", "-tj", "--all-netns", "--source", source, "--interval", "20ms", "--duration", "60s", fmt.Sprintf("sport = :%d", watchAllNetnsPort))
	cmd.Env = childEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan netnsWatchLine, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var l netnsWatchLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("line %q: %v", sc.Text(), err)
				return
			}
			lines <- l
		}
	}()
	// await reads events until one for addr of kind event (with to, if
	// not empty) comes, and returns it.
	await := func(addr, event, to string) netnsWatchLine {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %s %s", event, addr)
				}
				if l.Local != nil && l.Local.addrPort().String() == addr && l.Event == event && (to == "" || l.To != nil && *l.To == to) {
					return l
				}
			case <-timeout:
				t.Fatalf("no %s event for %s", event, addr)
			}
		}
	}
	l := await(firstLn.Addr().String(), "new", "LISTEN")
	if l.NetNS == nil || l.NetNS.Inode != nsInode(t, first) || l.NetNS.Name != first.Name {
		t.Errorf("listener of %s tagged %+v", first.Name, l.NetNS)
	}

	second := testnet.NewUnnamed(t)
	ino := nsInode(t, second)
	var ln net.Listener
	second.Do(t, func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", watchAllNetnsPort))
		return err
	})
	addr := ln.Addr().String()
	l = await(addr, listened, "LISTEN")
	if l.NetNS == nil || l.NetNS.Inode != ino || l.NetNS.Name != "" {
		t.Errorf("listener of net:[%d] tagged %+v", ino, l.NetNS)
	}
	// The namespace ends with its last holder: the listener and the
	// child.
	ln.Close()
	second.Kill(t)
	l = await(addr, "gone", "")
	if l.NetNS == nil || l.NetNS.Inode != ino {
		t.Errorf("gone listener of net:[%d] tagged %+v", ino, l.NetNS)
	}
	// Drain what is left, so that the watch is never held in a write.
	go func() {
		for range lines {
		}
	}()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch --all-netns: %v", err)
	}
}

// TestWatchAllNetnsText: each text line of the polling watch starts with
// the namespace's label.
func TestWatchAllNetnsText(t *testing.T) {
	ns := testnet.New(t)
	ln := ns.Listen(t, "tcp", "127.0.0.1:0")
	// Until the listener's line, not for a fixed time: the first poll
	// walks every namespace on the host, which a loaded machine takes long
	// over.
	w := startWatch(t, nil, "watch", "-t", "--all-netns", "--source", "netlink", fmt.Sprintf("sport = :%d", ln.Addr().(*net.TCPAddr).Port))
	w.wantStderr = "sockstate: watch --all-netns: no destroy reports (they come per namespace), so sockets that live and die between two polls are missed\n"
	w.waitFor(" "+ln.Addr().String()+" ", "LISTEN")
	stdout := w.stop()
	want := fmt.Sprintf("%s ", ns.Name)
	found := false
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, " "+ln.Addr().String()+" ") {
			found = true
			if !strings.HasPrefix(line, want) || !strings.HasSuffix(line, "new         -> LISTEN") {
				t.Errorf("line %q, want it to start with %q and say new -> LISTEN", line, want)
			}
		}
	}
	if !found {
		t.Errorf("no line for %v in\n%s", ln.Addr(), stdout)
	}
}
