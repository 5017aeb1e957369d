//go:build !linux

package owners

import (
	"context"
	"fmt"
	"runtime"
)

func readProcessTable(ctx context.Context, root string) (*ProcessTable, error) {
	return nil, fmt.Errorf("inspect: processes: /proc/<pid>/fd is not available on %s", runtime.GOOS)
}

func readProcessTableBPF(root string) (*ProcessTable, error) {
	return nil, fmt.Errorf("%w on %s", errNoBPFTable, runtime.GOOS)
}
