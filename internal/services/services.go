// Package services reads the services database, /etc/services
// (services(5)): the names of ports, as ss(8) resolves them in filter
// expressions ("sport = :ssh") and prints them with -r.
package services

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Path is the services database the system's resolver reads.
const Path = "/etc/services"

// DB is a parsed services database.
type DB struct {
	// ports maps a name or alias and a protocol ("tcp", "udp") to its
	// port; names maps a port and protocol to its first name.
	ports map[key]uint16
	names map[portKey]string
}

type key struct{ name, proto string }

type portKey struct {
	port  uint16
	proto string
}

// ErrMalformed is wrapped by Parse's errors.
var ErrMalformed = errors.New("malformed services line")

// Parse reads a services database: lines of "name port/protocol
// [aliases...]", with # starting a comment. The first line to name a
// port and protocol gives its name, as getservbyport(3) finds it. A line
// whose port is not a number from 0 to 65535 is an error wrapping
// ErrMalformed, which quotes it; on error Parse returns no DB.
func Parse(r io.Reader) (*DB, error) {
	db := &DB{ports: map[key]uint16{}, names: map[portKey]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		portText, proto, ok := strings.Cut(f[min(1, len(f)-1)], "/")
		port, err := strconv.ParseUint(portText, 10, 16)
		if len(f) < 2 || !ok || proto == "" || err != nil {
			return nil, fmt.Errorf("services: line %d: %q: %w", n, sc.Text(), ErrMalformed)
		}
		p := uint16(port)
		if _, ok := db.names[portKey{p, proto}]; !ok {
			db.names[portKey{p, proto}] = f[0]
		}
		for _, name := range append([]string{f[0]}, f[2:]...) {
			if _, ok := db.ports[key{name, proto}]; !ok {
				db.ports[key{name, proto}] = p
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	return db, nil
}

// Port returns the port that name (or an alias) has for protocol proto,
// and whether it has one.
func (db *DB) Port(name, proto string) (uint16, bool) {
	p, ok := db.ports[key{name, proto}]
	return p, ok
}

// Name returns the name of port for protocol proto, and whether it has
// one.
func (db *DB) Name(port uint16, proto string) (string, bool) {
	n, ok := db.names[portKey{port, proto}]
	return n, ok
}

var (
	loadOnce sync.Once
	loaded   *DB
	loadErr  error
)

// Load reads Path once and returns the database every later call shares.
// A system without the file has an empty database: every name is then
// unknown.
func Load() (*DB, error) {
	loadOnce.Do(func() {
		f, err := os.Open(Path)
		if errors.Is(err, os.ErrNotExist) {
			loaded, loadErr = &DB{}, nil
			return
		}
		if err != nil {
			loadErr = fmt.Errorf("services: %w", err)
			return
		}
		defer f.Close()
		loaded, loadErr = Parse(f)
	})
	return loaded, loadErr
}
