package bankmsg

import (
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs"
)

// fuzzDecode runs a message body through everything the switch and the
// simulator do with bytes from a peer: unpack, decode as a request or a
// response, and answer it. None of it may panic; an error must not carry
// the message's PAN.
func fuzzDecode(t *testing.T, name string, in []byte) {
	d, err := specs.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) > d.Framing.MaxLen() {
		return
	}
	msg, err := d.Unpack(in)
	if err != nil {
		return
	}
	pan, _ := msg.GetString(2)
	leaks := func(err error) {
		if err != nil && len(pan) >= 12 && strings.Contains(err.Error(), pan) {
			t.Fatalf("error carries the PAN: %v", err)
		}
	}
	_, err = decodeRequestAt(d, msg, goldenNow)
	leaks(err)
	_, err = decodeResponseAt(d, msg, goldenNow)
	leaks(err)
	if resp, err := Respond(d, msg, "00"); err == nil {
		if _, err := d.Pack(resp); err != nil {
			t.Fatalf("response to an accepted request does not pack: %v", err)
		}
	} else {
		leaks(err)
	}
}

func FuzzDecodeASCII(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) { fuzzDecode(t, specs.DialectASCII, in) })
}

func FuzzDecodeBinary(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) { fuzzDecode(t, specs.DialectBinary, in) })
}
