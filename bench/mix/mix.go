// Package mix generates the benchmark's workload: a seeded, reproducible
// stream of payment flows (purchases, declines, pre-authorizations with
// capture, refunds, voids) on Luhn-valid test PANs inside the simulators'
// test BIN ranges, with amounts that select the simulators' outcomes
// (contract simulator.md). A Generator is not safe for concurrent use: each
// load worker owns one, seeded from the run's seed and its worker number.
package mix

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
)

// Kind is one flow of the mix.
type Kind int

// The flows. PreauthCapture is two requests: the pre-authorization, then a
// capture of it. Refund and Void act on an earlier approved purchase.
const (
	Purchase Kind = iota
	Decline
	PreauthCapture
	Refund
	Void
	numKinds
)

// kindNames are the kinds' report names, in order.
var kindNames = [numKinds]string{"purchase", "decline", "preauth_capture", "refund", "void"}

// String names the kind as reports show it.
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Weights are the relative frequencies of the flows (integers, any scale).
type Weights struct {
	Purchase, Decline, PreauthCapture, Refund, Void int
}

// DefaultWeights is the standard mix: 70% approved purchases, 10% declines,
// 10% pre-authorization then capture, 5% refunds, 5% voids.
func DefaultWeights() Weights {
	return Weights{Purchase: 70, Decline: 10, PreauthCapture: 10, Refund: 5, Void: 5}
}

func (w Weights) of(k Kind) int {
	return [numKinds]int{w.Purchase, w.Decline, w.PreauthCapture, w.Refund, w.Void}[k]
}

// Validate refuses negative weights and an all-zero mix.
func (w Weights) Validate() error {
	total := 0
	for k := range numKinds {
		v := w.of(k)
		if v < 0 {
			return fmt.Errorf("mix weight of %s: must not be negative, got %d", k, v)
		}
		total += v
	}
	if total == 0 {
		return errors.New("mix weights: all zero")
	}
	return nil
}

// DeclineCodes returns the simulators' amount rules that decline (simulator.md),
// by the last two digits of the amount. 77, 91 and 96 are left out because
// they are issuer/system faults rather than cardholder declines, and 97, 98
// and 99 because they are the fault cases (closed connection, late and lost
// responses) that a throughput benchmark must not mix in.
func DeclineCodes() []string { return slices.Clone(declineCodes[:]) }

var declineCodes = [...]string{"05", "14", "51", "54", "57", "59", "61", "62", "82"}

// ApprovingSuffix reports whether an amount's last two digits select the
// simulators' default approval, i.e. match none of simulator.md's rules.
func ApprovingSuffix(amount int64) bool {
	switch amount % 100 {
	case 5, 14, 51, 54, 57, 59, 61, 62, 77, 82, 91, 96, 97, 98, 99:
		return false
	}
	return true
}

// Brand is a card scheme of the test ranges.
type Brand string

// The test brands.
const (
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Mir        Brand = "mir"
)

// BINRange is a range of 6-digit BINs of one brand.
type BINRange struct {
	Brand  Brand
	Lo, Hi int // inclusive
	Weight int // share of generated cards
}

// BINRanges returns the simulators' test BIN ranges (simulator.md) with
// their shares. With the example routing table, Visa and Mir go to Bank A
// (alfa) and Mastercard to Bank B (sber), so the shares split the load about
// evenly across the banks.
func BINRanges() []BINRange { return slices.Clone(testRanges[:]) }

var testRanges = [...]BINRange{
	{Brand: Visa, Lo: 400000, Hi: 400099, Weight: 45},
	{Brand: Mastercard, Lo: 510000, Hi: 510099, Weight: 45},
	{Brand: Mir, Lo: 220000, Hi: 220099, Weight: 10},
}

// alwaysDeclines is the simulators' card rule test PAN (always 05); the
// generator never produces it so that approvals stay approvals.
const alwaysDeclines = "4000000000000036"

// PANLength of generated cards.
const PANLength = 16

// Flow is one unit of work of the mix.
type Flow struct {
	Kind   Kind
	Brand  Brand
	PAN    string // 16 digits, Luhn-valid, inside a test range
	Amount int64  // minor units (KZT); for declines it ends with DeclineCode
	// DeclineCode is the expected response code of a Decline flow.
	DeclineCode string
	// CaptureAmount is the capture of a PreauthCapture flow: the whole
	// pre-authorized amount or, for one in four, a partial capture.
	CaptureAmount int64
}

// Generator draws flows. Not safe for concurrent use.
type Generator struct {
	rng         *rand.Rand
	w           Weights
	total       int
	rangeWeight int
}

// New returns a generator seeded with seed; two generators with the same
// seed and weights produce the same flows.
func New(seed uint64, w Weights) (*Generator, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), w: w}
	for k := range numKinds {
		g.total += w.of(k)
	}
	for _, r := range testRanges {
		g.rangeWeight += r.Weight
	}
	return g, nil
}

// Next returns the next flow.
func (g *Generator) Next() Flow {
	n := g.rng.IntN(g.total)
	kind := Purchase
	for k := range numKinds {
		if n < g.w.of(k) {
			kind = k
			break
		}
		n -= g.w.of(k)
	}
	f := Flow{Kind: kind}
	f.Brand, f.PAN = g.card()
	switch kind {
	case Decline:
		code := declineCodes[g.rng.IntN(len(declineCodes))]
		c, _ := strconv.Atoi(code) // the table holds two digits
		f.DeclineCode = code
		f.Amount = g.base() + int64(c)
	default:
		f.Amount = g.approvingAmount()
		if kind == PreauthCapture {
			f.CaptureAmount = f.Amount
			if g.rng.IntN(4) == 0 {
				f.CaptureAmount = f.Amount / 2
				if f.CaptureAmount < 1 {
					f.CaptureAmount = f.Amount
				}
			}
		}
	}
	return f
}

// base is a whole-tenge amount between 1 and 50,000 KZT, in minor units.
func (g *Generator) base() int64 { return int64(g.rng.IntN(50_000)+1) * 100 }

func (g *Generator) approvingAmount() int64 {
	for {
		a := g.base() + int64(g.rng.IntN(100))
		if ApprovingSuffix(a) {
			return a
		}
	}
}

// card draws a brand by weight and a Luhn-valid PAN inside its range.
func (g *Generator) card() (Brand, string) {
	n := g.rng.IntN(g.rangeWeight)
	r := testRanges[len(testRanges)-1]
	for _, c := range testRanges {
		if n < c.Weight {
			r = c
			break
		}
		n -= c.Weight
	}
	for {
		pan := PANInRange(g.rng, r)
		if pan != alwaysDeclines {
			return r.Brand, pan
		}
	}
}

// PANInRange returns a random Luhn-valid PANLength-digit PAN whose first six
// digits lie in r.
func PANInRange(rng *rand.Rand, r BINRange) string {
	bin := r.Lo + rng.IntN(r.Hi-r.Lo+1)
	b := make([]byte, PANLength)
	copy(b, strconv.Itoa(bin))
	for i := 6; i < PANLength-1; i++ {
		b[i] = byte('0' + rng.IntN(10))
	}
	b[PANLength-1] = LuhnCheckDigit(string(b[:PANLength-1]))
	return string(b)
}

// LuhnCheckDigit is the digit that makes payload+digit Luhn-valid.
// payload must be all digits.
func LuhnCheckDigit(payload string) byte {
	sum := 0
	double := true // the rightmost payload digit is doubled
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// LuhnValid reports whether pan is all digits and passes the Luhn check.
func LuhnValid(pan string) bool {
	if len(pan) < 2 {
		return false
	}
	for i := 0; i < len(pan); i++ {
		if pan[i] < '0' || pan[i] > '9' {
			return false
		}
	}
	return LuhnCheckDigit(pan[:len(pan)-1]) == pan[len(pan)-1]
}
