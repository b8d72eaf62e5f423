// Package framing reads and writes the length prefix that precedes every
// ISO 8583 message on a bank link. The maximum length is checked before any
// buffer is allocated, so a hostile length cannot drive an allocation.
package framing

import (
	"errors"
	"fmt"
	"io"
)

// Framing is one dialect's length-prefix scheme.
type Framing interface {
	// ReadMessage reads one length prefix and the message it announces.
	ReadMessage(r io.Reader) ([]byte, error)
	// WriteMessage writes prefix and message in a single Write call.
	WriteMessage(w io.Writer, msg []byte) error
	// MaxLen is the largest message the dialect allows, prefix excluded.
	MaxLen() int
}

// Errors a caller may test for with errors.Is. Any of them means the byte
// stream can no longer be trusted and the connection must be closed.
var (
	// ErrBadLength is returned for a length prefix that is not a number in
	// the framing's encoding.
	ErrBadLength = errors.New("framing: malformed length prefix")
	// ErrZeroLength is returned for a length prefix of zero.
	ErrZeroLength = errors.New("framing: zero message length")
	// ErrTooLong is returned when a length exceeds the framing's maximum.
	ErrTooLong = errors.New("framing: message length exceeds maximum")
)

// readBody reads exactly n bytes after checking n against max. It is the
// single place where a length taken from the wire turns into an allocation.
func readBody(r io.Reader, n, max int) ([]byte, error) {
	if n == 0 {
		return nil, ErrZeroLength
	}
	if n < 0 || n > max {
		return nil, fmt.Errorf("%w: %d > %d", ErrTooLong, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("framing: reading %d-byte message body: %w", n, err)
	}
	return body, nil
}

// checkOutgoing validates a message the switch is about to send.
func checkOutgoing(msg []byte, max int) error {
	if len(msg) == 0 {
		return ErrZeroLength
	}
	if len(msg) > max {
		return fmt.Errorf("%w: %d > %d", ErrTooLong, len(msg), max)
	}
	return nil
}

// writeAll performs exactly one Write of buf, so that a prefix and its
// message leave in one system call (two writes per message cost about a
// quarter of the link's throughput), and reports a short write as an error.
func writeAll(w io.Writer, buf []byte) error {
	n, err := w.Write(buf)
	if err != nil {
		return fmt.Errorf("framing: writing %d-byte frame: %w", len(buf), err)
	}
	if n != len(buf) {
		return fmt.Errorf("framing: writing %d-byte frame: %w", len(buf), io.ErrShortWrite)
	}
	return nil
}
