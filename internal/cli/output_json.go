package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/internal/demo"
)

// jsonOutput writes one JSON array, an element per line: a listing's
// sockets, with the timer, process, memory and info keys of -o, -p, -m
// and -i for the sockets that have them, or events and entries.
type jsonOutput struct {
	w       io.Writer
	started bool // the array was opened
	line    []byte
	buf     bytes.Buffer
	enc     *json.Encoder
	ssNames bool // ss's spellings of the events' states
}

var _ output = (*jsonOutput)(nil)

// sep returns what comes before the next element.
func (j *jsonOutput) sep() string {
	if j.started {
		return ",\n"
	}
	j.started = true
	return "["
}

func (j *jsonOutput) sockets(socks []inspect.Socket, o tableOptions) error {
	for i := range socks {
		line, err := j.appendSocket(append(j.line[:0], j.sep()...), socks, i, &o)
		if err != nil {
			return err
		}
		j.line = line
		if _, err := j.w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// appendSocket appends socks[i] to b: by hand where it can
// (appendJSONSocket), with encoding/json where it cannot.
func (j *jsonOutput) appendSocket(b []byte, socks []inspect.Socket, i int, o *tableOptions) ([]byte, error) {
	var procs []owners.Process
	if o.processes != nil {
		procs = o.processes[i]
	}
	if socks[i].Unix != nil {
		var peers []owners.Process
		if o.peers != nil {
			peers = o.peers[i]
		}
		return appendJSONUnixSocket(b, &socks[i], procs, peers, o), nil
	}
	b, ok := appendJSONSocket(b, &socks[i], procs, o)
	if ok {
		return b, nil
	}
	if j.enc == nil {
		j.enc = json.NewEncoder(&j.buf)
	}
	j.buf.Reset()
	if err := j.enc.Encode(newJSONSocket(&socks[i], procs, o)); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	return append(b, j.buf.Bytes()[:j.buf.Len()-1]...), nil // without the newline Encode ends with
}

func (j *jsonOutput) endList(tableOptions) error {
	end := "]\n"
	if !j.started {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

func (j *jsonOutput) event(e *inspect.WatchEvent, procs []owners.Process) error {
	return j.element(newJSONEvent(e, j.ssNames, procs))
}
func (j *jsonOutput) entry(e *demo.Entry) error {
	return j.element(newJSONEntry(e, demoNames(j.ssNames)))
}
func (j *jsonOutput) result(missed []string) error { return j.element(newJSONResult(missed)) }

// element writes v as the array's next element.
func (j *jsonOutput) element(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	_, err = j.w.Write(append([]byte(j.sep()), b...))
	return err
}
