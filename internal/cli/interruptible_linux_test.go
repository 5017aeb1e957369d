package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
)

// TestInterruptibleEndsBlockedWrite writes far more than a pipe holds to a
// pipe nobody reads, and requires the write to end with the context's
// error once it is cancelled.
func TestInterruptibleEndsBlockedWrite(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	out, release := interruptible(ctx, w)
	defer release()
	if out == io.Writer(w) {
		t.Fatal("a pipe is returned as it is, want it opened again")
	}
	done := make(chan error, 1)
	go func() {
		_, err := out.Write(make([]byte, 4<<20))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("write to a stalled pipe after cancel: %v, want context.Canceled", err)
	}
}

// TestInterruptibleWrites requires what is written through a pipe opened
// again to reach its reader whole and in order, and any other writer to be
// used as it is.
func TestInterruptibleWrites(t *testing.T) {
	var buf bytes.Buffer
	if out, _ := interruptible(context.Background(), &buf); out != io.Writer(&buf) {
		t.Errorf("a buffer is wrapped as %T, want it as it is", out)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, release := interruptible(context.Background(), w)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	done := make(chan error, 1)
	go func() {
		_, err := out.Write(want)
		release()
		w.Close()
		done <- err
	}()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, want the %d written", len(got), len(want))
	}
}
