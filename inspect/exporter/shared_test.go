package exporter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockstate/sockstate/inspect"
)

// blockingSource lists nothing, after its first listing has been let go by
// the test: a scripted Source that holds a collection in progress. The
// first listing waits for the test to hear of it: a send that gave up when
// the test was not yet listening let a loaded machine's first scrape
// finish unheld, and the test wait forever.
type blockingSource struct {
	entered, release chan struct{}
	first            sync.Once
}

func (s *blockingSource) Sockets(ctx context.Context, q inspect.Query) ([]inspect.Socket, error) {
	s.first.Do(func() {
		s.entered <- struct{}{}
		<-s.release
	})
	return nil, nil
}

// TestScrapesShareACollection holds a collection in progress while a
// second scrape comes: the second waits, both report the one collection.
func TestScrapesShareACollection(t *testing.T) {
	src := &blockingSource{entered: make(chan struct{}), release: make(chan struct{})}
	c, err := New(Config{Source: src, MaxSeries: 1})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan []prometheus.Metric, 2)
	scrape := func() {
		ch := make(chan prometheus.Metric, 200)
		c.Collect(ch)
		close(ch)
		var ms []prometheus.Metric
		for m := range ch {
			ms = append(ms, m)
		}
		results <- ms
	}
	go scrape()
	<-src.entered
	go scrape()
	for i := 0; ; i++ {
		c.mu.Lock()
		shared := c.shared
		c.mu.Unlock()
		if shared == 1 {
			break
		}
		if i == 1000 {
			t.Fatal("the second scrape never waited for the first's collection")
		}
		time.Sleep(time.Millisecond)
	}
	close(src.release)
	a, b := <-results, <-results
	if len(a) != len(b) {
		t.Fatalf("%d and %d metrics", len(a), len(b))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.collections != 1 || c.shared != 1 {
		t.Errorf("%v collections, %v shared, want 1 and 1", c.collections, c.shared)
	}
}

// failingSource fails every listing, as a kernel that refuses sock_diag
// and /proc does.
type failingSource struct{}

var errRefused = errors.New("refused")

func (failingSource) Sockets(context.Context, inspect.Query) ([]inspect.Socket, error) {
	return nil, errRefused
}

// TestCollectFailure has every listing fail: the socket metrics are left
// out rather than reported as 0, and success and the error counter say so.
func TestCollectFailure(t *testing.T) {
	var said []string
	c, err := New(Config{Source: failingSource{}, MaxSeries: 1, OnError: func(stage string, err error) {
		if !errors.Is(err, errRefused) {
			t.Errorf("stage %s: %v, want errRefused", stage, err)
		}
		said = append(said, stage)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ch := make(chan prometheus.Metric, 200)
		c.Collect(ch)
		close(ch)
		names := map[string]bool{}
		for m := range ch {
			names[m.Desc().String()] = true
		}
		for _, d := range []*prometheus.Desc{socketsDesc, portSocketsDesc, listenerQueueDesc, closeWaitDesc} {
			if names[d.String()] {
				t.Errorf("%s sent after a failed listing", d)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errors[stageSockets] != 2 || len(said) != 2 || said[0] != stageSockets {
		t.Errorf("errors %v, OnError told of %v; want 2 of stage sockets", c.errors, said)
	}
}
