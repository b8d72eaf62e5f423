package specs

import (
	"errors"
	"fmt"

	"github.com/moov-io/iso8583/encoding"
)

// bcdEncoder is Bank B's packed BCD for n fields: two digits a byte, an odd
// digit count left-padded with a zero nibble. It replaces moov-io's
// encoding.BCD, which builds its lookup tables on every call (an order of
// magnitude slower on the hot path) and ignores a non-zero pad nibble.
// Errors never quote the value: n fields include the PAN.
type bcdEncoder struct{}

var _ encoding.Encoder = bcdEncoder{}

func (bcdEncoder) Encode(src []byte) ([]byte, error) {
	n := len(src)
	out := make([]byte, (n+1)/2)
	j := n % 2 // an odd count starts in the low nibble of byte 0
	for i, c := range src {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("BCD: non-digit at position %d", i+1)
		}
		k := (i + j) / 2
		if (i+j)%2 == 0 {
			out[k] = (c - '0') << 4
		} else {
			out[k] |= c - '0'
		}
	}
	return out, nil
}

func (bcdEncoder) Decode(src []byte, length int) ([]byte, int, error) {
	if length < 0 {
		return nil, 0, errors.New("BCD: negative length")
	}
	read := (length + 1) / 2
	if len(src) < read {
		return nil, 0, fmt.Errorf("BCD: need %d bytes, have %d", read, len(src))
	}
	out := make([]byte, length)
	pad := length % 2
	for i := 0; i < read; i++ {
		hi, lo := src[i]>>4, src[i]&0x0f
		if hi > 9 || lo > 9 {
			return nil, 0, fmt.Errorf("BCD: invalid byte at offset %d", i)
		}
		if i == 0 && pad == 1 {
			if hi != 0 {
				return nil, 0, errors.New("BCD: non-zero pad nibble")
			}
			out[0] = '0' + lo
			continue
		}
		k := 2*i - pad
		out[k] = '0' + hi
		out[k+1] = '0' + lo
	}
	return out, read, nil
}
