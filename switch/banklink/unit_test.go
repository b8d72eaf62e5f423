package banklink

import (
	"testing"
	"time"
)

func TestMatchKeyPairsRequestsWithResponses(t *testing.T) {
	for _, tc := range []struct{ req, resp string }{
		{"0200", "0210"}, {"0100", "0110"}, {"0400", "0410"}, {"0401", "0410"},
		{"0420", "0430"}, {"0421", "0430"}, {"0220", "0230"}, {"0221", "0230"},
		{"0120", "0130"}, {"0121", "0130"}, {"0800", "0810"},
	} {
		if a, b := matchKey(tc.req, "000001"), matchKey(tc.resp, "000001"); a != b {
			t.Errorf("matchKey(%s)=%q, matchKey(%s)=%q; want equal", tc.req, a, tc.resp, b)
		}
	}
	for _, tc := range [][2]string{{"0200", "0230"}, {"0100", "0210"}, {"0120", "0110"}, {"0400", "0430"}} {
		if matchKey(tc[0], "000001") == matchKey(tc[1], "000001") {
			t.Errorf("%s must not be answered by %s", tc[0], tc[1])
		}
	}
	if matchKey("0200", "000001") == matchKey("0210", "000002") {
		t.Error("different STANs share a key")
	}
	for _, bad := range []string{"0210", "02", "02x0", "", "0230"} {
		if _, ok := responseMTI(bad); ok {
			t.Errorf("responseMTI(%q) accepted a non-request", bad)
		}
	}
}

func TestNormalizeSTAN(t *testing.T) {
	for in, want := range map[string]string{"1": "000001", "000123": "000123", "999999": "999999"} {
		if got, err := normalizeSTAN(in); err != nil || got != want {
			t.Errorf("normalizeSTAN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "000000", "1234567", "12a456", "-1", "+12", " 12"} {
		if got, err := normalizeSTAN(bad); err == nil {
			t.Errorf("normalizeSTAN(%q) = %q, want error", bad, got)
		}
	}
	for in, want := range map[uint32]uint32{1: 1, 999999: 999999, 1000000: 1, 1999998: 999999} {
		if got, ok := foldSTAN(in); !ok || got != want {
			t.Errorf("foldSTAN(%d) = %d, want %d", in, got, want)
		}
	}
	if _, ok := foldSTAN(0); ok {
		t.Error("foldSTAN(0) accepted")
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for i, ceil := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceil *= time.Millisecond
		d := b.next()
		if d < ceil/2 || d > ceil {
			t.Fatalf("delay %d = %s, want in [%s, %s]", i, d, ceil/2, ceil)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Fatalf("after reset delay = %s", d)
	}
}

func TestMinuteWindow(t *testing.T) {
	var w minuteWindow
	t0 := time.Unix(1_800_000_000, 0)
	w.add(t0)
	w.add(t0)
	w.add(t0.Add(30 * time.Second))
	if n := w.sum(t0.Add(30 * time.Second)); n != 3 {
		t.Fatalf("sum = %d, want 3", n)
	}
	if n := w.sum(t0.Add(75 * time.Second)); n != 1 {
		t.Fatalf("sum after the first second left the window = %d, want 1", n)
	}
	w.add(t0.Add(60 * time.Second)) // same bucket as t0: resets it
	if n := w.sum(t0.Add(60 * time.Second)); n != 2 {
		t.Fatalf("sum after bucket reuse = %d, want 2", n)
	}
}
