package specs

import (
	"errors"
	"fmt"
	"io"

	"github.com/moov-io/iso8583"
	iso8583errors "github.com/moov-io/iso8583/errors"
)

// maxBitmapBits is primary + secondary bitmap. ISO 8583:1987 has no fields
// above 128; a message announcing a tertiary bitmap is malformed.
const maxBitmapBits = 128

// NewMessage returns an empty message of the dialect's spec.
func (d *Dialect) NewMessage() *iso8583.Message {
	return iso8583.NewMessage(d.Spec)
}

// Pack packs msg and checks the result against the framing's maximum.
func (d *Dialect) Pack(msg *iso8583.Message) ([]byte, error) {
	b, err := msg.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing %s message: %w", d.Name, err)
	}
	if len(b) > d.Framing.MaxLen() {
		return nil, fmt.Errorf("packing %s message: %d bytes exceeds the maximum %d", d.Name, len(b), d.Framing.MaxLen())
	}
	return b, nil
}

// Unpack parses one message body (framing prefix excluded). A failure is
// returned as *iso8583errors.UnpackError (so iso8583-connection keeps the
// connection, the framing being intact) without the raw message, which
// may hold a PAN and must not travel with an error that could be logged.
func (d *Dialect) Unpack(b []byte) (*iso8583.Message, error) {
	msg := iso8583.NewMessage(d.Spec)
	if err := msg.Unpack(b); err != nil {
		fieldID := ""
		var ue *iso8583errors.UnpackError
		if errors.As(err, &ue) {
			fieldID = ue.FieldID
			err = ue.Err
		}
		return nil, &iso8583errors.UnpackError{
			Err:     fmt.Errorf("unpacking %s message: %w", d.Name, err),
			FieldID: fieldID,
		}
	}
	if msg.Bitmap().Len() > maxBitmapBits {
		return nil, &iso8583errors.UnpackError{
			Err:     fmt.Errorf("unpacking %s message: tertiary bitmap is not allowed", d.Name),
			FieldID: "1",
		}
	}
	n, err := d.consumed(msg, b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("%d bytes after the last field", len(b)-n)
	}
	if err != nil {
		return nil, &iso8583errors.UnpackError{Err: fmt.Errorf("unpacking %s message: %w", d.Name, err)}
	}
	mti, err := msg.GetMTI()
	if err != nil || len(mti) != 4 || !isDigits(mti) {
		return nil, &iso8583errors.UnpackError{
			Err:     fmt.Errorf("unpacking %s message: MTI is not 4 digits", d.Name),
			FieldID: "0",
		}
	}
	return msg, nil
}

// consumed returns how many bytes of b the unpacked msg occupies, by
// walking the length prefixes of its fields. moov-io's Unpack ignores
// bytes after the last field; a bank message with trailing bytes is
// malformed, and accepting it would hide a framing or spec mismatch.
func (d *Dialect) consumed(msg *iso8583.Message, b []byte) (int, error) {
	bm := msg.Bitmap()
	off := 4 // Bank A: 4 ASCII digits
	perBitmap := 16
	if _, ok := d.Spec.Fields[0].Spec().Enc.(bcdEncoder); ok {
		off, perBitmap = 2, 8
	}
	off += bm.Len() / 64 * perBitmap
	for i := 2; i <= bm.Len(); i++ {
		if bm.IsBitmapPresenceBit(i) || !bm.IsSet(i) {
			continue
		}
		f, ok := d.Spec.Fields[i]
		if !ok || off > len(b) {
			return 0, fmt.Errorf("DE%d: not in spec", i)
		}
		s := f.Spec()
		n, pl, err := s.Pref.DecodeLength(s.Length, b[off:])
		if err != nil {
			return 0, fmt.Errorf("DE%d: %w", i, err)
		}
		if _, ok := s.Enc.(bcdEncoder); ok {
			n = (n + 1) / 2
		}
		off += pl + n
	}
	return off, nil
}

// ReadMessage reads one framed message and unpacks it. It implements
// iso8583-connection's MessageReader. A framing error (the stream cannot be
// trusted any more) is returned as is; a message that does not parse is an
// *iso8583errors.UnpackError.
func (d *Dialect) ReadMessage(r io.Reader) (*iso8583.Message, error) {
	b, err := d.Framing.ReadMessage(r)
	if err != nil {
		return nil, err
	}
	return d.Unpack(b)
}

// WriteMessage packs msg and writes it with its length prefix in a single
// Write call. It implements iso8583-connection's MessageWriter.
func (d *Dialect) WriteMessage(w io.Writer, msg *iso8583.Message) error {
	b, err := d.Pack(msg)
	if err != nil {
		return err
	}
	return d.Framing.WriteMessage(w, b)
}

// MessageReader is the dialect's adapter for
// connection.SetMessageReader of moov-io/iso8583-connection.
type MessageReader struct{ d *Dialect }

// ReadMessage implements connection.MessageReader.
func (m MessageReader) ReadMessage(r io.Reader) (*iso8583.Message, error) {
	return m.d.ReadMessage(r)
}

// MessageWriter is the dialect's adapter for connection.SetMessageWriter.
type MessageWriter struct{ d *Dialect }

// WriteMessage implements connection.MessageWriter.
func (m MessageWriter) WriteMessage(w io.Writer, msg *iso8583.Message) error {
	return m.d.WriteMessage(w, msg)
}

// MessageReader returns the reader to pass to connection.SetMessageReader.
func (d *Dialect) MessageReader() MessageReader { return MessageReader{d} }

// MessageWriter returns the writer to pass to connection.SetMessageWriter.
func (d *Dialect) MessageWriter() MessageWriter { return MessageWriter{d} }
