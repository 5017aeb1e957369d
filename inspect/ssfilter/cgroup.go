package ssfilter

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/sockstate/sockstate/inspect/cgroups"
)

// cgroup parses the rest of "cgroup [=|!=] PATH", as ss's ssfilter.y
// does: "!=" negates.
func (p *parser) cgroup(kw *token) (*expr, error) {
	negate := false
	if t := p.peek(); t.kind == tokCmp {
		switch t.op {
		case opEq:
		case opNe:
			negate = true
		default:
			return nil, &SyntaxError{t.col, fmt.Sprintf("cgroup compares only with \"=\" or \"!=\", not %q", t.text)}
		}
		p.next()
	}
	t := p.next()
	if t.kind != tokWord || t.text == "" {
		return nil, p.unexpected(t, "a cgroup path after "+strconv.Quote(kw.text))
	}
	resolve := p.cgroupID
	if resolve == nil {
		resolve = mountCgroupID
	}
	id, err := resolve(t.text)
	if err != nil {
		return nil, &SyntaxError{t.col, err.Error()}
	}
	e := &expr{kind: exprCgroup, path: t.text, cgroupID: id}
	if negate {
		e = &expr{kind: exprNot, x: e}
	}
	return e, nil
}

var mountPaths = sync.OnceValues(cgroups.NewPaths)

// mountCgroupID resolves path under the cgroup2 mount that
// /proc/self/mountinfo names.
func mountCgroupID(path string) (uint64, error) {
	paths, err := mountPaths()
	if err != nil {
		return 0, err
	}
	return paths.ID(path)
}

// Cgroup reports whether f has a cgroup condition, which only a source
// that knows each socket's cgroup (sock_diag) can run.
func (f *Filter) Cgroup() bool {
	return f != nil && f.root != nil && f.root.hasCgroup()
}

func (e *expr) hasCgroup() bool {
	switch e.kind {
	case exprAnd, exprOr:
		return e.x.hasCgroup() || e.y.hasCgroup()
	case exprNot:
		return e.x.hasCgroup()
	}
	return e.kind == exprCgroup
}
