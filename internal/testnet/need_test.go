package testnet

import "testing"

func TestParseRelease(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want [2]int
		ok   bool
	}{
		{"6.18.44-fc-v1147", [2]int{6, 18}, true},
		{"5.11", [2]int{5, 11}, true},
		{"5.4-rc1", [2]int{5, 4}, true},
		{"6", [2]int{}, false},
		{"x.y", [2]int{}, false},
	} {
		got, ok := parseRelease(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("parseRelease(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestLacks holds what Need decides on this machine, where the tests run
// as root on a kernel newer than 2.6, and what it refuses.
func TestLacks(t *testing.T) {
	Need(t, "root")
	for _, what := range []string{"root", "CAP_NET_ADMIN", "linux 2.6"} {
		if missing, err := lacks(what); missing != "" || err != nil {
			t.Errorf("lacks(%q) = %q, %v; want nothing missing", what, missing, err)
		}
	}
	if missing, err := lacks("linux 999.0"); missing == "" || err != nil {
		t.Errorf(`lacks("linux 999.0") = %q, %v; want it missing`, missing, err)
	}
	for _, what := range []string{"ipv7", "CAP_NOTHING", "linux five"} {
		if _, err := lacks(what); err == nil {
			t.Errorf("lacks(%q): no error", what)
		}
	}
}
