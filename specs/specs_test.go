package specs

import (
	"strings"
	"testing"
	"time"
)

func TestLookup(t *testing.T) {
	a, err := Lookup(DialectASCII)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Lookup(DialectBinary)
	if err != nil {
		t.Fatal(err)
	}
	if a.SignOn || !b.SignOn {
		t.Errorf("SignOn: A %v, B %v", a.SignOn, b.SignOn)
	}
	if a.Framing.MaxLen() != 4096 || b.Framing.MaxLen() != 8192 {
		t.Errorf("max lengths %d, %d", a.Framing.MaxLen(), b.Framing.MaxLen())
	}
	if _, err := Lookup("h2h93"); err == nil {
		t.Error("unknown dialect accepted")
	}
	a2, _ := Lookup(DialectASCII)
	if a2 == a || a2.Spec == a.Spec {
		t.Error("Lookup returned a shared value")
	}
}

// The Ops tables, checked against the contract's Messages tables.
func TestOps(t *testing.T) {
	a, _ := Lookup(DialectASCII)
	b, _ := Lookup(DialectBinary)
	want := map[string]map[Op]OpSpec{
		DialectASCII: {
			OpPurchase:       {MTI: "0200", ResponseMTI: "0210", ProcessingCode: "000000"},
			OpPreauth:        {MTI: "0100", ResponseMTI: "0110", ProcessingCode: "000000"},
			OpCompletion:     {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: "000000", Advice: true},
			OpRefund:         {MTI: "0200", ResponseMTI: "0210", ProcessingCode: "200000"},
			OpReversal:       {MTI: "0400", RepeatMTI: "0401", ResponseMTI: "0410", Advice: true},
			OpAdvicePurchase: {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: "000000", Advice: true},
			OpAdvicePreauth:  {MTI: "0120", RepeatMTI: "0121", ResponseMTI: "0130", ProcessingCode: "000000", Advice: true},
			OpEcho:           {MTI: "0800", ResponseMTI: "0810", NetworkCode: "301"},
		},
		DialectBinary: {
			OpPurchase:       {MTI: "0200", ResponseMTI: "0210", ProcessingCode: "000000"},
			OpPreauth:        {MTI: "0100", ResponseMTI: "0110", ProcessingCode: "000000"},
			OpCompletion:     {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: "000000", Advice: true},
			OpRefund:         {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: "200000", Advice: true},
			OpReversal:       {MTI: "0420", RepeatMTI: "0421", ResponseMTI: "0430", Advice: true},
			OpAdvicePurchase: {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: "000000", Advice: true},
			OpAdvicePreauth:  {MTI: "0120", RepeatMTI: "0121", ResponseMTI: "0130", ProcessingCode: "000000", Advice: true},
			OpSignOn:         {MTI: "0800", ResponseMTI: "0810", NetworkCode: "001"},
			OpSignOff:        {MTI: "0800", ResponseMTI: "0810", NetworkCode: "002"},
			OpEcho:           {MTI: "0800", ResponseMTI: "0810", NetworkCode: "301"},
		},
	}
	for _, d := range []*Dialect{a, b} {
		w := want[d.Name]
		if len(d.Ops) != len(w) {
			t.Errorf("%s: %d ops, want %d", d.Name, len(d.Ops), len(w))
		}
		for op, spec := range w {
			got, err := d.Op(op)
			if err != nil || got != spec {
				t.Errorf("%s %s = %+v (%v), want %+v", d.Name, op, got, err, spec)
			}
			// The response MTI in the table agrees with the rule.
			if r, ok := ResponseMTI(spec.MTI); !ok || r != spec.ResponseMTI {
				t.Errorf("%s %s: ResponseMTI(%s) = %s", d.Name, op, spec.MTI, r)
			}
			if spec.RepeatMTI != "" {
				if r, ok := ResponseMTI(spec.RepeatMTI); !ok || r != spec.ResponseMTI {
					t.Errorf("%s %s: ResponseMTI(%s) = %s", d.Name, op, spec.RepeatMTI, r)
				}
			}
		}
	}
	if _, err := a.Op(OpSignOn); err == nil {
		t.Error("Bank A has a sign-on")
	}
	entry := map[string][3]string{DialectASCII: {"810", "812", "102"}, DialectBinary: {"812", "817", "100"}}
	for _, d := range []*Dialect{a, b} {
		e := entry[d.Name]
		if d.EntryModes[SourceKeyed] != e[0] || d.EntryModes[SourceNetworkToken] != e[1] || d.EntryModes[SourceCredentialOnFile] != e[2] {
			t.Errorf("%s entry modes %v", d.Name, d.EntryModes)
		}
	}
}

func TestResponseMTIRejects(t *testing.T) {
	for _, m := range []string{"0110", "0810", "0230", "02", "02x0", "0203", "0430"} {
		if r, ok := ResponseMTI(m); ok {
			t.Errorf("ResponseMTI(%q) = %q, want rejection", m, r)
		}
	}
}

func TestAlmaty(t *testing.T) {
	a, _ := Lookup(DialectASCII)
	at := time.Date(2026, 11, 27, 19, 30, 0, 0, time.UTC).In(a.Location)
	if at.Format("0102150405") != "1128003000" {
		t.Errorf("19:30 UTC in Almaty = %s, want 28 Nov 00:30", at.Format("2006-01-02 15:04"))
	}
}

func TestPrefixers(t *testing.T) {
	ll := asciiLen{2}
	if b, err := ll.EncodeLength(19, 16); err != nil || string(b) != "16" {
		t.Errorf("LL encode 16: %q %v", b, err)
	}
	if _, err := ll.EncodeLength(19, 20); err == nil {
		t.Error("LL encode above max accepted")
	}
	for _, in := range []string{"+9", " 9", "-1", "1", "2x"} {
		if _, _, err := ll.DecodeLength(99, []byte(in)); err == nil {
			t.Errorf("LL decode %q accepted", in)
		}
	}
	lll := bcdLen{3}
	if b, err := lll.EncodeLength(999, 123); err != nil || string(b) != "\x01\x23" {
		t.Errorf("BCD LLL encode 123: % x %v", b, err)
	}
	if n, r, err := lll.DecodeLength(999, []byte{0x09, 0x91}); err != nil || n != 991 || r != 2 {
		t.Errorf("BCD LLL decode 0991: %d %d %v", n, r, err)
	}
	for _, in := range [][]byte{{0x10, 0x00}, {0x0a, 0x00}, {0x00, 0x1f}, {0x01}} {
		if _, _, err := lll.DecodeLength(999, in); err == nil {
			t.Errorf("BCD LLL decode % x accepted", in)
		}
	}
	bll := bcdLen{2}
	if b, err := bll.EncodeLength(19, 19); err != nil || string(b) != "\x19" {
		t.Errorf("BCD LL encode 19: % x %v", b, err)
	}
	if _, _, err := bll.DecodeLength(19, []byte{0x20}); err == nil {
		t.Error("BCD LL decode 20 > 19 accepted")
	}
}

func TestDE48(t *testing.T) {
	v, err := BuildDE48(map[string]string{"92": "123", "01": "05", "30": "", "20": "MR"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "01002" + "05" + "20002" + "MR" + "92003" + "123"; v != want {
		t.Errorf("BuildDE48 = %q, want %q", v, want)
	}
	tags, err := ParseDE48([]byte(v + "55" + "004" + "abcd"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 3 || tags["01"] != "05" || tags["20"] != "MR" || tags["92"] != "123" {
		t.Errorf("ParseDE48 = %v", tags)
	}
	for _, bad := range []string{"0100", "01005ab", "01x0205", "20003MRX", "1"} {
		if _, err := ParseDE48([]byte(bad)); err == nil {
			t.Errorf("ParseDE48(%q) accepted", bad)
		}
	}
	if _, err := BuildDE48(map[string]string{"1": "x"}); err == nil {
		t.Error("one-digit tag accepted")
	}
	if _, err := BuildDE48(map[string]string{"02": strings.Repeat("a", 995)}); err == nil {
		t.Error("DE48 above 999 accepted")
	}
}

func TestDE61(t *testing.T) {
	s := StoredCredential61{Initiator: 'M', Type: '2', Sequence: '1', NetworkTransactionID: "123456789012345"}
	v, err := s.Format()
	if err != nil || v != "M21123456789012345" {
		t.Fatalf("Format = %q, %v", v, err)
	}
	got, err := ParseDE61("C30" + strings.Repeat(" ", 15))
	if err != nil || got != (StoredCredential61{Initiator: 'C', Type: '3', Sequence: '0'}) {
		t.Errorf("Parse = %+v, %v", got, err)
	}
	for _, bad := range []string{"X21" + strings.Repeat(" ", 15), "C40" + strings.Repeat(" ", 15), "C12" + strings.Repeat(" ", 15), "C10", "C10" + strings.Repeat(" ", 16), "C10\x00" + strings.Repeat(" ", 14)} {
		if _, err := ParseDE61(bad); err == nil {
			t.Errorf("ParseDE61(%q) accepted", bad)
		}
	}
}

func TestDE126(t *testing.T) {
	e := ECommerce126{Wallet: 'A', ECI: "07", AuthValue: "CRYPTO", CVV: "123"}
	v, err := e.Format()
	if err != nil {
		t.Fatal(err)
	}
	want := "A07CRYPTO" + strings.Repeat(" ", 34) + strings.Repeat(" ", 36) + strings.Repeat(" ", 8) + "123 "
	if v != want || len(v) != 91 {
		t.Errorf("Format = %q (len %d), want %q", v, len(v), want)
	}
	got, err := ParseDE126(v)
	if err != nil || got != e {
		t.Errorf("Parse = %+v, %v", got, err)
	}
	blank, err := ParseDE126(strings.Repeat(" ", 91))
	if err != nil || !blank.IsZero() {
		t.Errorf("blank: %+v %v", blank, err)
	}
	for _, bad := range []string{"B" + strings.Repeat(" ", 90), " x5" + strings.Repeat(" ", 88), strings.Repeat(" ", 87) + "12a ", strings.Repeat(" ", 90)} {
		if _, err := ParseDE126(bad); err == nil {
			t.Errorf("ParseDE126(%q) accepted", bad)
		}
	}
	if _, err := (ECommerce126{CVV: "98765"}).Format(); err == nil || strings.Contains(err.Error(), "98765") {
		t.Errorf("5-digit CVV: %v", err)
	}
}

func TestBCDEncoder(t *testing.T) {
	var e bcdEncoder
	for in, want := range map[string]string{"812": "\x08\x12", "0398": "\x03\x98", "": "", "7": "\x07", "4000000000000010": "\x40\x00\x00\x00\x00\x00\x00\x10"} {
		got, err := e.Encode([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Encode(%q) = % x, %v; want % x", in, got, err, want)
		}
		back, n, err := e.Decode(append(got, 0x99), len(in))
		if err != nil || string(back) != in || n != len(want) {
			t.Errorf("Decode(% x, %d) = %q, %d, %v", got, len(in), back, n, err)
		}
	}
	if _, err := e.Encode([]byte("12a4")); err == nil || strings.Contains(err.Error(), "12a4") {
		t.Errorf("non-digit: %v", err)
	}
	bad := []struct {
		in     []byte
		length int
	}{
		{[]byte{0x18, 0x12}, 3}, // pad nibble 1
		{[]byte{0x0a, 0x12}, 3}, // nibble A
		{[]byte{0x12, 0xf4}, 4}, // filler F
		{[]byte{0x12}, 4},       // short
		{[]byte{0x12}, -1},
	}
	for _, tc := range bad {
		if _, _, err := e.Decode(tc.in, tc.length); err == nil {
			t.Errorf("Decode(% x, %d) accepted", tc.in, tc.length)
		}
	}
}
