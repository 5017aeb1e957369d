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
	exprAnd    exprKind = iota
	exprOr              // ss evaluates "and" and "or" left to right, neither binding tighter
	exprNot             // not, !
	exprPort            // sport or dport compared with a port
	exprHost            // src or dst: an address prefix, a port, or both
	exprCgroup          // cgroup PATH: the socket's cgroup v2 id
	exprUnix            // src or dst: a unix socket's name against a pattern
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
	// pattern is a unix condition's shell pattern (fnmatch(3)).
	pattern string
	// cgroup conditions: the path as written and its cgroup v2 id.
	path     string
	cgroupID uint64
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
// where PORT is a number, * or a service name from /etc/services, and for
// unix sockets
//
//	src|dst [= == eq] unix:PATTERN, /PATTERN or @PATTERN
//
// matches a unix socket's name (its path, or @ and its abstract name)
// against a shell pattern as ss's fnmatch(3) does ("src /run/*.sock"); ss
// takes the last two only with -x, as no address starts with / or @.
// ss knows no unix socket's peer name from sock_diag, so dst matches the
// empty name, which only "*" matches. A unix condition holds for no IP
// socket.
//
// PORT is a number or *. As in ss, tokens are separated by spaces or
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
	return ParseWith(words, Options{})
}

// Options are what ParseWith needs besides the words.
type Options struct {
	// CgroupID returns the cgroup v2 id of a cgroup condition's path; nil
	// means the cgroup2 mount's, resolved as ss resolves it (see
	// cgroups.Paths.ID). Its error is the condition's syntax error.
	CgroupID func(path string) (uint64, error)
}

// ParseWith parses as Parse does, resolving cgroup paths with
// opts.CgroupID. Parse documents the grammar; cgroup conditions are
//
//	cgroup [= | == | eq | != | ne | neq] PATH
//
// where PATH is relative to the cgroup2 mount, a path under it, or a path
// as ss --cgroup prints it (/system.slice/sshd.service). They match a
// socket of that very cgroup, not of the cgroups below it, as the
// kernel's INET_DIAG_BC_CGROUP_COND does.
func ParseWith(words []string, opts Options) (*Filter, error) {
	toks, end := lexFilter(words)
	p := &parser{toks: toks, end: end, cgroupID: opts.CgroupID}
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
	// cgroupID resolves cgroup paths; nil for the cgroup2 mount's.
	cgroupID func(string) (uint64, error)
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
	case tokNot, tokLParen, tokSrc, tokDst, tokSport, tokDport, tokCgroup, tokUnsupported:
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
	case tokCgroup:
		e, err = p.cgroup(t)
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
	if pattern, ok := unixPattern(t.text); ok {
		return &expr{kind: exprUnix, side: sideOf(kw.kind), pattern: pattern}, nil
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
