package cli

import (
	"fmt"
	"io"
	"runtime/debug"
)

// runVersion prints sockstate's module version, the VCS revision and time
// it was built from (with +dirty for uncommitted changes), and the Go
// version, from the build information the Go toolchain embeds.
func runVersion(args []string, stdout io.Writer) error {
	args, err := plainFlags("version", versionUsage, args, stdout)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("version: unexpected %q: version takes no arguments", args[0])
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("version: this binary carries no build information")
	}
	_, err = fmt.Fprintln(stdout, versionLine(info))
	return err
}

// versionLine is "sockstate VERSION (REVISION[+dirty] TIME) GOVERSION",
// leaving out what the build did not record (go test and go run record no
// VCS information).
func versionLine(info *debug.BuildInfo) string {
	setting := map[string]string{}
	for _, s := range info.Settings {
		setting[s.Key] = s.Value
	}
	line := "sockstate " + info.Main.Version
	if rev := setting["vcs.revision"]; rev != "" {
		if setting["vcs.modified"] == "true" {
			rev += "+dirty"
		}
		if t := setting["vcs.time"]; t != "" {
			rev += " " + t
		}
		line += " (" + rev + ")"
	}
	return line + " " + info.GoVersion
}
