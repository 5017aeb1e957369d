package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"no vcs", nil, "sockstate v1.2.3 go1.99"},
		{"clean", map[string]string{"vcs.revision": "abc", "vcs.time": "2026-01-02T03:04:05Z", "vcs.modified": "false"}, "sockstate v1.2.3 (abc 2026-01-02T03:04:05Z) go1.99"},
		{"dirty", map[string]string{"vcs.revision": "abc", "vcs.modified": "true"}, "sockstate v1.2.3 (abc+dirty) go1.99"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			info := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}}
			for k, v := range tt.settings {
				info.Settings = append(info.Settings, debug.BuildSetting{Key: k, Value: v})
			}
			if got := versionLine(info); got != tt.want {
				t.Errorf("versionLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionBuilt builds sockstate from a clone of this repository's
// HEAD, with VCS stamping, and requires --version and version to name
// HEAD's revision and this Go.
func TestVersionBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sockstate")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git to clone the repository with")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("git", "clone", "-q", strings.TrimSpace(string(top)), dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v: %s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "sockstate")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	// Go 1.24 and later make a pseudo-version from the revision.
	rev := strings.TrimSpace(string(head))
	want := "sockstate v0.0.0-"
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("sockstate %s: %v", arg, err)
		}
		line := string(out)
		if !strings.HasPrefix(line, want+"") || !strings.Contains(line, "-"+rev[:12]+" ("+rev+" ") || !strings.HasSuffix(line, ") "+runtime.Version()+"\n") {
			t.Errorf("sockstate %s = %q, want %s...-%s (%s ...) %s", arg, line, want, rev[:12], rev, runtime.Version())
		}
	}
}

func TestVersionArgs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"version", "now"}, &stdout, &stderr)
	if code != 2 || stderr.String() != "sockstate: version: unexpected \"now\": version takes no arguments\n" {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
