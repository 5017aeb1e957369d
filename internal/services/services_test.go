package services

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

const sample = `# comment line
ssh		22/tcp				# SSH Remote Login Protocol
domain		53/tcp
domain		53/udp
http		80/tcp		www		# WorldWideWeb HTTP
www-alt		80/tcp
`

func TestParse(t *testing.T) {
	db, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, proto string
		port        uint16
		ok          bool
	}{
		{"ssh", "tcp", 22, true},
		{"ssh", "udp", 0, false},
		{"domain", "udp", 53, true},
		{"www", "tcp", 80, true},
		{"nosuchservice", "tcp", 0, false},
	} {
		if p, ok := db.Port(tt.name, tt.proto); p != tt.port || ok != tt.ok {
			t.Errorf("Port(%q, %q) = %d, %v; want %d, %v", tt.name, tt.proto, p, ok, tt.port, tt.ok)
		}
	}
	if n, ok := db.Name(80, "tcp"); n != "http" || !ok {
		t.Errorf("Name(80, tcp) = %q, %v; want the first line's http", n, ok)
	}
	if n, ok := db.Name(22, "udp"); ok {
		t.Errorf("Name(22, udp) = %q, want none", n)
	}
}

func TestParseErrors(t *testing.T) {
	for _, line := range []string{"ssh", "ssh 22", "ssh 70000/tcp", "ssh x/tcp", "ssh 22/"} {
		db, err := Parse(strings.NewReader(line + "\n"))
		if !errors.Is(err, ErrMalformed) || db != nil || !strings.Contains(err.Error(), line) {
			t.Errorf("Parse(%q) = %v, %v; want ErrMalformed quoting the line", line, db, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("a 1/x b c\n# x\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		db, err := Parse(strings.NewReader(string(b)))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("error %v wraps no ErrMalformed", err)
			}
			if db != nil {
				t.Fatal("a DB with an error")
			}
			return
		}
		for k, p := range db.ports {
			if got, ok := db.Port(k.name, k.proto); !ok || got != p {
				t.Fatalf("Port(%q, %q) = %d, %v", k.name, k.proto, got, ok)
			}
		}
		for k := range db.names {
			if _, ok := db.Port(db.names[k], k.proto); !ok {
				t.Fatalf("name %q of port %d has no port", db.names[k], k.port)
			}
		}
	})
}
