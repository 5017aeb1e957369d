package u64map

import "math/bits"

// Map maps uint64 keys to uint64 values: an open-addressing table with
// linear probing and Fibonacci hashing. The keys it holds, socket cookies
// and inode numbers, are counters the kernel hands out in order, which
// Fibonacci hashing spreads evenly; a lookup then reads one cache line
// where a Go map of 100,000 entries reads two or three, and the lookups
// of a listing's dedup and of ls -p's owners were a tenth of ls -tanp's
// time. Key 0, which marks a free slot, is held apart.
type Map struct {
	slots []slot // a power of two long, at most three quarters full
	n     int
	shift uint8 // 64 - log2(len(slots))

	zero    uint64 // the value of key 0
	hasZero bool
}

type slot struct{ key, val uint64 }

// pageSlots is the number of slots in a 4 KiB page.
const pageSlots = 4096 / 16

// fibonacci is 2^64 divided by the golden ratio.
const fibonacci = 0x9E3779B97F4A7C15

// Reset empties m and makes room for n keys.
func (m *Map) Reset(n int) {
	size := 16
	for size*3/4 < n {
		size *= 2
	}
	if len(m.slots) < size {
		m.slots = make([]slot, size)
		// A large table comes as fresh pages. The first access to most
		// is a lookup's read, which maps the shared zero page; the write
		// that follows then takes a second fault that copies it and
		// flushes the TLB on every CPU the process runs on, an interrupt
		// each. Writing each page first makes that one fault: at
		// 100,000 sockets the two cost ls -tanp a twentieth of its CPU.
		for i := 0; i < len(m.slots); i += pageSlots {
			m.slots[i].key = 0
		}
	} else {
		clear(m.slots)
	}
	m.n, m.hasZero = 0, false
	m.shift = uint8(64 - bits.TrailingZeros(uint(len(m.slots))))
}

// Get returns the value of key k.
func (m *Map) Get(k uint64) (uint64, bool) {
	if k == 0 {
		return m.zero, m.hasZero
	}
	if len(m.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(m.slots) - 1)
	for i := k * fibonacci >> m.shift; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.key == k {
			return s.val, true
		}
		if s.key == 0 {
			return 0, false
		}
	}
}

// GetOrPut returns the value of key k if m has it, and otherwise sets it
// to v.
func (m *Map) GetOrPut(k, v uint64) (old uint64, found bool) {
	if k == 0 {
		if m.hasZero {
			return m.zero, true
		}
		m.zero, m.hasZero = v, true
		return 0, false
	}
	if (m.n+1)*4 > len(m.slots)*3 {
		m.grow()
	}
	mask := uint64(len(m.slots) - 1)
	for i := k * fibonacci >> m.shift; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.key == k {
			return s.val, true
		}
		if s.key == 0 {
			s.key, s.val = k, v
			m.n++
			return 0, false
		}
	}
}

// Put sets the value of key k to v.
func (m *Map) Put(k, v uint64) {
	if k == 0 {
		m.zero, m.hasZero = v, true
		return
	}
	if (m.n+1)*4 > len(m.slots)*3 {
		m.grow()
	}
	mask := uint64(len(m.slots) - 1)
	for i := k * fibonacci >> m.shift; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.key == k || s.key == 0 {
			if s.key == 0 {
				m.n++
			}
			s.key, s.val = k, v
			return
		}
	}
}

// grow doubles the table.
func (m *Map) grow() {
	old := m.slots
	zero, hasZero := m.zero, m.hasZero
	m.slots = nil
	m.Reset(max(2*len(old)*3/4, 1))
	m.zero, m.hasZero = zero, hasZero
	for _, s := range old {
		if s.key != 0 {
			m.Put(s.key, s.val)
		}
	}
}
