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
