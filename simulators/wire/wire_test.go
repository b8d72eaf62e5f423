package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustCodec(t testing.TB, d string) *Codec {
	t.Helper()
	c, err := NewCodec(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Fixtures below are worked out by hand from bank-a-h2h.md / bank-b-h2h.md.

// 0800 echo: fields 7, 11, 70. Primary bitmap: bit 1 (secondary present),
// bit 7, bit 11 -> 82 20 00.. ; secondary: bit 70 -> 04 00 ...
const echoASCII = "0055" + "0800" + "8220000000000000" + "0400000000000000" + "1127003356" + "000001" + "301"

var echoBinary = "001C" + "0800" + "8220000000000000" + "0400000000000000" + "1127003356" + "000001" + "0301"

func TestDecodeEchoFixtures(t *testing.T) {
	for _, tc := range []struct {
		dialect string
		frame   []byte
	}{
		{DialectASCII, []byte(echoASCII)},
		{DialectBinary, mustHex(t, echoBinary)},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			c := mustCodec(t, tc.dialect)
			body, err := c.ReadFrame(bufio.NewReader(bytes.NewReader(tc.frame)), nil)
			if err != nil {
				t.Fatal(err)
			}
			var m Msg
			if err := c.Decode(body, &m); err != nil {
				t.Fatal(err)
			}
			if m.MTI() != "0800" || m.Get(7) != "1127003356" || m.Get(11) != "000001" || m.Get(70) != "301" {
				t.Fatalf("decoded %s 7=%q 11=%q 70=%q", m.MTI(), m.Get(7), m.Get(11), m.Get(70))
			}
			if got := m.Fields(); len(got) != 3 {
				t.Fatalf("fields %v", got)
			}
			out, err := c.AppendFrame(nil, &m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.frame) {
				t.Fatalf("re-encoded\n%x\nwant\n%x", out, tc.frame)
			}
		})
	}
}

// Bank B 0210 with an odd-length LLVAR (DE32 "12345": 05 01 23 45), a
// 16-digit PAN (16 40 00 .. 10) and an LLLVAR (DE62 "ABC": 00 03 41 42 43).
func TestBinaryVariableFields(t *testing.T) {
	c := mustCodec(t, DialectBinary)
	var m Msg
	m.SetMTI("0210")
	m.Set(2, "4000000000000010")
	m.Set(32, "12345")
	m.Set(62, "ABC")
	got, err := c.Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	// bit 2 -> byte0 0x40; bit 32 -> byte3 0x01; bit 62 -> byte7 0x04.
	want := mustHex(t, "0210"+"4000000100000004"+"16"+"4000000000000010"+"05012345"+"0003414243")
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	var d Msg
	if err := c.Decode(want, &d); err != nil {
		t.Fatal(err)
	}
	if d.Get(2) != "4000000000000010" || d.Get(32) != "12345" || d.Get(62) != "ABC" {
		t.Fatalf("decoded %q %q %q", d.Get(2), d.Get(32), d.Get(62))
	}
}

// Bank A 0110 with DE38 (an6), DE39 and DE48 LLLVAR.
func TestASCIIVariableFields(t *testing.T) {
	c := mustCodec(t, DialectASCII)
	var m Msg
	m.SetMTI("0110")
	m.Set(32, "123")
	m.Set(38, "A1B2C3")
	m.Set(39, "00")
	m.Set(48, "22015ABCDEFGHIJKLMNO")
	got, err := c.Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	// bit 32 -> byte3 0x01; bits 38,39 -> byte4 0x06; bit 48 -> byte5 0x01.
	want := "0110" + "0000000106010000" + "03123" + "A1B2C3" + "00" + "020" + "22015ABCDEFGHIJKLMNO"
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var d Msg
	if err := c.Decode([]byte(strings.ToLower(want[:20])+want[20:]), &d); err != nil {
		t.Fatalf("lower-case bitmap must be accepted: %v", err)
	}
	tl, err := ParseDE48(d.Bytes(48))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := FindDE48(tl, "22"); !ok || v != "ABCDEFGHIJKLMNO" {
		t.Fatalf("tag 22 = %q %v", v, ok)
	}
}

func TestDecodeErrors(t *testing.T) {
	a := mustCodec(t, DialectASCII)
	b := mustCodec(t, DialectBinary)
	var m Msg
	cases := []struct {
		c     *Codec
		in    []byte
		field int
	}{
		{a, []byte("08X0" + "0220000000000000"), 0},
		{a, []byte("0800" + "022000000000000G"), 0},
		{a, []byte("0800" + "0220000000000000" + "11270033"), 7},
		{a, []byte("0800" + "0220000000000000" + "1127003356" + "000001" + "9"), 0},
		{a, []byte("0800" + "0000000000001000" + "062ABC"), 52}, // DE52 not in dialect
		{b, mustHex(t, "0800"+"0220000000000000"+"1A27003356"+"000001"), 7},
		{b, mustHex(t, "0800"+"4000000000000000"+"20"+"40000000000000000000"), 2}, // PAN length 20 > 19
	}
	for i, tc := range cases {
		err := tc.c.Decode(tc.in, &m)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("case %d: want DecodeError, got %v", i, err)
		}
		if de.Field != tc.field {
			t.Fatalf("case %d: field %d, want %d (%v)", i, de.Field, tc.field, err)
		}
	}
}

func TestReadFrameLimits(t *testing.T) {
	a := mustCodec(t, DialectASCII)
	if _, err := a.ReadFrame(bufio.NewReader(strings.NewReader("4097")), nil); !errors.Is(err, ErrFrameTooLong) {
		t.Fatalf("4097: %v", err)
	}
	if _, err := a.ReadFrame(bufio.NewReader(strings.NewReader("00x1a")), nil); err == nil {
		t.Fatal("non-numeric prefix accepted")
	}
	b := mustCodec(t, DialectBinary)
	if _, err := b.ReadFrame(bufio.NewReader(bytes.NewReader([]byte{0x20, 0x01})), nil); !errors.Is(err, ErrFrameTooLong) {
		t.Fatalf("8193: %v", err)
	}
	if _, err := b.ReadFrame(bufio.NewReader(bytes.NewReader([]byte{0x00, 0x05, 1, 2})), nil); err == nil {
		t.Fatal("truncated body accepted")
	}
}

func TestPrivateFields(t *testing.T) {
	sc, err := ParseDE61([]byte("M21" + "ABC123456789012"))
	if err != nil || sc.Initiator != 'M' || !sc.Subsequent || sc.NetworkTransactionID != "ABC123456789012" {
		t.Fatalf("%+v %v", sc, err)
	}
	if _, err := ParseDE61([]byte("X10               ")); err == nil {
		t.Fatal("bad initiator accepted")
	}
	de126 := " 05" + strings.Repeat(" ", 40) + strings.Repeat(" ", 36) + "2.2.0   " + "000 "
	if cvv, err := CVVFromDE126([]byte(de126)); err != nil || cvv != "000" {
		t.Fatalf("cvv %q %v", cvv, err)
	}
	o, err := ParseDE90([]byte("0200" + "000123" + "1127101500" + "00000012345" + "00000000000"))
	if err != nil || o.MTI != "0200" || o.STAN != "000123" || o.DE7 != "1127101500" || o.AcquirerID != "12345" {
		t.Fatalf("%+v %v", o, err)
	}
	if BuildDE90(o) != "0200"+"000123"+"1127101500"+"00000012345"+"00000000000" {
		t.Fatal("BuildDE90 is not the inverse of ParseDE90")
	}
	if n, err := ParseDE95([]byte("000000001000" + strings.Repeat("0", 30))); err != nil || n != 1000 {
		t.Fatalf("%d %v", n, err)
	}
	if _, err := ParseDE90([]byte("0200" + "000123" + "1127101500" + "00000012345" + "00000000001")); err == nil {
		t.Fatal("DE90 with non-zero positions 32-42 accepted")
	}
	if _, err := ParseDE95([]byte("000000001000" + strings.Repeat("0", 29) + "1")); err == nil {
		t.Fatal("DE95 with non-zero positions 13-42 accepted")
	}
	if _, err := ParseDE48([]byte("22015ABC")); err == nil {
		t.Fatal("truncated TLV accepted")
	}
	if _, err := ParseDE48([]byte("22001A20001M")); err == nil {
		t.Fatal("descending tags accepted")
	}
	if MaskPAN([]byte("4000000000000010")) != "400000******0010" {
		t.Fatal(MaskPAN([]byte("4000000000000010")))
	}
	if !Luhn([]byte("4000000000000010")) || Luhn([]byte("4000000000000011")) {
		t.Fatal("Luhn")
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecode(f *testing.F) {
	f.Add(true, []byte(echoASCII[4:]))
	eb, _ := hex.DecodeString(echoBinary[4:])
	f.Add(false, eb)
	f.Add(true, []byte("0110"+"0000000106010000"+"03123"+"A1B2C3"+"00"+"020"+"22015ABCDEFGHIJKLMNO"))
	a, _ := NewCodec(DialectASCII)
	b, _ := NewCodec(DialectBinary)
	f.Fuzz(func(t *testing.T, ascii bool, in []byte) {
		c := b
		if ascii {
			c = a
		}
		var m Msg
		if err := c.Decode(in, &m); err != nil {
			return
		}
		out, err := c.Append(nil, &m)
		if err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
		var m2 Msg
		if err := c.Decode(out, &m2); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		for _, fno := range m.Fields() {
			if m.Get(fno) != m2.Get(fno) {
				t.Fatalf("DE%d changed in round trip", fno)
			}
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add(true, []byte(echoASCII))
	f.Add(false, []byte{0x00, 0x02, 0x08, 0x00})
	a, _ := NewCodec(DialectASCII)
	b, _ := NewCodec(DialectBinary)
	f.Fuzz(func(t *testing.T, ascii bool, in []byte) {
		c := b
		if ascii {
			c = a
		}
		body, err := c.ReadFrame(bufio.NewReader(bytes.NewReader(in)), nil)
		if err == nil && (len(body) == 0 || len(body) > c.MaxLen()) {
			t.Fatalf("body of %d bytes accepted", len(body))
		}
	})
}

func FuzzPrivateFields(f *testing.F) {
	f.Add([]byte("20002MR21001S22015ABCDEFGHIJKLMNO"))
	f.Add([]byte("M21ABC123456789012"))
	f.Add([]byte("0200000123112710150000000012345000000000000"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if tl, err := ParseDE48(in); err == nil {
			if sc, err := StoredCredentialA(tl); err == nil && sc != nil && sc.Initiator != 'C' && sc.Initiator != 'M' {
				t.Fatalf("initiator %q accepted", sc.Initiator)
			}
			enc, err := BuildDE48(tl...)
			if err != nil || enc != string(in) {
				t.Fatalf("DE48 round trip: %q -> %q (%v)", in, enc, err)
			}
		}
		if sc, err := ParseDE61(in); err == nil && len(sc.NetworkTransactionID) > 15 {
			t.Fatalf("NTID %q longer than 15", sc.NetworkTransactionID)
		}
		if cvv, err := CVVFromDE126(in); err == nil && len(cvv) > 4 {
			t.Fatalf("CVV of %d characters", len(cvv))
		}
		if o, err := ParseDE90(in); err == nil {
			o2, err := ParseDE90([]byte(BuildDE90(o)))
			if err != nil || o2 != o {
				t.Fatalf("DE90 round trip: %+v -> %+v (%v)", o, o2, err)
			}
		}
		if n, err := ParseDE95(in); err == nil && n < 0 {
			t.Fatalf("negative DE95 %d", n)
		}
		if m := MaskPAN(in); len(in) >= 13 && m[6:len(m)-4] != strings.Repeat("*", len(in)-10) {
			t.Fatalf("mask %q", m)
		}
	})
}
