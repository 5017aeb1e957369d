package ssfilter

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// filterPropertySeed seeds TestFilterKernelProperty; failures print it.
const filterPropertySeed = 20261124

// propertyPorts are ports worth having sockets on: the edges of the range
// and of the privileged range, and well-known ones.
var propertyPorts = []uint16{1, 22, 80, 443, 1023, 1024, 1025, 8080, 32768, 49151, 65534, 65535}

// randomSockets opens listeners and connections on random loopback addresses
// and ports: IPv4 on 127.0.0.0/8, IPv6 on ::1, and a dual-stack listener on
// :: whose IPv4 clients make IPv6 sockets with IPv4-mapped addresses. Every
// port is bound once, so no bind conflicts. It returns the open sockets'
// addresses (for the expressions) and their number.
func randomSockets(t *testing.T, ns *filterNS, rng *rand.Rand) ([]netip.AddrPort, int) {
	so := ns.sockets(t)
	used := map[uint16]bool{0: true}
	wellKnown := slices.Clone(propertyPorts)
	rng.Shuffle(len(wellKnown), func(i, j int) { wellKnown[i], wellKnown[j] = wellKnown[j], wellKnown[i] })
	port := func() uint16 {
		for len(wellKnown) > 0 && rng.IntN(3) == 0 {
			p := wellKnown[0]
			wellKnown = wellKnown[1:]
			if !used[p] {
				used[p] = true
				return p
			}
		}
		for {
			if p := uint16(rng.IntN(65536)); !used[p] {
				used[p] = true
				return p
			}
		}
	}
	v4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{127, []byte{0, 1, 128, 255}[rng.IntN(4)], byte(rng.IntN(3)), []byte{1, 2, 3, 254}[rng.IntN(4)]})
	}
	type listener struct {
		l    *net.TCPListener
		addr netip.AddrPort
	}
	var ls []listener
	var addrs []netip.AddrPort
	n := 0
	for i := range 35 {
		var a netip.Addr
		switch {
		case i < 25:
			a = v4()
		case i < 33:
			a = netip.IPv6Loopback()
		default:
			a = netip.IPv6Unspecified()
		}
		ap := netip.AddrPortFrom(a, port())
		ls = append(ls, listener{so.listen(ap.String()), ap})
		addrs = append(addrs, ap)
		n++
	}
	for range 55 {
		l := ls[rng.IntN(len(ls))]
		dst, src := l.addr, netip.IPv6Loopback()
		switch {
		case l.addr.Addr().Is4():
			src = v4()
		case l.addr.Addr().IsUnspecified() && rng.IntN(2) == 0:
			src = v4()
			dst = netip.AddrPortFrom(v4(), l.addr.Port())
		case l.addr.Addr().IsUnspecified():
			dst = netip.AddrPortFrom(netip.IPv6Loopback(), l.addr.Port())
		}
		from := netip.AddrPortFrom(src, port())
		c, _ := so.connect(l.l, from.String(), dst.String())
		addrs = append(addrs, from, dst)
		n += 2
		if rng.IntN(8) == 0 {
			// FIN-WAIT-2 and CLOSE-WAIT.
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return addrs, n
}

// exprGen writes random filter expressions about a set of socket addresses,
// as tokens grouped into random words.
type exprGen struct {
	rng   *rand.Rand
	addrs []netip.AddrPort
	toks  []string
}

func (g *exprGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

func (g *exprGen) emit(toks ...string) { g.toks = append(g.toks, toks...) }

// words returns an expression, its tokens joined into 1 to len(tokens) words.
func (g *exprGen) words() []string {
	g.toks = g.toks[:0]
	g.exprList(3)
	var words []string
	for i := 0; i < len(g.toks); {
		j := i + 1 + g.rng.IntN(3)
		if g.rng.IntN(4) == 0 {
			j = len(g.toks)
		}
		j = min(j, len(g.toks))
		words = append(words, strings.Join(g.toks[i:j], " "))
		i = j
	}
	return words
}

func (g *exprGen) exprList(depth int) {
	g.expr(depth)
	for range g.rng.IntN(3) {
		if op := g.pick("and", "&&", "&", "or", "||", "|", "or", "||", "|", ""); op != "" {
			g.emit(op)
		}
		g.expr(depth)
	}
}

func (g *exprGen) expr(depth int) {
	switch r := g.rng.IntN(10); {
	case depth > 0 && r == 0:
		g.emit(g.pick("not", "!"))
		g.expr(depth - 1)
	case depth > 0 && r <= 2:
		g.emit("(")
		g.exprList(depth - 1)
		g.emit(")")
	case r <= 5:
		g.portCond()
	default:
		g.hostCond()
	}
}

func (g *exprGen) port() uint16 {
	switch g.rng.IntN(6) {
	case 0:
		return propertyPorts[g.rng.IntN(len(propertyPorts))]
	case 1:
		return uint16(g.rng.IntN(65536))
	}
	p := g.addrs[g.rng.IntN(len(g.addrs))].Port()
	return p + uint16(g.rng.IntN(3)) - 1
}

func (g *exprGen) portCond() {
	g.emit(g.pick("sport", "dport"))
	if g.rng.IntN(10) == 0 {
		g.emit(g.pick("=", "!="), g.pick("*", ":*"))
		return
	}
	op := g.pick("", "=", "==", "eq", "!=", "ne", "neq", "<", "lt", ">", "gt", "<=", "le", "leq", ">=", "ge", "geq")
	if op != "" {
		g.emit(op)
	}
	g.emit(g.pick(":", "") + strconv.Itoa(int(g.port())))
}

func (g *exprGen) hostCond() {
	g.emit(g.pick("src", "dst"))
	if op := g.pick("", "=", "==", "eq"); op != "" {
		g.emit(op)
	}
	port := ""
	if g.rng.IntN(3) == 0 {
		port = ":" + strconv.Itoa(int(g.port()))
	}
	a := g.addrs[g.rng.IntN(len(g.addrs))].Addr()
	switch r := g.rng.IntN(10); {
	case r == 0:
		g.emit(g.pick("*", "*", "any") + port)
		return
	case r == 1:
		a = netip.AddrFrom16(a.As16()) // IPv4-mapped, or IPv6 as it is
	case r == 2:
		a = netip.IPv6Unspecified()
	case r == 3:
		var b [16]byte
		b[0] = byte(g.rng.IntN(256))
		a = netip.AddrFrom16(b)
	}
	bits := a.BitLen()
	if g.rng.IntN(2) == 0 {
		bits = g.rng.IntN(bits + 1)
	}
	pfx := a.String() + "/" + strconv.Itoa(bits)
	switch {
	case a.Is4() && g.rng.IntN(2) == 0:
		g.emit(pfx + port)
	case !a.Is4() && port == "" && g.rng.IntN(2) == 0:
		g.emit(pfx) // an IPv6 prefix needs no brackets
	default:
		g.emit("[" + pfx + "]" + port)
	}
}

// TestFilterKernelProperty opens some 150 sockets on random addresses and
// ports in a namespace of its own and requires, for 300 random expressions,
// that the kernel running our bytecode keeps the sockets Match keeps.
func TestFilterKernelProperty(t *testing.T) {
	ns := newFilterNS(t)
	rng := rand.New(rand.NewPCG(filterPropertySeed, 0))
	addrs, n := randomSockets(t, ns, rng)
	all := ns.settle(t, n)
	g := &exprGen{rng: rng, addrs: addrs}
	kept := 0
	const exprs = 300
	for i := range exprs {
		words := g.words()
		f, err := Parse(words)
		if err != nil {
			t.Fatalf("seed %d, expression %d: %v", filterPropertySeed, i, err)
		}
		kernel := tupleSet(ns.dumpAll(t, f))
		match := tupleSet(matching(f, all))
		if diff := cmp.Diff(kernel, match); diff != "" {
			t.Fatalf("seed %d, expression %d %q (%q): the kernel (-) and Match (+) keep different sockets:\n%s",
				filterPropertySeed, i, words, f, diff)
		}
		if len(kernel) > 0 && len(kernel) < n {
			kept++
		}
	}
	// Expressions that keep all sockets or none test little; most must not.
	if kept < exprs/2 {
		t.Errorf("seed %d: only %d of %d expressions kept some but not all sockets", filterPropertySeed, kept, exprs)
	}
	t.Logf("%d sockets, %d expressions, %d kept some but not all", n, exprs, kept)
}
