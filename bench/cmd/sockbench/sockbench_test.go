package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary serve as its own inner harness and helpers,
// as the sockbench binary does.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) != "" {
		os.Exit(runProcess())
	}
	os.Exit(m.Run())
}

// TestSmallRun is the CI mode end to end: 1,000 sockets, 3 runs, every tool
// there is. It checks the table's rows and fields and that nothing is left,
// and asserts no timings.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("sockbench runs on linux, not %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Skip("sockbench needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skipf("ss is not installed: %v", err)
	}
	tools := []string{"ss", "gopsutil"}
	_, err := exec.LookPath("netstat")
	withNetstat := err == nil
	if withNetstat {
		tools = append(tools, "netstat")
	}
	tools = append(tools, "sockstate")

	var stdout, stderr bytes.Buffer
	args := []string{"-n", "1000", "-runs", "3", "-json", "-only", strings.Join(tools, ",")}
	if code := run(t.Context(), "", args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("sockbench %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}

	filter := fmt.Sprintf("'sport = :%d'", basePort)
	want := []string{
		"tan | sockstate ls -tan", "tan | ss -tan", "tan | netstat -tan",
		"json | sockstate ls -tan -j", "json | ss -tan",
		"info | sockstate ls -tani", "info | ss -tani",
		"procs | sockstate ls -tanp", "procs | ss -tanp",
		"filter | sockstate ls -tan " + filter, "filter | ss -tan " + filter,
		"cgroup | sockstate ls -tan --cgroup", "cgroup | sockstate ls -tan", "cgroup | ss -tan --cgroup",
		`gopsutil | gopsutil net.Connections("tcp")`, "gopsutil | ss -tanp",
	}
	keep := want[:0]
	for _, w := range want {
		switch {
		case !withNetstat && strings.Contains(w, "netstat"):
		default:
			keep = append(keep, w)
		}
	}
	want = keep

	var md bytes.Buffer
	if err := writeMarkdown(&md, &rep); err != nil {
		t.Fatal(err)
	}
	got := checkTable(t, md.String())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("table rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	p := rep.Setup.Plan
	if s := p.sockets(); s != 1000 {
		t.Errorf("plan makes %d sockets, want 1000", s)
	}
	filtered := 0
	for _, pairs := range p.Pairs {
		filtered += 1 + ceilDiv(pairs, p.Ports)
	}
	// Each tool's output lines: its header and one line a socket.
	wantLines := map[string]int{
		"ss -tan":                         1 + 1000,
		"ss -tanp":                        1 + 1000,
		"netstat -tan":                    2 + 1000,
		"ss -tan " + filter:               1 + filtered,
		`gopsutil net.Connections("tcp")`: 1,
	}
	for _, g := range rep.Groups {
		for _, r := range g.Rows {
			if w, ok := wantLines[r.Command.String()]; ok && r.Lines != w {
				t.Errorf("%s printed %d lines, want %d", r.Command, r.Lines, w)
			}
		}
	}

	c := rep.Cleanup
	if c.ProcessesLeft != 0 || c.NetnsTCPInUse != 0 || c.HostPlanSockets != 0 {
		t.Errorf("cleanup: %+v, want no process or socket left", c)
	}
	if n, err := hostPlanSockets(); err != nil || n != 0 {
		t.Errorf("host sockets on the plan's addresses: %d, %v; want 0", n, err)
	}
	if pids := copiesOfSelf(t); len(pids) > 0 {
		t.Errorf("helper or inner processes %v outlived the run", pids)
	}
}

// checkTable finds the markdown table in md, checks that every numeric
// column of every row holds a positive number, and returns the rows as
// "group | command".
func checkTable(t *testing.T, md string) []string {
	t.Helper()
	header := "| " + strings.Join(tableHeader, " | ") + " |"
	_, table, ok := strings.Cut(md, header+"\n")
	if !ok {
		t.Fatalf("no table header %q in:\n%s", header, md)
	}
	var rows []string
	for i, line := range strings.Split(table, "\n") {
		if i == 0 || !strings.HasPrefix(line, "| ") {
			continue // the alignment row, and the text after the table
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != len(tableHeader) {
			t.Errorf("row %q has %d cells, want %d", line, len(cells), len(tableHeader))
			continue
		}
		for j, cell := range cells[2:] {
			if v, err := strconv.ParseFloat(cell, 64); err != nil || v <= 0 {
				t.Errorf("row %q: %s is %q, want a positive number", line, tableHeader[j+2], cell)
			}
		}
		rows = append(rows, cells[0]+" | "+strings.Trim(cells[1], "`"))
	}
	return rows
}

// copiesOfSelf lists other processes running this test binary.
func copiesOfSelf(t *testing.T) []int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestNetnsRun is -netns end to end, small: 300 sockets over 3 namespaces,
// then in one. The loop's lines are exactly each namespace's sockets and
// header; ls --all-netns sees them and whatever else the host has.
func TestNetnsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("sockbench needs root to create network namespaces")
	}
	for _, tool := range []string{"ss", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-n", "300", "-netns", "3", "-runs", "1", "-json", "-only", "sockstate,ss"}
	if code := run(t.Context(), "", args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("sockbench %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}
	if len(rep.Groups) == 0 || rep.Groups[0].Name != "allnetns" || len(rep.Groups[0].Rows) != 2 {
		t.Fatalf("groups %+v, want allnetns first, with two rows", rep.Groups)
	}
	all, loop := rep.Groups[0].Rows[0], rep.Groups[0].Rows[1]
	if loop.Command.Tool != "sh" || loop.Lines != 3*(100+1) {
		t.Errorf("loop %q printed %d lines, want 3 namespaces x (100 sockets + a header)", loop.Command, loop.Lines)
	}
	if all.Lines < 300+1 || all.VsSS <= 0 {
		t.Errorf("ls --all-netns printed %d lines (ratio %v), want at least the 300 sockets and a header", all.Lines, all.VsSS)
	}
	if s := rep.Setup.Plan.sockets(); s != 300 {
		t.Errorf("the one-namespace plan makes %d sockets, want 300", s)
	}
}
