package netlinkdiag_test

import (
	"encoding/binary"
	"fmt"
	"log"

	"github.com/sockstate/sockstate/netlinkdiag"
)

// ExampleAttrDecoder reads two attributes as a kernel would send them
// after an inet_diag_msg: a u8 and a NUL-terminated string, each with a
// native-order header and padded to 4 bytes.
func ExampleAttrDecoder() {
	attrs := []byte{5, 0, 0, 0, 2, 0, 0, 0, 10, 0, 0, 0, 'c', 'u', 'b', 'i', 'c', 0, 0, 0}
	binary.NativeEndian.PutUint16(attrs[0:], 5)
	binary.NativeEndian.PutUint16(attrs[2:], netlinkdiag.AttrShutdown)
	binary.NativeEndian.PutUint16(attrs[8:], 10)
	binary.NativeEndian.PutUint16(attrs[10:], netlinkdiag.AttrCong)

	ad := netlinkdiag.NewAttrDecoder(attrs)
	for ad.Next() {
		switch ad.Type() {
		case netlinkdiag.AttrShutdown:
			fmt.Println("shutdown", ad.Uint8())
		case netlinkdiag.AttrCong:
			fmt.Println("congestion control", ad.String())
		}
	}
	if err := ad.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// shutdown 2
	// congestion control cubic
}
