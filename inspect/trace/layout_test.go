package trace

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// sockLike mimics struct sock_common's shape: fields inside anonymous
// unions of anonymous structs, a typedef'd struct holding a pointer, and a
// bitfield.
func sockLike() *btf.Struct {
	u16 := &btf.Int{Name: "u16", Size: 2}
	u32 := &btf.Int{Name: "u32", Size: 4}
	u8 := &btf.Int{Name: "u8", Size: 1}
	addrpair := &btf.Struct{Size: 8, Members: []btf.Member{
		{Name: "skc_daddr", Type: u32, Offset: 0},
		{Name: "skc_rcv_saddr", Type: u32, Offset: 32},
	}}
	portpair := &btf.Struct{Size: 4, Members: []btf.Member{
		{Name: "skc_dport", Type: u16, Offset: 0},
		{Name: "skc_num", Type: u16, Offset: 16},
	}}
	net := &btf.Struct{Name: "net", Size: 8}
	possible := &btf.Typedef{Name: "possible_net_t", Type: &btf.Struct{Size: 8, Members: []btf.Member{
		{Name: "net", Type: &btf.Pointer{Target: net}, Offset: 0},
	}}}
	common := &btf.Struct{Name: "sock_common", Size: 32, Members: []btf.Member{
		{Type: &btf.Union{Size: 8, Members: []btf.Member{
			{Name: "skc_addrpair", Type: &btf.Int{Name: "u64", Size: 8}},
			{Type: addrpair},
		}}, Offset: 0},
		{Type: &btf.Union{Size: 4, Members: []btf.Member{
			{Name: "skc_portpair", Type: u32},
			{Type: portpair},
		}}, Offset: 64},
		{Name: "skc_family", Type: u16, Offset: 96},
		{Name: "skc_reuse", Type: u8, Offset: 112, BitfieldSize: 4},
		{Name: "skc_net", Type: possible, Offset: 128},
	}}
	return &btf.Struct{Name: "sock", Size: 40, Members: []btf.Member{
		{Name: "__sk_common", Type: common, Offset: 0},
		{Name: "sk_protocol", Type: &btf.Const{Type: u16}, Offset: 256},
	}}
}

func TestOffsetOf(t *testing.T) {
	tests := []struct {
		path     string
		off, siz uint32
	}{
		{"__sk_common.skc_daddr", 0, 4},
		{"__sk_common.skc_rcv_saddr", 4, 4},
		{"__sk_common.skc_dport", 8, 2},
		{"__sk_common.skc_num", 10, 2},
		{"__sk_common.skc_portpair", 8, 4},
		{"__sk_common.skc_family", 12, 2},
		{"__sk_common.skc_net.net", 16, 8},
		{"sk_protocol", 32, 2},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			off, size, err := offsetOf(sockLike(), strings.Split(tt.path, "."))
			if err != nil {
				t.Fatalf("offsetOf: %v", err)
			}
			if off != tt.off || size != tt.siz {
				t.Errorf("offset %d size %d, want %d and %d", off, size, tt.off, tt.siz)
			}
		})
	}
}

func TestOffsetOfErrors(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"__sk_common.skc_reuse", "__sk_common.skc_reuse is a bitfield"},
		{"__sk_common.skc_v6_daddr", "no member __sk_common.skc_v6_daddr"},
		{"sk_protocol.x", "no member sk_protocol.x"},
		{"skc_family", "no member skc_family"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, _, err := offsetOf(sockLike(), strings.Split(tt.path, "."))
			if err == nil || err.Error() != tt.want {
				t.Errorf("offsetOf: %v, want %q", err, tt.want)
			}
		})
	}
}
