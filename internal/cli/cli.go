// Package cli is sockstate's command line: subcommands, flags, and the
// table and JSON renderings. Nothing below it writes to the terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
)

const usage = `usage: sockstate COMMAND [FLAGS] [FILTER]

Commands:
  demo    the textbook TCP server and client, their states seen from the kernel
  ls      list sockets, like ss (sockstate ls -h for flags)
  watch   print socket state changes as they happen (sockstate watch -h)
  serve   serve socket states to Prometheus (sockstate serve -h)
  help    show this text
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
		fmt.Fprint(stdout, usage)
		return 0
	default:
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

// errHelp is returned after a command printed its help on request.
var errHelp = errors.New("help shown")
