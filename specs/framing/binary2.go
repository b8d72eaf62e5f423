package framing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Binary2MaxLen is Bank B's maximum message length.
const Binary2MaxLen = 8192

// Binary2 is a 2-byte unsigned big-endian length prefix, not counting
// itself.
type Binary2 struct{}

var _ Framing = Binary2{}

// MaxLen implements Framing.
func (Binary2) MaxLen() int { return Binary2MaxLen }

// ReadMessage implements Framing.
func (Binary2) ReadMessage(r io.Reader) ([]byte, error) {
	var p [2]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("framing: reading 2-byte length prefix: %w", err)
		}
		return nil, err
	}
	return readBody(r, int(binary.BigEndian.Uint16(p[:])), Binary2MaxLen)
}

// WriteMessage implements Framing.
func (Binary2) WriteMessage(w io.Writer, msg []byte) error {
	if err := checkOutgoing(msg, Binary2MaxLen); err != nil {
		return err
	}
	buf := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	copy(buf[2:], msg)
	return writeAll(w, buf)
}
