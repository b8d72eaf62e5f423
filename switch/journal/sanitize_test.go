package journal

import (
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

func TestSanitize(t *testing.T) {
	in := map[string]string{
		"2":         "4000000000000010",
		"4":         "000000150000",
		"35":        "4000000000000010=28121010000",
		"45":        "B4000000000000010^HOLDER^2812",
		"52":        "0123456789ABCDEF",
		"55":        "9F2608AABBCCDDEEFF0011",
		"48":        "01002" + "05" + "02010ABCDEFGHIJ" + "920041234" + "1100401AB",
		"48.92":     "1234",
		"48.cvv2":   "1234",
		"126":       "G07" + strings.Repeat("C", 40) + strings.Repeat("D", 36) + "2.2.0   " + "987 ",
		"126.extra": "x",
		"63":        "S-778",
	}
	out, changed := Sanitize(in)
	if !changed {
		t.Fatal("Sanitize reported no change")
	}
	want := map[string]string{
		"2":   "400000******0010",
		"4":   "000000150000",
		"48":  "0100205",
		"126": "G07" + strings.Repeat(" ", 40) + strings.Repeat("D", 36) + "2.2.0   " + "    ",
		"63":  "S-778",
	}
	if len(out) != len(want) {
		t.Fatalf("Sanitize kept %v", out)
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("field %s = %q, want %q", k, out[k], v)
		}
	}
	if in["2"] != "4000000000000010" {
		t.Fatal("Sanitize modified its input")
	}
	clean := map[string]string{"2": "400000******0010", "39": "00", "48": "0100205", "126": strings.Repeat(" ", 91)}
	if got, changed := Sanitize(clean); changed || len(got) != 4 {
		t.Fatalf("clean fields changed: %v", got)
	}
	// DE48 that is not TLV, or DE126 of the wrong length: its secrets cannot
	// be found, so it is not kept.
	for _, f := range []map[string]string{{"48": "92004123"}, {"48": "0100x05"}, {"126": "A07123"}} {
		got, changed := Sanitize(f)
		for _, v := range got {
			if v != droppedFieldMark || !changed {
				t.Errorf("Sanitize(%v) = %v", f, got)
			}
		}
	}
	big := map[string]string{"127": strings.Repeat("x", 5000)}
	if got, _ := Sanitize(big); len(got["127"]) != maxLogValueLen {
		t.Errorf("value not bounded: %d", len(got["127"]))
	}
}

func TestSequenceValue(t *testing.T) {
	cases := []struct{ v, max, want int64 }{
		{1, 999999, 1}, {999999, 999999, 999999}, {1000000, 999999, 1}, {1000001, 999999, 2}, {5, 0, 5},
	}
	for _, c := range cases {
		if got := SequenceValue(c.v, c.max); got != c.want {
			t.Errorf("SequenceValue(%d, %d) = %d, want %d", c.v, c.max, got, c.want)
		}
	}
}

func TestRebindDollar(t *testing.T) {
	if got := rebindDollar("a = ? AND b IN (?, ?)"); got != "a = $1 AND b IN ($2, $3)" {
		t.Fatalf("rebindDollar = %q", got)
	}
}

// FuzzSanitize: hostile field maps never panic and never leave a PAN-like
// run, a DE48 tag 92 or a DE126 CVV in what is stored.
func FuzzSanitize(f *testing.F) {
	f.Add("2", "4000000000000010", "48", "01002059200412341100401AB")
	f.Add("126", "A07"+strings.Repeat("C", 40)+strings.Repeat("D", 36)+"2.2.0   987 ", "48.92", "123")
	f.Add("48", "999", "62", "x5100000000000008")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		out, _ := Sanitize(map[string]string{k1: v1, k2: v2})
		for k, v := range out {
			if cardvault.ContainsPAN(v) {
				t.Fatalf("field %q keeps a PAN-like run", k)
			}
			if strings.HasPrefix(k, "48.") && secretDE48Tag(strings.TrimPrefix(k, "48.")) {
				t.Fatalf("secret subfield %q kept", k)
			}
			if k == "48" && v != droppedFieldMark {
				rest, ok, _ := scrubDE48(v)
				if !ok || rest != v {
					t.Fatalf("stored DE48 %q still has secret tags", v)
				}
			}
			if k == "126" && v != droppedFieldMark && (len(v) != de126Len || strings.TrimSpace(v[87:91]) != "" || strings.TrimSpace(v[3:43]) != "") {
				t.Fatalf("stored DE126 %q keeps CVV or cryptogram", v)
			}
		}
	})
}

// The backstop does not trust the caller: the expiry never reaches the log,
// DE2 is masked even when it fails Luhn, and a PAN straddling the length
// cut is masked, not half-kept.
func TestSanitizeBackstop(t *testing.T) {
	out, changed := Sanitize(map[string]string{
		"2":  "4000000000000011", // Luhn-invalid: still a cardholder's digits
		"14": "2812",
		"39": "00",
	})
	if !changed {
		t.Fatal("Sanitize reported no change")
	}
	if got := out["2"]; got != "400000******0011" {
		t.Errorf("DE2 = %q, want 400000******0011", got)
	}
	if _, ok := out["14"]; ok {
		t.Errorf("DE14 kept: %v", out)
	}
	long := strings.Repeat("x", maxLogValueLen-8) + "4000000000000010"
	out, _ = Sanitize(map[string]string{"43": long})
	if strings.Contains(out["43"], "40000000") {
		t.Errorf("PAN straddling the cut left digits: %q", out["43"][len(out["43"])-12:])
	}
	text := strings.Repeat("y", maxFreeTextLen-8) + "4000000000000010"
	if got := cleanText(text); strings.Contains(got, "40000000") {
		t.Errorf("cleanText left a PAN's head: %q", got[len(got)-12:])
	}
}
