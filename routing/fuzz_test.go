package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile feeds arbitrary bytes to the table parser: it must never
// panic, must refuse with problems or accept, and an accepted table must
// decide through its index exactly as the rule-by-rule explanation does.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(contractExample))
	f.Add([]byte("{\"version\": 1, \"rules\": [{\"name\": \"a\", \"match\": {\"bins\": [\"400000-400099\"]}, \"banks\": [\"alfa\"]}]}"))
	f.Add([]byte("version: 1\nrules:\n  - name: a\n    match: {bins: [\"000000-999999\", \"22000000000\"], amount: {max: 5}}\n    split: {alfa: 1, sber: 2}\n"))
	f.Add([]byte("version: 1\nrules:\n  - name: a\n    banks: &x [alfa]\n  - name: b\n    banks: *x\n"))
	f.Add([]byte("version: 1\nrules: [\n"))
	if b, err := os.ReadFile(filepath.Join("..", "configs", "routes.yaml")); err == nil {
		f.Add(b)
	}
	cards := []Input{
		{PAN: "4000000000000010", Currency: "KZT", Type: TypePurchase, Amount: 100},
		{PAN: "2200000000000004", Currency: "USD", Type: TypePreauth, Amount: 100000, MCC: "5411", MerchantID: "M00000000000123"},
		{PAN: "0000000", Currency: "EUR"},
		{PAN: "99999999999", Amount: 1 << 40},
		{},
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		tb, err := Compile(src, testBanks)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("refusal without problems: %v", err)
			}
			return
		}
		if len(tb.Rules()) == 0 {
			t.Fatal("accepted a table without rules")
		}
		for _, in := range cards {
			d := tb.Decide(in, nil, nil)
			ex := tb.Explain(in, nil, nil)
			if d.Rule != ex.Decision.Rule || d.NoRoute != ex.Decision.NoRoute {
				t.Fatalf("index %q, scan %q for %+v", d.Rule, ex.Decision.Rule, in)
			}
			if !d.NoRoute && len(d.Banks) == 0 {
				t.Fatalf("route %q without banks", d.Rule)
			}
		}
	})
}

// FuzzDecide feeds arbitrary card digits and payment fields to a fixed
// table: no panic, index and scan agree, and the explanation never echoes
// more of the card than a masked PAN.
func FuzzDecide(f *testing.F) {
	tb := mustCompile(f, contractExample)
	f.Add("4000000000000010", "", int64(100), "KZT", "M1", "5411", "purchase")
	f.Add("2200000000000004", "mir", int64(-1), "usd", "", "", "preauth")
	f.Add("4000001", "visa", int64(100000), "USD", "M00000000000123", "5999", "preauth")
	f.Add("", "", int64(0), "", "", "", "")
	f.Fuzz(func(t *testing.T, pan, brand string, amount int64, currency, merchant, mcc, typ string) {
		in := Input{PAN: pan, Brand: brand, Amount: amount, Currency: currency, MerchantID: merchant, MCC: mcc, Type: typ}
		d := tb.Decide(in, func(b string) bool { return b == "sber" }, nil)
		ex := tb.Explain(in, func(b string) bool { return b == "sber" }, nil)
		if d.Rule != ex.Decision.Rule {
			t.Fatalf("index %q, scan %q", d.Rule, ex.Decision.Rule)
		}
		js, err := json.Marshal(ex)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{pan, brand, currency, merchant, mcc, typ} {
			if len(s) > MaxBinDigits && allDigits(s) && bytes.Contains(js, []byte(s)) {
				t.Fatalf("explanation echoes a card-length number %q: %s", s, js)
			}
		}
	})
}
