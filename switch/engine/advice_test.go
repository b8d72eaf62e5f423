package engine

import (
	"sync"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// processUntil runs the SAF worker until n items were acknowledged.
func processUntil(t *testing.T, h *harness, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	done := 0
	for done < n {
		k, err := h.eng.ProcessSAF(h.ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		done += k
		if time.Now().After(deadline) {
			items, _ := h.store.ListSAF(h.ctx, journal.SAFFilter{})
			for _, it := range items {
				op, _ := h.store.GetOperation(h.ctx, it.OperationID)
				t.Logf("open SAF item %s %s state %s attempts %d last error %q; op %+v", it.ID, it.Kind, it.State, it.Attempts, it.LastError, op)
			}
			t.Fatalf("only %d of %d SAF items acknowledged", done, n)
		}
		if done < n {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// With the bank silent, a capture and a Bank B refund are still answered
// (durable once stored) and are repeated as 0221 with the first STAN once
// the bank answers again.
func TestAdvicesDurableWhileBankSilent(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond})
	p := h.authorize(purchaseInput("silent", TypePreauth, 80000, "5100000000000008"))
	if p.Bank != "sber" || p.Status != journal.PaymentApproved {
		t.Fatalf("preauth %s at %s", p.Status, p.Bank)
	}
	if err := h.simB.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
		t.Fatal(err)
	}
	p, err := h.eng.Capture(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(50000)})
	if err != nil {
		t.Fatalf("capture while silent: %v", err)
	}
	if p.CapturedAmount != 50000 {
		t.Fatalf("captured %d", p.CapturedAmount)
	}
	capOp := h.op(p.ID, journal.OpCapture)[0]
	if capOp.Status != journal.OpQueued || capOp.Attempts != 1 || capOp.MTI != "0220" {
		t.Fatalf("capture op %+v", capOp)
	}
	ref, err := h.eng.Refund(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(10000)})
	if err != nil {
		t.Fatalf("refund while silent: %v", err)
	}
	if ref.Status != "approved" {
		t.Fatalf("Bank B refund advice is approved once stored, got %+v", ref)
	}
	if _, ok := h.simB.Ledger().ByRRN(p.RRN); !ok {
		t.Fatal("preauth missing at host")
	}
	if err := h.simB.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	processUntil(t, h, 2)
	capOp2 := h.op(p.ID, journal.OpCapture)[0]
	if capOp2.Status != journal.OpAcknowledged || capOp2.MTI != "0221" || capOp2.STAN != capOp.STAN {
		t.Fatalf("repeated capture %+v (first STAN %s)", capOp2, capOp.STAN)
	}
	txn, _ := h.simB.Ledger().ByRRN(p.RRN)
	if txn.Completion == nil || txn.Completion.Amount != 50000 || len(txn.Refunds) != 1 || txn.Refunds[0].Amount != 10000 {
		t.Fatalf("host after repeats: completion %+v refunds %+v", txn.Completion, txn.Refunds)
	}
	items, err := h.store.ListSAF(h.ctx, journal.SAFFilter{PaymentID: p.ID})
	if err != nil || len(items) != 0 {
		t.Fatalf("open SAF items left: %+v %v", items, err)
	}
}

// Concurrent refunds never exceed the refundable amount.
func TestConcurrentRefunds(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	p := h.authorize(purchaseInput("conc", TypePurchase, 10000, "4000000000000010"))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.eng.Refund(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(4000)})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case KindOf(err) != KindInvalidState:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 2 {
		t.Fatalf("%d refunds of 4000 on 10000 succeeded, want 2", ok)
	}
	got, _ := h.eng.Get(h.ctx, p.ID)
	if got.RefundedAmount != 8000 {
		t.Fatalf("refunded %d", got.RefundedAmount)
	}
}

// RunSAF reverses an unanswered authorization in the background.
func TestRunSAFWorker(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond})
	p := h.authorize(purchaseInput("bg", TypePurchase, 30099, "4000000000000010"))
	ctx, cancel := contextWithCancel(h)
	done := make(chan error, 1)
	go func() { done <- h.eng.RunSAF(ctx, 50*time.Millisecond, 8) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if revs := h.op(p.ID, journal.OpReversal); len(revs) == 1 && revs[0].Status == journal.OpAcknowledged {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background worker never reversed the payment")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("RunSAF returned nil after cancel")
	}
}
