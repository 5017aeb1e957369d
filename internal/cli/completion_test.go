package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sockstate/sockstate/internal/testnet"
)

// completionScript writes sockstate completion SHELL to a file and
// returns its path.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"completion", shell}, &stdout, &stderr); code != 0 {
		t.Fatalf("completion %s: exit %d: %s", shell, code, stderr.String())
	}
	path := filepath.Join(t.TempDir(), "sockstate."+shell)
	if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needShell skips a test when the shell is not installed.
func needShell(t *testing.T, shell string) {
	t.Helper()
	if _, err := exec.LookPath(shell); err != nil {
		t.Skipf("no %s installed (.ci/run installs it)", shell)
	}
}

// completionCases are command lines, the word being completed last, and
// words their completions must hold; ns names a namespace that exists.
func completionCases(ns string) []struct {
	line string
	want []string
} {
	return []struct {
		line string
		want []string
	}{
		{"sockstate l", []string{"ls"}},
		{"sockstate co", []string{"completion"}},
		{"sockstate ls --so", []string{"--source"}},
		{"sockstate ls -", []string{"-x", "--unix", "-A", "--resolve", "-O"}},
		{"sockstate ls --source ", []string{"auto", "netlink", "proc"}},
		{"sockstate watch --source ", []string{"trace"}},
		{"sockstate ls -f ", []string{"inet", "inet6", "unix"}},
		{"sockstate ls -A unix_", []string{"unix_stream", "unix_dgram", "unix_seqpacket"}},
		{"sockstate ls st", []string{"state"}},
		{"sockstate ls state time", []string{"time-wait"}},
		{"sockstate watch exclude ", []string{"established", "listening", "connected"}},
		{"sockstate ls -N " + ns[:len(ns)-1], []string{ns}},
		{"sockstate completion ", []string{"bash", "zsh", "fish"}},
		{"sockstate demo --closer ", []string{"server", "client"}},
		{"sockstate serve --t", []string{"--top", "--transitions"}},
		{"sockstate se", []string{"serve"}},
	}
}

func TestCompletionBash(t *testing.T) {
	needShell(t, "bash")
	script := completionScript(t, "bash")
	ns := testnet.New(t)
	for _, tt := range completionCases(ns.Name) {
		t.Run(tt.line, func(t *testing.T) {
			// COMP_WORDS as bash splits the line, the last word
			// being completed, empty after a space.
			words := strings.Fields(tt.line)
			if strings.HasSuffix(tt.line, " ") {
				words = append(words, "")
			}
			quoted := make([]string, len(words))
			for i, w := range words {
				quoted[i] = "'" + w + "'"
			}
			prog := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
				strconv.Itoa(len(words)-1) + "; _sockstate; printf '%s\\n' \"${COMPREPLY[@]}\""
			out, err := exec.Command("bash", "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v: %s", err, out)
			}
			checkCompletions(t, string(out), tt.want)
		})
	}
}

func TestCompletionFish(t *testing.T) {
	needShell(t, "fish")
	script := completionScript(t, "fish")
	ns := testnet.New(t)
	for _, tt := range completionCases(ns.Name) {
		t.Run(tt.line, func(t *testing.T) {
			out, err := exec.Command("fish", "--no-config", "-c", "source "+script+"; complete -C '"+tt.line+"'").CombinedOutput()
			if err != nil {
				t.Fatalf("fish: %v: %s", err, out)
			}
			var words []string
			for _, line := range strings.Split(string(out), "\n") {
				w, _, _ := strings.Cut(line, "\t")
				words = append(words, w)
			}
			checkCompletions(t, strings.Join(words, "\n"), tt.want)
		})
	}
}

// TestCompletionZsh checks the zsh script's syntax and that, sourced
// after compinit, it completes sockstate with _sockstate; zsh completes
// only at an interactive prompt, which a test does not have.
func TestCompletionZsh(t *testing.T) {
	needShell(t, "zsh")
	script := completionScript(t, "zsh")
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v: %s", err, out)
	}
	cmd := exec.Command("zsh", "-f", "-c", "autoload -U compinit && compinit -u -D && source "+script+" && print -r -- $_comps[sockstate]")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_sockstate" {
		t.Fatalf("zsh: %v: %q, want _sockstate", err, out)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"--unix", "--resolve", "time-wait", "/run/netns", "trace"} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("the zsh script has no %q", w)
		}
	}
}

func TestCompletionBadShell(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), args, &stdout, &stderr)
		want := "sockstate: completion: give one shell: bash, zsh or fish (such as: source <(sockstate completion bash))\n"
		if code != 2 || stdout.Len() != 0 || stderr.String() != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

func checkCompletions(t *testing.T, out string, want []string) {
	t.Helper()
	got := strings.Fields(out)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("completions %q lack %q", got, w)
		}
	}
}
