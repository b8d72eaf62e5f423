// Package wire is the simulators' own codec for the two bank dialects of the
// contract: Bank A's ASCII ISO 8583 with a 4-digit ASCII length prefix and
// Bank B's packed-BCD/binary ISO 8583 with a 2-byte big-endian prefix.
//
// It is written from the interface documents independently of package specs
// on purpose: the simulator is the switch's counterpart, and two independent
// readings of the same document catch each other's mistakes. It is also
// allocation-light, because the simulator must never be the bottleneck of a
// benchmark: a Msg is reset and reused for every frame of a connection.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Dialect names as used in configuration and by package specs.
const (
	DialectASCII  = "h2h87-ascii"
	DialectBinary = "h2h87-binary"
)

type kind uint8

const (
	kNone      kind = iota
	kNumFixed       // n fixed
	kNumLL          // n ..LLVAR
	kCharFixed      // an / ans fixed
	kCharLLL        // ans ..LLLVAR
)

type fieldDef struct {
	kind kind
	size int // fixed length, or maximum length of a variable field
}

// fieldTable lists every data element a dialect knows. It is a value type
// built per Codec, so nothing here is shared mutable state.
type fieldTable [129]fieldDef

func commonFields() fieldTable {
	var t fieldTable
	t[2] = fieldDef{kNumLL, 19}
	t[3] = fieldDef{kNumFixed, 6}
	t[4] = fieldDef{kNumFixed, 12}
	t[7] = fieldDef{kNumFixed, 10}
	t[11] = fieldDef{kNumFixed, 6}
	t[12] = fieldDef{kNumFixed, 6}
	t[13] = fieldDef{kNumFixed, 4}
	t[14] = fieldDef{kNumFixed, 4}
	t[18] = fieldDef{kNumFixed, 4}
	t[22] = fieldDef{kNumFixed, 3}
	t[25] = fieldDef{kNumFixed, 2}
	t[32] = fieldDef{kNumLL, 11}
	t[37] = fieldDef{kCharFixed, 12}
	t[38] = fieldDef{kCharFixed, 6}
	t[39] = fieldDef{kCharFixed, 2}
	t[41] = fieldDef{kCharFixed, 8}
	t[42] = fieldDef{kCharFixed, 15}
	t[43] = fieldDef{kCharFixed, 40}
	t[49] = fieldDef{kNumFixed, 3}
	t[70] = fieldDef{kNumFixed, 3}
	t[90] = fieldDef{kNumFixed, 42}
	t[95] = fieldDef{kCharFixed, 42}
	return t
}

// Codec encodes and decodes one dialect. It is immutable and safe for
// concurrent use.
type Codec struct {
	name   string
	binary bool
	maxLen int
	fields fieldTable
}

// NewCodec returns the codec of a dialect by name.
func NewCodec(dialect string) (*Codec, error) {
	t := commonFields()
	switch dialect {
	case DialectASCII:
		t[48] = fieldDef{kCharLLL, 999}
		return &Codec{name: dialect, maxLen: 4096, fields: t}, nil
	case DialectBinary:
		t[61] = fieldDef{kCharLLL, 999}
		t[62] = fieldDef{kCharLLL, 999}
		t[63] = fieldDef{kCharLLL, 999}
		t[126] = fieldDef{kCharLLL, 999}
		return &Codec{name: dialect, binary: true, maxLen: 8192, fields: t}, nil
	default:
		return nil, fmt.Errorf("unknown dialect %q (want %s or %s)", dialect, DialectASCII, DialectBinary)
	}
}

// Name is the dialect name.
func (c *Codec) Name() string { return c.name }

// Binary reports whether the dialect is Bank B's binary/BCD one.
func (c *Codec) Binary() bool { return c.binary }

// MaxLen is the largest message the dialect allows, length prefix excluded.
func (c *Codec) MaxLen() int { return c.maxLen }

// PrefixLen is the size of the length prefix.
func (c *Codec) PrefixLen() int {
	if c.binary {
		return 2
	}
	return 4
}

// Knows reports whether field n is part of the dialect.
func (c *Codec) Knows(n int) bool { return n >= 2 && n <= 128 && c.fields[n].kind != kNone }

// ErrFrameTooLong is returned for a length prefix above the dialect maximum.
var ErrFrameTooLong = errors.New("frame length exceeds dialect maximum")

// ReadFrame reads one length-prefixed message into buf (grown when needed up
// to MaxLen) and returns the message bytes, which alias buf. The length is
// checked before reading the body, so a hostile prefix cannot drive an
// allocation.
func (c *Codec) ReadFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	pl := c.PrefixLen()
	if _, err := io.ReadFull(r, hdr[:pl]); err != nil {
		return nil, err
	}
	var n int
	if c.binary {
		n = int(binary.BigEndian.Uint16(hdr[:2]))
	} else {
		for _, b := range hdr[:4] {
			if b < '0' || b > '9' {
				return nil, fmt.Errorf("reading length prefix: non-numeric byte 0x%02x", b)
			}
			n = n*10 + int(b-'0')
		}
	}
	if n == 0 {
		return nil, errors.New("reading length prefix: zero-length frame")
	}
	if n > c.maxLen {
		return nil, fmt.Errorf("reading length prefix %d: %w", n, ErrFrameTooLong)
	}
	if cap(buf) < n {
		buf = make([]byte, n, c.maxLen)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("reading %d-byte frame body: %w", n, err)
	}
	return buf, nil
}

// AppendFrame appends the length prefix and the encoding of m to dst.
func (c *Codec) AppendFrame(dst []byte, m *Msg) ([]byte, error) {
	start := len(dst)
	pl := c.PrefixLen()
	dst = append(dst, make([]byte, pl)...)
	dst, err := c.Append(dst, m)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - pl
	if n > c.maxLen {
		return dst[:start], fmt.Errorf("encoding %s: %d bytes: %w", m.MTI(), n, ErrFrameTooLong)
	}
	PutPrefix(c, dst[start:start+pl], n)
	return dst, nil
}

// PutPrefix writes the length prefix for an n-byte message into p, which has
// PrefixLen bytes.
func PutPrefix(c *Codec, p []byte, n int) {
	if c.binary {
		binary.BigEndian.PutUint16(p, uint16(n))
		return
	}
	for i := 3; i >= 0; i-- {
		p[i] = byte('0' + n%10)
		n /= 10
	}
}

// Msg is one ISO 8583 message as field values. For `n` fields the value is
// the ASCII digits in both dialects; BCD packing is the codec's business.
// A Msg is reused: Reset clears it without freeing its storage.
type Msg struct {
	mti   [4]byte
	set   [129]bool
	off   [129]int32
	ln    [129]int32
	arena []byte
}

// Reset empties the message, keeping its storage.
func (m *Msg) Reset() {
	m.mti = [4]byte{}
	m.set = [129]bool{}
	m.arena = m.arena[:0]
}

// MTI returns the message type indicator.
func (m *Msg) MTI() string { return string(m.mti[:]) }

// MTIBytes returns the MTI without allocating.
func (m *Msg) MTIBytes() [4]byte { return m.mti }

// SetMTI sets the MTI; it must be 4 digits.
func (m *Msg) SetMTI(mti string) {
	copy(m.mti[:], mti)
}

// Has reports whether field n is present.
func (m *Msg) Has(n int) bool { return n >= 0 && n <= 128 && m.set[n] }

// Bytes returns field n's value or nil; it aliases the message storage and
// is valid until the next Reset or Set.
func (m *Msg) Bytes(n int) []byte {
	if !m.Has(n) {
		return nil
	}
	return m.arena[m.off[n] : m.off[n]+m.ln[n] : m.off[n]+m.ln[n]]
}

// Get returns field n's value, "" when absent.
func (m *Msg) Get(n int) string { return string(m.Bytes(n)) }

// Set stores a copy of v as field n.
func (m *Msg) Set(n int, v string) {
	m.off[n] = int32(len(m.arena))
	m.arena = append(m.arena, v...)
	m.ln[n] = int32(len(v))
	m.set[n] = true
}

// SetBytes stores a copy of v as field n.
func (m *Msg) SetBytes(n int, v []byte) {
	m.off[n] = int32(len(m.arena))
	m.arena = append(m.arena, v...)
	m.ln[n] = int32(len(v))
	m.set[n] = true
}

// Unset removes field n.
func (m *Msg) Unset(n int) { m.set[n] = false }

// Fields returns the numbers of the present fields in ascending order.
func (m *Msg) Fields() []int {
	var out []int
	for i := 2; i <= 128; i++ {
		if m.set[i] {
			out = append(out, i)
		}
	}
	return out
}

// DecodeError says which field could not be decoded; fields before it are
// kept in the Msg so a format-error answer can still echo them.
type DecodeError struct {
	Field int // 0 for MTI/bitmap
	Err   error
}

func (e *DecodeError) Error() string {
	if e.Field == 0 {
		return "decoding header: " + e.Err.Error()
	}
	return fmt.Sprintf("decoding DE%d: %v", e.Field, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

var (
	errShort    = errors.New("message truncated")
	errDigits   = errors.New("non-numeric data in numeric field")
	errTooLong  = errors.New("length exceeds field maximum")
	errTrailing = errors.New("trailing bytes after last field")
	errUnknown  = errors.New("field not defined in dialect")
)

// Decode parses b into m (after m.Reset). On error the MTI and the fields
// decoded before the failing one remain in m.
func (c *Codec) Decode(b []byte, m *Msg) error {
	m.Reset()
	p := 0
	var bm [16]byte
	nbm := 1
	if c.binary {
		if len(b) < 10 {
			return &DecodeError{0, errShort}
		}
		if !bcdDigits(b[:2], 4) {
			return &DecodeError{0, errDigits}
		}
		unpackBCD(m.mti[:], b[:2], 4)
		copy(bm[:8], b[2:10])
		p = 10
		if bm[0]&0x80 != 0 {
			if len(b) < 18 {
				return &DecodeError{0, errShort}
			}
			copy(bm[8:], b[10:18])
			p = 18
			nbm = 2
		}
	} else {
		if len(b) < 20 {
			return &DecodeError{0, errShort}
		}
		for i := 0; i < 4; i++ {
			if b[i] < '0' || b[i] > '9' {
				return &DecodeError{0, errDigits}
			}
			m.mti[i] = b[i]
		}
		if err := hexBitmap(b[4:20], bm[:8]); err != nil {
			return &DecodeError{0, err}
		}
		p = 20
		if bm[0]&0x80 != 0 {
			if len(b) < 36 {
				return &DecodeError{0, errShort}
			}
			if err := hexBitmap(b[20:36], bm[8:]); err != nil {
				return &DecodeError{0, err}
			}
			p = 36
			nbm = 2
		}
	}
	for f := 2; f <= 64*nbm; f++ {
		if bm[(f-1)/8]&(0x80>>uint((f-1)%8)) == 0 {
			continue
		}
		if f == 65 {
			// Bit 65 would announce a tertiary bitmap; neither dialect has one.
			return &DecodeError{f, errUnknown}
		}
		d := c.fields[f]
		if d.kind == kNone {
			return &DecodeError{f, errUnknown}
		}
		np, err := c.decodeField(b, p, f, d, m)
		if err != nil {
			return &DecodeError{f, err}
		}
		p = np
	}
	if p != len(b) {
		return &DecodeError{0, errTrailing}
	}
	return nil
}

func (c *Codec) decodeField(b []byte, p, f int, d fieldDef, m *Msg) (int, error) {
	switch d.kind {
	case kNumFixed:
		return c.decodeDigits(b, p, f, d.size, m)
	case kNumLL:
		var n int
		if c.binary {
			if p+1 > len(b) {
				return 0, errShort
			}
			v, ok := bcdByte(b[p])
			if !ok {
				return 0, errDigits
			}
			n, p = v, p+1
		} else {
			v, ok := asciiNum(b, p, 2)
			if !ok {
				return 0, errDigits
			}
			n, p = v, p+2
		}
		if n > d.size {
			return 0, errTooLong
		}
		return c.decodeDigits(b, p, f, n, m)
	case kCharFixed:
		if p+d.size > len(b) {
			return 0, errShort
		}
		m.SetBytes(f, b[p:p+d.size])
		return p + d.size, nil
	case kCharLLL:
		var n int
		if c.binary {
			if p+2 > len(b) {
				return 0, errShort
			}
			hi, ok1 := bcdByte(b[p])
			lo, ok2 := bcdByte(b[p+1])
			if !ok1 || !ok2 {
				return 0, errDigits
			}
			n, p = hi*100+lo, p+2
		} else {
			v, ok := asciiNum(b, p, 3)
			if !ok {
				return 0, errDigits
			}
			n, p = v, p+3
		}
		if n > d.size {
			return 0, errTooLong
		}
		if p+n > len(b) {
			return 0, errShort
		}
		m.SetBytes(f, b[p:p+n])
		return p + n, nil
	}
	return 0, errUnknown
}

// decodeDigits reads n digits at p (ASCII, or packed BCD left-padded to whole
// bytes) into field f.
func (c *Codec) decodeDigits(b []byte, p, f, n int, m *Msg) (int, error) {
	if !c.binary {
		if p+n > len(b) {
			return 0, errShort
		}
		for _, ch := range b[p : p+n] {
			if ch < '0' || ch > '9' {
				return 0, errDigits
			}
		}
		m.SetBytes(f, b[p:p+n])
		return p + n, nil
	}
	nb := (n + 1) / 2
	if p+nb > len(b) {
		return 0, errShort
	}
	src := b[p : p+nb]
	if !bcdDigits(src, n) {
		return 0, errDigits
	}
	m.off[f] = int32(len(m.arena))
	m.arena = append(m.arena, make([]byte, n)...)
	unpackBCD(m.arena[len(m.arena)-n:], src, n)
	m.ln[f] = int32(n)
	m.set[f] = true
	return p + nb, nil
}

// bcdDigits checks that src holds n packed BCD digits (with a zero pad nibble
// first when n is odd).
func bcdDigits(src []byte, n int) bool {
	pad := len(src)*2 - n
	for i := 0; i < len(src)*2; i++ {
		nib := src[i/2] >> 4
		if i%2 == 1 {
			nib = src[i/2] & 0x0f
		}
		if i < pad {
			if nib != 0 {
				return false
			}
			continue
		}
		if nib > 9 {
			return false
		}
	}
	return true
}

func unpackBCD(dst, src []byte, n int) {
	pad := len(src)*2 - n
	for i := pad; i < len(src)*2; i++ {
		nib := src[i/2] >> 4
		if i%2 == 1 {
			nib = src[i/2] & 0x0f
		}
		dst[i-pad] = '0' + nib
	}
}

func bcdByte(b byte) (int, bool) {
	hi, lo := b>>4, b&0x0f
	if hi > 9 || lo > 9 {
		return 0, false
	}
	return int(hi)*10 + int(lo), true
}

func asciiNum(b []byte, p, n int) (int, bool) {
	if p+n > len(b) {
		return 0, false
	}
	v := 0
	for _, ch := range b[p : p+n] {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v = v*10 + int(ch-'0')
	}
	return v, true
}

func hexBitmap(src []byte, dst []byte) error {
	for i := 0; i < len(dst); i++ {
		hi, ok1 := hexNib(src[2*i])
		lo, ok2 := hexNib(src[2*i+1])
		if !ok1 || !ok2 {
			return errors.New("bitmap is not hexadecimal")
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

func hexNib(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexUpper = "0123456789ABCDEF"

// Append appends the encoding of m (no length prefix) to dst.
func (c *Codec) Append(dst []byte, m *Msg) ([]byte, error) {
	for _, ch := range m.mti {
		if ch < '0' || ch > '9' {
			return dst, fmt.Errorf("encoding MTI %q: not 4 digits", m.mti[:])
		}
	}
	var bm [16]byte
	secondary := false
	for f := 2; f <= 128; f++ {
		if !m.set[f] {
			continue
		}
		if c.fields[f].kind == kNone {
			return dst, fmt.Errorf("encoding %s: DE%d: %w", m.MTI(), f, errUnknown)
		}
		if f > 64 {
			secondary = true
		}
		bm[(f-1)/8] |= 0x80 >> uint((f-1)%8)
	}
	nbm := 8
	if secondary {
		bm[0] |= 0x80
		nbm = 16
	}
	if c.binary {
		dst = append(dst, (m.mti[0]-'0')<<4|(m.mti[1]-'0'), (m.mti[2]-'0')<<4|(m.mti[3]-'0'))
		dst = append(dst, bm[:nbm]...)
	} else {
		dst = append(dst, m.mti[:]...)
		for _, b := range bm[:nbm] {
			dst = append(dst, hexUpper[b>>4], hexUpper[b&0x0f])
		}
	}
	for f := 2; f <= 128; f++ {
		if !m.set[f] {
			continue
		}
		var err error
		dst, err = c.appendField(dst, f, m.Bytes(f))
		if err != nil {
			return dst, fmt.Errorf("encoding %s: DE%d: %w", m.MTI(), f, err)
		}
	}
	return dst, nil
}

func (c *Codec) appendField(dst []byte, f int, v []byte) ([]byte, error) {
	d := c.fields[f]
	switch d.kind {
	case kNumFixed:
		if len(v) > d.size {
			return dst, errTooLong
		}
		if err := checkDigits(v); err != nil {
			return dst, err
		}
		return c.appendDigits(dst, v, d.size), nil
	case kNumLL:
		if len(v) > d.size {
			return dst, errTooLong
		}
		if err := checkDigits(v); err != nil {
			return dst, err
		}
		n := len(v)
		if c.binary {
			dst = append(dst, byte(n/10)<<4|byte(n%10))
		} else {
			dst = append(dst, byte('0'+n/10), byte('0'+n%10))
		}
		return c.appendDigits(dst, v, n), nil
	case kCharFixed:
		if len(v) > d.size {
			return dst, errTooLong
		}
		dst = append(dst, v...)
		for i := len(v); i < d.size; i++ {
			dst = append(dst, ' ')
		}
		return dst, nil
	case kCharLLL:
		if len(v) > d.size {
			return dst, errTooLong
		}
		n := len(v)
		if c.binary {
			dst = append(dst, byte(n/1000)<<4|byte(n/100%10), byte(n/10%10)<<4|byte(n%10))
		} else {
			dst = append(dst, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
		}
		return append(dst, v...), nil
	}
	return dst, errUnknown
}

// appendDigits writes v left-padded with zeros to n digits.
func (c *Codec) appendDigits(dst, v []byte, n int) []byte {
	pad := n - len(v)
	if !c.binary {
		for i := 0; i < pad; i++ {
			dst = append(dst, '0')
		}
		return append(dst, v...)
	}
	nb := (n + 1) / 2
	total := nb * 2
	lead := total - len(v) // zero nibbles before the first digit
	var cur byte
	for i := 0; i < total; i++ {
		var nib byte
		if i >= lead {
			nib = v[i-lead] - '0'
		}
		if i%2 == 0 {
			cur = nib << 4
		} else {
			dst = append(dst, cur|nib)
		}
	}
	return dst
}

func checkDigits(v []byte) error {
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return errDigits
		}
	}
	return nil
}
