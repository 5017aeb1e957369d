//go:build !linux

package inspect

import (
	"context"
	"fmt"
	"runtime"
)

func scanProcesses(ctx context.Context, root string, want map[uint64]struct{}) (map[uint64][]Process, int, error) {
	return nil, 0, fmt.Errorf("inspect: processes: /proc/<pid>/fd is not available on %s", runtime.GOOS)
}
