// Command sockstate shows what the kernel thinks of every socket.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sockstate/sockstate/internal/cli"
)

func main() {
	// A write to a closed pipe on stdout then fails with EPIPE, which Run
	// takes for a quiet end, instead of the runtime killing the process
	// with SIGPIPE (see os/signal, "SIGPIPE").
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
