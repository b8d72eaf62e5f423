package banklink

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzFrameReaderASCII feeds hostile bytes to the reader the link installs
// on every Bank A connection: it must return a message, skip an
// undecodable frame, or fail the stream, never panic or over-allocate.
func FuzzFrameReaderASCII(f *testing.F) {
	// 0800 echo as the contract writes it: MTI, hex bitmap with bit 1 (secondary),
	// 7, 11 and, in the secondary bitmap, 70.
	f.Add([]byte(asciiHostEcho))
	f.Add([]byte("0004ABCD"))
	f.Add([]byte("9999"))
	f.Add([]byte("00x1"))
	f.Add([]byte(""))
	fuzzFrameReader(f, dialectA)
}

// FuzzFrameReaderBinary does the same for Bank B's binary framing and BCD spec.
func FuzzFrameReaderBinary(f *testing.F) {
	f.Add(mustHex(binaryHostEcho))
	f.Add([]byte{0x00, 0x02, 0x08, 0x00})
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0x00})
	fuzzFrameReader(f, dialectB)
}

func fuzzFrameReader(f *testing.F, name string) {
	d := testDialect(f, name)
	f.Fuzz(func(t *testing.T, data []byte) {
		var bad error
		fr := &frameReader{dialect: d, onBad: func(err error) { bad = err }}
		r := bytes.NewReader(data)
		for range 16 {
			msg, err := fr.ReadMessage(r)
			if err != nil {
				return // stream error: the connection would be closed
			}
			if msg == nil {
				var ue *errUndecodable
				if !errors.As(bad, &ue) {
					t.Fatalf("skipped frame without an undecodable report: %v", bad)
				}
				continue
			}
			// Every decoded inbound message gets a match key, so none is
			// dropped for want of one (it reaches OnUnsolicited instead).
			if _, err := (requestIDGenerator{}).GenerateRequestID(msg); err != nil {
				t.Fatalf("no request ID for a decoded message: %v", err)
			}
		}
	})
}
