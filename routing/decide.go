package routing

import (
	"math/rand/v2"
	"slices"
)

// Input is what routing looks at in a payment.
type Input struct {
	// PAN is the card number or at least its first MaxBinDigits digits;
	// nothing after them is read, so callers may pass a prefix. A bins
	// entry longer than the digits given never matches.
	PAN string
	// Brand overrides brand detection from PAN when set (e.g. a brand the
	// gateway already knows); a name the table does not know matches no
	// brands key.
	Brand string
	// Amount in minor units.
	Amount int64
	// Currency is ISO 4217 alpha-3 in upper case, e.g. "KZT".
	Currency   string
	MerchantID string
	MCC        string
	// Type is "purchase" or "preauth".
	Type string
}

// Rand is the randomness a split draws from; *math/rand/v2.Rand satisfies
// it. Decide calls it from the caller's goroutine, so a source shared by
// goroutines must be safe for that. Nil means math/rand/v2's top-level
// functions, which are safe for concurrent use and seeded by the runtime.
type Rand interface {
	IntN(n int) int
}

// BankChoice is one bank of a decision.
type BankChoice struct {
	Bank string `json:"bank"`
	// Usable says whether the bank could be used when the decision was
	// made (signed on, circuit not open).
	Usable bool `json:"usable"`
	// Weight is the bank's split weight; 0 for a banks list.
	Weight int `json:"weight,omitempty"`
}

// Decision is the bank order routing chose for a payment.
type Decision struct {
	// Rule is the winning rule's name; empty when no rule matched.
	Rule string `json:"rule,omitempty"`
	// NoRoute is true when no rule matched: the switch declines with
	// issuer_unavailable and counts a no_route.
	NoRoute bool `json:"no_route"`
	// Banks are every bank of the winning rule in the order to try them:
	// a banks list in its order; a split with the weighted choice among
	// the usable banks first, then the others by descending weight. Only
	// the usable ones are to be tried.
	Banks []BankChoice `json:"banks"`
	// AnyUsable is false when the winning rule leaves no usable bank. The
	// switch then does not fall through to later rules: it stands in if
	// allowed, or declines with issuer_unavailable.
	AnyUsable bool `json:"any_usable"`
}

// UsableBanks returns the banks to try, in order.
func (d Decision) UsableBanks() []string {
	out := make([]string, 0, len(d.Banks))
	for _, b := range d.Banks {
		if b.Usable {
			out = append(out, b.Bank)
		}
	}
	return out
}

// prepared is an Input reduced to what the compiled rules compare.
type prepared struct {
	dg       digits
	brand    brand
	typ      uint8
	currency uint32
	mcc      uint16
	mccOK    bool
	amount   int64
	merchant string
}

func prepare(in *Input, p *prepared) {
	p.dg.set(in.PAN)
	if in.Brand != "" {
		p.brand = brandOf(in.Brand)
	} else {
		p.brand = detectBrand(&p.dg)
	}
	p.typ = typeBit(in.Type)
	p.currency = packCurrency(in.Currency)
	p.mcc, p.mccOK = parseMCC(in.MCC)
	p.amount = in.Amount
	p.merchant = in.MerchantID
}

// matchRest checks every key but bins, cheapest first.
func (r *rule) matchRest(p *prepared) bool {
	if r.types != 0 && r.types&p.typ == 0 {
		return false
	}
	if r.currencies != nil {
		if _, ok := slices.BinarySearch(r.currencies, p.currency); !ok {
			return false
		}
	}
	if r.hasMin && p.amount < r.min || r.hasMax && p.amount > r.max {
		return false
	}
	if r.brands != 0 && r.brands&p.brand == 0 {
		return false
	}
	if r.mccs != nil {
		if !p.mccOK {
			return false
		}
		if _, ok := slices.BinarySearch(r.mccs, p.mcc); !ok {
			return false
		}
	}
	if r.merchants != nil {
		if _, ok := r.merchants[p.merchant]; !ok {
			return false
		}
	}
	return true
}

// first returns the index of the first rule matching p, or -1. Candidates
// are the rules without bins plus the rules whose bins entries on the card's
// index path hold the card, merged in rule order; the first whose other keys
// hold wins.
func (t *Table) first(p *prepared) int {
	var lists [maxLists][]binEntry
	nl := t.index.walk(&p.dg, &lists)
	// vals[k] is the card's first k digits as a number.
	var vals [MaxBinDigits + 1]uint64
	for i := 0; i < p.dg.n; i++ {
		vals[i+1] = vals[i]*10 + uint64(p.dg.d[i])
	}
	n := uint8(p.dg.n)
	free := t.binless
	for {
		// The lowest rule index among the heads; a list's head is first
		// advanced past entries that do not hold the card.
		best := int32(-1)
		if len(free) > 0 {
			best = free[0]
		}
		for i := 0; i < nl; i++ {
			l := lists[i]
			for len(l) > 0 {
				e := &l[0]
				if e.n <= n && vals[e.n] >= e.lo && vals[e.n] <= e.hi {
					break
				}
				l = l[1:]
			}
			lists[i] = l
			if len(l) > 0 && (best < 0 || l[0].rule < best) {
				best = l[0].rule
			}
		}
		if best < 0 {
			return -1
		}
		if len(free) > 0 && free[0] == best {
			free = free[1:]
		}
		for i := 0; i < nl; i++ {
			// Drop every entry of this rule at the head (a rule may hold
			// several entries at one node).
			for len(lists[i]) > 0 && lists[i][0].rule == best {
				lists[i] = lists[i][1:]
			}
		}
		if t.rules[best].matchRest(p) {
			return int(best)
		}
	}
}

// Decide routes a payment: the first matching rule and the order of its
// banks. usable reports whether a bank can take traffic now (nil: every
// bank is usable); rnd draws the split (see Rand).
func (t *Table) Decide(in Input, usable func(bank string) bool, rnd Rand) Decision {
	var p prepared
	prepare(&in, &p)
	ri := t.first(&p)
	if ri < 0 {
		return noRoute()
	}
	return t.rules[ri].decide(usable, rnd)
}

// noRoute is the decision when no rule matches; Banks is empty, not nil,
// so that JSON shows [].
func noRoute() Decision {
	return Decision{NoRoute: true, Banks: []BankChoice{}}
}

func (r *rule) decide(usable func(string) bool, rnd Rand) Decision {
	d := Decision{Rule: r.name}
	ok := func(b string) bool { return usable == nil || usable(b) }
	if r.split == nil {
		d.Banks = make([]BankChoice, len(r.banks))
		for i, b := range r.banks {
			u := ok(b)
			d.Banks[i] = BankChoice{Bank: b, Usable: u}
			d.AnyUsable = d.AnyUsable || u
		}
		return d
	}
	n := len(r.split)
	// Usable flags in file order; at most a handful of banks, so a small
	// stack array avoids an allocation.
	var flagsArr [8]bool
	flags := flagsArr[:0]
	if n > len(flagsArr) {
		flags = make([]bool, 0, n)
	}
	total, usableCount, only := 0, 0, -1
	for i, w := range r.split {
		u := ok(w.Bank)
		flags = append(flags, u)
		if u {
			total += w.Weight
			usableCount++
			only = i
		}
	}
	chosen := -1
	switch {
	case usableCount == 1:
		chosen = only
	case usableCount > 1:
		x := intN(rnd, total)
		for i, w := range r.split {
			if !flags[i] {
				continue
			}
			if x < w.Weight {
				chosen = i
				break
			}
			x -= w.Weight
		}
	}
	d.Banks = make([]BankChoice, 0, n)
	if chosen >= 0 {
		w := r.split[chosen]
		d.Banks = append(d.Banks, BankChoice{Bank: w.Bank, Usable: true, Weight: w.Weight})
		d.AnyUsable = true
	}
	for _, i := range r.splitDesc {
		if i == chosen {
			continue
		}
		w := r.split[i]
		d.Banks = append(d.Banks, BankChoice{Bank: w.Bank, Usable: flags[i], Weight: w.Weight})
	}
	return d
}

// intN draws from rnd, or from math/rand/v2 when rnd is nil. A source that
// returns out of range is clamped rather than trusted.
func intN(rnd Rand, n int) int {
	var x int
	if rnd == nil {
		x = rand.IntN(n)
	} else {
		x = rnd.IntN(n)
	}
	if x < 0 || x >= n {
		x = ((x % n) + n) % n
	}
	return x
}
