// Command gopsutil-conns lists TCP connections with gopsutil, the library many
// Go monitoring agents use, and prints how many it found. sockbench times it
// against ss. It lives in its own module so that the sockstate module never
// depends on gopsutil.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/shirou/gopsutil/v4/net"
)

func main() {
	conns, err := net.ConnectionsWithContext(context.Background(), "tcp")
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopsutil-conns: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(len(conns))
}
