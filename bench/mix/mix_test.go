package mix

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func TestLuhnKnownTestCards(t *testing.T) {
	// simulator.md's test cards are all Luhn-valid.
	for _, pan := range []string{"4000000000000010", "4000000000000028", "5100000000000008", "2200000000000004", "4895370000000106", "4000000000000036"} {
		if !LuhnValid(pan) {
			t.Errorf("LuhnValid(%s) = false, want true", pan)
		}
	}
	for _, pan := range []string{"4000000000000011", "5100000000000009", "", "4", "40000000000000a0", "4000 0000 0000 0010"} {
		if LuhnValid(pan) {
			t.Errorf("LuhnValid(%q) = true, want false", pan)
		}
	}
	if d := LuhnCheckDigit("400000000000001"); d != '0' {
		t.Errorf("LuhnCheckDigit(400000000000001) = %c, want 0", d)
	}
	if d := LuhnCheckDigit("7992739871"); d != '3' { // the classic Wikipedia example
		t.Errorf("LuhnCheckDigit(7992739871) = %c, want 3", d)
	}
}

func TestFlowsProportionsWithSeed(t *testing.T) {
	g, err := New(42, DefaultWeights())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	var counts [numKinds]int
	brands := map[Brand]int{}
	for range n {
		f := g.Next()
		counts[f.Kind]++
		brands[f.Brand]++
	}
	want := map[Kind]float64{Purchase: 0.70, Decline: 0.10, PreauthCapture: 0.10, Refund: 0.05, Void: 0.05}
	for k, p := range want {
		got := float64(counts[k]) / n
		if math.Abs(got-p) > 0.005 {
			t.Errorf("%s: share %.4f, want %.2f ± 0.005", k, got, p)
		}
	}
	for _, r := range BINRanges() {
		got := float64(brands[r.Brand]) / n
		if p := float64(r.Weight) / 100; math.Abs(got-p) > 0.005 {
			t.Errorf("brand %s: share %.4f, want %.2f ± 0.005", r.Brand, got, p)
		}
	}
}

func TestFlowsCardsAndAmounts(t *testing.T) {
	g, err := New(7, DefaultWeights())
	if err != nil {
		t.Fatal(err)
	}
	declineCodes := map[string]int{}
	for i := range 50_000 {
		f := g.Next()
		if len(f.PAN) != PANLength || !LuhnValid(f.PAN) {
			t.Fatalf("flow %d: PAN %s...%s not a Luhn-valid %d-digit PAN", i, f.PAN[:6], f.PAN[len(f.PAN)-4:], PANLength)
		}
		if f.PAN == alwaysDeclines {
			t.Fatalf("flow %d: generated the always-declining test card", i)
		}
		bin, _ := strconv.Atoi(f.PAN[:6])
		idx := slices.IndexFunc(BINRanges(), func(r BINRange) bool { return r.Brand == f.Brand })
		if idx < 0 || bin < BINRanges()[idx].Lo || bin > BINRanges()[idx].Hi {
			t.Fatalf("flow %d: BIN %06d outside the %s test range", i, bin, f.Brand)
		}
		if f.Amount < 1 || f.Amount > 999_999_999_999 {
			t.Fatalf("flow %d: amount %d out of the API's range", i, f.Amount)
		}
		suffix := f.Amount % 100
		if f.Kind == Decline {
			if got := strconv.FormatInt(100+suffix, 10)[1:]; got != f.DeclineCode || !slices.Contains(DeclineCodes(), got) {
				t.Fatalf("flow %d: decline amount %d ends %s, code %s", i, f.Amount, got, f.DeclineCode)
			}
			declineCodes[f.DeclineCode]++
			continue
		}
		if !ApprovingSuffix(f.Amount) {
			t.Fatalf("flow %d (%s): amount %d ends with a simulator rule", i, f.Kind, f.Amount)
		}
		if f.Kind == PreauthCapture && (f.CaptureAmount < 1 || f.CaptureAmount > f.Amount) {
			t.Fatalf("flow %d: capture %d of preauth %d", i, f.CaptureAmount, f.Amount)
		}
	}
	for _, c := range DeclineCodes() {
		if declineCodes[c] == 0 {
			t.Errorf("decline code %s never drawn", c)
		}
	}
	for _, c := range []string{"97", "98", "99"} {
		if declineCodes[c] != 0 {
			t.Errorf("fault rule %s drawn as a decline", c)
		}
	}
}

func TestApprovingSuffix(t *testing.T) {
	for _, a := range []int64{100000, 150001, 1, 10050, 12345600} {
		if !ApprovingSuffix(a) {
			t.Errorf("ApprovingSuffix(%d) = false", a)
		}
	}
	for _, a := range []int64{100005, 100051, 100097, 100098, 100099, 77, 100091} {
		if ApprovingSuffix(a) {
			t.Errorf("ApprovingSuffix(%d) = true", a)
		}
	}
}

func TestSameSeedSameFlows(t *testing.T) {
	a, _ := New(99, DefaultWeights())
	b, _ := New(99, DefaultWeights())
	c, _ := New(100, DefaultWeights())
	differs := false
	for range 1000 {
		fa, fb, fc := a.Next(), b.Next(), c.Next()
		if fa != fb {
			t.Fatalf("same seed, different flows: %+v vs %+v", fa.Kind, fb.Kind)
		}
		if fa != fc {
			differs = true
		}
	}
	if !differs {
		t.Error("seeds 99 and 100 produced identical streams")
	}
}

func TestWeightsValidate(t *testing.T) {
	if _, err := New(1, Weights{}); err == nil {
		t.Error("all-zero weights accepted")
	}
	if _, err := New(1, Weights{Purchase: 1, Void: -1}); err == nil {
		t.Error("negative weight accepted")
	}
	g, err := New(1, Weights{Decline: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if k := g.Next().Kind; k != Decline {
			t.Fatalf("declines-only mix drew %s", k)
		}
	}
}

func TestPANInRangeCoversRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := BINRange{Brand: Mir, Lo: 220000, Hi: 220099}
	seen := map[int]bool{}
	for range 20_000 {
		pan := PANInRange(rng, r)
		bin, _ := strconv.Atoi(pan[:6])
		seen[bin] = true
		if !LuhnValid(pan) {
			t.Fatalf("PAN %s...%s fails Luhn", pan[:6], pan[12:])
		}
	}
	if len(seen) != 100 {
		t.Errorf("drew %d distinct BINs of 100", len(seen))
	}
}

func TestKindString(t *testing.T) {
	if Refund.String() != "refund" || Kind(99).String() != "kind(99)" {
		t.Errorf("Kind.String: %q, %q", Refund.String(), Kind(99).String())
	}
}
