package cli

import (
	"io"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
)

type tableOptions struct {
	// netid and state show those columns; ss leaves them out when only
	// one protocol, or one state, is listed.
	netid, state, header, extended bool
	// timers (-o) adds timer:(...), info (-i) the tcp_info line and
	// memory (-m) the skmem line, as ss does; oneline (-O) puts those on
	// the socket's line.
	timers, info, memory, oneline bool
	// processes (-p), when not nil, holds the processes holding each
	// socket (processes[i] for socks[i]), printed as users:(...) in a
	// Process column; peers those holding each unix socket's peer,
	// printed after them as peer:(...).
	processes, peers [][]owners.Process
	// names, when not nil, names the hosts and ports (-r).
	names *names
	// netns, when not nil, names each socket's network namespace in a
	// leading Netns column (ls --all-netns).
	netns netnsNamer
	// cgroups, when not nil, names each socket's cgroup after its
	// processes and timer, as ss --cgroup does, and its container in a
	// Container column, as it says.
	cgroups *cgroupNames
	// ssNames prints ss's spellings of the states (--ss-names).
	ssNames bool
}

// appendEndpoint appends ap as ss prints it: [v6]:port, with * for port 0.
func appendEndpoint(b []byte, ap netip.AddrPort) []byte {
	if ap.Addr().Is6() {
		b = append(b, '[')
		b = ap.Addr().AppendTo(b)
		b = append(b, ']')
	} else {
		b = ap.Addr().AppendTo(b)
	}
	b = append(b, ':')
	if ap.Port() == 0 {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// endpoint prints ap as ss does: [v6]:port, with * for port 0.
func endpoint(ap netip.AddrPort) string {
	port := "*"
	if ap.Port() != 0 {
		port = strconv.Itoa(int(ap.Port()))
	}
	if ap.Addr().Is6() {
		return "[" + ap.Addr().String() + "]:" + port
	}
	return ap.Addr().String() + ":" + port
}

// writeTable writes socks as an aligned table (writeAligned). It once
// used tablewriter for tables under 1,000 rows; TestWriteAlignedMatchesTablewriter
// holds the output to tablewriter's, byte for byte, but tablewriter took
// 10 ms of CPU for 500 rows, which is the whole of ss's time for a
// filtered listing of 10,000 sockets.
func writeTable(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	return writeAligned(w, socks, o)
}

// table lays out rows of left-aligned columns, each cell padded to its
// column's width and followed by a space, as the table has always looked.
// Only the cells are kept, in one buffer, so a listing of 100,000 sockets
// makes no allocation per cell. What follows the cells on a row (ss's
// Process column and the timer) and the second line (the -i and -m
// details) are not aligned: they are made while the rows are written, one
// at a time, and never all held at once.
type table struct {
	cols int
	buf  []byte
	ends []int32 // end of each cell in buf, row after row
	// serial formats the rows on the calling goroutine, into line, which
	// it keeps, as a table written batch by batch reuses one table.
	serial bool
	line   []byte
}

func (t *table) end() { t.ends = append(t.ends, int32(len(t.buf))) }

// cell returns cell i of row r.
func (t *table) cell(r, i int) []byte {
	k := r*t.cols + i
	start := int32(0)
	if k > 0 {
		start = t.ends[k-1]
	}
	return t.buf[start:t.ends[k]]
}

// write writes the rows, padding each cell to its column's width. tail
// appends what follows the cells of row r, its newline included; it must be
// safe to call from several goroutines at once.
//
// Rows are formatted in blocks. A large table's blocks are shared among
// GOMAXPROCS goroutines, each with two buffers it reuses, and written in
// order as they are done: -i's lines take about as long to format as the
// kernel takes to list the sockets.
func (t *table) write(w io.Writer, tail func(b []byte, r int) []byte) error {
	widths := make([]int, t.cols)
	rows := len(t.ends) / t.cols
	for r := range rows {
		for i := range t.cols {
			widths[i] = max(widths[i], len(t.cell(r, i)))
		}
	}
	format := func(b []byte, from, to int) []byte {
		const spaces = "                                                                "
		for r := from; r < to; r++ {
			for i := range t.cols {
				cell := t.cell(r, i)
				b = append(b, cell...)
				for pad := widths[i] - len(cell) + 1; pad > 0; pad -= len(spaces) {
					b = append(b, spaces[:min(pad, len(spaces))]...)
				}
			}
			b = tail(b, r)
		}
		return b
	}

	const blockRows = 1024
	blocks := (rows + blockRows - 1) / blockRows
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if workers <= 1 || t.serial {
		for from := 0; from < rows; from += blockRows {
			t.line = format(t.line[:0], from, min(from+blockRows, rows))
			if _, err := w.Write(t.line); err != nil {
				return err
			}
		}
		return nil
	}
	// Worker k formats blocks k, k+workers, ...; the writer takes block n
	// from worker n%workers and gives the buffer back when written.
	type worker struct{ done, free chan []byte }
	ws := make([]worker, workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for k := range ws {
		ws[k] = worker{done: make(chan []byte, 2), free: make(chan []byte, 2)}
		ws[k].free <- nil
		ws[k].free <- nil
		wg.Go(func() {
			for n := k; n < blocks; n += workers {
				var b []byte
				select {
				case b = <-ws[k].free:
				case <-stop:
					return
				}
				from := n * blockRows
				ws[k].done <- format(b[:0], from, min(from+blockRows, rows))
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	for n := range blocks {
		k := n % workers
		b := <-ws[k].done
		if _, err := w.Write(b); err != nil {
			return err
		}
		ws[k].free <- b
	}
	return nil
}

// writeAligned writes the table tablewriter would, left-aligned columns
// each followed by one space, and what only it can: the free text after the
// cells (-p, -o) and the second lines (-i, -m).
func writeAligned(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	return (&table{}).writeSockets(w, socks, o)
}

// writeSockets lays out socks in t, reusing its buffers, and writes them.
func (t *table) writeSockets(w io.Writer, socks []inspect.Socket, o tableOptions) error {
	t.cols = 4
	if o.netns != nil {
		t.cols++
	}
	if o.netid {
		t.cols++
	}
	if o.state {
		t.cols++
	}
	containers := o.cgroups != nil && o.cgroups.containers
	if containers {
		t.cols++
	}
	if o.extended {
		t.cols += 3
	}
	t.buf = slices.Grow(t.buf[:0], 64*(len(socks)+1))
	t.ends = slices.Grow(t.ends[:0], t.cols*(len(socks)+1))
	// The cgroups' paths are found here, on one goroutine, for the rows
	// written on several.
	var cgroupPaths []string
	if o.cgroups != nil && o.cgroups.show {
		cgroupPaths = make([]string, len(socks))
	}
	first := 0 // the row of socks[0]
	if o.header {
		first = 1
		cell := func(s string) {
			t.buf = append(t.buf, s...)
			t.end()
		}
		if o.netns != nil {
			cell("Netns")
		}
		if o.netid {
			cell("Netid")
		}
		if o.state {
			cell("State")
		}
		cell("Recv-Q")
		cell("Send-Q")
		cell("Local Address:Port")
		cell("Peer Address:Port")
		if containers {
			cell("Container")
		}
		if o.extended {
			cell("UID")
			cell("Inode")
			cell("Cookie")
		}
	}
	for i := range socks {
		s := &socks[i]
		if cgroupPaths != nil {
			cgroupPaths[i] = o.cgroups.path(s.CgroupID)
		}
		if o.netns != nil {
			t.buf = append(t.buf, o.netns.label(s.NetNS)...)
			t.end()
		}
		if o.netid {
			t.buf = append(t.buf, s.Netid()...)
			t.end()
		}
		if o.state {
			t.buf = append(t.buf, stateName(s, o.ssNames)...)
			t.end()
		}
		t.buf = strconv.AppendUint(t.buf, uint64(s.RecvQ), 10)
		t.end()
		t.buf = strconv.AppendUint(t.buf, uint64(s.SendQ), 10)
		t.end()
		if s.Unix != nil {
			t.buf = appendUnixLocal(t.buf, s)
			t.end()
			t.buf = appendUnixPeer(t.buf, s)
		} else if o.names != nil {
			t.buf = o.names.appendEndpoint(t.buf, s.Local, s.Protocol)
			t.end()
			t.buf = o.names.appendEndpoint(t.buf, s.Peer, s.Protocol)
		} else {
			t.buf = appendEndpoint(t.buf, s.Local)
			t.end()
			t.buf = appendEndpoint(t.buf, s.Peer)
		}
		t.end()
		if containers {
			t.buf = append(t.buf, o.cgroups.container(s.CgroupID).text...)
			t.end()
		}
		if o.extended {
			t.buf = strconv.AppendUint(t.buf, uint64(s.UID), 10)
			t.end()
			t.buf = strconv.AppendUint(t.buf, s.Inode, 10)
			t.end()
			t.buf = appendCookie(t.buf, s.Cookie)
			t.end()
		}
	}
	return t.write(w, func(b []byte, r int) []byte {
		if r < first {
			if o.processes != nil {
				b = append(b, "Process"...)
			}
			return append(b, '\n')
		}
		i := r - first
		s := &socks[i]
		// Users, then the timer, as ss orders them.
		start := len(b)
		if o.processes != nil && len(o.processes[i]) > 0 {
			b = appendUsers(b, o.processes[i])
		}
		if s.Unix != nil {
			b = appendUnixTail(b, s, start, &o, i)
			return append(b, '\n')
		}
		if o.timers && s.Timer != inspect.TimerNone {
			if len(b) > start {
				b = append(b, ' ')
			}
			b = appendTimer(b, s)
		}
		if cgroupPaths != nil {
			b = appendCgroup(b, cgroupPaths[i])
		}
		b = append(b, '\n')
		// ss prints the second line for every socket with -m, and for
		// every TCP socket with -i, even when the kernel sent nothing
		// to put on it (TIME_WAIT).
		if !o.memory && !(o.info && s.Protocol == inspect.TCP) {
			return b
		}
		if o.oneline {
			b = b[:len(b)-1]
		} else {
			b = append(b, '\t')
		}
		if o.memory && s.Memory != nil {
			b = appendMemory(b, s.Memory)
		}
		if o.info && s.Info != nil {
			b = appendInfo(b, s.State, s.Info, o.timers)
		}
		return append(b, '\n')
	})
}

func cookieText(c uint64) string {
	return string(appendCookie(nil, c))
}

func appendCookie(b []byte, c uint64) []byte {
	if c == 0 {
		return append(b, '-')
	}
	return strconv.AppendUint(append(b, "0x"...), c, 16)
}
