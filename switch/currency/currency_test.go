package currency

import (
	"regexp"
	"testing"
)

func TestKnownCurrencies(t *testing.T) {
	tb := New()
	cases := []Currency{
		{"KZT", "398", 2}, {"USD", "840", 2}, {"EUR", "978", 2}, {"RUB", "643", 2},
		{"JPY", "392", 0}, {"KWD", "414", 3}, {"KGS", "417", 2}, {"UZS", "860", 2},
	}
	for _, want := range cases {
		got, ok := tb.ByAlpha(want.Alpha)
		if !ok || got != want {
			t.Errorf("ByAlpha(%q) = %+v, %v; want %+v", want.Alpha, got, ok, want)
		}
		back, ok := tb.ByNumeric(want.Numeric)
		if !ok || back.Alpha != want.Alpha {
			t.Errorf("ByNumeric(%q) = %+v, %v; want %s", want.Numeric, back, ok, want.Alpha)
		}
	}
	for _, bad := range []string{"", "kzt", "XXX", "XTS", "ABC", "KZTT"} {
		if tb.Known(bad) {
			t.Errorf("Known(%q) = true", bad)
		}
		if _, err := tb.Lookup(bad); err == nil {
			t.Errorf("Lookup(%q) succeeded", bad)
		}
	}
}

func TestTableIsConsistent(t *testing.T) {
	alpha := regexp.MustCompile(`^[A-Z]{3}$`)
	num := regexp.MustCompile(`^[0-9]{3}$`)
	seenA, seenN := map[string]bool{}, map[string]bool{}
	for _, c := range table {
		if !alpha.MatchString(c.Alpha) || !num.MatchString(c.Numeric) || c.Exponent < 0 || c.Exponent > 3 {
			t.Errorf("malformed entry %+v", c)
		}
		if seenA[c.Alpha] || seenN[c.Numeric] {
			t.Errorf("duplicate entry %+v", c)
		}
		seenA[c.Alpha], seenN[c.Numeric] = true, true
	}
}
