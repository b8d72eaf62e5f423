package framing

import (
	"bytes"
	"testing"
)

// fuzzRead checks that a framing never panics, never returns a message
// outside 1..MaxLen, and that what it read writes back to the same bytes.
func fuzzRead(t *testing.T, f Framing, prefixLen int, in []byte) {
	body, err := f.ReadMessage(bytes.NewReader(in))
	if err != nil {
		return
	}
	if len(body) == 0 || len(body) > f.MaxLen() {
		t.Fatalf("read a %d-byte message, max %d", len(body), f.MaxLen())
	}
	var out bytes.Buffer
	if err := f.WriteMessage(&out, body); err != nil {
		t.Fatalf("writing back: %v", err)
	}
	if !bytes.Equal(out.Bytes(), in[:prefixLen+len(body)]) {
		t.Fatalf("rewritten frame differs from input")
	}
}

func FuzzASCII4Read(f *testing.F) {
	f.Add([]byte("0004abcd"))
	f.Add([]byte("4096"))
	f.Add([]byte("0000"))
	f.Add([]byte("99x9"))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRead(t, ASCII4{}, 4, in) })
}

func FuzzBinary2Read(f *testing.F) {
	f.Add([]byte{0, 4, 1, 2, 3, 4})
	f.Add([]byte{0x20, 0x00})
	f.Add([]byte{0xff, 0xff, 0})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRead(t, Binary2{}, 2, in) })
}
