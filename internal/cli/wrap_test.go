package cli

import (
	"bytes"
	"testing"
)

// TestWrap wraps at words, indents to the text, cuts a word longer than a
// line and leaves a narrow or unknown width alone.
func TestWrap(t *testing.T) {
	text := "observed: listener LISTEN; server conn ESTABLISHED, CLOSE_WAIT; client ESTABLISHED, FIN_WAIT2"
	for _, tt := range []struct {
		name, prefix, text string
		width              int
		want               string
	}{
		{"no width", "  1 ms  ", text, 0, "  1 ms  " + text + "\n"},
		{"40", "  1 ms  ", text, 40, "  1 ms  observed: listener LISTEN;\n        server conn ESTABLISHED,\n        CLOSE_WAIT; client ESTABLISHED,\n        FIN_WAIT2\n"},
		{"coloured prefix", "\x1b[32mab\x1b[0m ", text, 30, "\x1b[32mab\x1b[0m observed: listener LISTEN;\n   server conn ESTABLISHED,\n   CLOSE_WAIT; client\n   ESTABLISHED, FIN_WAIT2\n"},
		{"too narrow", "  1 ms  ", text, 25, "  1 ms  " + text + "\n"},
		{"narrow", "> ", text, 22, "> observed: listener\n  LISTEN; server conn\n  ESTABLISHED,\n  CLOSE_WAIT; client\n  ESTABLISHED,\n  FIN_WAIT2\n"},
		{"a long word", "> ", `-p users:(("sshd",pid=1,fd=3),("sshd",pid=2,fd=4)) seen`, 22,
			"> -p\n  users:((\"sshd\",pid=1\n  ,fd=3),(\"sshd\",pid=2\n  ,fd=4)) seen\n"},
		{"empty", "> ", "", 22, "> \n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := wrap(tt.prefix, tt.text, tt.width); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestNoteWriter wraps each note written to a terminal at its words,
// under the text after its first ": ", and writes a line not yet ended
// as it comes.
func TestNoteWriter(t *testing.T) {
	var b bytes.Buffer
	n := &noteWriter{w: &b, width: 40}
	for _, s := range []string{
		"sockstate: watch: TCP from the kernel's tracepoints (eBPF); UDP polled every 10ms\n",
		"short\n",
		"partial",
	} {
		if got, err := n.Write([]byte(s)); got != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, got, err)
		}
	}
	want := "sockstate: watch: TCP from the kernel's\n" +
		"           tracepoints (eBPF); UDP\n" +
		"           polled every 10ms\n" +
		"short\n" +
		"partial"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}
