package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/sockstate/sockstate/inspect/procsrc"
)

// writeSummary prints s as ss -s does (print_summary in misc/ss.c), byte
// for byte.
func writeSummary(w io.Writer, s *procsrc.Summary) error {
	inet := s.INET()
	_, err := fmt.Fprintf(w, `Total: %d
TCP:   %d (estab %d, closed %d, orphaned %d, timewait %d)

Transport Total     IP        IPv6
RAW	  %-9d %-9d %-9d
UDP	  %-9d %-9d %-9d
TCP	  %-9d %-9d %-9d
INET	  %-9d %-9d %-9d
FRAG	  %-9d %-9d %-9d

`,
		s.Sockets,
		s.TCPAll, s.TCPEstablished, s.TCPClosed, s.TCPOrphaned, s.TCPTimeWait,
		s.RAW.Total(), s.RAW.IPv4, s.RAW.IPv6,
		s.UDP.Total(), s.UDP.IPv4, s.UDP.IPv6,
		s.TCP.Total(), s.TCP.IPv4, s.TCP.IPv6,
		inet.Total(), inet.IPv4, inet.IPv6,
		s.FRAG.Total(), s.FRAG.IPv4, s.FRAG.IPv6)
	return err
}

type jsonCounts struct {
	Total int64 `json:"total"`
	IP    int64 `json:"ip"`
	IPv6  int64 `json:"ipv6"`
}

func newJSONCounts(c procsrc.Counts) jsonCounts {
	return jsonCounts{Total: c.Total(), IP: c.IPv4, IPv6: c.IPv6}
}

// writeSummaryJSON writes s as one JSON object with ss -s's figures under
// ss's names.
func writeSummaryJSON(w io.Writer, s *procsrc.Summary) error {
	if err := json.NewEncoder(w).Encode(newJSONSummary(s)); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// newJSONSummary returns s as writeSummaryJSON writes it.
func newJSONSummary(s *procsrc.Summary) any {
	type tcp struct {
		Total    int64 `json:"total"`
		Estab    int64 `json:"estab"`
		Closed   int64 `json:"closed"`
		Orphaned int64 `json:"orphaned"`
		TimeWait int64 `json:"timewait"`
	}
	type transport struct {
		RAW  jsonCounts `json:"raw"`
		UDP  jsonCounts `json:"udp"`
		TCP  jsonCounts `json:"tcp"`
		INET jsonCounts `json:"inet"`
		FRAG jsonCounts `json:"frag"`
	}
	v := struct {
		Total     int64     `json:"total"`
		TCP       tcp       `json:"tcp"`
		Transport transport `json:"transport"`
	}{
		Total: s.Sockets,
		TCP:   tcp{s.TCPAll, s.TCPEstablished, s.TCPClosed, s.TCPOrphaned, s.TCPTimeWait},
		Transport: transport{
			RAW: newJSONCounts(s.RAW), UDP: newJSONCounts(s.UDP), TCP: newJSONCounts(s.TCP),
			INET: newJSONCounts(s.INET()), FRAG: newJSONCounts(s.FRAG),
		},
	}
	return v
}
