package cli

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite sockstate.1 from the help texts")

// manPath is the man page in the repository.
var manPath = filepath.Join("..", "..", "sockstate.1")

// TestManPage holds sockstate.1 equal to the page the help texts make,
// and requires man -l to render it without a warning, with every flag in
// it. go test ./internal/cli -run TestManPage -update writes it anew.
func TestManPage(t *testing.T) {
	page := manPage()
	if *update {
		if err := os.WriteFile(manPath, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(manPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != page {
		t.Fatalf("sockstate.1 is not what the help texts make: run go test ./internal/cli -run TestManPage -update")
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("no man(1) to render the page with")
	}
	cmd := exec.Command("man", "--warnings", "-l", manPath)
	cmd.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "PAGER=cat")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("man -l sockstate.1: %v: %s", err, stderr.String())
	}
	text := strings.ReplaceAll(string(out), "\u2010", "-") // man may hyphenate with U+2010
	for _, c := range commands {
		for _, f := range helpFlags(c.usage) {
			if !strings.Contains(text, "--"+f.long) {
				t.Errorf("the rendered page has no --%s of %s", f.long, c.name)
			}
		}
	}
}
