package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sockstate/sockstate/inspect"
)

func TestKindsQuery(t *testing.T) {
	str, dgr, seq := inspect.UnixStream, inspect.UnixDgram, inspect.UnixSeqPacket
	raw, udp, tcp, mptcp := inspect.Raw, inspect.UDP, inspect.TCP, inspect.MPTCP
	type want struct {
		Protocols []inspect.Protocol
		Families  []inspect.Family
		UnixTypes []inspect.UnixType
		States    inspect.StateSet
	}
	for _, tt := range []struct {
		args []string
		want want
	}{
		{[]string{"-x"}, want{nil, nil, []inspect.UnixType{str, dgr, seq}, inspect.DefaultStates}},
		{[]string{"-xt"}, want{[]inspect.Protocol{tcp}, nil, []inspect.UnixType{str, dgr, seq}, inspect.DefaultStates}},
		{[]string{"-tMwu"}, want{[]inspect.Protocol{raw, udp, tcp, mptcp}, nil, nil, inspect.DefaultStates}},
		{[]string{"-A", "unix_seqpacket,unix_stream", "-a"}, want{nil, nil, []inspect.UnixType{str, seq}, inspect.AllStates}},
		{[]string{"--query=inet"}, want{[]inspect.Protocol{raw, udp, tcp, mptcp}, nil, nil, inspect.DefaultStates}},
		{[]string{"-A", "all"}, want{[]inspect.Protocol{raw, udp, tcp, mptcp}, nil, []inspect.UnixType{str, dgr, seq}, inspect.DefaultStates}},
		{[]string{"--socket", "udp", "-A", "tcp"}, want{[]inspect.Protocol{udp, tcp}, nil, nil, inspect.DefaultStates}},
		{[]string{"-f", "unix"}, want{nil, nil, []inspect.UnixType{str, dgr, seq}, inspect.DefaultStates}},
		{[]string{"-f", "inet6"}, want{[]inspect.Protocol{raw, udp, tcp, mptcp}, []inspect.Family{inspect.INet6}, nil, inspect.DefaultStates}},
		{[]string{"-f", "inet", "-t", "-x"}, want{[]inspect.Protocol{tcp}, []inspect.Family{inspect.INet}, nil, inspect.DefaultStates}},
		{[]string{"-f", "unix", "-t"}, want{nil, nil, nil, inspect.DefaultStates}},
		{[]string{"-B"}, want{[]inspect.Protocol{tcp}, nil, nil, inspect.StatesOf(inspect.BoundInactive)}},
		{[]string{"-B", "-6"}, want{[]inspect.Protocol{tcp}, []inspect.Family{inspect.INet6}, nil, inspect.StatesOf(inspect.BoundInactive)}},
		// No kind named: every kind, as ss; -4 and -6 leave unix out.
		{nil, want{[]inspect.Protocol{raw, udp, tcp, mptcp}, nil, []inspect.UnixType{str, dgr, seq}, inspect.DefaultStates}},
		{[]string{"-a"}, want{[]inspect.Protocol{raw, udp, tcp, mptcp}, nil, []inspect.UnixType{str, dgr, seq}, inspect.AllStates}},
		{[]string{"-4"}, want{[]inspect.Protocol{raw, udp, tcp, mptcp}, []inspect.Family{inspect.INet}, nil, inspect.DefaultStates}},
		// -K with no kind named closes TCP and UDP only (the default).
		{[]string{"-K"}, want{nil, nil, nil, inspect.DefaultStates}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var o lsOptions
			specs := append(append(o.sel.specs(), o.kinds.specs()...),
				flagSpec{short: 'a', set: boolFlag(&o.all)}, flagSpec{short: 'K', set: boolFlag(&o.kill)})
			words, err := parseFlags("ls", tt.args, specs)
			if err != nil {
				t.Fatal(err)
			}
			q, err := o.query(words)
			if err != nil {
				t.Fatal(err)
			}
			got := want{q.Protocols, q.Families, q.UnixTypes, q.States}
			if every := len(tt.args) == 0 || tt.args[0] == "-a" || tt.args[0] == "-4"; q.EveryKind != every {
				t.Errorf("EveryKind %v, want %v", q.EveryKind, every)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestKindsBadCommandLines(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "-A", "packet"}, "sockstate: ls: -A packet: sockstate lists tcp, udp, raw, mptcp and unix sockets only"},
		{[]string{"ls", "-A", "tcp,frob"}, `sockstate: ls: -A "frob": unknown socket kind; use all, inet, tcp, udp, raw, mptcp, unix, unix_stream, unix_dgram or unix_seqpacket`},
		{[]string{"ls", "-f", "netlink"}, "sockstate: ls: -f netlink: sockstate lists the families inet, inet6 and unix only"},
		{[]string{"ls", "--family=ipx"}, `sockstate: ls: -f "ipx": unknown family; use inet, inet6 or unix`},
		{[]string{"ls", "-f"}, "sockstate: ls: flag -f needs a value"},
		{[]string{"ls", "-M", "--source", "proc"}, "sockstate: ls: -M and -B list sockets only sock_diag has; --source proc has neither"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Run(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout.Len() != 0 || stderr.String() != tt.want+"\n" {
				t.Errorf("stdout %q, stderr %q; want nothing and %q", stdout.String(), stderr.String(), tt.want)
			}
		})
	}
}
