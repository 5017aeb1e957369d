package procnet

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

var fuzzFiles = [...]File{TCP, TCP6, UDP, UDP6}

func FuzzParse(f *testing.F) {
	for i, file := range fuzzFiles {
		b, err := os.ReadFile(filepath.Join("testdata", "loopback", "net", string(file)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i))
	}
	f.Add([]byte(header4+listen4), uint8(0))
	f.Add([]byte(header6+listen6+"\n"), uint8(1))
	f.Add([]byte(header4+listen4+"\n"+listen4+"\n"), uint8(2))
	f.Add([]byte(""), uint8(3))

	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		file := fuzzFiles[int(which)%len(fuzzFiles)]
		recs, err := Parse(bytes.NewReader(data), file)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if recs != nil {
				t.Fatalf("%d records returned with error %v", len(recs), err)
			}
			return
		}
		is6 := file == TCP6 || file == UDP6
		seen := make(map[Record]bool, len(recs))
		for _, r := range recs {
			for _, a := range [2]netip.AddrPort{r.Local, r.Remote} {
				if !a.IsValid() || a.Addr().Is6() != is6 {
					t.Fatalf("%s: address %v of %+v has the wrong family", file, a, r)
				}
			}
			if r.State < minState || r.State > maxState {
				t.Fatalf("%s: state %d out of range in %+v", file, r.State, r)
			}
			if seen[r] {
				t.Fatalf("%s: %+v returned twice", file, r)
			}
			seen[r] = true
		}
		if rows := bytes.Count(data, []byte{'\n'}); len(recs) > rows {
			t.Fatalf("%s: %d records from %d newlines", file, len(recs), rows)
		}
	})
}
