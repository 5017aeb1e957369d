package ssfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The filter language is ss(8)'s, after the state selection: its grammar and
// lexer are iproute2's misc/ssfilter.y, its operands parse_hostcond in
// misc/ss.c, and its meaning the kernel's inet_diag_bc_run
// (net/ipv4/inet_diag.c), which runs the bytecode ss compiles from it.

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("filter: syntax error")

// SyntaxError is a syntax error in a filter expression.
type SyntaxError struct {
	// Column is the 1-based byte column of the error in the words joined
	// by single spaces; one past the end for a premature end.
	Column int
	// Reason says what is wrong, as in "expected port after ':'".
	Reason string
}

// maxReasonLen bounds the Reason that Error prints: a reason quotes the
// word that failed, which may be a whole command line.
const maxReasonLen = 200

func (e *SyntaxError) Error() string {
	reason := e.Reason
	if len(reason) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut] + "..."
	}
	return fmt.Sprintf("filter: %s at column %d", reason, e.Column)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Filter is a compiled ss filter expression. The zero Filter and a nil
// *Filter keep every socket.
type Filter struct {
	root *expr // nil for the empty expression
}

type exprKind uint8

const (
	exprAnd  exprKind = iota
	exprOr            // ss evaluates "and" and "or" left to right, neither binding tighter
	exprNot           // not, !
	exprPort          // sport or dport compared with a port
	exprHost          // src or dst: an address prefix, a port, or both
)

// side is the end of a socket a condition tests.
type side uint8

const (
	local side = iota // src, sport
	peer              // dst, dport
)

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opGt
	opLe
	opGe
)

var cmpNames = [...]string{opEq: "=", opNe: "!=", opLt: "<", opGt: ">", opLe: "<=", opGe: ">="}

// anyPort is the port of a condition that accepts every port, as in
// "sport = *" or "src 127.0.0.1"; the kernel's inet_diag_hostcond uses -1 too.
const anyPort = -1

type expr struct {
	kind exprKind
	x, y *expr // and, or: both operands; not: x
	side side
	op   cmpOp
	port int32 // 0-65535 or anyPort
	// pfx is the address prefix of a host condition, as written (host bits
	// kept); the zero Prefix matches any address.
	pfx netip.Prefix
}

// Parse parses an ss filter expression given as shell words: one word
// holding the whole expression, one word per token, or anything between,
// as in []string{"dport = :80 or", "(", "sport", ">", ":1024", ")"}.
//
// The grammar is ss's:
//
//	sport|dport [OP] PORT       OP: = == eq != ne neq < lt > gt <= le leq >= ge geq
//	src|dst [= == eq] HOST      HOST: * *:PORT :PORT ADDR[/LEN][:PORT] [ADDR[/LEN]][:PORT]
//	not X, ! X, ( X ), X and Y, X && Y, X & Y, X or Y, X || Y, X | Y, X Y (and)
//
// where PORT is a number or *. As in ss, tokens are separated by spaces or
// tabs (so "(" must stand apart: "(sport" is one token), a backslash makes
// the next character literal, the comparison is optional (it means =), and
// "and" and "or" have equal precedence and group from the left: "a or b and c"
// is "(a or b) and c". A port with no address (":80") means any address, an
// address with no port any port; an IPv6 address needs brackets unless it has
// a prefix length, because ss takes the text after the last colon as the port.
//
// Unlike ss, Parse resolves no names: ports are decimal numbers and
// addresses numeric (the words any, all and default stand for *).
// The empty expression keeps every socket.
func Parse(words []string) (*Filter, error) {
	toks, end := lexFilter(words)
	p := &parser{toks: toks, end: end}
	if p.peek().kind == tokEOF {
		return &Filter{}, nil
	}
	root, _, err := p.exprList("")
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); t.kind {
	case tokEOF:
		return &Filter{root: root}, nil
	case tokRParen:
		return nil, &SyntaxError{t.col, `")" has no matching "("`}
	default:
		return nil, p.unexpected(t, `"and", "or" or a condition`)
	}
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokNot
	tokAnd
	tokOr
	tokLParen
	tokRParen
	tokSrc
	tokDst
	tokSport
	tokDport
	tokUnsupported // ss's dev, fwmark, cgroup and autobound
	tokCmp
)

// keywords are ss's reserved words (yylex in misc/ssfilter.y), compared
// case-sensitively; everything else is an operand.
var keywords = map[string]struct {
	kind tokKind
	op   cmpOp
}{
	"!": {kind: tokNot}, "not": {kind: tokNot},
	"&": {kind: tokAnd}, "&&": {kind: tokAnd}, "and": {kind: tokAnd},
	"|": {kind: tokOr}, "||": {kind: tokOr}, "or": {kind: tokOr},
	"(": {kind: tokLParen}, ")": {kind: tokRParen},
	"src": {kind: tokSrc}, "dst": {kind: tokDst},
	"sport": {kind: tokSport}, "dport": {kind: tokDport},
	"dev": {kind: tokUnsupported}, "fwmark": {kind: tokUnsupported},
	"cgroup": {kind: tokUnsupported}, "autobound": {kind: tokUnsupported},
	">=": {tokCmp, opGe}, "ge": {tokCmp, opGe}, "geq": {tokCmp, opGe},
	"<=": {tokCmp, opLe}, "le": {tokCmp, opLe}, "leq": {tokCmp, opLe},
	"!=": {tokCmp, opNe}, "ne": {tokCmp, opNe}, "neq": {tokCmp, opNe},
	"=": {tokCmp, opEq}, "==": {tokCmp, opEq}, "eq": {tokCmp, opEq},
	">": {tokCmp, opGt}, "gt": {tokCmp, opGt},
	"<": {tokCmp, opLt}, "lt": {tokCmp, opLt},
}

type token struct {
	kind tokKind
	op   cmpOp
	text string // with backslash escapes removed
	col  int
	// cols holds the column of each byte of text when escapes were
	// removed; nil when text is verbatim from col on.
	cols []int
}

// colAt returns the column of byte i of t's text.
func (t *token) colAt(i int) int {
	if t.cols == nil || i >= len(t.cols) {
		return t.col + i
	}
	return t.cols[i]
}

// lexFilter splits words into tokens as ss's get_token_from_line does: on
// spaces and tabs, a backslash escaping the next character. It returns the
// tokens and the column one past the end.
func lexFilter(words []string) ([]token, int) {
	var toks []token
	base := 1 // column of the current word's first byte
	for _, w := range words {
		for i := 0; i < len(w); {
			if w[i] == ' ' || w[i] == '\t' {
				i++
				continue
			}
			start := i
			var text []byte
			var cols []int
			escaped := false
			for i < len(w) && w[i] != ' ' && w[i] != '\t' {
				if w[i] == '\\' {
					if !escaped {
						escaped = true
						text = []byte(w[start:i])
						for j := start; j < i; j++ {
							cols = append(cols, base+j)
						}
					}
					i++
					if i == len(w) {
						break
					}
				}
				if escaped {
					text = append(text, w[i])
					cols = append(cols, base+i)
				}
				i++
			}
			t := token{kind: tokWord, text: w[start:i], col: base + start}
			if escaped {
				t.text, t.cols = string(text), cols
			}
			if kw, ok := keywords[t.text]; ok {
				t.kind, t.op = kw.kind, kw.op
			}
			toks = append(toks, t)
		}
		base += len(w) + 1
	}
	end := base - 1
	if len(words) == 0 {
		end = 1
	}
	return toks, end
}

// maxFilterDepth bounds the depth of a filter's tree and of the parser's
// recursion, so that neither, nor the recursive walks over the tree, can
// exhaust the stack. It is bison's default stack limit, which ss has; a
// filter that deep would not fit a bytecode program anyway.
const maxFilterDepth = 10000

type parser struct {
	toks []token
	i    int
	end  int
	nest int // open parentheses and nots being parsed
}

func (p *parser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return &token{kind: tokEOF, col: p.end}
}

func (p *parser) next() *token {
	t := p.peek()
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// unexpected reports that t is not what the grammar expected.
func (p *parser) unexpected(t *token, expected string) error {
	if t.kind == tokEOF {
		return &SyntaxError{t.col, "expected " + expected + ", found end of input"}
	}
	hint := ""
	if t.kind == tokWord && strings.ContainsAny(t.text, "()") {
		hint = " (parentheses must be separated by spaces)"
	}
	return &SyntaxError{t.col, fmt.Sprintf("expected %s, found %q%s", expected, t.text, hint)}
}

func startsExpr(k tokKind) bool {
	switch k {
	case tokNot, tokLParen, tokSrc, tokDst, tokSport, tokDport, tokUnsupported:
		return true
	}
	return false
}

// exprList parses ssfilter.y's exprlist: conditions joined by and, or, or
// nothing (and), grouped from the left. after names the token before it,
// for messages. It returns the expression and the depth of its tree.
func (p *parser) exprList(after string) (*expr, int, error) {
	left, depth, err := p.expr(after)
	if err != nil {
		return nil, 0, err
	}
	for {
		t := p.peek()
		kind := exprAnd
		switch {
		case t.kind == tokAnd:
			p.next()
		case t.kind == tokOr:
			p.next()
			kind = exprOr
		case startsExpr(t.kind):
		default:
			return left, depth, nil
		}
		after := ""
		if t.kind == tokAnd || t.kind == tokOr {
			after = t.text
		}
		right, rdepth, err := p.expr(after)
		if err != nil {
			return nil, 0, err
		}
		if depth = max(depth, rdepth) + 1; depth > maxFilterDepth {
			return nil, 0, &SyntaxError{t.col, fmt.Sprintf("expression nested more than %d deep", maxFilterDepth)}
		}
		left = &expr{kind: kind, x: left, y: right}
	}
}

// expr parses one condition, a negation or a parenthesised list, and
// returns it with the depth of its tree (parentheses count as a level).
func (p *parser) expr(after string) (*expr, int, error) {
	t := p.next()
	var e *expr
	var err error
	switch t.kind {
	case tokLParen, tokNot:
		return p.nested(t)
	case tokSrc, tokDst:
		e, err = p.host(t)
	case tokSport, tokDport:
		e, err = p.portCmp(t)
	case tokUnsupported:
		err = &SyntaxError{t.col, fmt.Sprintf("%q conditions are not supported", t.text)}
	default:
		expected := "a condition"
		if after != "" {
			expected = fmt.Sprintf("a condition after %q", after)
		}
		err = p.unexpected(t, expected)
	}
	if err != nil {
		return nil, 0, err
	}
	return e, 1, nil
}

// nested parses the rest of "not X" or "( LIST )", t being not or "(".
func (p *parser) nested(t *token) (*expr, int, error) {
	if p.nest++; p.nest > maxFilterDepth {
		return nil, 0, &SyntaxError{t.col, fmt.Sprintf("expression nested more than %d deep", maxFilterDepth)}
	}
	defer func() { p.nest-- }()
	if t.kind == tokNot {
		x, depth, err := p.expr(t.text)
		if err != nil {
			return nil, 0, err
		}
		return &expr{kind: exprNot, x: x}, depth + 1, nil
	}
	e, depth, err := p.exprList(t.text)
	if err != nil {
		return nil, 0, err
	}
	switch c := p.next(); c.kind {
	case tokRParen:
		return e, depth + 1, nil
	case tokEOF:
		return nil, 0, &SyntaxError{t.col, `"(" is not closed`}
	default:
		return nil, 0, p.unexpected(c, `")", "and", "or" or a condition`)
	}
}

func sideOf(k tokKind) side {
	if k == tokDst || k == tokDport {
		return peer
	}
	return local
}

// host parses the rest of "src|dst [=] HOST".
func (p *parser) host(kw *token) (*expr, error) {
	if t := p.peek(); t.kind == tokCmp {
		if t.op != opEq {
			return nil, &SyntaxError{t.col, fmt.Sprintf("%s compares only with \"=\", not %q", kw.text, t.text)}
		}
		p.next()
	}
	t := p.next()
	if t.kind != tokWord || t.text == "" {
		return nil, p.unexpected(t, "an address after "+strconv.Quote(kw.text))
	}
	pfx, port, err := parseHost(t)
	if err != nil {
		return nil, err
	}
	return &expr{kind: exprHost, side: sideOf(kw.kind), pfx: pfx, port: port}, nil
}

// portCmp parses the rest of "sport|dport [OP] PORT".
func (p *parser) portCmp(kw *token) (*expr, error) {
	op := opEq
	if t := p.peek(); t.kind == tokCmp {
		op = t.op
		p.next()
	}
	t := p.next()
	if t.kind != tokWord || t.text == "" {
		return nil, p.unexpected(t, "a port after "+strconv.Quote(kw.text))
	}
	text, off := t.text, 0
	if text[0] == ':' {
		text, off = text[1:], 1
		if text == "" {
			return nil, &SyntaxError{t.col, "expected port after ':'"}
		}
	}
	port, err := parsePort(text, t, off)
	if err != nil {
		return nil, err
	}
	if port == anyPort && op != opEq && op != opNe {
		return nil, &SyntaxError{t.col, fmt.Sprintf("%q cannot be compared with %q", t.text, cmpNames[op])}
	}
	return &expr{kind: exprPort, side: sideOf(kw.kind), op: op, port: port}, nil
}

// parsePort parses text, found at byte off of t: a decimal port or *.
func parsePort(text string, t *token, off int) (int32, error) {
	if text == "*" {
		return anyPort, nil
	}
	col := t.colAt(off)
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return 0, &SyntaxError{col, fmt.Sprintf("port %q is not a number", text)}
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

// String returns f in canonical form, which Parse parses back to an
// equal Filter and ss(8) accepts with the same meaning: explicit "and",
// parentheses as separate tokens only where the left-to-right grouping
// needs them, IPv6 addresses in brackets.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.format(&b)
	return b.String()
}

func (e *expr) format(b *strings.Builder) {
	switch e.kind {
	case exprAnd, exprOr:
		// Left operands group without parentheses when they join with
		// the same word; right operands always need them.
		e.x.formatOperand(b, e.x.kind == e.kind)
		if e.kind == exprAnd {
			b.WriteString(" and ")
		} else {
			b.WriteString(" or ")
		}
		e.y.formatOperand(b, false)
	case exprNot:
		b.WriteString("not ")
		e.x.formatOperand(b, false)
	case exprPort:
		if e.side == local {
			b.WriteString("sport ")
		} else {
			b.WriteString("dport ")
		}
		b.WriteString(cmpNames[e.op])
		if e.port == anyPort {
			b.WriteString(" *")
		} else {
			b.WriteString(" :")
			b.WriteString(strconv.Itoa(int(e.port)))
		}
	case exprHost:
		if e.side == local {
			b.WriteString("src ")
		} else {
			b.WriteString("dst ")
		}
		a := e.pfx.Addr()
		switch {
		case !e.pfx.IsValid():
			b.WriteString("*")
		case a.Is4():
			b.WriteString(a.String())
			if e.pfx.Bits() != 32 {
				b.WriteString("/" + strconv.Itoa(e.pfx.Bits()))
			}
		default:
			b.WriteString("[" + a.String())
			if e.pfx.Bits() != 128 {
				b.WriteString("/" + strconv.Itoa(e.pfx.Bits()))
			}
			b.WriteString("]")
		}
		if e.port != anyPort {
			b.WriteString(":" + strconv.Itoa(int(e.port)))
		}
	}
}

func (e *expr) formatOperand(b *strings.Builder, bare bool) {
	if (e.kind == exprAnd || e.kind == exprOr) && !bare {
		b.WriteString("( ")
		e.format(b)
		b.WriteString(" )")
		return
	}
	e.format(b)
}
