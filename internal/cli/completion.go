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
	_, err := io.WriteString(stdout, script)
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

func bashCompletion() string {
	var b strings.Builder
	b.WriteString("# bash completion for sockstate, written by sockstate completion bash\n")
	b.WriteString("_sockstate() {\n")
	b.WriteString("    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	fmt.Fprintf(&b, "    if [[ $COMP_CWORD -eq 1 ]]; then\n        COMPREPLY=($(compgen -W %q -- \"$cur\"))\n        return\n    fi\n", strings.Join(topCommands, " "))
	b.WriteString("    case \"${COMP_WORDS[1]} $prev\" in\n")
	valueCases(func(cmd string, typed []string, v flagValue) {
		var pats []string
		for _, t := range typed {
			pats = append(pats, fmt.Sprintf("%q", cmd+" "+t))
		}
		fmt.Fprintf(&b, "    %s)\n        ", strings.Join(pats, "|"))
		switch v.kind {
		case valueFiles:
			b.WriteString("COMPREPLY=($(compgen -f -- \"$cur\"))")
		case valueNetns:
			b.WriteString("COMPREPLY=($(compgen -W \"$(ls /run/netns 2>/dev/null)\" -- \"$cur\"))")
		default:
			fmt.Fprintf(&b, "COMPREPLY=($(compgen -W %q -- \"$cur\"))", strings.Join(v.words, " "))
		}
		b.WriteString("\n        return;;\n")
	})
	var pats []string
	for _, c := range selects {
		pats = append(pats, fmt.Sprintf("%q|%q", c+" state", c+" exclude"))
	}
	fmt.Fprintf(&b, "    %s)\n        COMPREPLY=($(compgen -W %q -- \"$cur\"))\n        return;;\n", strings.Join(pats, "|"), strings.Join(ssfilter.StateNames(), " "))
	fmt.Fprintf(&b, "    \"completion \"*)\n        COMPREPLY=($(compgen -W %q -- \"$cur\"))\n        return;;\n", strings.Join(completionShells, " "))
	b.WriteString("    esac\n    case ${COMP_WORDS[1]} in\n")
	for _, c := range commands {
		words := flagWords(c)
		if slices.Contains(selects, c.name) {
			words = append(words, "state", "exclude")
		}
		fmt.Fprintf(&b, "    %s)\n        COMPREPLY=($(compgen -W %q -- \"$cur\"));;\n", c.name, strings.Join(words, " "))
	}
	b.WriteString("    esac\n}\ncomplete -F _sockstate sockstate\n")
	return b.String()
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString("#compdef sockstate\n# zsh completion for sockstate, written by sockstate completion zsh\n")
	b.WriteString("_sockstate() {\n")
	fmt.Fprintf(&b, "    if (( CURRENT == 2 )); then\n        compadd -- %s\n        return\n    fi\n", strings.Join(topCommands, " "))
	b.WriteString("    case \"$words[2] $words[CURRENT-1]\" in\n")
	valueCases(func(cmd string, typed []string, v flagValue) {
		var pats []string
		for _, t := range typed {
			pats = append(pats, fmt.Sprintf("%q", cmd+" "+t))
		}
		fmt.Fprintf(&b, "    %s)\n        ", strings.Join(pats, "|"))
		switch v.kind {
		case valueFiles:
			b.WriteString("_files")
		case valueNetns:
			b.WriteString("compadd -- ${(f)\"$(ls /run/netns 2>/dev/null)\"}")
		default:
			fmt.Fprintf(&b, "compadd -- %s", strings.Join(v.words, " "))
		}
		b.WriteString("\n        return;;\n")
	})
	var pats []string
	for _, c := range selects {
		pats = append(pats, fmt.Sprintf("%q|%q", c+" state", c+" exclude"))
	}
	fmt.Fprintf(&b, "    %s)\n        compadd -- %s\n        return;;\n", strings.Join(pats, "|"), strings.Join(ssfilter.StateNames(), " "))
	fmt.Fprintf(&b, "    \"completion \"*)\n        compadd -- %s\n        return;;\n", strings.Join(completionShells, " "))
	b.WriteString("    esac\n    case $words[2] in\n")
	for _, c := range commands {
		words := flagWords(c)
		if slices.Contains(selects, c.name) {
			words = append(words, "state", "exclude")
		}
		fmt.Fprintf(&b, "    %s)\n        compadd -- %s;;\n", c.name, strings.Join(words, " "))
	}
	b.WriteString("    esac\n}\n")
	b.WriteString("if [[ $funcstack[1] == _sockstate ]]; then\n    _sockstate \"$@\"\nelse\n    compdef _sockstate sockstate\nfi\n")
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
