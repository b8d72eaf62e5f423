package framing

import (
	"errors"
	"fmt"
	"io"
)

// ASCII4MaxLen is Bank A's maximum message length.
const ASCII4MaxLen = 4096

// ASCII4 is a 4-byte ASCII decimal length prefix ("0187" + 187 bytes), the
// prefix not counting itself. Only the digits 0-9 are accepted.
type ASCII4 struct{}

var _ Framing = ASCII4{}

// MaxLen implements Framing.
func (ASCII4) MaxLen() int { return ASCII4MaxLen }

// ReadMessage implements Framing.
func (ASCII4) ReadMessage(r io.Reader) ([]byte, error) {
	var p [4]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("framing: reading 4-byte length prefix: %w", err)
		}
		// A clean io.EOF between messages is returned as is: the peer closed.
		return nil, err
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("%w: byte 0x%02x in ASCII length", ErrBadLength, c)
		}
		n = n*10 + int(c-'0')
	}
	return readBody(r, n, ASCII4MaxLen)
}

// WriteMessage implements Framing.
func (ASCII4) WriteMessage(w io.Writer, msg []byte) error {
	if err := checkOutgoing(msg, ASCII4MaxLen); err != nil {
		return err
	}
	buf := make([]byte, 4+len(msg))
	n := len(msg)
	for i := 3; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	copy(buf[4:], msg)
	return writeAll(w, buf)
}
