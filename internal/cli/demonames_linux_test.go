package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// kernelNames matches the kernel's spelling of a state the demo takes.
var kernelNames = regexp.MustCompile(`\b(ESTABLISHED|SYN_SENT|SYN_RECV|FIN_WAIT[12]?|TIME_WAIT|CLOSE_WAIT|LAST_ACK)\b|\bCLOSE([^-_A-Z]|$)`)

// TestDemoSSNames runs the demo with --ss-names, and with
// SOCKSTATE_SS_NAMES=1 as JSON Lines: the narration, the ladder and its
// legend, the observed: summary, the JSON's states and packets, the
// --pcap comments and the --svg picture spell every state as ss does
// (ESTAB, SYN-SENT, FIN-WAIT-1, TIME-WAIT, CLOSE-WAIT, LAST-ACK, UNCONN
// for CLOSE) and none as the kernel does.
func TestDemoSSNames(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark (apt-get install tshark): %v", err)
	}
	want := []string{"LISTEN", "SYN-SENT", "SYN-RECV", "ESTAB", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK", "UNCONN"}
	check := func(t *testing.T, what, text string, want []string) {
		t.Helper()
		if m := kernelNames.FindString(text); m != "" {
			t.Errorf("%s: the kernel's %s in:\n%s", what, m, text)
		}
		// The ladder wraps its notes: words are compared, not lines.
		words := strings.Join(strings.Fields(text), " ")
		for _, w := range want {
			if !strings.Contains(words, w) {
				t.Errorf("%s: no %s in:\n%s", what, w, text)
			}
		}
	}
	t.Run("--ss-names", func(t *testing.T) {
		dir := t.TempDir()
		pcap, svg := filepath.Join(dir, "demo.pcapng"), filepath.Join(dir, "demo.svg")
		out, stderr, code := traceDemo(t, "demo", "--ss-names", "--step", "50ms", "--source", "trace", "--closer", "client", "--pcap", pcap, "--svg", svg)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
		}
		check(t, "text", out, append(want, "observed: listener LISTEN -> UNCONN -> gone; server conn SYN-RECV -> ESTAB -> CLOSE-WAIT -> LAST-ACK -> UNCONN -> gone; client SYN-SENT -> ESTAB -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT",
			"the client stays in TIME-WAIT for 60 s", "SYN-SENT, FIN-WAIT-1 and LAST-ACK begin as their packet is sent"))
		comments, err := exec.Command(tshark, "-r", pcap, "-T", "fields", "-e", "frame.comment").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		check(t, "--pcap's comments", string(comments), []string{"client SYN-SENT -> ESTAB", "server CLOSE-WAIT -> LAST-ACK"})
		b, err := os.ReadFile(svg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "--svg", string(b), []string{">ESTAB<", ">TIME-WAIT<"})
	})
	t.Run("SOCKSTATE_SS_NAMES=1, JSON", func(t *testing.T) {
		var out, stderr string
		code := -1
		for attempt := 1; attempt <= 3 && code != 0; attempt++ {
			out, stderr, code = runCLI(t, testnet.New(t), []string{"SOCKSTATE_SS_NAMES=1"}, "demo", "-j", "--step", "50ms", "--source", "trace")
		}
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
		}
		check(t, "JSON", out, []string{`"state":"ESTAB"`, `"state":"TIME-WAIT"`, `"from":"SYN-SENT","to":"ESTAB"`, `observed: listener LISTEN -\u003e UNCONN -\u003e gone`})
	})
	t.Run("the kernel's names by default", func(t *testing.T) {
		out, stderr, code := traceDemo(t, "demo", "-j", "--no-capture", "--step", "20ms", "--source", "trace")
		if code != 0 || !strings.Contains(out, `"state":"TIME_WAIT"`) || strings.Contains(out, "TIME-WAIT") {
			t.Errorf("exit %d, stderr %q; want TIME_WAIT, not TIME-WAIT, in:\n%s", code, stderr, out)
		}
	})
}
