package bankmsg

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/acquirer/h2hswitch/specs"
)

// The framed length of the longest reversal of each bank, counted by hand
// from the documents' tables (certification review), so that a field
// encoded one byte too long or too short is caught even if its fixture
// piece were wrong in the same way.
func TestGoldenFramedPartialReversalLength(t *testing.T) {
	find := func(cases []goldenRequest, name string) *Request {
		for _, c := range cases {
			if c.name == name {
				return c.req
			}
		}
		t.Fatalf("no golden request %q", name)
		return nil
	}
	t.Run("Bank A 0400", func(t *testing.T) {
		d := mustDialect(t, specs.DialectASCII)
		msg, err := Encode(d, find(goldenRequestsA(), "0400 partial reversal"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := d.WriteMessage(&buf, msg); err != nil {
			t.Fatal(err)
		}
		// MTI 4 + bitmaps 32 + DE2 2+16 + DE3 6 + DE4 12 + DE7 10 + DE11 6
		// + DE32 2+8 + DE37 12 + DE41 8 + DE42 15 + DE49 3 + DE90 42
		// + DE95 42 = 220.
		if got := buf.String()[:4]; got != "0220" || buf.Len() != 4+220 {
			t.Errorf("prefix %q, %d bytes in all; want 0220 and 224", got, buf.Len())
		}
	})
	t.Run("Bank B 0420", func(t *testing.T) {
		d := mustDialect(t, specs.DialectBinary)
		msg, err := Encode(d, find(goldenRequestsB(), "0420 partial reversal"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := d.WriteMessage(&buf, msg); err != nil {
			t.Fatal(err)
		}
		// MTI 2 + bitmaps 16 + DE2 1+8 + DE3 3 + DE4 6 + DE7 5 + DE11 3
		// + DE32 1+4 + DE37 12 + DE41 8 + DE42 15 + DE49 2 + DE90 21
		// + DE95 42 = 149 = 0x0095.
		if got := hex.EncodeToString(buf.Bytes()[:2]); got != "0095" || buf.Len() != 2+149 {
			t.Errorf("prefix %s, %d bytes in all; want 0095 and 151", got, buf.Len())
		}
	})
}
