package specs

import (
	"fmt"

	"github.com/moov-io/iso8583/prefix"
)

// The prefixers of moov-io/iso8583 accept more than the banks' documents
// allow (strconv.Atoi takes "+12", the BCD prefixers ignore a non-zero pad
// nibble). These strict ones accept only what the contract describes, so a
// malformed length is a format error rather than a guess.

// asciiLen is an ASCII decimal length prefix of a fixed number of digits
// (LL = 2, LLL = 3), digits 0-9 only.
type asciiLen struct{ digits int }

var _ prefix.Prefixer = asciiLen{}

func (p asciiLen) EncodeLength(maxLen, n int) ([]byte, error) {
	if n > maxLen {
		return nil, fmt.Errorf("length %d exceeds maximum %d", n, maxLen)
	}
	if n < 0 || n >= pow10(p.digits) {
		return nil, fmt.Errorf("length %d does not fit %d digits", n, p.digits)
	}
	out := make([]byte, p.digits)
	for i := p.digits - 1; i >= 0; i-- {
		out[i] = byte('0' + n%10)
		n /= 10
	}
	return out, nil
}

func (p asciiLen) DecodeLength(maxLen int, data []byte) (int, int, error) {
	if len(data) < p.digits {
		return 0, 0, fmt.Errorf("need %d length digits, have %d bytes", p.digits, len(data))
	}
	n := 0
	for _, c := range data[:p.digits] {
		if c < '0' || c > '9' {
			return 0, 0, fmt.Errorf("non-digit byte 0x%02x in length prefix", c)
		}
		n = n*10 + int(c-'0')
	}
	if n > maxLen {
		return 0, 0, fmt.Errorf("length %d exceeds maximum %d", n, maxLen)
	}
	return n, p.digits, nil
}

func (p asciiLen) Inspect() string { return fmt.Sprintf("ASCII.L%d(strict)", p.digits) }

// bcdLen is a packed BCD length prefix of a number of digits (2 digits in 1
// byte for LL, 3 digits in 2 bytes for LLL with a zero high nibble).
type bcdLen struct{ digits int }

var _ prefix.Prefixer = bcdLen{}

func (p bcdLen) size() int { return (p.digits + 1) / 2 }

func (p bcdLen) EncodeLength(maxLen, n int) ([]byte, error) {
	if n > maxLen {
		return nil, fmt.Errorf("length %d exceeds maximum %d", n, maxLen)
	}
	if n < 0 || n >= pow10(p.digits) {
		return nil, fmt.Errorf("length %d does not fit %d digits", n, p.digits)
	}
	out := make([]byte, p.size())
	for i := len(out) - 1; i >= 0; i-- {
		lo := n % 10
		n /= 10
		hi := n % 10
		n /= 10
		out[i] = byte(hi<<4 | lo)
	}
	return out, nil
}

func (p bcdLen) DecodeLength(maxLen int, data []byte) (int, int, error) {
	size := p.size()
	if len(data) < size {
		return 0, 0, fmt.Errorf("need %d length bytes, have %d", size, len(data))
	}
	n := 0
	for i, b := range data[:size] {
		hi, lo := int(b>>4), int(b&0x0f)
		if hi > 9 || lo > 9 {
			return 0, 0, fmt.Errorf("invalid BCD byte 0x%02x in length prefix", b)
		}
		if i == 0 && p.digits%2 == 1 && hi != 0 {
			return 0, 0, fmt.Errorf("non-zero pad nibble in length prefix 0x%02x", b)
		}
		n = n*100 + hi*10 + lo
	}
	if n > maxLen {
		return 0, 0, fmt.Errorf("length %d exceeds maximum %d", n, maxLen)
	}
	return n, size, nil
}

func (p bcdLen) Inspect() string { return fmt.Sprintf("BCD.L%d(strict)", p.digits) }

func pow10(n int) int {
	r := 1
	for range n {
		r *= 10
	}
	return r
}
