package recon

import "testing"

func TestParseRateAndCommission(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Rate
		str  string
	}{
		{"2.5%", 25000, "2.5%"}, {"2.5", 25000, "2.5%"}, {" 2% ", 20000, "2%"}, {"0", 0, "0%"},
		{"1.2345%", 12345, "1.2345%"}, {"100%", 1_000_000, "100%"}, {"0.0001", 1, "0.0001%"},
	} {
		r, err := ParseRate(c.in)
		if err != nil || r != c.want || r.String() != c.str {
			t.Fatalf("ParseRate(%q) = %d %q %v, want %d %q", c.in, r, r.String(), err, c.want, c.str)
		}
	}
	for _, bad := range []string{"", "%", "abc", "100.0001", "2.55555", "-1", "1e2", "2,5", ".5", "1000"} {
		if r, err := ParseRate(bad); err == nil {
			t.Fatalf("ParseRate(%q) = %d, want an error", bad, r)
		}
	}
	r := Rate(25000) // 2.5%
	for _, c := range []struct{ amount, want int64 }{
		{1025, 26},     // 25.625 → 26
		{1020, 26},     // 25.5 exactly: half up
		{1019, 25},     // 25.475 → 25
		{150000, 3750}, // exact
		{1, 0},         // 0.025 → 0
		{20, 1},        // 0.5 → 1
		{19, 0},        // 0.475 → 0
		// Debits round symmetrically: half away from zero.
		{-1025, -26}, // −25.625 → −26
		{-1020, -26}, // −25.5 → −26
		{-1019, -25}, // −25.475 → −25
		{-20, -1},    // −0.5 → −1
		{-1, 0},      // −0.025 → 0
		{0, 0},
	} {
		if got := r.Commission(c.amount); got != c.want {
			t.Fatalf("2.5%% of %d = %d, want %d", c.amount, got, c.want)
		}
	}
	// 24 999 999 999.975 rounds up; the product does not overflow.
	if got := r.Commission(999_999_999_999); got != 25_000_000_000 {
		t.Fatalf("2.5%% of the largest amount = %d, want 25000000000", got)
	}
	if got := r.Commission(-999_999_999_999); got != -25_000_000_000 {
		t.Fatalf("2.5%% of the largest debit = %d, want -25000000000", got)
	}
}
