package routing

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// bigTable generates a table with rules*perRule bins entries: prefixes and
// ranges of 6 to 11 digits spread over the whole BIN space (some overlap),
// every third rule also keyed on currency, and a final split rule. It also
// returns card prefixes of which about half fall inside some entry.
func bigTable(rules, perRule int) (string, []string) {
	rnd := rand.New(rand.NewPCG(2026, 11))
	var b strings.Builder
	b.Grow(rules * perRule * 20)
	b.WriteString("version: 1\nrules:\n")
	cards := make([]string, 0, 4096)
	for r := 0; r < rules; r++ {
		fmt.Fprintf(&b, "  - name: r%d\n    match:\n      bins: [", r)
		for j := 0; j < perRule; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			n := 6 + rnd.IntN(6)
			lo := strconv.Itoa(100000+rnd.IntN(900000)) + randDigits(rnd, n-6)
			entry := lo
			if rnd.IntN(3) == 0 {
				v, _ := strconv.ParseUint(lo, 10, 64)
				hi := min(v+uint64(rnd.IntN(int(pow10(n-5)))), pow10(n)-1)
				entry = lo + "-" + strconv.FormatUint(hi, 10)
			}
			b.WriteString(`"` + entry + `"`)
			if len(cards) < cap(cards)/2 && rnd.IntN(perRule*rules/2048+1) == 0 {
				cards = append(cards, lo+randDigits(rnd, MaxBinDigits-n))
			}
		}
		b.WriteString("]\n")
		if r%3 == 0 {
			b.WriteString("      currencies: [USD, EUR]\n")
		}
		b.WriteString("    banks: [alfa, sber]\n")
	}
	b.WriteString("  - name: default\n    split: {alfa: 70, sber: 30}\n")
	for len(cards) < cap(cards) {
		cards = append(cards, strconv.Itoa(100000+rnd.IntN(900000))+randDigits(rnd, 5))
	}
	return b.String(), cards
}

func benchLookup(b *testing.B, rules, perRule int) {
	src, cards := bigTable(rules, perRule)
	tb, err := Compile([]byte(src), testBanks)
	if err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 1))
	usable := func(bank string) bool { return bank != "sber" }
	currencies := []string{"KZT", "USD"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in := Input{PAN: cards[i%len(cards)], Amount: 150000, Currency: currencies[i&1], Type: TypePurchase, MerchantID: "M00000000000123", MCC: "5411"}
		if d := tb.Decide(in, usable, rnd); d.NoRoute {
			b.Fatal("no route: the table ends with a catch-all")
		}
		i++
	}
}

// BenchmarkLookup100k decides payments against a table of 100,000 BIN
// prefixes and ranges (2,000 rules of 50). Target: <= 1 µs/op.
func BenchmarkLookup100k(b *testing.B) { benchLookup(b, 2000, 50) }

// BenchmarkLookup100kRules is the same number of entries as 100,000 rules
// of one entry each: lookup must not depend on the rule count.
func BenchmarkLookup100kRules(b *testing.B) { benchLookup(b, MaxRules-1, 1) }

func benchLoad(b *testing.B, rules, perRule int) {
	src, _ := bigTable(rules, perRule)
	data := []byte(src)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(data, testBanks); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad100k parses, validates and compiles a table of 100,000 BIN
// prefixes and ranges (2,000 rules of 50). Target: <= 1 s/op.
func BenchmarkLoad100k(b *testing.B) { benchLoad(b, 2000, 50) }

// BenchmarkLoad100kRules loads 99,999 one-entry rules: the worst shape for
// the YAML parser, which dominates.
func BenchmarkLoad100kRules(b *testing.B) { benchLoad(b, MaxRules-1, 1) }
