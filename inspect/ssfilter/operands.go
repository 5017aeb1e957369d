package ssfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sockstate/sockstate/internal/services"
)

// parsePort parses text, found at byte off of t: a decimal port, *, or a
// service name, which ss looks up in /etc/services.
func parsePort(text string, t *token, off int) (int32, error) {
	if text == "*" {
		return anyPort, nil
	}
	col := t.colAt(off)
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return servicePort(text, col)
		}
	}
	if len(text) > 1 && text[0] == '0' {
		return 0, &SyntaxError{col, fmt.Sprintf("port %q has a leading zero (ss reads it as octal)", text)}
	}
	n, err := strconv.ParseUint(text, 10, 16)
	if err != nil {
		return 0, &SyntaxError{col, fmt.Sprintf("port %q is out of range 0-65535", text)}
	}
	return int32(n), nil
}

// servicePort returns the port of the service name, found at column col,
// from /etc/services as ss does: its TCP or UDP port, an error when the
// two differ.
func servicePort(name string, col int) (int32, error) {
	db, err := services.Load()
	if err != nil {
		return 0, &SyntaxError{col, fmt.Sprintf("port %q: %v", name, err)}
	}
	tcp, isTCP := db.Port(name, "tcp")
	udp, isUDP := db.Port(name, "udp")
	switch {
	case isTCP && isUDP && tcp != udp:
		return 0, &SyntaxError{col, fmt.Sprintf("port %q is ambiguous: %d for TCP and %d for UDP in %s", name, tcp, udp, services.Path)}
	case isTCP:
		return int32(tcp), nil
	case isUDP:
		return int32(udp), nil
	}
	if c := name[0]; c == '-' || c == '*' || (c >= '0' && c <= '9') {
		return 0, &SyntaxError{col, fmt.Sprintf("port %q is not a number", name)}
	}
	return 0, &SyntaxError{col, fmt.Sprintf("unknown port %q: not a number, nor a service in %s", name, services.Path)}
}

// parseHost parses the operand of src and dst as ss's parse_hostcond does.
func parseHost(t *token) (netip.Prefix, int32, error) {
	s := t.text
	var addr string
	portAt := -1 // byte offset of the ':' before the port
	switch {
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Prefix{}, 0, &SyntaxError{t.col, fmt.Sprintf("missing ']' in %q", s)}
		}
		addr = s[1:end]
		if addr == "" {
			return netip.Prefix{}, 0, &SyntaxError{t.colAt(1), `bad address ""`}
		}
		if end+1 < len(s) {
			if s[end+1] != ':' {
				return netip.Prefix{}, 0, &SyntaxError{t.colAt(end + 1), "expected ':' after ']'"}
			}
			portAt = end + 1
		}
	case s[0] == '*':
		addr = "*"
		if len(s) > 1 {
			if s[1] != ':' {
				return netip.Prefix{}, 0, &SyntaxError{t.colAt(1), "expected ':' after '*'"}
			}
			portAt = 1
		}
	default:
		// The port follows the last colon, or the last colon after the
		// prefix length's slash, so an IPv6 address needs brackets unless
		// it has a prefix length.
		slash := strings.IndexByte(s, '/')
		from := max(slash, 0)
		if c := strings.LastIndexByte(s[from:], ':'); c >= 0 {
			portAt = from + c
		}
		addr = s
		if portAt >= 0 {
			addr = s[:portAt]
		}
		if slash < 0 && strings.Contains(addr, ":") {
			return netip.Prefix{}, 0, &SyntaxError{t.col, fmt.Sprintf("IPv6 address in %q needs brackets: [ADDR] or [ADDR]:PORT", s)}
		}
	}
	port := int32(anyPort)
	if portAt >= 0 {
		if portAt+1 == len(s) {
			return netip.Prefix{}, 0, &SyntaxError{t.colAt(portAt), "expected port after ':'"}
		}
		var err error
		if port, err = parsePort(s[portAt+1:], t, portAt+1); err != nil {
			return netip.Prefix{}, 0, err
		}
	}
	off := 0
	if s[0] == '[' {
		off = 1
	}
	pfx, err := parsePrefix(addr, t, off)
	return pfx, port, err
}

// parsePrefix parses ADDR or ADDR/LEN, found at byte off of t. The empty
// address, *, any, all and default match any address (the zero Prefix).
func parsePrefix(text string, t *token, off int) (netip.Prefix, error) {
	switch text {
	case "", "*", "any", "all", "default":
		return netip.Prefix{}, nil
	}
	col := t.colAt(off)
	a, lenText, hasLen := strings.Cut(text, "/")
	addr, err := netip.ParseAddr(a)
	if err != nil || addr.Zone() != "" {
		hint := ""
		if err == nil {
			hint = " (zones are not supported)"
		} else if strings.ContainsAny(a, "()") {
			hint = " (parentheses must be separated by spaces)"
		} else if !strings.ContainsAny(a, ":.") {
			hint = " (host names are not resolved)"
		}
		return netip.Prefix{}, &SyntaxError{col, fmt.Sprintf("bad address %q%s", a, hint)}
	}
	bits := addr.BitLen()
	if hasLen {
		n, err := strconv.ParseUint(lenText, 10, 8)
		if err != nil || int(n) > bits || (len(lenText) > 1 && lenText[0] == '0') {
			fam := "IPv4"
			if bits == 128 {
				fam = "IPv6"
			}
			return netip.Prefix{}, &SyntaxError{t.colAt(off + len(a)), fmt.Sprintf("bad prefix length %q for an %s address", "/"+lenText, fam)}
		}
		bits = int(n)
	}
	return netip.PrefixFrom(addr, bits), nil
}
