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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
