//go:build !linux

package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

// sockbench needs network namespaces, sock_diag's ss and ptrace: Linux only.

func benchmark(context.Context, options, io.Writer) (*Report, error) {
	return nil, fmt.Errorf("sockbench: not supported on %s", runtime.GOOS)
}

func runInner(context.Context, io.Reader, io.Writer, io.Writer) error {
	return fmt.Errorf("sockbench: not supported on %s", runtime.GOOS)
}

func runHelper(context.Context, []string, io.Reader, io.Writer) error {
	return fmt.Errorf("sockbench: not supported on %s", runtime.GOOS)
}
