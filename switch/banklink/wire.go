package banklink

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/moov-io/iso8583"
	isoerrors "github.com/moov-io/iso8583/errors"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/specs/framing"
)

// Network management codes (DE70).
const (
	nmSignOn  = "001"
	nmSignOff = "002"
	nmEcho    = "301"
)

// responseMTI returns the MTI that answers request MTI mti (0200 -> 0210,
// 0401 -> 0410, 0221 -> 0230); ok is false when mti is not a request or
// advice that expects an answer.
func responseMTI(mti string) (string, bool) {
	if len(mti) != 4 || !allDigits(mti) {
		return "", false
	}
	switch mti[2] {
	case '0', '2', '4':
		return mti[:2] + string(mti[2]+1) + "0", true
	}
	return "", false
}

// isRepeatMTI reports whether mti is a repeat (message origin digit 1).
func isRepeatMTI(mti string) bool { return len(mti) == 4 && mti[3] == '1' }

// isResponseMTI reports whether mti is a response or acknowledgement
// (function digit 1, 3 or 5).
func isResponseMTI(mti string) bool {
	if len(mti) != 4 || !allDigits(mti) {
		return false
	}
	switch mti[2] {
	case '1', '3', '5':
		return true
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matchKey is the key under which a request waits and its response is
// matched: the response MTI plus the STAN. A request (0200, 000123) and its
// response (0210, 000123) share the key "0210/000123"; so do a repeat 0401
// and the 0410 that answers the 0400 it repeats.
func matchKey(mti, stan string) string {
	if resp, ok := responseMTI(mti); ok {
		mti = resp
	} else if isResponseMTI(mti) {
		mti = mti[:3] + "0"
	}
	return mti + "/" + stan
}

// requestIDGenerator is installed in iso8583-connection so that its own
// matching, should anything ever use it, keys as the link does (response
// class + STAN, not STAN alone). It never fails for a message the dialect
// could decode: a response lacking DE11 gets a key that matches nothing and
// so reaches InboundMessageHandler instead of being dropped.
type requestIDGenerator struct{}

func (requestIDGenerator) GenerateRequestID(msg *iso8583.Message) (string, error) {
	if msg == nil {
		return "", errors.New("nil message")
	}
	mti, _ := msg.GetMTI()
	raw, _ := msg.GetString(11)
	stan, err := normalizeSTAN(raw)
	if err != nil {
		stan = "?" + raw
	}
	return matchKey(mti, stan), nil
}

// frameReader adapts a dialect's framing and spec to iso8583-connection's
// MessageReader. Framing errors (bad or oversized length, EOF) end the
// connection; a frame that does not decode is reported to onBad and skipped,
// because the stream is still in sync and the other requests on the
// connection are unaffected. Frames are decoded with the dialect's strict
// Unpack (no bytes after the last field, no tertiary bitmap, a 4-digit MTI),
// not moov-io's lenient one, so that the link accepts exactly what the
// bank's document describes.
type frameReader struct {
	dialect *specs.Dialect
	onBad   func(err error)
}

// errUndecodable is reported for a frame the spec could not unpack. It names
// the failing field IDs only: the raw bytes may hold a PAN.
type errUndecodable struct {
	fields []string
	panic  bool
}

func (e *errUndecodable) Error() string {
	if e.panic {
		return "undecodable message (decoder panicked)"
	}
	return fmt.Sprintf("undecodable message (fields %v)", e.fields)
}

func (fr *frameReader) ReadMessage(r io.Reader) (*iso8583.Message, error) {
	raw, err := fr.dialect.Framing.ReadMessage(r)
	if err != nil {
		return nil, fmt.Errorf("reading frame: %w", err)
	}
	msg, err := decode(fr.dialect, raw)
	if err != nil {
		if fr.onBad != nil {
			fr.onBad(err)
		}
		return nil, nil // iso8583-connection skips nil messages and keeps reading
	}
	return msg, nil
}

// decode unpacks raw with the dialect and never panics. The error keeps
// only the failing field's ID: moov-io's messages may quote field data.
func decode(d *specs.Dialect, raw []byte) (msg *iso8583.Message, err error) {
	defer func() {
		if recover() != nil {
			msg, err = nil, &errUndecodable{panic: true}
		}
	}()
	m, uerr := d.Unpack(raw)
	if uerr != nil {
		var ue *isoerrors.UnpackError
		if errors.As(uerr, &ue) && ue.FieldID != "" {
			return nil, &errUndecodable{fields: []string{ue.FieldID}}
		}
		return nil, &errUndecodable{}
	}
	return m, nil
}

// encode packs msg and frames it into one buffer so that it goes out in a
// single Write.
func encode(f framing.Framing, msg *iso8583.Message) (frame []byte, err error) {
	defer func() {
		if recover() != nil {
			frame, err = nil, errors.New("packing message: encoder panicked")
		}
	}()
	packed, err := msg.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing message: %w", err)
	}
	var buf bytes.Buffer
	if err := f.WriteMessage(&buf, packed); err != nil {
		return nil, fmt.Errorf("framing message: %w", err)
	}
	return buf.Bytes(), nil
}

// deadlineConn bounds every Write so that a peer that stops reading cannot
// block the connection's writer forever; the failed write kills the
// connection and fails its pending requests.
type deadlineConn struct {
	net.Conn
	writeTimeout time.Duration
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if err := d.Conn.SetWriteDeadline(time.Now().Add(d.writeTimeout)); err != nil {
		return 0, fmt.Errorf("setting write deadline: %w", err)
	}
	return d.Conn.Write(p)
}

// Close closes the socket. A TLS close first sends close_notify, which can
// stall on a peer that stopped reading; the raw socket is closed after a
// short grace so that Close (and the link's reconnect) never hangs on it.
func (d *deadlineConn) Close() error {
	if tc, ok := d.Conn.(*tls.Conn); ok {
		t := time.AfterFunc(500*time.Millisecond, func() {
			if nc := tc.NetConn(); nc != nil {
				nc.Close()
			}
		})
		defer t.Stop()
	}
	return d.Conn.Close()
}

// fieldOf returns DE id as a string, "" when absent or unreadable.
func fieldOf(msg *iso8583.Message, id int) string {
	s, err := msg.GetString(id)
	if err != nil {
		return ""
	}
	return s
}

// networkCode returns DE70 as 3 digits ("301"), tolerating a Numeric field.
func networkCode(msg *iso8583.Message) string {
	s := fieldOf(msg, 70)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 999 {
		return s
	}
	return fmt.Sprintf("%03d", n)
}

// transmissionTime formats DE7 (MMDDhhmmss, UTC).
func transmissionTime(t time.Time) string { return t.UTC().Format("0102150405") }

// frameWriter lets iso8583-connection write a message itself (its Send and
// Reply, which the link does not use) with the dialect's framing, in one Write.
type frameWriter struct{ f framing.Framing }

func (w frameWriter) WriteMessage(wr io.Writer, msg *iso8583.Message) error {
	frame, err := encode(w.f, msg)
	if err != nil {
		return err
	}
	if _, err := wr.Write(frame); err != nil {
		return fmt.Errorf("writing frame: %w", err)
	}
	return nil
}
