package specs

import (
	"bytes"
	"reflect"
	"testing"
)

// fuzzUnpack checks that a dialect never panics on any input and that a
// message it accepts packs to bytes that unpack to the same message: after
// one normalization (uppercase bitmap, unknown DE48 tags dropped) packing
// is stable.
func fuzzUnpack(t *testing.T, name string, in []byte) {
	d, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) > d.Framing.MaxLen() {
		return // the framing never hands over more
	}
	msg, err := d.Unpack(in)
	if err != nil {
		return
	}
	p1, err := d.Pack(msg)
	if err != nil {
		t.Fatalf("accepted message does not pack: %v", err)
	}
	msg2, err := d.Unpack(p1)
	if err != nil {
		t.Fatalf("packed message does not unpack: %v", err)
	}
	p2, err := d.Pack(msg2)
	if err != nil {
		t.Fatalf("second pack: %v", err)
	}
	if !bytes.Equal(p1, p2) {
		t.Fatalf("packing is not stable:\n%q\n%q", p1, p2)
	}
}

func FuzzUnpackASCII(f *testing.F) {
	f.Add([]byte("0800" + "8220000000000000" + "0400000000000000" + "1127101500" + "000200" + "301"))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzUnpack(t, DialectASCII, in) })
}

func FuzzUnpackBinary(f *testing.F) {
	f.Add([]byte{0x08, 0x00, 0x82, 0x20, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x27, 0x10, 0x15, 0, 0, 0x02, 0x01, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) { fuzzUnpack(t, DialectBinary, in) })
}

func FuzzDE48(f *testing.F) {
	f.Add([]byte("01002052000" + "2MR92003123"))
	f.Add([]byte("22015123456789012345"))
	f.Add([]byte("77003abc01002xx"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tags, err := ParseDE48(in)
		if err != nil {
			return
		}
		v, err := BuildDE48(tags)
		if err != nil {
			t.Fatalf("parsed tags do not build: %v", err)
		}
		again, err := ParseDE48([]byte(v))
		if err != nil {
			t.Fatalf("built DE48 does not parse: %v", err)
		}
		// BuildDE48 omits empty values.
		for k, val := range tags {
			if val == "" {
				delete(tags, k)
			}
		}
		if !reflect.DeepEqual(tags, again) {
			t.Fatalf("round trip: %v != %v", tags, again)
		}
	})
}

func FuzzDE61(f *testing.F) {
	f.Add("M21123456789012345")
	f.Add("C10               ")
	f.Add("X")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseDE61(in)
		if err != nil {
			return
		}
		out, err := s.Format()
		if err != nil {
			t.Fatalf("parsed DE61 does not format: %v", err)
		}
		if out != in {
			t.Fatalf("round trip %q -> %q", in, out)
		}
	})
}

func FuzzDE126(f *testing.F) {
	f.Add(" 05AAABBEg0VhI0VniQEjRWAAAAAAA=            f25084f0-5b16-4c0a-ae5d-b24808a95e4b2.2.0   123 ")
	f.Add("A07CRYPTO                                                                               123 ")
	f.Add("G")
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseDE126(in)
		if err != nil {
			return
		}
		out, err := e.Format()
		if err != nil {
			t.Fatalf("parsed DE126 does not format: %v", err)
		}
		if out != in {
			t.Fatalf("round trip %q -> %q", in, out)
		}
	})
}
