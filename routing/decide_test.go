package routing

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func route(tb *Table, in Input) string {
	d := tb.Decide(in, nil, nil)
	if d.NoRoute {
		return ""
	}
	return d.Rule
}

func TestContractExampleDecisions(t *testing.T) {
	tb := mustCompile(t, contractExample)
	usd := Input{PAN: "4000000000000010", Amount: 100000, Currency: "USD", MerchantID: "M00000000000123", MCC: "5411", Type: "purchase"}
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"mir first even for KZT visa-range rules", Input{PAN: "2200000000000004", Currency: "KZT"}, "mir-to-alfa"},
		{"test visa onus", Input{PAN: "4000000000000010", Currency: "KZT"}, "test-visa-onus"},
		{"visa onus upper bound", Input{PAN: "4000490000000000", Currency: "KZT"}, "test-visa-onus"},
		{"visa above the range", Input{PAN: "4000500000000000", Currency: "KZT"}, "default"},
		{"7-digit prefix 4000001 is inside 400000 anyway", Input{PAN: "4000001000000000", Currency: "KZT"}, "test-visa-onus"},
		{"visa onus wrong currency", Input{PAN: "4000000000000010", Currency: "RUB"}, "default"},
		{"usd large", usd, "usd-eur-large"},
		{"usd preauth", with(usd, func(in *Input) { in.Type = "preauth" }), "usd-eur-large"},
		{"usd at max", with(usd, func(in *Input) { in.Amount = 99999999 }), "usd-eur-large"},
		{"usd below min", with(usd, func(in *Input) { in.Amount = 99999 }), "default"},
		{"usd above max", with(usd, func(in *Input) { in.Amount = 100000000 }), "default"},
		{"usd other merchant", with(usd, func(in *Input) { in.MerchantID = "M00000000000124" }), "default"},
		{"usd other mcc", with(usd, func(in *Input) { in.MCC = "5412" }), "default"},
		{"usd no mcc", with(usd, func(in *Input) { in.MCC = "" }), "default"},
		{"usd unknown type", with(usd, func(in *Input) { in.Type = "refund" }), "default"},
		{"eur second mcc", with(usd, func(in *Input) { in.Currency = "EUR"; in.MCC = "5999" }), "usd-eur-large"},
		{"mastercard", Input{PAN: "5100000000000008", Currency: "KZT"}, "default"},
	}
	for _, c := range cases {
		if got := route(tb, c.in); got != c.want {
			t.Errorf("%s: rule %q, want %q", c.name, got, c.want)
		}
	}
}

func with(in Input, f func(*Input)) Input {
	f(&in)
	return in
}

func TestFirstMatchWins(t *testing.T) {
	tb := mustCompile(t, `version: 1
rules:
  - name: narrow
    match: {bins: ["40000012"], currencies: [KZT]}
    banks: [sber]
  - name: wide-bins
    match: {bins: ["400000"]}
    banks: [alfa]
  - name: catch-all
    banks: [alfa, sber]
  - name: never
    match: {bins: ["400000"]}
    banks: [sber]
`)
	cases := map[string]string{
		"4000001200000000": "narrow",
		"4000001300000000": "wide-bins",
		"4000010000000000": "catch-all",
		"5100000000000008": "catch-all",
	}
	for pan, want := range cases {
		in := Input{PAN: pan, Currency: "KZT"}
		if got := route(tb, in); got != want {
			t.Errorf("%s: %q, want %q", pan, got, want)
		}
	}
	// With another currency, narrow fails on its second key and the next
	// rule holding the BIN wins.
	if got := route(tb, Input{PAN: "4000001200000000", Currency: "USD"}); got != "wide-bins" {
		t.Errorf("USD: %q, want wide-bins", got)
	}
}

// A rule without bins placed between rules with bins keeps its place in
// the order: the index must merge bin-less rules with BIN candidates.
func TestBinlessRulesKeepOrder(t *testing.T) {
	tb := mustCompile(t, `version: 1
rules:
  - name: usd
    match: {currencies: [USD]}
    banks: [sber]
  - name: visa-range
    match: {bins: ["400000-400099"]}
    banks: [alfa]
  - name: preauth
    match: {types: [preauth]}
    banks: [sber]
  - name: visa-range-2
    match: {bins: ["400000-400099"], types: [preauth]}
    banks: [alfa]
`)
	cases := []struct {
		in   Input
		want string
	}{
		{Input{PAN: "4000500000000000", Currency: "USD", Type: "preauth"}, "usd"},
		{Input{PAN: "4000500000000000", Currency: "KZT", Type: "preauth"}, "visa-range"},
		{Input{PAN: "4001000000000000", Currency: "KZT", Type: "preauth"}, "preauth"},
		{Input{PAN: "4001000000000000", Currency: "KZT", Type: "purchase"}, ""},
	}
	for _, c := range cases {
		if got := route(tb, c.in); got != c.want {
			t.Errorf("%+v: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBinPrefixesAndRanges(t *testing.T) {
	tb := mustCompile(t, `version: 1
rules:
  - name: p6
    match: {bins: ["220000"]}
    banks: [alfa]
  - name: p11
    match: {bins: ["51000000001"]}
    banks: [alfa]
  - name: r6
    match: {bins: ["400010-400019"]}
    banks: [alfa]
  - name: r8
    match: {bins: ["40001995-40002004"]}
    banks: [alfa]
  - name: r11
    match: {bins: ["51000000005-51000000010"]}
    banks: [alfa]
  - name: unaligned
    match: {bins: ["123457-987653"]}
    banks: [alfa]
  - name: full
    match: {bins: ["000000-999999"]}
    banks: [sber]
`)
	cases := []struct{ pan, want string }{
		{"2200000000000004", "p6"},
		{"2200009999999999", "p6"},
		{"2200010000000000", "unaligned"},
		{"5100000000100000", "p11"},
		{"5100000000200000", "unaligned"},
		{"5100000000400000", "unaligned"},
		{"5100000000500000", "r11"},
		{"5100000001000000", "r11"},
		{"5100000001100000", "unaligned"},
		{"4000099999999999", "unaligned"},
		{"4000100000000000", "r6"},
		{"4000199999999999", "r6"},
		{"4000200000000000", "r8"},
		{"4000200499999999", "r8"},
		{"4000200500000000", "unaligned"},
		{"4000199400000000", "r6"},
		{"1234569999999999", "full"},
		{"1234570000000000", "unaligned"},
		{"9876539999999999", "unaligned"},
		{"9876540000000000", "full"},
		{"0000000000000000", "full"},
		// Only the first 11 digits are read: a prefix is enough.
		{"51000000010", "r11"},
		// Digits beyond 11 and any non-digit tail are ignored.
		{"51000000010999999999", "r11"},
		{"220000-garbage", "p6"},
		// Too few digits for an 11-digit bin or range: not matched.
		{"5100000000", "unaligned"},
		{"12345", ""},
		{"", ""},
		{"x4000100000000000", ""},
	}
	for _, c := range cases {
		if got := route(tb, Input{PAN: c.pan}); got != c.want {
			t.Errorf("%s: %q, want %q", c.pan, got, c.want)
		}
		ex := tb.Explain(Input{PAN: c.pan}, nil, nil)
		if ex.Decision.Rule != c.want {
			t.Errorf("explain %s: %q, want %q", c.pan, ex.Decision.Rule, c.want)
		}
	}
}

func TestBrands(t *testing.T) {
	tb := mustCompile(t, `version: 1
rules:
  - {name: visa, match: {brands: [visa]}, banks: [alfa]}
  - {name: mastercard, match: {brands: [mastercard]}, banks: [alfa]}
  - {name: mir, match: {brands: [mir]}, banks: [alfa]}
  - {name: amex, match: {brands: [amex]}, banks: [alfa]}
  - {name: unionpay, match: {brands: [unionpay]}, banks: [alfa]}
  - {name: jcb, match: {brands: [jcb]}, banks: [alfa]}
`)
	cases := []struct{ pan, want string }{
		{"4000000000000010", "visa"},
		{"4895370000000106", "visa"},
		{"5100000000000008", "mastercard"},
		{"5599999999999999", "mastercard"},
		{"5000000000000000", ""},
		{"5600000000000000", ""},
		{"2200000000000004", "mir"},
		{"2204999999999999", "mir"},
		{"2205000000000000", ""},
		{"2220999999999999", ""},
		{"2221000000000000", "mastercard"},
		{"2720999999999999", "mastercard"},
		{"2721000000000000", ""},
		{"340000000000000", "amex"},
		{"370000000000000", "amex"},
		{"350000000000000", ""},
		{"6200000000000000", "unionpay"},
		{"3528000000000000", "jcb"},
		{"3589999999999999", "jcb"},
		{"3527999999999999", ""},
		{"3590000000000000", ""},
		{"", ""},
		{"2", ""},
		{"220", ""},
	}
	for _, c := range cases {
		if got := route(tb, Input{PAN: c.pan}); got != c.want {
			t.Errorf("%s: %q, want %q", c.pan, got, c.want)
		}
		if got := DetectBrand(c.pan); got != c.want {
			t.Errorf("DetectBrand(%s) = %q, want %q", c.pan, got, c.want)
		}
	}
	// A brand given by the caller overrides detection.
	if got := route(tb, Input{PAN: "4000000000000010", Brand: "mir"}); got != "mir" {
		t.Errorf("brand override: %q", got)
	}
	if got := route(tb, Input{PAN: "4000000000000010", Brand: "diners"}); got != "" {
		t.Errorf("unknown brand override: %q", got)
	}
}

func TestFailoverOrderAndUsable(t *testing.T) {
	tb := mustCompile(t, `version: 1
rules:
  - name: list
    match: {currencies: [KZT]}
    banks: [sber, alfa]
  - name: split
    split: {alfa: 70, sber: 30}
`)
	kzt := Input{PAN: "4000000000000010", Currency: "KZT"}
	down := func(names ...string) func(string) bool {
		return func(b string) bool {
			for _, n := range names {
				if n == b {
					return false
				}
			}
			return true
		}
	}
	d := tb.Decide(kzt, nil, nil)
	if d.Rule != "list" || !d.AnyUsable || d.NoRoute || fmt.Sprint(d.UsableBanks()) != "[sber alfa]" {
		t.Errorf("all up: %+v", d)
	}
	d = tb.Decide(kzt, down("sber"), nil)
	if !d.AnyUsable || fmt.Sprint(d.UsableBanks()) != "[alfa]" || d.Banks[0] != (BankChoice{Bank: "sber"}) {
		t.Errorf("sber down: %+v", d)
	}
	// No usable bank: no fall-through to the split rule.
	d = tb.Decide(kzt, down("sber", "alfa"), nil)
	if d.Rule != "list" || d.AnyUsable || d.NoRoute || len(d.UsableBanks()) != 0 || len(d.Banks) != 2 {
		t.Errorf("all down: %+v", d)
	}

	usd := Input{PAN: "4000000000000010", Currency: "USD"}
	d = tb.Decide(usd, down("alfa"), rand.New(rand.NewPCG(1, 2)))
	if d.Rule != "split" || fmt.Sprint(d.Banks) != "[{sber true 30} {alfa false 70}]" {
		t.Errorf("split, alfa down: %v", d.Banks)
	}
	d = tb.Decide(usd, down("alfa", "sber"), rand.New(rand.NewPCG(1, 2)))
	if d.AnyUsable || fmt.Sprint(d.Banks) != "[{alfa false 70} {sber false 30}]" {
		t.Errorf("split, all down: %+v", d)
	}
	// Whichever is chosen, the other follows as failover.
	for seed := uint64(0); seed < 20; seed++ {
		d = tb.Decide(usd, nil, rand.New(rand.NewPCG(seed, 0)))
		if len(d.Banks) != 2 || d.Banks[0].Bank == d.Banks[1].Bank || !d.Banks[0].Usable || !d.Banks[1].Usable {
			t.Fatalf("split, all up: %+v", d)
		}
	}
}

func TestNoRoute(t *testing.T) {
	tb := mustCompile(t, "version: 1\nrules:\n  - name: kzt\n    match: {currencies: [KZT]}\n    banks: [alfa]\n")
	d := tb.Decide(Input{PAN: "4000000000000010", Currency: "USD"}, nil, nil)
	if !d.NoRoute || d.Rule != "" || d.AnyUsable || len(d.Banks) != 0 || d.String() != "no route" {
		t.Errorf("decision = %+v", d)
	}
	if js, _ := json.Marshal(d); string(js) != `{"no_route":true,"banks":[],"any_usable":false}` {
		t.Errorf("json = %s", js)
	}
	var r Router
	if d := r.Decide(Input{}, nil, nil); !d.NoRoute {
		t.Errorf("router without table: %+v", d)
	}
}

// With a fixed seed the split must follow its weights: a chi-square test
// over 100,000 draws, for all banks usable and for one bank down.
func TestSplitDistribution(t *testing.T) {
	opts := Options{Banks: []string{"alfa", "sber", "third"}}
	tb, err := Compile([]byte("version: 1\nrules:\n  - name: three\n    split: {alfa: 60, sber: 30, third: 10}\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(42, 1))
	const n = 100_000
	check := func(usable func(string) bool, want map[string]float64) {
		t.Helper()
		counts := map[string]int{}
		for i := 0; i < n; i++ {
			d := tb.Decide(Input{}, usable, rnd)
			if !d.Banks[0].Usable {
				t.Fatalf("first bank not usable: %+v", d)
			}
			counts[d.Banks[0].Bank]++
			// Failover order after the chosen bank: descending weight.
			rest := d.Banks[1:]
			for j := 1; j < len(rest); j++ {
				if rest[j-1].Weight < rest[j].Weight {
					t.Fatalf("failover not by descending weight: %+v", d.Banks)
				}
			}
		}
		chi := 0.0
		for bank, p := range want {
			exp := p * n
			diff := float64(counts[bank]) - exp
			chi += diff * diff / exp
		}
		for bank, c := range counts {
			if _, ok := want[bank]; !ok {
				t.Errorf("bank %s chosen %d times, never expected", bank, c)
			}
		}
		// 99.9% quantile of chi-square with 2 degrees of freedom is 13.8.
		if limit := 13.8; chi > limit || math.IsNaN(chi) {
			t.Errorf("counts %v: chi-square %.2f above %.1f for %v", counts, chi, limit, want)
		}
	}
	check(nil, map[string]float64{"alfa": 0.6, "sber": 0.3, "third": 0.1})
	check(func(b string) bool { return b != "alfa" }, map[string]float64{"sber": 0.75, "third": 0.25})
}

// The same seed gives the same choices: tests and replays are repeatable.
func TestSplitDeterministicWithSeed(t *testing.T) {
	tb := mustCompile(t, contractExample)
	in := Input{PAN: "5100000000000008", Currency: "KZT"}
	var a, b []string
	r1, r2 := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 50; i++ {
		a = append(a, tb.Decide(in, nil, r1).Banks[0].Bank)
		b = append(b, tb.Decide(in, nil, r2).Banks[0].Bank)
	}
	if fmt.Sprint(a) != fmt.Sprint(b) || !strings.Contains(fmt.Sprint(a), "sber") || !strings.Contains(fmt.Sprint(a), "alfa") {
		t.Errorf("draws differ or do not mix: %v / %v", a, b)
	}
}

type badRand int

func (b badRand) IntN(int) int { return int(b) }

func TestMisbehavingRandIsClamped(t *testing.T) {
	tb := mustCompile(t, contractExample)
	for _, r := range []badRand{-1, 1 << 40, 100} {
		d := tb.Decide(Input{PAN: "5100000000000008"}, nil, r)
		if len(d.Banks) != 2 || !d.AnyUsable {
			t.Errorf("rand %d: %+v", r, d)
		}
	}
}

func TestExplain(t *testing.T) {
	tb := mustCompile(t, contractExample)
	in := Input{PAN: "4000000000000010", Amount: 5000, Currency: "USD", MerchantID: "M1", MCC: "5411", Type: "purchase"}
	ex := tb.Explain(in, func(b string) bool { return b == "sber" }, rand.New(rand.NewPCG(3, 3)))
	if ex.Decision.Rule != "default" || len(ex.Tried) != 4 || ex.Version != 7 {
		t.Fatalf("explanation = %+v", ex)
	}
	if ex.Input.MaskedPAN != "400000******0010" || ex.Input.Brand != "visa" || ex.Input.BrandSource != "detected" {
		t.Errorf("input = %+v", ex.Input)
	}
	want := [][]string{
		{"match.brands"},
		{"match.currencies"},
		{"match.amount", "match.merchants"},
		nil,
	}
	for i, tr := range ex.Tried {
		var keys []string
		for _, f := range tr.Failed {
			keys = append(keys, f.Key)
		}
		if fmt.Sprint(keys) != fmt.Sprint(want[i]) || tr.Matched != (want[i] == nil) {
			t.Errorf("rule %s failed %v (matched %v), want %v", tr.Rule, keys, tr.Matched, want[i])
		}
	}
	if got := ex.Tried[1].Failed[0].Reason; got != `currency "USD" is not one of [KZT]` {
		t.Errorf("currency reason = %q", got)
	}
	if got := ex.Tried[2].Failed[0].Reason; got != "amount 5000 is below min 100000" {
		t.Errorf("amount reason = %q", got)
	}
	if fmt.Sprint(ex.Decision.Banks) != "[{sber true 30} {alfa false 70}]" {
		t.Errorf("banks = %v", ex.Decision.Banks)
	}
	js, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "4000000000000010") || strings.Contains(string(js), "4000000000") {
		t.Errorf("explanation leaks the PAN: %s", js)
	}
	if !strings.Contains(string(js), `"failed":[{"key":"match.brands","reason":"card brand visa is not one of [mir]"}]`) {
		t.Errorf("json = %s", js)
	}
	ex = tb.Explain(Input{PAN: "40009900000", Currency: "KZT"}, nil, nil)
	if f := ex.Tried[1].Failed; len(f) != 1 || f[0].Reason != "card 400099... matches none of the rule's 2 bins entries" {
		t.Errorf("bins fault = %+v", f)
	}
	ex = tb.Explain(Input{PAN: "400000", Currency: "KZT"}, nil, nil)
	if f := ex.Tried[1].Failed; len(f) != 0 {
		t.Errorf("6-digit card against 6-digit range: %+v", f)
	}
	ex = tb.Explain(Input{PAN: "400099", Currency: "KZT"}, nil, nil)
	if f := ex.Tried[1].Failed; len(f) != 1 || !strings.HasSuffix(f[0].Reason, "(1 of them need more than the 6 digits given)") {
		t.Errorf("short card fault = %+v", f)
	}
	none := mustCompile(t, "version: 1\nrules:\n  - name: kzt\n    match: {currencies: [KZT]}\n    banks: [alfa]\n")
	ex = none.Explain(Input{PAN: "400000"}, nil, nil)
	if !ex.Decision.NoRoute || len(ex.Tried) != 1 || ex.Tried[0].Matched {
		t.Errorf("no route explanation = %+v", ex)
	}
}

func TestExplainTraceIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := 0; i < MaxExplainTrace+500; i++ {
		fmt.Fprintf(&b, "  - {name: r%d, match: {mccs: [\"0001\"]}, banks: [alfa]}\n", i)
	}
	b.WriteString("  - {name: last, banks: [sber]}\n")
	tb := mustCompile(t, b.String())
	ex := tb.Explain(Input{MCC: "5411"}, nil, nil)
	if len(ex.Tried) != MaxExplainTrace+1 || ex.Omitted != 500 || ex.Tried[MaxExplainTrace].Rule != "last" || ex.Decision.Rule != "last" {
		t.Errorf("tried %d, omitted %d, decision %v", len(ex.Tried), ex.Omitted, ex.Decision)
	}
}

func TestMaskPAN(t *testing.T) {
	cases := map[string]string{
		"4000000000000010":    "400000******0010",
		"4000000000000000123": "400000*********0123",
		"40000000000":         "400000*****",
		"4000":                "4000",
		"":                    "invalid",
		"4000 0000":           "invalid",
	}
	for in, want := range cases {
		if got := MaskPAN(in); got != want {
			t.Errorf("MaskPAN(%q) = %q, want %q", in, got, want)
		}
	}
}

// Decide (through the BIN index) and Explain (rule by rule, no index) must
// agree on every input: random tables with overlapping prefixes and ranges
// of every length, random cards.
func TestIndexAgreesWithLinearScan(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 13))
	for table := 0; table < 40; table++ {
		src := randomTable(rnd, 60)
		tb, err := Compile([]byte(src), testBanks)
		if err != nil {
			t.Fatalf("random table: %v\n%s", err, src)
		}
		for i := 0; i < 400; i++ {
			in := randomInput(rnd)
			d := tb.Decide(in, nil, nil)
			ex := tb.Explain(in, nil, nil)
			if d.Rule != ex.Decision.Rule || d.NoRoute != ex.Decision.NoRoute {
				t.Fatalf("table %d input %+v: index %q, scan %q\n%s", table, in, d.Rule, ex.Decision.Rule, src)
			}
		}
	}
}

// randomTable builds a table whose bins cluster around 4000 so that they
// overlap often.
func randomTable(rnd *rand.Rand, rules int) string {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := 0; i < rules; i++ {
		fmt.Fprintf(&b, "  - name: r%d\n", i)
		var keys []string
		if rnd.IntN(4) > 0 {
			var bins []string
			for j := rnd.IntN(4) + 1; j > 0; j-- {
				n := 6 + rnd.IntN(6)
				lo := "4000" + randDigits(rnd, n-4)
				if rnd.IntN(2) == 0 {
					bins = append(bins, `"`+lo+`"`)
					continue
				}
				hi := []byte(lo)
				for k := 4 + rnd.IntN(n-4); k < n; k++ {
					if hi[k] < '9' {
						hi[k] += byte(rnd.IntN(int('9' - hi[k] + 1)))
					}
				}
				bins = append(bins, `"`+lo+"-"+string(hi)+`"`)
			}
			keys = append(keys, "bins: ["+strings.Join(bins, ", ")+"]")
		}
		if rnd.IntN(3) == 0 {
			keys = append(keys, "currencies: [KZT]")
		}
		if rnd.IntN(4) == 0 {
			keys = append(keys, "types: [preauth]")
		}
		if rnd.IntN(5) == 0 {
			keys = append(keys, "amount: {min: 100, max: 5000}")
		}
		if rnd.IntN(6) == 0 {
			keys = append(keys, "brands: [visa, mir]")
		}
		if rnd.IntN(8) == 0 {
			keys = append(keys, `mccs: ["5411"]`)
		}
		if rnd.IntN(8) == 0 {
			keys = append(keys, "merchants: [M1]")
		}
		if len(keys) > 0 {
			b.WriteString("    match: {" + strings.Join(keys, ", ") + "}\n")
		}
		b.WriteString("    banks: [alfa]\n")
	}
	return b.String()
}

func randDigits(rnd *rand.Rand, n int) string {
	d := make([]byte, n)
	for i := range d {
		d[i] = byte('0' + rnd.IntN(10))
	}
	return string(d)
}

func randomInput(rnd *rand.Rand) Input {
	in := Input{PAN: "4000" + randDigits(rnd, rnd.IntN(13)), Amount: int64(rnd.IntN(6000)), Currency: "KZT", Type: "purchase"}
	if rnd.IntN(3) == 0 {
		in.Currency = "USD"
	}
	if rnd.IntN(3) == 0 {
		in.Type = "preauth"
	}
	if rnd.IntN(3) == 0 {
		in.MCC = "5411"
	}
	if rnd.IntN(3) == 0 {
		in.MerchantID = "M1"
	}
	if rnd.IntN(10) == 0 {
		in.Brand = "mastercard"
	}
	return in
}

func TestExplainReasonsPerKey(t *testing.T) {
	tb := mustCompile(t, contractExample)
	in := Input{PAN: "5100000000000008", Amount: 100000000, Currency: "EUR", MerchantID: "M2", MCC: "7995", Type: "refund"}
	ex := tb.Explain(in, nil, nil)
	got := map[string]string{}
	for _, f := range ex.Tried[2].Failed {
		got[f.Key] = f.Reason
	}
	want := map[string]string{
		"match.amount":    "amount 100000000 is above max 99999999",
		"match.types":     `type "refund" is not one of [purchase preauth]`,
		"match.merchants": "merchant is not one of the rule's 1 merchants",
		"match.mccs":      "MCC 7995 is not one of the rule's 2 MCCs",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("faults = %v\nwant %v", got, want)
	}
	in.MCC = ""
	ex = tb.Explain(in, nil, nil)
	for _, f := range ex.Tried[2].Failed {
		if f.Key == "match.mccs" && f.Reason != "no valid MCC given" {
			t.Errorf("mcc reason = %q", f.Reason)
		}
	}
	ex = tb.Explain(Input{PAN: "6200000000000000", Brand: "unionpay"}, nil, nil)
	if ex.Input.BrandSource != "input" || ex.Tried[0].Failed[0].Reason != "card brand unionpay is not one of [mir]" {
		t.Errorf("brand explanation = %+v", ex)
	}
	ex = tb.Explain(Input{PAN: "9000000000000000"}, nil, nil)
	if ex.Input.BrandSource != "unknown" || ex.Tried[0].Failed[0].Reason != "card brand unknown is not one of [mir]" {
		t.Errorf("unknown brand explanation = %+v", ex)
	}
}
