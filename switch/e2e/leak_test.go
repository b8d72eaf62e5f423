package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// testPANs are every PAN and token the tests send; testCVVs every CVV
// except "000" (the simulator's CVV2-failure value, which cannot be told
// apart from other zeros in a log).
var (
	testPANs = []string{"4000000000000010", "4000000000000028", "4000000000000036", "5100000000000008", "2200000000000004", tokenPAN}
	testCVVs = []string{"8264", "7351", "7361", "9417"}
)

var cvvPatterns = func() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, cvv := range testCVVs {
		out = append(out, regexp.MustCompile(`(^|[^0-9.])`+cvv+`([^0-9]|$)`))
	}
	return out
}()

// leaks returns what card data text holds: a full test PAN, a test CVV as
// a number of its own, or a "cvv" member.
func leaks(text string) []string {
	var found []string
	for _, pan := range testPANs {
		if i := strings.Index(text, pan); i >= 0 {
			found = append(found, "full PAN "+pan[:6]+"…"+pan[12:]+": …"+excerpt(text, i)+"…")
		}
	}
	for _, re := range cvvPatterns {
		if loc := re.FindStringIndex(text); loc != nil {
			found = append(found, "CVV: …"+excerpt(text, loc[0])+"…")
		}
	}
	if i := strings.Index(strings.ToLower(text), `"cvv"`); i >= 0 {
		found = append(found, "a cvv member: …"+excerpt(text, i)+"…")
	}
	return found
}

// scanForCardData fails the test for every leak in text.
func scanForCardData(t *testing.T, what, text string) {
	t.Helper()
	for _, l := range leaks(text) {
		t.Errorf("card data in %s: %s", what, l)
	}
}

func excerpt(s string, i int) string {
	lo, hi := max(0, i-60), min(len(s), i+60)
	return strings.ReplaceAll(s[lo:hi], "\n", " ")
}

// checkNoLeaks is registered by newEnv. On a failed test it also shows the
// end of each switch's log, which is what diagnosing a failure needs.
func (e *env) checkNoLeaks() {
	e.t.Helper()
	if e.t.Failed() {
		for i, s := range e.switches {
			lines := strings.Split(strings.TrimSpace(s.logs.String()), "\n")
			e.t.Logf("switch %d log (last %d lines):\n%s", i, min(40, len(lines)), strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}
	scanForCardData(e.t, "API answers", e.bodies.String())
	for _, b := range []*bank{e.alfa, e.sber} {
		if b != nil {
			scanForCardData(e.t, b.name+" simulator log", b.logs.String())
		}
	}
	for i, s := range e.switches {
		if strings.Count(s.logs.String(), "\n") < 3 {
			e.t.Errorf("switch %d wrote almost no log: the leak scan would prove nothing", i)
		}
		scanForCardData(e.t, "switch log", s.logs.String())
	}
}

// TestLeakScannerFindsCardData makes sure the scan can fail, and does not
// flag masked PANs or digits that merely contain a CVV.
func TestLeakScannerFindsCardData(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{`{"pan":"4000000000000010"}`, `{"x":"7351"}`, `{"CVV":"***"}`, "cvv2=9417 ", "DE2=4895370000000106"} {
		if len(leaks(bad)) == 0 {
			t.Errorf("scanner misses %q", bad)
		}
	}
	clean := `{"masked_pan":"400000******0010","stan":"073510","addr":"127.0.0.1:47351","latency_ms":0.7351}`
	if l := leaks(clean); len(l) != 0 {
		t.Errorf("scanner flags clean text: %v", l)
	}
}
