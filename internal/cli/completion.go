package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sockstate/sockstate/inspect/ssfilter"
)

// topCommands are the words that may follow sockstate.
var topCommands = []string{"demo", "ls", "watch", "serve", "help", "version", "completion"}

// valueKind says what a flag's value completes to.
type valueKind int

const (
	valueWords valueKind = iota // a fixed list of words
	valueFiles                  // a file name
	valueNetns                  // a namespace name under /run/netns
)

// flagValue is what one flag of a command takes.
type flagValue struct {
	kind  valueKind
	words []string
}

// flagValues are the values of the flags that take one and complete to
// something: every other flag's value is left to the shell.
var flagValues = map[string]map[string]flagValue{
	"ls": {
		"source": {words: []string{"auto", "netlink", "proc"}},
		"net":    {kind: valueNetns},
		"netns":  {kind: valueFiles},
		"filter": {kind: valueFiles},
		"family": {words: []string{"inet", "inet6", "unix"}},
		"query":  {words: []string{"all", "inet", "tcp", "udp", "raw", "mptcp", "unix", "unix_stream", "unix_dgram", "unix_seqpacket"}},
	},
	"watch": {"source": {words: []string{"auto", "netlink", "proc", "trace"}}},
	"demo": {
		"source": {words: []string{"auto", "trace", "netlink", "proc"}},
		"closer": {words: []string{"server", "client"}},
	},
	"serve": {
		"source": {words: []string{"auto", "netlink", "proc"}},
		"net":    {kind: valueNetns},
		"netns":  {kind: valueFiles},
	},
}

// selects are the commands that take a state selection.
var selects = []string{"ls", "watch"}

// completionShells are the shells runCompletion writes for.
var completionShells = []string{"bash", "zsh", "fish"}

// runCompletion writes the completion script of the shell args names.
func runCompletion(args []string, stdout io.Writer) error {
	args, err := plainFlags("completion", completionUsage, args, stdout)
	if err != nil {
		return err
	}
	if len(args) != 1 || !slices.Contains(completionShells, args[0]) {
		return usagef("completion: give one shell: bash, zsh or fish (such as: source <(sockstate completion bash))")
	}
	var script string
	switch args[0] {
	case "bash":
		script = bashCompletion()
	case "zsh":
		script = zshCompletion()
	default:
		script = fishCompletion()
	}
	_, err = io.WriteString(stdout, script)
	return err
}

// flagWords returns a command's flags as they are typed: -t, --tcp ...
func flagWords(c command) []string {
	var words []string
	for _, f := range helpFlags(c.usage) {
		if f.short != "" {
			words = append(words, "-"+f.short)
		}
		words = append(words, "--"+f.long)
	}
	return words
}

// valueCases calls fn for each flag of each command whose value completes,
// with the words it is typed as.
func valueCases(fn func(cmd string, typed []string, v flagValue)) {
	for _, c := range commands {
		for _, f := range helpFlags(c.usage) {
			v, ok := flagValues[c.name][f.long]
			if !ok {
				continue
			}
			typed := []string{"--" + f.long}
			if f.short != "" {
				typed = append(typed, "-"+f.short)
			}
			fn(c.name, typed, v)
		}
	}
}

// shellDialect is how bash or zsh says the parts of a completion function
// that looks at the command and the word before the cursor.
type shellDialect struct {
	head string // up to the case on the command and the previous word
	// words completes to a list of words; files and netns to file and
	// namespace names.
	words        func(list []string) string
	files, netns string
	// cmdWord is the command's word, for the case on the command alone.
	cmdWord string
	tail    string // after that case
}

var bashDialect = shellDialect{
	head: "# bash completion for sockstate, written by sockstate completion bash\n_sockstate() {\n" +
		"    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n" +
		"    if [[ $COMP_CWORD -eq 1 ]]; then\n        %s\n        return\n    fi\n" +
		"    case \"${COMP_WORDS[1]} $prev\" in\n",
	words: func(list []string) string {
		return fmt.Sprintf("COMPREPLY=($(compgen -W %q -- \"$cur\"))", strings.Join(list, " "))
	},
	files:   "COMPREPLY=($(compgen -f -- \"$cur\"))",
	netns:   "COMPREPLY=($(compgen -W \"$(ls /run/netns 2>/dev/null)\" -- \"$cur\"))",
	cmdWord: "${COMP_WORDS[1]}",
	tail:    "}\ncomplete -F _sockstate sockstate\n",
}

var zshDialect = shellDialect{
	head: "#compdef sockstate\n# zsh completion for sockstate, written by sockstate completion zsh\n_sockstate() {\n" +
		"    if (( CURRENT == 2 )); then\n        %s\n        return\n    fi\n" +
		"    case \"$words[2] $words[CURRENT-1]\" in\n",
	words:   func(list []string) string { return "compadd -- " + strings.Join(list, " ") },
	files:   "_files",
	netns:   "compadd -- ${(f)\"$(ls /run/netns 2>/dev/null)\"}",
	cmdWord: "$words[2]",
	tail: "}\nif [[ $funcstack[1] == _sockstate ]]; then\n    _sockstate \"$@\"\nelse\n" +
		"    compdef _sockstate sockstate\nfi\n",
}

func bashCompletion() string { return caseCompletion(bashDialect) }
func zshCompletion() string  { return caseCompletion(zshDialect) }

// caseCompletion writes a completion function in dialect d: the
// commands, then a case on the command and the previous word for the
// values of flags, state names and shells, then a case on the command for
// its flags.
func caseCompletion(d shellDialect) string {
	var b strings.Builder
	fmt.Fprintf(&b, d.head, d.words(topCommands))
	arm := func(pats []string, body string) {
		quoted := make([]string, len(pats))
		for i, p := range pats {
			quoted[i] = fmt.Sprintf("%q", p)
		}
		fmt.Fprintf(&b, "    %s)\n        %s\n        return;;\n", strings.Join(quoted, "|"), body)
	}
	valueCases(func(cmd string, typed []string, v flagValue) {
		var pats []string
		for _, t := range typed {
			pats = append(pats, cmd+" "+t)
		}
		switch v.kind {
		case valueFiles:
			arm(pats, d.files)
		case valueNetns:
			arm(pats, d.netns)
		default:
			arm(pats, d.words(v.words))
		}
	})
	var pats []string
	for _, c := range selects {
		pats = append(pats, c+" state", c+" exclude")
	}
	arm(pats, d.words(ssfilter.StateNames()))
	b.WriteString("    \"completion \"*)\n        " + d.words(completionShells) + "\n        return;;\n")
	b.WriteString("    esac\n    case " + d.cmdWord + " in\n")
	for _, c := range commands {
		words := flagWords(c)
		if slices.Contains(selects, c.name) {
			words = append(words, "state", "exclude")
		}
		fmt.Fprintf(&b, "    %s)\n        %s;;\n", c.name, d.words(words))
	}
	b.WriteString("    esac\n" + d.tail)
	return b.String()
}

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# fish completion for sockstate, written by sockstate completion fish\n")
	b.WriteString("complete -c sockstate -f\n")
	summaries := map[string]string{"help": "show the commands", "version": "print the version and revision", "completion": "print a completion script"}
	for _, c := range commands {
		summaries[c.name] = c.summary
	}
	for _, name := range topCommands {
		fmt.Fprintf(&b, "complete -c sockstate -n __fish_use_subcommand -a %s -d %s\n", name, fishQuote(summaries[name]))
	}
	fmt.Fprintf(&b, "complete -c sockstate -n '__fish_seen_subcommand_from completion' -a %s\n", fishQuote(strings.Join(completionShells, " ")))
	for _, c := range commands {
		cond := fishQuote("__fish_seen_subcommand_from " + c.name)
		for _, f := range helpFlags(c.usage) {
			fmt.Fprintf(&b, "complete -c sockstate -n %s", cond)
			if f.short != "" {
				fmt.Fprintf(&b, " -s %s", f.short)
			}
			fmt.Fprintf(&b, " -l %s", f.long)
			if f.value != "" {
				b.WriteString(" -r")
				if v, ok := flagValues[c.name][f.long]; ok {
					switch v.kind {
					case valueFiles:
						b.WriteString(" -F")
					case valueNetns:
						b.WriteString(" -a '(ls /run/netns 2>/dev/null)'")
					default:
						fmt.Fprintf(&b, " -a %s", fishQuote(strings.Join(v.words, " ")))
					}
				}
			}
			fmt.Fprintf(&b, " -d %s\n", fishQuote(f.desc[0]))
		}
		if slices.Contains(selects, c.name) {
			fmt.Fprintf(&b, "complete -c sockstate -n %s -a 'state exclude'\n", cond)
			fmt.Fprintf(&b, "complete -c sockstate -n %s -a %s\n",
				fishQuote("__fish_seen_subcommand_from "+c.name+"; and contains -- (commandline -opc)[-1] state exclude"),
				fishQuote(strings.Join(ssfilter.StateNames(), " ")))
		}
	}
	return b.String()
}

// fishQuote quotes s for fish, in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
