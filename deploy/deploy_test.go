// Package deploy holds the files that run sockstate serve on a fleet: a
// systemd unit, a Prometheus scrape config and alert rules. Its tests check
// them with the tools that read them.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// need returns the path of the program, or skips the test when it is not
// installed.
func need(t *testing.T, program, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install %s; .ci/run does): %v", program, pkg, err)
	}
	return path
}

// run runs a checker in dir and returns what it said; it fails the test
// when the checker fails.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPrometheusFiles checks the alert rules, runs their unit tests (each
// alert firing on the series it is meant for, and not on the others), and
// checks the scrape config.
func TestPrometheusFiles(t *testing.T) {
	promtool := need(t, "promtool", "prometheus")
	run(t, "prometheus", promtool, "check", "rules", "sockstate-alerts.yml")
	run(t, "prometheus", promtool, "test", "rules", "sockstate-alerts_test.yml")
	run(t, "prometheus", promtool, "check", "config", "prometheus.yml")
}

// TestSystemdUnit verifies the unit with systemd-analyze, its ExecStart
// pointed at an executable that exists (this test binary): every setting
// is one systemd knows and takes.
func TestSystemdUnit(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile("systemd/sockstate.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nDynamicUser=yes\n", "\nAmbientCapabilities=\n", "\nCapabilityBoundingSet=\n", "\nProtectSystem=strict\n", "\nNoNewPrivileges=yes\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit has no %q", strings.TrimSpace(want))
		}
	}
	dir := t.TempDir()
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/sockstate", self)
	if err := os.WriteFile(filepath.Join(dir, "sockstate.service"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// systemd-analyze exits 0 for a setting it ignores, saying why.
	if out := run(t, dir, analyze, "verify", "sockstate.service"); out != "" {
		t.Errorf("systemd-analyze verify: %s", out)
	}
}
