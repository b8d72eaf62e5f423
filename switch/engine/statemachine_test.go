package engine

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func i64(v int64) *int64 { return &v }

var almaty = time.FixedZone("Asia/Almaty", 5*3600)

func TestDecideTable(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, almaty)
	before := now.Add(time.Hour) // void deadline still ahead
	after := now.Add(-time.Second)

	purchase := Snapshot{Type: TypePurchase, Status: StatusApproved, Amount: 10000, VoidDeadline: before}
	preauth := Snapshot{Type: TypePreauth, Status: StatusApproved, Amount: 10000, VoidDeadline: before}
	captured := Snapshot{Type: TypePreauth, Status: StatusCaptured, Amount: 10000, CapturedAmount: 8000, VoidDeadline: before}
	with := func(s Snapshot, f func(*Snapshot)) Snapshot { f(&s); return s }

	cases := []struct {
		name    string
		s       Snapshot
		a       Action
		amount  *int64
		want    Transition
		errKind Kind
		errText string
	}{
		// purchase
		{"purchase capture", purchase, ActionCapture, nil, Transition{}, KindInvalidState, "only an approved preauth"},
		{"purchase full void default", purchase, ActionVoid, nil, Transition{ActionVoid, 10000, false, 0, StatusVoided}, 0, ""},
		{"purchase full void explicit", purchase, ActionVoid, i64(10000), Transition{ActionVoid, 10000, false, 0, StatusVoided}, 0, ""},
		{"purchase partial void", purchase, ActionVoid, i64(5000), Transition{}, KindInvalidState, "only be voided in full"},
		{"purchase void after cut-off", with(purchase, func(s *Snapshot) { s.VoidDeadline = after }), ActionVoid, nil, Transition{}, KindInvalidState, "use a refund"},
		{"purchase void exactly at cut-off", with(purchase, func(s *Snapshot) { s.VoidDeadline = now }), ActionVoid, nil, Transition{}, KindInvalidState, "cut-off"},
		{"purchase void after refund", with(purchase, func(s *Snapshot) { s.RefundedAmount = 1 }), ActionVoid, nil, Transition{}, KindInvalidState, "has refunds"},
		{"purchase refund partial", purchase, ActionRefund, i64(4000), Transition{ActionRefund, 4000, false, 6000, StatusApproved}, 0, ""},
		{"purchase refund full", purchase, ActionRefund, i64(10000), Transition{ActionRefund, 10000, false, 0, StatusApproved}, 0, ""},
		{"purchase second refund up to rest", with(purchase, func(s *Snapshot) { s.RefundedAmount = 6000 }), ActionRefund, i64(4000), Transition{ActionRefund, 4000, false, 0, StatusApproved}, 0, ""},
		{"purchase over-refund", with(purchase, func(s *Snapshot) { s.RefundedAmount = 6000 }), ActionRefund, i64(4001), Transition{}, KindInvalidState, "exceeds the refundable amount 4000"},
		{"purchase refund without amount", purchase, ActionRefund, nil, Transition{}, KindInvalidInput, "needs an amount"},
		{"purchase refund after cut-off is fine", with(purchase, func(s *Snapshot) { s.VoidDeadline = after }), ActionRefund, i64(1), Transition{ActionRefund, 1, false, 9999, StatusApproved}, 0, ""},
		// preauth
		{"preauth full capture default", preauth, ActionCapture, nil, Transition{ActionCapture, 10000, false, 0, StatusCaptured}, 0, ""},
		{"preauth partial capture", preauth, ActionCapture, i64(7000), Transition{ActionCapture, 7000, false, 0, StatusCaptured}, 0, ""},
		{"preauth over-capture", preauth, ActionCapture, i64(10001), Transition{}, KindInvalidState, "exceeds the remaining authorized amount 10000"},
		{"preauth capture after partial void default", with(preauth, func(s *Snapshot) { s.VoidedAmount = 3000 }), ActionCapture, nil, Transition{ActionCapture, 7000, false, 0, StatusCaptured}, 0, ""},
		{"preauth capture after partial void too much", with(preauth, func(s *Snapshot) { s.VoidedAmount = 3000 }), ActionCapture, i64(7001), Transition{}, KindInvalidState, "remaining authorized amount 7000"},
		{"preauth full void", preauth, ActionVoid, nil, Transition{ActionVoid, 10000, false, 0, StatusVoided}, 0, ""},
		{"preauth partial void", preauth, ActionVoid, i64(2500), Transition{ActionVoid, 2500, true, 7500, StatusApproved}, 0, ""},
		{"preauth second partial void", with(preauth, func(s *Snapshot) { s.VoidedAmount = 2500 }), ActionVoid, i64(2500), Transition{ActionVoid, 2500, true, 5000, StatusApproved}, 0, ""},
		{"preauth partial voids reach zero", with(preauth, func(s *Snapshot) { s.VoidedAmount = 7500 }), ActionVoid, i64(2500), Transition{ActionVoid, 2500, false, 0, StatusVoided}, 0, ""},
		{"preauth void rest by default", with(preauth, func(s *Snapshot) { s.VoidedAmount = 7500 }), ActionVoid, nil, Transition{ActionVoid, 2500, false, 0, StatusVoided}, 0, ""},
		{"preauth void above remaining", with(preauth, func(s *Snapshot) { s.VoidedAmount = 7500 }), ActionVoid, i64(2501), Transition{}, KindInvalidState, "exceeds the remaining"},
		{"preauth void ignores cut-off", with(preauth, func(s *Snapshot) { s.VoidDeadline = after }), ActionVoid, nil, Transition{ActionVoid, 10000, false, 0, StatusVoided}, 0, ""},
		{"preauth refund before capture", preauth, ActionRefund, i64(1), Transition{}, KindInvalidState, "must be captured"},
		// captured preauth
		{"captured second capture", captured, ActionCapture, nil, Transition{}, KindInvalidState, "already captured"},
		{"captured void", captured, ActionVoid, nil, Transition{}, KindInvalidState, "use a refund"},
		{"captured refund up to captured", captured, ActionRefund, i64(8000), Transition{ActionRefund, 8000, false, 0, StatusCaptured}, 0, ""},
		{"captured refund above captured", captured, ActionRefund, i64(8001), Transition{}, KindInvalidState, "refundable amount 8000"},
		{"captured multiple refunds", with(captured, func(s *Snapshot) { s.RefundedAmount = 5000 }), ActionRefund, i64(3000), Transition{ActionRefund, 3000, false, 0, StatusCaptured}, 0, ""},
		// bad amounts
		{"zero amount", preauth, ActionCapture, i64(0), Transition{}, KindInvalidInput, "positive"},
		{"negative amount", purchase, ActionRefund, i64(-5), Transition{}, KindInvalidInput, "positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decide(c.s, c.a, c.amount, now)
			if c.errKind != 0 {
				if err == nil {
					t.Fatalf("Decide = %+v, want %v error", got, c.errKind)
				}
				if KindOf(err) != c.errKind {
					t.Fatalf("error kind = %v (%v), want %v", KindOf(err), err, c.errKind)
				}
				if !strings.Contains(err.Error(), c.errText) {
					t.Fatalf("error %q does not mention %q", err, c.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got != c.want {
				t.Fatalf("Decide = %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestDecideExhaustive walks every (type, status, action, amount shape)
// combination and checks the machine's invariants: nothing is allowed on
// pending, declined or voided payments; captures only on approved preauths;
// no allowed operation ever exceeds what is left; partial flags and next
// states are consistent.
func TestDecideExhaustive(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, almaty)
	types := []PaymentType{TypePurchase, TypePreauth, "bogus"}
	statuses := []Status{StatusPending, StatusApproved, StatusDeclined, StatusCaptured, StatusVoided, "bogus"}
	actions := []Action{ActionCapture, ActionVoid, ActionRefund, "bogus"}
	deadlines := []time.Time{now.Add(time.Minute), now}
	amounts := []*int64{nil, i64(1), i64(2999), i64(3000), i64(3001), i64(10000), i64(10001)}
	for _, ty := range types {
		for _, st := range statuses {
			for _, voided := range []int64{0, 7000} {
				for _, refunded := range []int64{0, 5000} {
					for _, dl := range deadlines {
						for _, a := range actions {
							for _, amt := range amounts {
								if ty == TypePurchase && voided > 0 {
									continue // a purchase is never partially voided
								}
								s := Snapshot{Type: ty, Status: st, Amount: 10000, VoidedAmount: voided, RefundedAmount: refunded, VoidDeadline: dl}
								if st == StatusCaptured {
									s.CapturedAmount = 8000 - voided/7
								}
								checkInvariants(t, s, a, amt, now)
							}
						}
					}
				}
			}
		}
	}
}

func checkInvariants(t *testing.T, s Snapshot, a Action, amt *int64, now time.Time) {
	t.Helper()
	tr, err := Decide(s, a, amt, now)
	desc := func() string {
		v := "nil"
		if amt != nil {
			v = strconv.FormatInt(*amt, 10)
		}
		return fmt.Sprintf("%s/%s/%s/%s voided=%d refunded=%d", s.Type, s.Status, a, v, s.VoidedAmount, s.RefundedAmount)
	}
	if err != nil {
		k := KindOf(err)
		if k != KindInvalidState && k != KindInvalidInput {
			t.Fatalf("%s: error of kind %v: %v", desc(), k, err)
		}
		return
	}
	// Allowed: check every invariant.
	if s.Status != StatusApproved && s.Status != StatusCaptured {
		t.Fatalf("%s: allowed on a %s payment", desc(), s.Status)
	}
	if s.Type != TypePurchase && s.Type != TypePreauth {
		t.Fatalf("%s: allowed on unknown type", desc())
	}
	if tr.Amount <= 0 {
		t.Fatalf("%s: non-positive amount %d", desc(), tr.Amount)
	}
	if amt != nil && tr.Amount != *amt {
		t.Fatalf("%s: amount %d, asked %d", desc(), tr.Amount, *amt)
	}
	switch a {
	case ActionCapture:
		if s.Type != TypePreauth || s.Status != StatusApproved {
			t.Fatalf("%s: capture allowed", desc())
		}
		if tr.Amount > s.Amount-s.VoidedAmount || tr.Next != StatusCaptured {
			t.Fatalf("%s: bad capture %+v", desc(), tr)
		}
	case ActionVoid:
		if s.Status != StatusApproved || s.RefundedAmount != 0 {
			t.Fatalf("%s: void allowed", desc())
		}
		if s.Type == TypePurchase && (tr.Partial || tr.Amount != s.Amount || !now.Before(s.VoidDeadline)) {
			t.Fatalf("%s: bad purchase void %+v", desc(), tr)
		}
		rem := s.Amount - s.VoidedAmount
		if tr.Amount > rem || tr.Remaining != rem-tr.Amount || tr.Partial != (tr.Remaining > 0) {
			t.Fatalf("%s: bad void %+v", desc(), tr)
		}
		if (tr.Remaining == 0) != (tr.Next == StatusVoided) {
			t.Fatalf("%s: void next %s with remaining %d", desc(), tr.Next, tr.Remaining)
		}
	case ActionRefund:
		base := s.Amount
		if s.Type == TypePreauth {
			if s.Status != StatusCaptured {
				t.Fatalf("%s: refund of uncaptured preauth", desc())
			}
			base = s.CapturedAmount
		} else if s.Status != StatusApproved {
			t.Fatalf("%s: refund of purchase in %s", desc(), s.Status)
		}
		if s.RefundedAmount+tr.Amount > base || tr.Next != s.Status {
			t.Fatalf("%s: over-refund %+v", desc(), tr)
		}
	default:
		t.Fatalf("%s: unknown action allowed", desc())
	}
}

func TestVoidDeadline(t *testing.T) {
	cut := 23 * time.Hour
	cases := []struct {
		at, want time.Time
	}{
		{time.Date(2026, 11, 27, 10, 15, 0, 0, almaty), time.Date(2026, 11, 27, 23, 0, 0, 0, almaty)},
		{time.Date(2026, 11, 27, 22, 59, 59, 0, almaty), time.Date(2026, 11, 27, 23, 0, 0, 0, almaty)},
		{time.Date(2026, 11, 27, 23, 0, 0, 0, almaty), time.Date(2026, 11, 28, 23, 0, 0, 0, almaty)},
		{time.Date(2026, 12, 31, 23, 30, 0, 0, almaty), time.Date(2027, 1, 1, 23, 0, 0, 0, almaty)},
		// UTC input: 17:59 UTC is 22:59 Almaty.
		{time.Date(2026, 11, 27, 17, 59, 0, 0, time.UTC), time.Date(2026, 11, 27, 23, 0, 0, 0, almaty)},
		{time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), time.Date(2026, 11, 28, 23, 0, 0, 0, almaty)},
	}
	for _, c := range cases {
		if got := VoidDeadline(c.at, almaty, cut); !got.Equal(c.want) {
			t.Errorf("VoidDeadline(%v) = %v, want %v", c.at, got, c.want)
		}
	}
	// Bank B: 21:00.
	if got := VoidDeadline(time.Date(2026, 11, 27, 21, 0, 0, 0, almaty), almaty, 21*time.Hour); !got.Equal(time.Date(2026, 11, 28, 21, 0, 0, 0, almaty)) {
		t.Errorf("bank B deadline = %v", got)
	}
}

// FuzzDecide checks that no snapshot, action or amount makes the state
// machine panic or break its invariants.
func FuzzDecide(f *testing.F) {
	f.Add(uint8(0), uint8(1), uint8(1), int64(10000), int64(0), int64(0), int64(0), int64(5000), true, int64(0))
	f.Add(uint8(1), uint8(3), uint8(2), int64(10000), int64(8000), int64(0), int64(5000), int64(3000), true, int64(60))
	f.Fuzz(func(t *testing.T, ty, st, ac uint8, amount, captured, voided, refunded, amt int64, hasAmt bool, deadlineSec int64) {
		types := []PaymentType{TypePurchase, TypePreauth}
		statuses := []Status{StatusPending, StatusApproved, StatusDeclined, StatusCaptured, StatusVoided}
		actions := []Action{ActionCapture, ActionVoid, ActionRefund}
		if amount <= 0 || captured < 0 || voided < 0 || refunded < 0 || voided > amount || captured > amount-voided || refunded > amount {
			return // not a state the journal can hold
		}
		s := Snapshot{
			Type: types[int(ty)%2], Status: statuses[int(st)%5], Amount: amount,
			CapturedAmount: captured, VoidedAmount: voided, RefundedAmount: refunded,
		}
		if s.Type == TypePurchase && (voided != 0 || captured != 0) || s.Status == StatusCaptured && captured == 0 || s.Status == StatusCaptured && refunded > captured {
			return
		}
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, almaty)
		s.VoidDeadline = now.Add(time.Duration(deadlineSec%100000) * time.Second)
		var a *int64
		if hasAmt {
			a = &amt
		}
		checkInvariants(t, s, actions[int(ac)%3], a, now)
	})
}
