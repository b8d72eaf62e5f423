package engine

import (
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/journal"
)

func wantState(t *testing.T, err error, text string) {
	t.Helper()
	if KindOf(err) != KindInvalidState {
		t.Fatalf("error = %v, want invalid_state", err)
	}
	if !strings.Contains(err.Error(), text) {
		t.Fatalf("error %q does not say %q", err, text)
	}
}

func TestPreauthCaptureRefunds(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, c := range []struct{ bank, pan string }{{"alfa", "4000000000000010"}, {"sber", "5100000000000008"}} {
		t.Run(c.bank, func(t *testing.T) {
			p := h.authorize(purchaseInput("pre-"+c.bank, TypePreauth, 100000, c.pan))
			if p.Status != journal.PaymentApproved || p.Bank != c.bank {
				t.Fatalf("preauth = %s at %s", p.Status, p.Bank)
			}
			if p.Operations[0].MTI != "0100" {
				t.Fatalf("preauth MTI %s", p.Operations[0].MTI)
			}
			// Refund before capture is refused.
			_, err := h.eng.Refund(h.ctx, OperationInput{Client: "gateway", RequestID: "r0", PaymentID: p.ID, Amount: i64(1)})
			wantState(t, err, "must be captured")
			// Over-capture refused, partial capture accepted.
			_, err = h.eng.Capture(h.ctx, OperationInput{Client: "gateway", RequestID: "c0", PaymentID: p.ID, Amount: i64(100001)})
			wantState(t, err, "exceeds the remaining authorized amount 100000")
			p, err = h.eng.Capture(h.ctx, OperationInput{Client: "gateway", RequestID: "c1", PaymentID: p.ID, Amount: i64(60000)})
			if err != nil {
				t.Fatalf("capture: %v", err)
			}
			if p.CapturedAmount != 60000 || p.Status != journal.PaymentApproved {
				t.Fatalf("after capture: status %s captured %d", p.Status, p.CapturedAmount)
			}
			caps := h.op(p.ID, journal.OpCapture)
			if len(caps) != 1 || caps[0].Status != journal.OpAcknowledged || caps[0].MTI != "0220" || caps[0].RRN != p.RRN || caps[0].Amount != 60000 {
				t.Fatalf("capture op = %+v", caps)
			}
			txn, ok := ledgerOf(h, c.bank).ByRRN(p.RRN)
			if !ok || txn.Completion == nil || txn.Completion.Amount != 60000 || txn.Completion.STAN != caps[0].STAN {
				t.Fatalf("simulator ledger: %+v", txn)
			}
			// One capture per payment; no void after capture.
			_, err = h.eng.Capture(h.ctx, OperationInput{Client: "gateway", RequestID: "c2", PaymentID: p.ID})
			wantState(t, err, "already captured")
			_, err = h.eng.Void(h.ctx, OperationInput{Client: "gateway", RequestID: "v1", PaymentID: p.ID})
			wantState(t, err, "use a refund")

			// Refunds: partial, multiple, up to the captured amount.
			r1, err := h.eng.Refund(h.ctx, OperationInput{Client: "gateway", RequestID: "r1", PaymentID: p.ID, Amount: i64(20000)})
			if err != nil {
				t.Fatalf("refund 1: %v", err)
			}
			r2, err := h.eng.Refund(h.ctx, OperationInput{Client: "gateway", RequestID: "r2", PaymentID: p.ID, Amount: i64(40000)})
			if err != nil {
				t.Fatalf("refund 2: %v", err)
			}
			for _, r := range []*Refund{r1, r2} {
				if r.Status != "approved" || r.ResponseCode != "00" || !strings.HasPrefix(r.ID, "ref_") || !rrnRE.MatchString(r.RRN) || r.RRN == p.RRN {
					t.Fatalf("refund = %+v", r)
				}
			}
			_, err = h.eng.Refund(h.ctx, OperationInput{Client: "gateway", RequestID: "r3", PaymentID: p.ID, Amount: i64(1)})
			wantState(t, err, "exceeds the refundable amount 0")
			got, err := h.eng.Get(h.ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.RefundedAmount != 60000 {
				t.Fatalf("refunded amount %d", got.RefundedAmount)
			}
			txn, _ = ledgerOf(h, c.bank).ByRRN(p.RRN)
			if len(txn.Refunds) != 2 || txn.Refunds[0].Amount+txn.Refunds[1].Amount != 60000 {
				t.Fatalf("simulator refunds: %+v", txn.Refunds)
			}
			refs := h.op(p.ID, journal.OpRefund)
			wantMTI := map[string]string{"alfa": "0200", "sber": "0220"}[c.bank]
			for _, r := range refs {
				if r.MTI != wantMTI || (r.Status != journal.OpApproved && r.Status != journal.OpAcknowledged) {
					t.Fatalf("refund op %+v", r)
				}
			}
		})
	}
}

func TestVoids(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, c := range []struct{ bank, pan, mti string }{{"alfa", "4000000000000010", "0400"}, {"sber", "5100000000000008", "0420"}} {
		t.Run(c.bank+" purchase", func(t *testing.T) {
			p := h.authorize(purchaseInput("vp-"+c.bank, TypePurchase, 50000, c.pan))
			_, err := h.eng.Void(h.ctx, OperationInput{Client: "gateway", PaymentID: p.ID, Amount: i64(10000)})
			wantState(t, err, "only be voided in full")
			_, err = h.eng.Capture(h.ctx, OperationInput{Client: "gateway", PaymentID: p.ID})
			wantState(t, err, "only an approved preauth")
			p, err = h.eng.Void(h.ctx, OperationInput{Client: "gateway", RequestID: "v", PaymentID: p.ID})
			if err != nil {
				t.Fatalf("void: %v", err)
			}
			if p.Status != journal.PaymentVoided || p.VoidedAmount != 50000 {
				t.Fatalf("after void: %s voided %d", p.Status, p.VoidedAmount)
			}
			voids := h.op(p.ID, journal.OpVoid)
			if len(voids) != 1 || voids[0].Status != journal.OpAcknowledged || voids[0].MTI != c.mti || voids[0].RRN != p.RRN {
				t.Fatalf("void op %+v", voids)
			}
			txn, _ := ledgerOf(h, c.bank).ByRRN(p.RRN)
			if txn.State != ledger.StateReversed {
				t.Fatalf("simulator state %s", txn.State)
			}
			_, err = h.eng.Refund(h.ctx, OperationInput{Client: "gateway", PaymentID: p.ID, Amount: i64(1)})
			wantState(t, err, "voided")
			// The SAF item is finished by the worker without a resend.
			if _, err := h.eng.ProcessSAF(h.ctx, 10); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(c.bank+" preauth partial", func(t *testing.T) {
			p := h.authorize(purchaseInput("vpa-"+c.bank, TypePreauth, 100000, c.pan))
			p, err := h.eng.Void(h.ctx, OperationInput{Client: "gateway", PaymentID: p.ID, Amount: i64(30000)})
			if err != nil {
				t.Fatalf("partial void: %v", err)
			}
			if p.Status != journal.PaymentApproved || p.VoidedAmount != 30000 {
				t.Fatalf("after partial void: %s voided %d", p.Status, p.VoidedAmount)
			}
			txn, _ := ledgerOf(h, c.bank).ByRRN(p.RRN)
			if txn.Authorized != 70000 {
				t.Fatalf("simulator authorized %d after partial reversal, want 70000", txn.Authorized)
			}
			p, err = h.eng.Void(h.ctx, OperationInput{Client: "gateway", PaymentID: p.ID, Amount: i64(20000)})
			if err != nil || p.VoidedAmount != 50000 {
				t.Fatalf("second partial void: %v", err)
			}
			_, err = h.eng.Capture(h.ctx, OperationInput{Client: "gateway", PaymentID: p.ID, Amount: i64(50001)})
			wantState(t, err, "remaining authorized amount 50000")
			p, err = h.eng.Capture(h.ctx, OperationInput{Client: "gateway", PaymentID: p.ID})
			if err != nil || p.CapturedAmount != 50000 {
				t.Fatalf("capture of the rest: %v (captured %d)", err, p.CapturedAmount)
			}
			txn, _ = ledgerOf(h, c.bank).ByRRN(p.RRN)
			if txn.Completion == nil || txn.Completion.Amount != 50000 {
				t.Fatalf("simulator completion %+v", txn.Completion)
			}
		})
	}
}

func TestUnknownPaymentAndOtherClient(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	_, err := h.eng.Get(h.ctx, "pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3")
	if KindOf(err) != KindNotFound {
		t.Fatalf("Get unknown = %v", err)
	}
	p := h.authorize(purchaseInput("own", TypePurchase, 1000, "4000000000000010"))
	_, err = h.eng.Void(h.ctx, OperationInput{Client: "other", PaymentID: p.ID})
	if KindOf(err) != KindNotFound {
		t.Fatalf("void by another client = %v", err)
	}
	got, err := h.eng.GetByRequestID(h.ctx, "gateway", "own")
	if err != nil || got.ID != p.ID {
		t.Fatalf("GetByRequestID = %v, %v", got, err)
	}
}
