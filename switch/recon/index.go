package recon

import (
	"errors"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// The matcher's index holds one compact, pointer-free entry per journal
// payment so that a million of them cost ~200 MB and nothing for the
// garbage collector to scan: strings live in an append-only arena of
// fixed-size chunks, merchants/terminals/currencies are interned, and keys
// are 64-bit FNV hashes chained through entry indices and verified on
// lookup.

// ref is a string in the arena.
type ref struct {
	off uint32
	n   uint32
}

const chunkBits = 20 // 1 MiB chunks: a string never spans two

type arena struct {
	chunks [][]byte
	size   uint64
}

var errIndexFull = errors.New("recon: journal window too large for the index (4 GiB of keys)")

func (a *arena) put(s string) (ref, error) {
	if s == "" {
		return ref{}, nil
	}
	if len(s) > 1<<chunkBits {
		return ref{}, errors.New("recon: journal string too long")
	}
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+len(s) > cap(a.chunks[last]) {
		a.chunks = append(a.chunks, make([]byte, 0, 1<<chunkBits))
		last++
	}
	off := uint64(last)<<chunkBits | uint64(len(a.chunks[last]))
	if off+uint64(len(s)) >= 1<<32 {
		return ref{}, errIndexFull
	}
	a.chunks[last] = append(a.chunks[last], s...)
	a.size += uint64(len(s))
	return ref{off: uint32(off), n: uint32(len(s))}, nil
}

func (a *arena) bytes(r ref) []byte {
	if r.n == 0 {
		return nil
	}
	c := a.chunks[r.off>>chunkBits]
	i := r.off & (1<<chunkBits - 1)
	return c[i : i+r.n]
}

func (a *arena) get(r ref) string { return string(a.bytes(r)) }

func (a *arena) eq(r ref, s string) bool { return string(a.bytes(r)) == s }

// interner maps a small set of repeated strings to indices.
type interner struct {
	idx  map[string]uint32
	vals []string
}

func (in *interner) id(s string) uint32 {
	if i, ok := in.idx[s]; ok {
		return i
	}
	if in.idx == nil {
		in.idx = map[string]uint32{}
	}
	i := uint32(len(in.vals))
	in.vals = append(in.vals, s)
	in.idx[s] = i
	return i
}

func (in *interner) get(i uint32) string { return in.vals[i] }

// fnv64 hashes the parts with separators (FNV-1a).
func fnv64(parts ...string) uint64 {
	h := uint64(14695981039346656037)
	for i, p := range parts {
		if i > 0 {
			h ^= '|'
			h *= 1099511628211
		}
		for j := 0; j < len(p); j++ {
			h ^= uint64(p[j])
			h *= 1099511628211
		}
	}
	return h
}

// code6 packs a STAN or auth code of up to 6 characters.
type code6 struct {
	b [6]byte
	n uint8
}

func mk6(s string) (code6, bool) {
	var c code6
	if len(s) > 6 {
		return c, false
	}
	c.n = uint8(copy(c.b[:], s))
	return c, true
}

func (c code6) String() string { return string(c.b[:c.n]) }

// day packs a civil date as days since 1970-01-01.
type day int32

func dayOf(d calendar.Date) day {
	if d.IsZero() {
		return 0
	}
	return day(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func (d day) date() calendar.Date {
	if d == 0 {
		return calendar.Date{}
	}
	return calendar.DateOf(time.Unix(int64(d)*86400, 0).UTC())
}

// clock packs a time of day as seconds.
type clock int32

func clockString(c clock) string {
	b := []byte("00:00:00")
	put := func(i, v int) { b[i], b[i+1] = byte('0'+v/10), byte('0'+v%10) }
	put(0, int(c)/3600)
	put(3, int(c)/60%60)
	put(6, int(c)%60)
	return string(b)
}

// entries is a chunked slice of entries (no copying on growth).
type entries struct{ pages [][]entry }

const pageBits = 16

func (es *entries) add(e entry) int32 {
	n := len(es.pages)
	if n == 0 || len(es.pages[n-1]) == 1<<pageBits {
		es.pages = append(es.pages, make([]entry, 0, 1<<pageBits))
		n++
	}
	es.pages[n-1] = append(es.pages[n-1], e)
	return int32((n-1)<<pageBits | (len(es.pages[n-1]) - 1))
}

func (es *entries) at(i int32) *entry { return &es.pages[i>>pageBits][i&(1<<pageBits-1)] }

func (es *entries) each(fn func(int32, *entry)) {
	for p := range es.pages {
		for j := range es.pages[p] {
			fn(int32(p<<pageBits|j), &es.pages[p][j])
		}
	}
}
