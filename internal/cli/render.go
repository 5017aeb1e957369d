package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/sockstate/sockstate/inspect"
)

type tableOptions struct {
	// netid and state show those columns; ss leaves them out when only
	// one protocol, or one state, is listed.
	netid, state, header, extended bool
}

// stateName is the state as sockstate prints it: the kernel's name, except
// that a UDP socket in CLOSE is UNCONN, as ss says.
func stateName(s *inspect.Socket) string {
	if s.Protocol == inspect.UDP && s.State == inspect.Close {
		return "UNCONN"
	}
	return s.State.String()
}

// endpoint prints ap as ss does: [v6]:port, with * for port 0.
func endpoint(ap netip.AddrPort) string {
	port := "*"
	if ap.Port() != 0 {
		port = strconv.Itoa(int(ap.Port()))
	}
	if ap.Addr().Is6() {
		return "[" + ap.Addr().String() + "]:" + port
	}
	return ap.Addr().String() + ":" + port
}

func writeTable(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Right: " ", Overwrite: true}),
	)
	if o.header {
		h := []any{"Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"}
		if o.state {
			h = append([]any{"State"}, h...)
		}
		if o.netid {
			h = append([]any{"Netid"}, h...)
		}
		if o.extended {
			h = append(h, "UID", "Inode", "Cookie")
		}
		t.Header(h...)
	}
	for i := range socks {
		s := &socks[i]
		row := []any{s.RecvQ, s.SendQ, endpoint(s.Local), endpoint(s.Peer)}
		if o.state {
			row = append([]any{stateName(s)}, row...)
		}
		if o.netid {
			row = append([]any{s.Protocol.String()}, row...)
		}
		if o.extended {
			row = append(row, s.UID, s.Inode, cookieText(s.Cookie))
		}
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

func cookieText(c uint64) string {
	if c == 0 {
		return "-"
	}
	return "0x" + strconv.FormatUint(c, 16)
}

type jsonEndpoint struct {
	Addr string `json:"addr"`
	Port uint16 `json:"port"`
}

type jsonSocket struct {
	Netid  string       `json:"netid"`
	Family string       `json:"family"`
	State  string       `json:"state"`
	RecvQ  uint32       `json:"recv_q"`
	SendQ  uint32       `json:"send_q"`
	Local  jsonEndpoint `json:"local"`
	Peer   jsonEndpoint `json:"peer"`
	UID    uint32       `json:"uid"`
	Inode  uint64       `json:"inode"`
	Cookie string       `json:"cookie,omitempty"`
}

func newJSONSocket(s *inspect.Socket) jsonSocket {
	j := jsonSocket{
		Netid:  s.Protocol.String(),
		Family: s.Family.String(),
		State:  stateName(s),
		RecvQ:  s.RecvQ,
		SendQ:  s.SendQ,
		Local:  jsonEndpoint{Addr: s.Local.Addr().String(), Port: s.Local.Port()},
		Peer:   jsonEndpoint{Addr: s.Peer.Addr().String(), Port: s.Peer.Port()},
		UID:    s.UID,
		Inode:  s.Inode,
	}
	if s.Cookie != 0 {
		j.Cookie = cookieText(s.Cookie)
	}
	return j
}

// writeJSON writes one JSON array, an object per socket, streaming.
func writeJSON(w io.Writer, socks []inspect.Socket) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for i := range socks {
		if i > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		if err := enc.Encode(newJSONSocket(&socks[i])); err != nil {
			return fmt.Errorf("json: %w", err)
		}
	}
	_, err := io.WriteString(w, "]\n")
	return err
}
