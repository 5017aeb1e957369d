package procnet

import (
	"bytes"
	"fmt"
	"testing"
)

// syntheticTCP returns a tcp table of n distinct rows shaped like the
// kernel's: get_tcp4_sock's format, padded with spaces to 149 columns.
func syntheticTCP(n int) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%-149s\n", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode")
	for i := range n {
		row := fmt.Sprintf("%4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08X %08X %5d %8d %d %d %016x %d %d %d %d %d",
			i, 0x0100007F, 8080, 0x0100007F+uint32(i>>16)<<8, i&0xFFFF, 1+i%12,
			i%3, i%5, i%5, i*7, 0, 1000, 0, 100000+i, 1, 0xffff888000000000+uint64(i)*64, 20, 4, 30, 10, -1)
		fmt.Fprintf(&buf, "%-149s\n", row)
	}
	return buf.Bytes()
}

func BenchmarkParse(b *testing.B) {
	const rows = 100_000
	data := syntheticTCP(rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		recs, err := Parse(bytes.NewReader(data), TCP)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) != rows {
			b.Fatalf("Parse returned %d records, want %d", len(recs), rows)
		}
	}
}
