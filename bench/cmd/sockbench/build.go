package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	mainModule     = "github.com/sockstate/sockstate"
	gopsutilModule = "github.com/shirou/gopsutil/v4"
	// gopsutilDir is the peer module's directory in the checkout.
	gopsutilDir = "bench/gopsutil"
)

// findRepo returns the sockstate checkout's root: dir if it is set, else the
// directory of go env GOMOD. Either way its go.mod must be mainModule's.
func findRepo(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOMOD: %w", err)
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			return "", fmt.Errorf("not inside a Go module: run from the sockstate checkout or pass -repo")
		}
		dir = filepath.Dir(gomod)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("repo: %w", err)
	}
	if m := modulePath(b); m != mainModule {
		return "", fmt.Errorf("repo: %s holds module %q, not %s: run from the sockstate checkout or pass -repo", dir, m, mainModule)
	}
	return dir, nil
}

// modulePath returns the module directive's path from go.mod's text.
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// goBuild builds the main package in dir into out.
func goBuild(ctx context.Context, dir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w: %s", dir, err, bytes.TrimSpace(msg))
	}
	return nil
}

// toolVersion says which version of tool the binary at path is, or why it
// cannot tell.
func toolVersion(ctx context.Context, tool, path string) string {
	switch tool {
	case "ss":
		out, err := exec.CommandContext(ctx, path, "-V").Output()
		if err != nil {
			return fmt.Sprintf("unknown (%v)", err)
		}
		_, v, _ := strings.Cut(strings.TrimSpace(string(out)), ", ")
		return v
	case "netstat":
		out, err := exec.CommandContext(ctx, path, "--version").Output()
		if err != nil {
			return fmt.Sprintf("unknown (%v)", err)
		}
		first, _, _ := strings.Cut(string(out), "\n")
		return first
	case "gopsutil":
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			return fmt.Sprintf("unknown (%v)", err)
		}
		for _, d := range info.Deps {
			if d.Path == gopsutilModule {
				return d.Version
			}
		}
		return "unknown (no " + gopsutilModule + " in the build info)"
	}
	return ""
}

// commit describes the checkout's HEAD, with -dirty for local changes.
func commit(ctx context.Context, repo string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", repo, "describe", "--always", "--dirty").Output()
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	return strings.TrimSpace(string(out))
}
