package cli

import (
	"encoding/json"
	"io"

	"github.com/sockstate/sockstate/inspect"
	"github.com/sockstate/sockstate/inspect/owners"
	"github.com/sockstate/sockstate/internal/demo"
)

// jsonlOutput writes JSON Lines: an object per socket, event or entry,
// and the demo's result, each on a line of its own.
type jsonlOutput struct {
	w     io.Writer
	enc   *json.Encoder
	array jsonOutput // formats the sockets
	// ssNames: ss's spellings of the events' states
	ssNames bool
}

var _ output = (*jsonlOutput)(nil)

func (j *jsonlOutput) sockets(socks []inspect.Socket, o tableOptions) error {
	for i := range socks {
		line, err := j.array.appendSocket(j.array.line[:0], socks, i, &o)
		if err != nil {
			return err
		}
		j.array.line = append(line, '\n')
		if _, err := j.w.Write(j.array.line); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonlOutput) endList(tableOptions) error { return nil }

func (j *jsonlOutput) event(e *inspect.WatchEvent, procs []owners.Process) error {
	return j.encode(newJSONEvent(e, j.ssNames, procs))
}
func (j *jsonlOutput) entry(e *demo.Entry) error {
	return j.encode(newJSONEntry(e, demoNames(j.ssNames)))
}
func (j *jsonlOutput) result(missed []string) error { return j.encode(newJSONResult(missed)) }

func (j *jsonlOutput) encode(v any) error {
	if j.enc == nil {
		j.enc = json.NewEncoder(j.w)
	}
	return j.enc.Encode(v)
}
