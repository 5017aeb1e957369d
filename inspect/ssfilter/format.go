package ssfilter

import (
	"strconv"
	"strings"
)

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
	case exprUnix:
		if e.side == local {
			b.WriteString("src unix:")
		} else {
			b.WriteString("dst unix:")
		}
		b.WriteString(escapeWord(e.pattern))
	case exprCgroup:
		b.WriteString("cgroup ")
		b.WriteString(e.path)
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
