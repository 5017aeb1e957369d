package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestPlainCommands: version, completion and help take --color as every
// command does, and -h; help names every command; a bad --color is one
// line and exit 2.
func TestPlainCommands(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		code   int
		stdout string // its start
		stderr string
	}{
		{[]string{"version", "--color=never"}, 0, "sockstate ", ""},
		{[]string{"version", "-h"}, 0, versionUsage, ""},
		{[]string{"completion", "--color", "always", "bash"}, 0, "# bash completion for sockstate", ""},
		{[]string{"completion", "--help"}, 0, completionUsage, ""},
		{[]string{"help", "version"}, 0, versionUsage, ""},
		{[]string{"help", "completion"}, 0, completionUsage, ""},
		{[]string{"help", "help"}, 0, usage, ""},
		{[]string{"help", "--color=never", "ls"}, 0, lsUsage, ""},
		{[]string{"help", "-h"}, 0, usage, ""},
		{[]string{"version", "--color=blue"}, 2, "", "sockstate: version: --color \"blue\": use auto, always or never\n"},
		{[]string{"completion", "--color=blue", "bash"}, 2, "", "sockstate: completion: --color \"blue\": use auto, always or never\n"},
		{[]string{"help", "--color=blue"}, 2, "", "sockstate: help: --color \"blue\": use auto, always or never\n"},
		{[]string{"help", "frob"}, 2, "", "sockstate: help: no command \"frob\"; the commands are demo, ls, watch, serve, version, completion and help\n"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.HasPrefix(stdout.String(), tt.stdout) || tt.stdout == "" && stdout.Len() > 0 || stderr.String() != tt.stderr {
				t.Errorf("exit %d, stdout %.80q, stderr %q; want exit %d, stdout from %.80q, stderr %q", code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
