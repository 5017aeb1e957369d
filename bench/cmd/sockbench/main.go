package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// roleEnv names the environment variable that turns a re-executed sockbench
// into one of its own child processes: the inner harness or a helper.
const roleEnv = "SOCKBENCH_ROLE"

func main() {
	os.Exit(runProcess())
}

// runProcess turns SIGINT and SIGTERM into a context and runs the role the
// environment names; the test binary calls it too when re-executed.
func runProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Getenv(roleEnv), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
