package journaltest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// testReconStates: reconciliation records its outcome with SetReconStates;
// a payment write made from a copy read before the run leaves it alone; an
// empty reference keeps the stored one; writing the same marks again
// changes nothing; bad marks are refused whole.
func testReconStates(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p1, p2 := newPayment(t, v, reqID(t, 1), 150000), newPayment(t, v, reqID(t, 2), 90000)
	mustCreate(t, s, p1, authOp(150000))
	mustCreate(t, s, p2, authOp(90000))
	stale, err := s.GetPayment(ctx, p1.ID) // read before the run
	if err != nil {
		t.Fatal(err)
	}

	marks := []journal.ReconMark{
		{PaymentID: p1.ID, State: journal.ReconMatched, Ref: "alfa/2026-11-30/17"},
		{PaymentID: p2.ID, State: journal.ReconMissing},
		{PaymentID: "pay_unknown", State: journal.ReconMatched, Ref: "alfa/2026-11-30/18"}, // skipped
	}
	if err := s.SetReconStates(ctx, marks); err != nil {
		t.Fatalf("SetReconStates: %v", err)
	}
	check := func(what string, id string, state journal.ReconState, ref string, version int64) {
		t.Helper()
		got, err := s.GetPayment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.ReconState != state || got.ReconRef != ref || got.Version != version {
			t.Errorf("%s: %s state %q ref %q version %d, want %q %q %d", what, id, got.ReconState, got.ReconRef, got.Version, state, ref, version)
		}
	}
	check("after the run", p1.ID, journal.ReconMatched, "alfa/2026-11-30/17", 1)
	check("after the run", p2.ID, journal.ReconMissing, "", 1)
	if err := s.SetReconStates(ctx, marks); err != nil {
		t.Fatalf("SetReconStates again: %v", err)
	}
	check("same marks again", p1.ID, journal.ReconMatched, "alfa/2026-11-30/17", 1)

	// The engine saves its (older) copy: status changes, the state stays.
	stale.Status, stale.CapturedAmount = journal.PaymentApproved, 150000
	if err := s.UpdatePayment(ctx, stale); err != nil {
		t.Fatalf("UpdatePayment: %v", err)
	}
	check("after a payment write", p1.ID, journal.ReconMatched, "alfa/2026-11-30/17", 2)

	// A later run with only the payment's refund: new state, same reference.
	if err := s.SetReconStates(ctx, []journal.ReconMark{{PaymentID: p1.ID, State: journal.ReconMismatch}}); err != nil {
		t.Fatal(err)
	}
	check("refund-only run", p1.ID, journal.ReconMismatch, "alfa/2026-11-30/17", 2)

	// A large batch (several statements): the marks past the first
	// thousand are applied too.
	big := make([]journal.ReconMark, 0, 2500)
	for i := range 2499 {
		big = append(big, journal.ReconMark{PaymentID: fmt.Sprintf("pay_unknown%05d", i), State: journal.ReconMatched})
	}
	big = append(big, journal.ReconMark{PaymentID: p2.ID, State: journal.ReconNotCleared, Ref: "sber/2026-11-30/0"})
	if err := s.SetReconStates(ctx, big); err != nil {
		t.Fatalf("SetReconStates (2500): %v", err)
	}
	check("large batch", p2.ID, journal.ReconNotCleared, "sber/2026-11-30/0", 1)
	if ps, err := s.ListPayments(ctx, journal.PaymentFilter{Bank: "alfa"}); err != nil || len(ps) != 2 {
		t.Fatalf("ListPayments: %d %v", len(ps), err)
	} else {
		for _, p := range ps {
			if p.ID == p1.ID && (p.ReconState != journal.ReconMismatch || p.ReconRef != "alfa/2026-11-30/17") {
				t.Errorf("ListPayments: %+v", p)
			}
		}
	}

	// Refused whole: nothing of the call is applied.
	for _, bad := range [][]journal.ReconMark{
		{{PaymentID: p2.ID, State: journal.ReconMatched}, {PaymentID: p1.ID}},
		{{PaymentID: p2.ID, State: journal.ReconMatched, Ref: "4000000000000010"}},
		{{PaymentID: p2.ID, State: journal.ReconMatched, Ref: strings.Repeat("x", 200)}},
		make([]journal.ReconMark, journal.MaxReconMarks+1),
	} {
		if err := s.SetReconStates(ctx, bad); !errors.Is(err, journal.ErrInvalid) {
			t.Errorf("bad marks (%d): err %v, want ErrInvalid", len(bad), err)
		}
	}
	check("after refused marks", p2.ID, journal.ReconNotCleared, "sber/2026-11-30/0", 1)
	if err := s.SetReconStates(ctx, nil); err != nil {
		t.Errorf("no marks: %v", err)
	}
}
