// Package cli is sockstate's command line: subcommands, flags, and the
// table and JSON renderings. Nothing below it writes to the terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

const usage = `usage: sockstate COMMAND [FLAGS] [FILTER]

Commands:
  demo    the textbook TCP server and client, their states seen from the kernel
  ls      list sockets, like ss (sockstate ls -h for flags)
  watch   print socket state changes as they happen (sockstate watch -h)
  version print sockstate's version and the revision it was built from
  completion SHELL
          print a completion script for bash, zsh or fish
  serve   serve socket states to Prometheus (sockstate serve -h)
  help    show this text (sockstate help COMMAND: that command's flags)

ss's flags with no command run ls: sockstate -tan is sockstate ls -tan.
Every command takes --color=auto|always|never (auto: on a terminal, unless
NO_COLOR is set or TERM=dumb).
`

// Run runs the command line args (without the program name), writing to
// stdout and stderr, and returns the process exit code: 0 for success, 1 for
// a failure, 2 for a usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "ls":
		err = runLs(ctx, args[1:], stdout, stderr)
	case "watch":
		err = runWatch(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		return help(args[1:], stdout, stderr)
	case "version", "--version", "-V":
		err = runVersion(args[1:], stdout)
	case "completion":
		err = runCompletion(args[1:], stdout)
	default:
		// ss's habit: flags with no command list sockets.
		if len(args[0]) > 1 && args[0][0] == '-' {
			err = runLs(ctx, args, stdout, stderr)
			break
		}
		err = usagef("unknown command %q; see 'sockstate help'", args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, syscall.EPIPE):
		// The reader went away (sockstate ls | head -1); main handles
		// SIGPIPE, so the write failed with EPIPE instead of the
		// signal ending the process: end as quietly, with 0, having
		// written all anyone wanted.
		return 0
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// SIGINT or SIGTERM (main's context) ended the command.
		fmt.Fprintf(stderr, "sockstate: %s: interrupted\n", args[0])
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "sockstate: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "sockstate: %v\n", err)
	return 1
}

// help writes the usage of the command args name, or the top-level one.
func help(args []string, stdout, stderr io.Writer) int {
	args, err := plainFlags("help", usage, args, stdout)
	switch {
	case errors.Is(err, errHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "sockstate: %v\n", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return 0
	}
	text, ok := usages[args[0]]
	if !ok || len(args) > 1 {
		fmt.Fprintf(stderr, "sockstate: help: no command %q; the commands are demo, ls, watch, serve, version, completion and help\n", strings.Join(args, " "))
		return 2
	}
	fmt.Fprint(stdout, text)
	return 0
}

// usages are the commands' help texts, by name, for sockstate help NAME.
var usages = map[string]string{"ls": lsUsage, "watch": watchUsage, "demo": demoUsage, "serve": serveUsage,
	"version": versionUsage, "completion": completionUsage, "help": usage}

// errHelp is returned after a command printed its help on request.
var errHelp = errors.New("help shown")
