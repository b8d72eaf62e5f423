package routing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxExplainTrace is how many tried rules an explanation lists; the rest
// are counted in Explanation.Omitted so that a large table cannot produce a
// huge answer.
const MaxExplainTrace = 1000

// Explanation is a decision with its reasons, for GET
// /v1/admin/routes/explain. It marshals to JSON as it is.
type Explanation struct {
	Version  int64         `json:"version"`
	Checksum string        `json:"checksum"`
	Input    ExplainedCard `json:"input"`
	Decision Decision      `json:"decision"`
	// Tried lists the rules tried before the decision, in order, the
	// winning rule last (Matched true) unless no rule matched.
	Tried []RuleTrace `json:"tried"`
	// Omitted counts tried rules left out of Tried beyond MaxExplainTrace.
	Omitted int `json:"omitted,omitempty"`
}

// ExplainedCard is the input as routing saw it; the PAN is masked, and any
// run of more than 11 digits in the other fields too (a card number typed
// into the wrong query parameter is still a card number).
type ExplainedCard struct {
	MaskedPAN string `json:"masked_pan"`
	// Brand is the brand used for matching and BrandSource where it came
	// from: "input", "detected", or "unknown".
	Brand       string `json:"brand,omitempty"`
	BrandSource string `json:"brand_source"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency,omitempty"`
	MerchantID  string `json:"merchant_id,omitempty"`
	MCC         string `json:"mcc,omitempty"`
	Type        string `json:"type,omitempty"`
}

// RuleTrace is one rule tried: whether it matched and, if not, every key
// that failed.
type RuleTrace struct {
	Rule    string     `json:"rule"`
	Line    int        `json:"line,omitempty"`
	Matched bool       `json:"matched"`
	Failed  []KeyFault `json:"failed,omitempty"`
}

// KeyFault is one match key that did not hold, and why.
type KeyFault struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// MaskPAN masks a PAN as first 6 + last 4 (400000******0010). A string too
// short to be a PAN (a prefix given for routing) keeps at most its first 6
// digits; anything that is not all digits is replaced entirely.
func MaskPAN(pan string) string {
	if !allDigits(pan) {
		return "invalid"
	}
	n := len(pan)
	if n >= 13 {
		return pan[:6] + strings.Repeat("*", n-10) + pan[n-4:]
	}
	keep := min(n, 6)
	return pan[:keep] + strings.Repeat("*", n-keep)
}

// Explain decides like Decide but checks the rules one by one and says why
// each tried rule did not match. It is slower than Decide and meant for
// operators, not for payments.
func (t *Table) Explain(in Input, usable func(bank string) bool, rnd Rand) Explanation {
	var p prepared
	prepare(&in, &p)
	ex := Explanation{
		Version:  t.version,
		Checksum: t.checksum,
		Input: ExplainedCard{
			MaskedPAN:   MaskPAN(in.PAN),
			Brand:       p.brand.String(),
			BrandSource: "detected",
			Amount:      in.Amount,
			Currency:    redactDigits(in.Currency),
			MerchantID:  redactDigits(in.MerchantID),
			MCC:         redactDigits(in.MCC),
			Type:        redactDigits(in.Type),
		},
		Decision: noRoute(),
		Tried:    []RuleTrace{},
	}
	switch {
	case in.Brand != "":
		ex.Input.BrandSource = "input"
		ex.Input.Brand = redactDigits(in.Brand)
	case p.brand == 0:
		ex.Input.BrandSource = "unknown"
	}
	for i := range t.rules {
		r := &t.rules[i]
		tr := RuleTrace{Rule: r.name, Line: t.specs[i].Line, Failed: r.faults(&p, &in)}
		tr.Matched = len(tr.Failed) == 0
		if len(ex.Tried) < MaxExplainTrace || tr.Matched {
			ex.Tried = append(ex.Tried, tr)
		} else {
			ex.Omitted++
		}
		if tr.Matched {
			ex.Decision = r.decide(usable, rnd)
			break
		}
	}
	return ex
}

// faults checks every key of r on its own (without the index) and reports
// each that fails.
func (r *rule) faults(p *prepared, in *Input) []KeyFault {
	var out []KeyFault
	if r.hasBins {
		if f, ok := r.binFault(p); !ok {
			out = append(out, f)
		}
	}
	if r.brands != 0 && r.brands&p.brand == 0 {
		got := p.brand.String()
		if got == "" {
			got = "unknown"
		}
		out = append(out, KeyFault{"match.brands", fmt.Sprintf("card brand %s is not one of %s", got, r.brandNames())})
	}
	if r.currencies != nil {
		if _, ok := slices.BinarySearch(r.currencies, p.currency); !ok {
			out = append(out, KeyFault{"match.currencies", fmt.Sprintf("currency %q is not one of %s", redactDigits(in.Currency), r.currencyNames())})
		}
	}
	if r.hasMin && p.amount < r.min {
		out = append(out, KeyFault{"match.amount", fmt.Sprintf("amount %d is below min %d", p.amount, r.min)})
	}
	if r.hasMax && p.amount > r.max {
		out = append(out, KeyFault{"match.amount", fmt.Sprintf("amount %d is above max %d", p.amount, r.max)})
	}
	if r.types != 0 && r.types&p.typ == 0 {
		out = append(out, KeyFault{"match.types", fmt.Sprintf("type %q is not one of %s", redactDigits(in.Type), r.typeNames())})
	}
	if r.merchants != nil {
		if _, ok := r.merchants[p.merchant]; !ok {
			out = append(out, KeyFault{"match.merchants", fmt.Sprintf("merchant is not one of the rule's %d merchants", len(r.merchants))})
		}
	}
	if r.mccs != nil {
		if !p.mccOK {
			out = append(out, KeyFault{"match.mccs", "no valid MCC given"})
		} else if _, ok := slices.BinarySearch(r.mccs, p.mcc); !ok {
			out = append(out, KeyFault{"match.mccs", fmt.Sprintf("MCC %04d is not one of the rule's %d MCCs", p.mcc, len(r.mccs))})
		}
	}
	return out
}

// binFault checks the card against each of r's bins entries. The reason
// names no more than the card's first 6 digits.
func (r *rule) binFault(p *prepared) (KeyFault, bool) {
	short := 0
	for _, b := range r.bins {
		if p.dg.n < int(b.n) {
			short++
			continue
		}
		if v := p.dg.value(int(b.n)); v >= b.lo && v <= b.hi {
			return KeyFault{}, true
		}
	}
	reason := fmt.Sprintf("card %s matches none of the rule's %d bins entries", binOf(&p.dg), len(r.bins))
	if short > 0 {
		reason += fmt.Sprintf(" (%d of them need more than the %d digits given)", short, p.dg.n)
	}
	return KeyFault{"match.bins", reason}, false
}

// binOf shows at most the first 6 digits of the card.
func binOf(d *digits) string {
	if d.n == 0 {
		return "with no digits"
	}
	k := min(d.n, 6)
	var b strings.Builder
	for i := 0; i < k; i++ {
		b.WriteByte('0' + d.d[i])
	}
	if d.n > k {
		b.WriteString("...")
	}
	return b.String()
}

func unpackCurrency(c uint32) string {
	return string([]byte{byte(c >> 16), byte(c >> 8), byte(c)})
}

func (r *rule) brandNames() string {
	var names []string
	for b := brandVisa; b <= brandJCB; b <<= 1 {
		if r.brands&b != 0 {
			names = append(names, b.String())
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

func (r *rule) currencyNames() string {
	names := make([]string, len(r.currencies))
	for i, c := range r.currencies {
		names[i] = unpackCurrency(c)
	}
	return "[" + strings.Join(names, " ") + "]"
}

func (r *rule) typeNames() string {
	var names []string
	if r.types&typePurchase != 0 {
		names = append(names, TypePurchase)
	}
	if r.types&typePreauth != 0 {
		names = append(names, TypePreauth)
	}
	return "[" + strings.Join(names, " ") + "]"
}

// String renders a decision briefly for logs.
func (d Decision) String() string {
	if d.NoRoute {
		return "no route"
	}
	var b strings.Builder
	b.WriteString("rule ")
	b.WriteString(strconv.Quote(d.Rule))
	b.WriteString(" banks")
	for _, c := range d.Banks {
		b.WriteByte(' ')
		b.WriteString(c.Bank)
		if !c.Usable {
			b.WriteString("(down)")
		}
	}
	return b.String()
}
