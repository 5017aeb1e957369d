package main

import (
	"fmt"
	"slices"
	"strings"
)

// The tools sockbench knows, in the order -only lists them.
var allTools = []string{"sockstate", "ss", "netstat", "gopsutil"}

// command is one program run: a tool and its arguments.
type command struct {
	Tool string   `json:"tool"`
	Args []string `json:"args"`
}

// String is the command as a shell would take it, with the tool's name for
// the binary.
func (c command) String() string {
	if c.Tool == "gopsutil" {
		return `gopsutil net.Connections("tcp")`
	}
	parts := []string{c.Tool}
	for _, a := range c.Args {
		if strings.ContainsAny(a, " '\"") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// groupSpec is a set of commands timed interleaved. Its ss command is the
// counterpart the others' medians are divided by.
type groupSpec struct {
	Name     string    `json:"name"`
	Commands []command `json:"commands"`
}

// groupSpecs lists every comparison. The filter group selects the helpers'
// first listening port: one listener per helper and the server ends of every
// ports-th connection.
func groupSpecs() []groupSpec {
	filter := fmt.Sprintf("sport = :%d", basePort)
	sockstate := func(args ...string) command { return command{"sockstate", append([]string{"ls"}, args...)} }
	ss := func(args ...string) command { return command{"ss", args} }
	return []groupSpec{
		{"tan", []command{sockstate("-tan"), ss("-tan"), {"netstat", []string{"-tan"}}}},
		{"json", []command{sockstate("-tan", "-j"), ss("-tan")}},
		{"info", []command{sockstate("-tani"), ss("-tani")}},
		{"procs", []command{sockstate("-tanp"), ss("-tanp")}},
		{"filter", []command{sockstate("-tan", filter), ss("-tan", filter)}},
		// --cgroup against plain ls -tan (the target) and ss's --cgroup.
		{"cgroup", []command{sockstate("-tan", "--cgroup"), sockstate("-tan"), ss("-tan", "--cgroup")}},
		// gopsutil maps every connection to its process, as ss -p does.
		{"gopsutil", []command{{"gopsutil", nil}, ss("-tanp")}},
	}
}

// selectGroups keeps the commands of the tools in only. It drops a group left
// empty, and one left with nothing but ss commands an earlier group already
// times.
func selectGroups(specs []groupSpec, only []string) []groupSpec {
	var kept []groupSpec
	timed := map[string]bool{}
	for _, g := range specs {
		var cmds []command
		redundant := true
		for _, c := range g.Commands {
			if !slices.Contains(only, c.Tool) {
				continue
			}
			cmds = append(cmds, c)
			if c.Tool != "ss" || !timed[c.String()] {
				redundant = false
			}
		}
		if redundant {
			continue
		}
		for _, c := range cmds {
			timed[c.String()] = true
		}
		kept = append(kept, groupSpec{g.Name, cmds})
	}
	return kept
}

// parseOnly turns -only's comma-separated list into tools, in allTools order.
func parseOnly(s string) ([]string, error) {
	if s == "" {
		return allTools, nil
	}
	var only []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(allTools, t) {
			return nil, fmt.Errorf("-only: unknown tool %q (want some of %s)", t, strings.Join(allTools, ","))
		}
		only = append(only, t)
	}
	return slices.DeleteFunc(slices.Clone(allTools), func(t string) bool { return !slices.Contains(only, t) }), nil
}
