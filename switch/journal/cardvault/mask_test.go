package cardvault

import "testing"

func TestMaskPAN(t *testing.T) {
	cases := map[string]string{
		"4000000000000010":    "400000******0010",
		"4000000000001":       "400000***0001",
		"4000000000000000006": "400000*********0006",
		"1234":                "****",
	}
	for in, want := range cases {
		if got := MaskPAN(in); got != want {
			t.Errorf("MaskPAN(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for _, ok := range []string{"4000000000000010", "5100000000000008", "2200000000000004", "4895370000000106", "0"} {
		if !Luhn(ok) {
			t.Errorf("Luhn(%s) = false", ok)
		}
	}
	for _, bad := range []string{"4000000000000011", "", "40000000000000a0", "4000 0000 0000 0010"} {
		if Luhn(bad) {
			t.Errorf("Luhn(%q) = true", bad)
		}
	}
}

func TestMaskPANsIn(t *testing.T) {
	cases := []struct{ in, want string }{
		{"pan 4000000000000010 here", "pan 400000******0010 here"},
		{"4000000000000010", "400000******0010"},
		{"a5100000000000008b4000000000000028", "a510000******0008b400000******0028"},
		{"4000000000000011", "4000000000000011"},                                                           // not Luhn-valid
		{"000000150000", "000000150000"},                                                                   // an amount
		{"010000012311270515000000012345678900000000000", "010000012311270515000000012345678900000000000"}, // DE90: 45 digits
		{"400000******0010", "400000******0010"},
		{"", ""},
	}
	for _, c := range cases {
		got, changed := MaskPANsIn(c.in)
		if got != c.want || changed != (c.in != c.want) {
			t.Errorf("MaskPANsIn(%q) = %q, %v; want %q", c.in, got, changed, c.want)
		}
	}
}

func TestBrand(t *testing.T) {
	cases := map[string]string{
		"4000000000000010": "visa", "5100000000000008": "mastercard", "2221000000000009": "mastercard",
		"2200000000000004": "mir", "340000000000009": "amex", "3530111333300000": "jcb", "6200000000000005": "unionpay",
		"9000000000000000": "", "12": "",
	}
	for pan, want := range cases {
		if got := Brand(pan); got != want {
			t.Errorf("Brand(%s) = %q, want %q", pan, got, want)
		}
	}
}

// FuzzMaskPANsIn: whatever the input, no PAN-shaped run survives, the length
// is kept and nothing panics.
func FuzzMaskPANsIn(f *testing.F) {
	for _, s := range []string{"4000000000000010", "x5100000000000008y", "000000150000", "4000000000000010=2812101", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := MaskPANsIn(s)
		if len(out) != len(s) {
			t.Fatalf("length changed %d -> %d", len(s), len(out))
		}
		if _, again := MaskPANsIn(out); again {
			t.Fatalf("a PAN-like run survived masking in %q", out)
		}
	})
}

// FuzzOpen feeds hostile ciphertexts (a corrupted database) to Open: errors,
// never a panic.
func FuzzOpen(f *testing.F) {
	v := vault(f)
	_, ct, err := v.Seal("pay_1", "4000000000000010", "2812")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct, uint32(1))
	f.Add([]byte{}, uint32(1))
	f.Add(make([]byte, 28), uint32(2))
	f.Fuzz(func(t *testing.T, ct []byte, keyID uint32) {
		pan, _, err := v.Open("pay_1", keyID, ct)
		if err == nil && !ValidPAN(pan) {
			t.Fatalf("Open accepted a ciphertext holding an invalid PAN")
		}
	})
}
