package cli

import (
	"errors"
	"fmt"
	"strings"
)

// errUsage marks errors in the command line; Run exits 2 for them.
var errUsage = errors.New("usage")

// usageError is a command-line mistake with the one line that explains it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return errUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSpec is one option in the getopt style ss uses: a short letter that
// may be clustered (-tan), a long name (--tcp), and an optional value
// (--source proc, --source=proc, -N name, -Nname).
type flagSpec struct {
	short    byte
	long     string
	hasValue bool
	set      func(value string) error
}

// parseFlags splits args into options, handled by specs, and the other
// words, which keep their order. Options may come anywhere before "--", as
// with GNU getopt; everything after "--" is a word.
func parseFlags(cmd string, args []string, specs []flagSpec) (words []string, err error) {
	byShort := map[byte]*flagSpec{}
	byLong := map[string]*flagSpec{}
	for i := range specs {
		if specs[i].short != 0 {
			byShort[specs[i].short] = &specs[i]
		}
		if specs[i].long != "" {
			byLong[specs[i].long] = &specs[i]
		}
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return append(words, args[i+1:]...), nil
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg[2:], "=")
			spec := byLong[name]
			if spec == nil {
				return nil, usagef("%s: unknown flag --%s; see 'sockstate %s -h'", cmd, name, cmd)
			}
			if spec.hasValue && !hasValue {
				if i+1 >= len(args) {
					return nil, usagef("%s: flag --%s needs a value", cmd, name)
				}
				i++
				value = args[i]
			} else if !spec.hasValue && hasValue {
				return nil, usagef("%s: flag --%s takes no value", cmd, name)
			}
			if spec.hasValue {
				if err := checkValue(cmd, "--"+name, value); err != nil {
					return nil, err
				}
			}
			if err := spec.set(value); err != nil {
				return nil, err
			}
		case len(arg) > 1 && arg[0] == '-':
			for j := 1; j < len(arg); j++ {
				spec := byShort[arg[j]]
				if spec == nil {
					return nil, usagef("%s: unknown flag -%c; see 'sockstate %s -h'", cmd, arg[j], cmd)
				}
				if !spec.hasValue {
					if err := spec.set(""); err != nil {
						return nil, err
					}
					continue
				}
				value := arg[j+1:]
				if value == "" {
					if i+1 >= len(args) {
						return nil, usagef("%s: flag -%c needs a value", cmd, arg[j])
					}
					i++
					value = args[i]
				}
				if err := checkValue(cmd, "-"+string(arg[j]), value); err != nil {
					return nil, err
				}
				if err := spec.set(value); err != nil {
					return nil, err
				}
				break
			}
		default:
			words = append(words, arg)
		}
	}
	return words, nil
}

// boolFlag returns a setter that turns *p on.
func boolFlag(p *bool) func(string) error {
	return func(string) error { *p = true; return nil }
}
