// Package framing reads and writes the length prefix that precedes every
// ISO 8583 message on a bank link. The maximum length is checked before any
// buffer is allocated, so a hostile length cannot drive an allocation.
package framing

import "io"

// Framing is one dialect's length-prefix scheme.
type Framing interface {
	// ReadMessage reads one length prefix and the message it announces.
	ReadMessage(r io.Reader) ([]byte, error)
	// WriteMessage writes prefix and message in a single Write call.
	WriteMessage(w io.Writer, msg []byte) error
	// MaxLen is the largest message the dialect allows, prefix excluded.
	MaxLen() int
}
