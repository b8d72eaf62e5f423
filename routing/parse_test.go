package routing

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var testBanks = Options{Banks: []string{"alfa", "sber"}}

// contractExample is the example table of routing.md, byte for byte.
const contractExample = `version: 7                      # the operator's own number; shown in logs and /v1/admin/routes
rules:
  - name: mir-to-alfa
    match:
      brands: [mir]
    banks: [alfa]

  - name: test-visa-onus
    match:
      bins: ["400000-400049", "4000001"]
      currencies: [KZT]
    banks: [alfa, sber]

  - name: usd-eur-large
    match:
      currencies: [USD, EUR]
      amount: {min: 100000, max: 99999999}
      types: [purchase, preauth]
      merchants: [M00000000000123]
      mccs: ["5411", "5999"]
    banks: [sber]

  - name: default
    split: {alfa: 70, sber: 30}
`

func mustCompile(t testing.TB, src string) *Table {
	t.Helper()
	tb, err := Compile([]byte(src), testBanks)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return tb
}

func problemsOf(t *testing.T, src string, opts Options) []Problem {
	t.Helper()
	_, err := Compile([]byte(src), opts)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	return ve.Problems
}

func TestContractExampleParses(t *testing.T) {
	tb := mustCompile(t, contractExample)
	if tb.Version() != 7 {
		t.Errorf("version = %d, want 7", tb.Version())
	}
	if len(tb.Checksum()) != 64 {
		t.Errorf("checksum %q is not hex sha256", tb.Checksum())
	}
	rules := tb.Rules()
	names := []string{"mir-to-alfa", "test-visa-onus", "usd-eur-large", "default"}
	if len(rules) != len(names) {
		t.Fatalf("%d rules, want %d", len(rules), len(names))
	}
	for i, n := range names {
		if rules[i].Name != n {
			t.Errorf("rule %d = %q, want %q", i, rules[i].Name, n)
		}
	}
	if rules[1].Line != 8 || rules[3].Line != 23 {
		t.Errorf("rule lines = %d, %d, want 8, 23", rules[1].Line, rules[3].Line)
	}
	u := rules[2].Match
	if *u.Amount.Min != 100000 || *u.Amount.Max != 99999999 || u.MCCs[1] != "5999" || u.Merchants[0] != "M00000000000123" {
		t.Errorf("usd-eur-large match = %+v", u)
	}
	js, err := json.Marshal(rules[3])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"default","line":23,"split":{"alfa":70,"sber":30}}`; string(js) != want {
		t.Errorf("json = %s, want %s", js, want)
	}
}

// The contract example refers to banks alfa and sber; without them every
// reference is a problem.
func TestContractExampleNeedsItsBanks(t *testing.T) {
	ps := problemsOf(t, contractExample, Options{Banks: []string{"alfa"}})
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%d %s %s", p.Line, p.Rule, p.Key))
	}
	want := []string{"12 test-visa-onus banks", "21 usd-eur-large banks", "24 default split.sber"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

// Every kind of problem in one file: all are reported together, each with
// its rule, key and line.
func TestValidationListsEveryProblem(t *testing.T) {
	src := `version: x
colour: red
rules:
  - name: ok-rule
    banks: [alfa]
  - name: ok-rule
    banks: [alfa]
  - name: both
    banks: [alfa]
    split: {sber: 1}
  - name: neither
    match: {types: [purchase]}
  - name: bad-bank
    banks: [alfa, vtb]
  - name: bad-weights
    split: {alfa: 0, sber: -3}
  - name: bad-bins
    match:
      bins: ["40000", "400000000000", "4000a0", "400000-4000100", "400050-400049", "400000-", "400000-400049"]
    banks: [alfa]
  - name: bad-brands
    match: {brands: [visa, maestro]}
    banks: [alfa]
  - name: bad-currency
    match: {currencies: [KZT, XYZ, usd]}
    banks: [alfa]
  - name: bad-types
    match: {types: [refund]}
    banks: [alfa]
  - name: bad-amount
    match: {amount: {min: 500, max: 100}}
    banks: [alfa]
  - name: neg-amount
    match: {amount: {min: -1}}
    banks: [alfa]
  - name: bad-mcc
    match: {mccs: ["541", "54111", "54a1", 5411]}
    banks: [alfa]
  - name: bad-merchant
    match: {merchants: ["", "M000000000001234"]}
    banks: [alfa]
  - name: unknown-keys
    match: {bin: ["400000"]}
    bank: [alfa]
    banks: [alfa]
  - match: {types: [preauth]}
    banks: [sber]
`
	ps := problemsOf(t, src, testBanks)
	type want struct {
		line      int
		rule, key string
		msg       string
	}
	wants := []want{
		{1, "", "version", "positive integer"},
		{2, "", "colour", "unknown key"},
		{6, "ok-rule", "name", "duplicate rule name (first at line 4)"},
		{9, "both", "banks", "not both"},
		{11, "neither", "banks", "give exactly one of banks and split"},
		{14, "bad-bank", "banks", `unknown bank "vtb" (configured: alfa, sber)`},
		{16, "bad-weights", "split.alfa", "positive integer"},
		{16, "bad-weights", "split.sber", "positive integer"},
		{19, "bad-bins", "match.bins", `"40000" is not a BIN prefix of 6 to 11 digits`},
		{19, "bad-bins", "match.bins", `"400000******" is not a BIN prefix`},
		{19, "bad-bins", "match.bins", `"4000a0" is not a BIN prefix`},
		{19, "bad-bins", "match.bins", "same number of digits"},
		{19, "bad-bins", "match.bins", "LOW is above HIGH"},
		{19, "bad-bins", "match.bins", "both ends must be prefixes"},
		{22, "bad-brands", "match.brands", `unknown brand "maestro"`},
		{25, "bad-currency", "match.currencies", `"XYZ" is not a known ISO 4217`},
		{25, "bad-currency", "match.currencies", `"usd" is not a known ISO 4217`},
		{28, "bad-types", "match.types", `unknown type "refund"`},
		{31, "bad-amount", "match.amount", "min 500 is above max 100"},
		{34, "neg-amount", "match.amount.min", "non-negative integer"},
		{37, "bad-mcc", "match.mccs", `MCC "541" must be 4 digits`},
		{37, "bad-mcc", "match.mccs", `MCC "54111"`},
		{37, "bad-mcc", "match.mccs", `MCC "54a1"`},
		{40, "bad-merchant", "match.merchants", `merchant id "" must be 1 to 15`},
		{40, "bad-merchant", "match.merchants", `"M000000*****1234" must be 1 to 15`},
		{43, "unknown-keys", "match.bin", "unknown key"},
		{44, "unknown-keys", "bank", "unknown key"},
		{46, "#16", "name", "missing"},
	}
	if len(ps) != len(wants) {
		for _, p := range ps {
			t.Log(p)
		}
		t.Fatalf("%d problems, want %d", len(ps), len(wants))
	}
	for i, w := range wants {
		p := ps[i]
		if p.Line != w.line || p.Rule != w.rule || p.Key != w.key || !strings.Contains(p.Message, w.msg) {
			t.Errorf("problem %d = %s (line %d rule %q key %q), want line %d rule %q key %q containing %q",
				i, p, p.Line, p.Rule, p.Key, w.line, w.rule, w.key, w.msg)
		}
	}
	// The error text carries every problem too.
	_, err := Compile([]byte(src), testBanks)
	if !strings.Contains(err.Error(), "28 problems") || !strings.Contains(err.Error(), `line 14: rule "bad-bank": banks: unknown bank "vtb"`) {
		t.Errorf("error text: %v", err)
	}
}

func TestValidationWholeFileProblems(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"empty", "", 0, "table is empty"},
		{"comment only", "# nothing\n", 0, "table is empty"},
		{"not a mapping", "- a\n- b\n", 1, "a table is a mapping"},
		{"missing version and rules", "{}\n", 1, "version: missing"},
		{"empty rules", "version: 1\nrules: []\n", 2, "rules: is empty"},
		{"rules not a list", "version: 1\nrules: {a: 1}\n", 2, "must be a list of rules"},
		{"version zero", "version: 0\nrules:\n  - name: a\n    banks: [alfa]\n", 1, "positive integer"},
		{"version float", "version: 1.5\nrules:\n  - name: a\n    banks: [alfa]\n", 1, "positive integer"},
		{"syntax error", "version: 1\nrules:\n  - name: a\n   banks: [alfa]\n", 2, "not valid YAML or JSON"},
		{"two documents", "version: 1\nrules:\n  - name: a\n    banks: [alfa]\n---\nversion: 2\n", 5, "more than one YAML document"},
		{"alias", "version: 1\nrules:\n  - name: a\n    banks: &b [alfa]\n  - name: c\n    banks: *b\n", 4, "anchors and aliases"},
		{"duplicate key", "version: 1\nversion: 2\nrules:\n  - name: a\n    banks: [alfa]\n", 2, "key given twice (first at line 1)"},
		{"null match", "version: 1\nrules:\n  - name: a\n    match:\n    banks: [alfa]\n", 4, "match: must be a mapping"},
		{"empty list", "version: 1\nrules:\n  - name: a\n    match: {bins: []}\n    banks: [alfa]\n", 4, "is empty; omit the key"},
		{"empty amount", "version: 1\nrules:\n  - name: a\n    match: {amount: {}}\n    banks: [alfa]\n", 4, "give min, max or both"},
		{"bank twice", "version: 1\nrules:\n  - name: a\n    banks: [alfa, alfa]\n", 4, `bank "alfa" listed twice`},
		{"bad name", "version: 1\nrules:\n  - name: \"a b\"\n    banks: [alfa]\n", 3, "name: must be 1 to 64"},
		{"weight too big", "version: 1\nrules:\n  - name: a\n    split: {alfa: 1000001}\n", 4, "weight must be a positive integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := problemsOf(t, c.src, testBanks)
			if ps[0].Line != c.line || !strings.Contains(ps[0].String(), c.msg) {
				t.Errorf("first problem = %s (line %d), want line %d containing %q", ps[0], ps[0].Line, c.line, c.msg)
			}
		})
	}
}

func TestTooLargeRefusedBeforeParsing(t *testing.T) {
	big := make([]byte, MaxTableBytes+1)
	_, err := Compile(big, testBanks)
	if err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("err = %v", err)
	}
}

// The validate endpoint takes JSON too; JSON is read as YAML flow style, so
// line numbers still point into the body.
func TestJSONTable(t *testing.T) {
	src := "{\n\t\"version\": 3,\n\t\"rules\": [\n\t\t{\"name\": \"kzt\", \"match\": {\"currencies\": [\"KZT\"], \"bins\": [\"400000-400099\"], \"amount\": {\"max\": 500000}}, \"banks\": [\"alfa\", \"sber\"]},\n\t\t{\"name\": \"rest\", \"split\": {\"alfa\": 1, \"sber\": 3}}\n\t]\n}\n"
	tb, err := Compile([]byte(src), testBanks)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Version() != 3 || len(tb.Rules()) != 2 || tb.Rules()[1].Split[1] != (Weight{"sber", 3}) {
		t.Errorf("table = %d %+v", tb.Version(), tb.Rules())
	}
	d := tb.Decide(Input{PAN: "4000000000000010", Currency: "KZT", Amount: 100, Type: "purchase"}, nil, nil)
	if d.Rule != "kzt" {
		t.Errorf("decision = %v", d)
	}
	bad := "{\"version\": 3, \"rules\": [\n{\"name\": \"kzt\",\n \"banks\": [\"vtb\"]}]}"
	ps := problemsOf(t, bad, testBanks)
	if len(ps) != 1 || ps[0].Line != 3 || ps[0].Rule != "kzt" {
		t.Errorf("problems = %v", ps)
	}
}

func TestKnownCurrency(t *testing.T) {
	for _, c := range []string{"KZT", "USD", "EUR", "RUB", "AED", "ZWL", "XOF"} {
		if !KnownCurrency(c) {
			t.Errorf("%s unknown", c)
		}
	}
	for _, c := range []string{"", "KZ", "kzt", "XYZ", "XAU", "XTS", "AAA", "ZZZ", "KZTT"} {
		if KnownCurrency(c) {
			t.Errorf("%q known", c)
		}
	}
	// The embedded list must stay sorted for the binary search.
	for i := 3; i+3 <= len(iso4217); i += 3 {
		if iso4217[i-3:i] >= iso4217[i:i+3] {
			t.Fatalf("iso4217 not sorted at %s", iso4217[i:i+3])
		}
	}
	tb, err := Compile([]byte("version: 1\nrules:\n  - name: a\n    match: {currencies: [XAU]}\n    banks: [alfa]\n"),
		Options{Banks: []string{"alfa"}, Currencies: func(c string) bool { return c == "XAU" }})
	if err != nil || tb == nil {
		t.Errorf("custom currency list not used: %v", err)
	}
}

func TestProblemListIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n  - name: a\n    match:\n      mccs: [")
	for i := 0; i < MaxProblems+250; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("x")
	}
	b.WriteString("]\n    banks: [alfa]\n")
	ps := problemsOf(t, b.String(), testBanks)
	if len(ps) != MaxProblems+1 || ps[MaxProblems].Message != "250 more problems not listed" {
		t.Errorf("%d problems, last %v", len(ps), ps[len(ps)-1])
	}
}

// A card number pasted where a BIN or MCC belongs must not come back in
// problems (they reach API answers and logs).
func TestProblemsNeverEchoAPAN(t *testing.T) {
	src := "version: 1\nrules:\n  - name: a\n    match:\n      bins: [\"4000000000000010\", \"400000-4000000000000028\"]\n      mccs: [\"5100000000000008\"]\n    banks: [alfa]\n"
	_, err := Compile([]byte(src), testBanks)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, pan := range []string{"4000000000000010", "4000000000000028", "5100000000000008"} {
		if strings.Contains(msg, pan) {
			t.Errorf("problem echoes %s: %s", pan, msg)
		}
	}
	if !strings.Contains(msg, `"400000******0010"`) {
		t.Errorf("masked PAN missing: %s", msg)
	}
	if got := redactDigits("a 12345678901 b 123456789012 c"); got != "a 12345678901 b 123456****** c" {
		t.Errorf("redactDigits = %q", got)
	}
}
