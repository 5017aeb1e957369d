package ssfilter

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
	tokCgroup
	tokUnsupported // ss's dev, fwmark and autobound
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
	"cgroup": {kind: tokCgroup}, "autobound": {kind: tokUnsupported},
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
