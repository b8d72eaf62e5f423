package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/standin"
)

// visaToSber sends the test Visa range to Bank B only (no failover).
const visaToSber = `version: 1
rules:
  - name: visa-sber-only
    match:
      bins: ["400000-400099"]
    banks: [sber]
  - name: default
    banks: [alfa]
`

// takeDown makes a bank refuse connections and waits until its link is
// unusable, so that the next authorization stands in.
func takeDown(t *testing.T, h *harness, sim *banksim.Sim, usable func() bool) {
	t.Helper()
	if err := sim.SetFaults(banksim.Faults{RefuseConnections: true}); err != nil {
		t.Fatal(err)
	}
	sim.DropConnections()
	deadline := time.Now().Add(5 * time.Second)
	for usable() {
		if time.Now().After(deadline) {
			t.Fatal("link never became unusable")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Bank B takes a refund as an advice: a refund of a stand-in approval whose
// advice is still queued is accepted (approved once stored), not refused as
// 503, and reaches the bank behind the stand-in advice.
func TestBankBRefundOfQueuedStandInIsQueuedBehindTheAdvice(t *testing.T) {
	h := newHarness(t, harnessOpts{routes: visaToSber, configure: func(h *harness, c *Config) {
		c.StandIn = standInPolicy(t, h.store, map[string]standin.BankConfig{"sber": alfaStandIn})
	}})
	takeDown(t, h, h.simB, h.linkB.Usable)
	p := h.authorize(purchaseInput("si-b", TypePurchase, 40010, "4000000000000010"))
	if !p.StandIn || p.Status != journal.PaymentApproved || p.Bank != "sber" {
		t.Fatalf("not stood in at sber: %+v", p.Payment)
	}
	ref, err := h.eng.Refund(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(10000)})
	if err != nil {
		t.Fatalf("refund of a queued stand-in approval: %v", err)
	}
	if ref.Status != "approved" || ref.Amount != 10000 {
		t.Fatalf("refund %+v", ref)
	}
	refOp, err := h.store.GetOperation(h.ctx, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	if refOp.Status != journal.OpQueued || refOp.Attempts != 0 {
		t.Fatalf("refund operation %s attempts %d, want queued and never sent", refOp.Status, refOp.Attempts)
	}
	if got := len(safItems(t, h, p.ID)); got != 2 {
		t.Fatalf("%d SAF items, want the stand-in advice and the refund advice", got)
	}
	if err := h.simB.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !h.linkB.Usable() {
		if time.Now().After(deadline) {
			t.Fatal("link sber never came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID)) == 0 })
	adv := h.op(p.ID, journal.OpAdvice)[0]
	refOp, err = h.store.GetOperation(h.ctx, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	if adv.Status != journal.OpAcknowledged || refOp.Status != journal.OpAcknowledged {
		t.Fatalf("advice %s, refund %s; want both acknowledged", adv.Status, refOp.Status)
	}
	msgs, err := h.store.ListMessages(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range msgs {
		if m.Direction == journal.DirOut {
			order = append(order, m.OperationID)
		}
	}
	if len(order) < 2 || order[0] != adv.ID || order[len(order)-1] != ref.ID {
		t.Fatalf("sent in order %v, want the stand-in advice %s first and the refund %s last", order, adv.ID, ref.ID)
	}
}

// Bank A's refund is an online 0200 the bank decides against the original:
// before the stand-in advice reached the bank it is refused as 409
// invalid_state (a payment-state condition), never 503 overloaded.
func TestBankARefundOfQueuedStandInIsInvalidState(t *testing.T) {
	h := newHarness(t, harnessOpts{deadA: true, routes: visaToAlfa, configure: func(h *harness, c *Config) {
		c.StandIn = standInPolicy(t, h.store, map[string]standin.BankConfig{"alfa": alfaStandIn})
	}})
	p := h.authorize(purchaseInput("si-a", TypePurchase, 40010, "4000000000000010"))
	if !p.StandIn || p.Status != journal.PaymentApproved {
		t.Fatalf("not stood in: %+v", p.Payment)
	}
	_, err := h.eng.Refund(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(10000)})
	if KindOf(err) != KindInvalidState {
		t.Fatalf("refund error %v (kind %v), want invalid_state", err, KindOf(err))
	}
	if !strings.Contains(err.Error(), "stand-in advice has not reached the bank yet") {
		t.Fatalf("message %q does not say why", err)
	}
	if n := len(h.op(p.ID, journal.OpRefund)); n != 0 {
		t.Fatalf("%d refund operations recorded, want none", n)
	}
	cur, err := h.store.GetPayment(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.RefundedAmount != 0 {
		t.Fatalf("refunded amount %d reserved by a refused refund", cur.RefundedAmount)
	}
}

// A Bank A refund of a captured preauth whose completion the bank has not
// acknowledged yet is a payment-state condition too: 409 invalid_state.
func TestBankARefundBeforeCompletionAckIsInvalidState(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond, routes: visaToAlfa})
	p := h.authorize(purchaseInput("cap-a", TypePreauth, 50000, "4000000000000010"))
	if p.Bank != "alfa" || p.Status != journal.PaymentApproved {
		t.Fatalf("preauth %s at %s", p.Status, p.Bank)
	}
	if err := h.simA.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Capture(h.ctx, OperationInput{PaymentID: p.ID}); err != nil {
		t.Fatalf("capture while silent: %v", err)
	}
	_, err := h.eng.Refund(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(10000)})
	if KindOf(err) != KindInvalidState || !strings.Contains(err.Error(), "capture has not been acknowledged") {
		t.Fatalf("refund error %v (kind %v), want invalid_state about the capture", err, KindOf(err))
	}
}

// A completion the bank acknowledged on the synchronous attempt leaves no
// phantom SAF item: the item is made due at once and the worker's next
// pass finishes it.
func TestAcknowledgedCaptureItemFinishedOnNextPass(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	p := h.authorize(purchaseInput("cap-ack", TypePreauth, 80000, "5100000000000008"))
	if p.Bank != "sber" || p.Status != journal.PaymentApproved {
		t.Fatalf("preauth %s at %s", p.Status, p.Bank)
	}
	if _, err := h.eng.Capture(h.ctx, OperationInput{PaymentID: p.ID}); err != nil {
		t.Fatal(err)
	}
	capOp := h.op(p.ID, journal.OpCapture)[0]
	if capOp.Status != journal.OpAcknowledged {
		t.Fatalf("capture %s, want acknowledged on the synchronous attempt", capOp.Status)
	}
	items := safItems(t, h, p.ID)
	if len(items) != 1 || items[0].State != journal.SAFQueued || items[0].NextAttemptAt.After(time.Now()) {
		t.Fatalf("items %+v, want one item due now", items)
	}
	n, err := h.eng.ProcessSAF(h.ctx, 16)
	if err != nil || n != 1 {
		t.Fatalf("worker pass finished %d items (%v), want 1", n, err)
	}
	if left := safItems(t, h, p.ID); len(left) != 0 {
		t.Fatalf("%d SAF items left after the worker's pass", len(left))
	}
	if got := safItems(t, h, p.ID, journal.SAFDone); len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("done items %+v", got)
	}
}

// A queued operation shows the attempts and next attempt of the SAF item
// that sends it, not the operation's own counters.
func TestQueuedOperationScheduleComesFromItsSAFItem(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond})
	p := h.authorize(purchaseInput("cap-q", TypePreauth, 80000, "5100000000000008"))
	if err := h.simB.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Capture(h.ctx, OperationInput{PaymentID: p.ID}); err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		got, err := h.eng.Get(h.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		items := safItems(t, h, p.ID)
		if len(items) != 1 {
			t.Fatalf("%s: %d SAF items", stage, len(items))
		}
		var capOp *journal.Operation
		for _, o := range got.Operations {
			if o.Kind == journal.OpCapture {
				capOp = o
			}
		}
		if capOp == nil || capOp.Status != journal.OpQueued {
			t.Fatalf("%s: capture operation %+v", stage, capOp)
		}
		if capOp.Attempts != items[0].Attempts || !capOp.NextAttemptAt.Equal(items[0].NextAttemptAt) {
			t.Fatalf("%s: operation shows attempts %d next %v, SAF item %d next %v", stage,
				capOp.Attempts, capOp.NextAttemptAt, items[0].Attempts, items[0].NextAttemptAt)
		}
	}
	check("after the synchronous attempt")
	if stored := h.op(p.ID, journal.OpCapture)[0]; stored.Attempts != 1 {
		t.Fatalf("the synchronous attempt was not counted on the operation: %d", stored.Attempts)
	}
	items := safItems(t, h, p.ID)
	if err := h.store.MakeDue(h.ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.ProcessSAF(h.ctx, 16); err != nil {
		t.Fatal(err)
	}
	check("after a worker attempt")
}
