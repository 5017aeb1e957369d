package mountinfo

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Mount
	}{
		{
			name: "proc(5) example",
			in:   "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
			want: []Mount{{Root: "/mnt1", Point: "/mnt/parent", FSType: "ext3"}},
		},
		{
			name: "cgroup2 and nsfs, no optional fields",
			in: "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n" +
				"612 27 0:4 net:[4026532281] /run/netns/blue rw shared:254 - nsfs nsfs rw\n",
			want: []Mount{
				{Root: "/", Point: "/sys/fs/cgroup/unified", FSType: "cgroup2"},
				{Root: "net:[4026532281]", Point: "/run/netns/blue", FSType: "nsfs"},
			},
		},
		{
			name: "escaped space",
			in:   `50 27 0:4 net:[4026532999] /run/my\040ns rw - nsfs nsfs rw`,
			want: []Mount{{Root: "net:[4026532999]", Point: "/run/my ns", FSType: "nsfs"}},
		},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, in := range []string{
		"36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 ext3 /dev/root rw", // no "-"
		"36 35 98:0 /mnt1 /mnt/parent rw -",                                  // nothing after "-"
		`36 35 98:0 /mnt1 /mnt/pa\04 rw - ext3 /dev/root rw`,                 // short escape
		`36 35 98:0 /mnt1 /mnt/pa\999 rw - ext3 /dev/root rw`,                // not octal
		"1 2 3",
	} {
		got, err := Parse(strings.NewReader(in))
		if !errors.Is(err, ErrMalformed) || got != nil {
			t.Errorf("Parse(%q) = %v, %v; want nil, ErrMalformed", in, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
	f.Add(`50 27 0:4 net:[4026532999] /run/my\040ns rw shared:1 - nsfs nsfs rw`)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Parse(strings.NewReader(in))
		if err != nil {
			if got != nil {
				t.Fatalf("error %v with mounts %v", err, got)
			}
			return
		}
		for _, m := range got {
			if m.FSType == "" {
				t.Fatalf("mount without a type: %+v", m)
			}
		}
	})
}
