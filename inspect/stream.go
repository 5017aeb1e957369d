package inspect

import (
	"context"
	"errors"
)

// Streamer is a Source that can hand its sockets over in batches as they
// come, holding one batch at a time, such as sockdiag.Source.
type Streamer interface {
	// Each lists what Sockets lists, in the same order, handing the
	// sockets to fn in batches; a batch is valid only until fn returns.
	// It stops at fn's first error and returns it.
	Each(ctx context.Context, q Query, fn func([]Socket) error) error
}

// Each lists q from src in batches, with the Each of src's Streamer (found
// as Find finds it) and otherwise with its Sockets, handing fn the whole
// listing at once, also when Sockets' error says only that the listing
// may be incomplete (ErrIncomplete), as a Streamer hands over what it has.
func Each(ctx context.Context, src Source, q Query, fn func([]Socket) error) error {
	if st, ok := Find[Streamer](src); ok {
		return st.Each(ctx, q, fn)
	}
	socks, err := src.Sockets(ctx, q)
	if err != nil && !errors.Is(err, ErrIncomplete) {
		return err
	}
	if len(socks) > 0 {
		if ferr := fn(socks); ferr != nil {
			return ferr
		}
	}
	return err
}
