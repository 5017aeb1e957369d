package cli

import (
	"fmt"
	"io"
)

const versionUsage = `usage: sockstate version [FLAGS]

Print sockstate's version, the revision it was built from and the Go
version that built it; sockstate --version and sockstate -V print the same.

      --color WHEN    accepted, as every command takes it: version prints
                      no colours
  -h, --help          this text
`

const completionUsage = `usage: sockstate completion [FLAGS] SHELL

Print a completion script for SHELL, bash, zsh or fish, such as
source <(sockstate completion bash) in ~/.bashrc.

      --color WHEN    accepted, as every command takes it: the script has
                      no colours
  -h, --help          this text
`

// plainFlags parses the flags of a command that takes no flags of its own
// (version, completion, help): --color, which every command takes, and
// -h. It returns the other words, or errHelp once usage is printed.
func plainFlags(cmd, usage string, args []string, stdout io.Writer) ([]string, error) {
	display, help := newDisplay(), false
	words, err := parseFlags(cmd, args, []flagSpec{display.colorSpec(cmd), {short: 'h', long: "help", set: boolFlag(&help)}})
	if err != nil {
		return nil, err
	}
	if help {
		fmt.Fprint(stdout, usage)
		return nil, errHelp
	}
	return words, nil
}
