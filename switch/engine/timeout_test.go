package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// A lost response (amount rule 99: approved and recorded at the host, never
// answered) must decline with issuer_unavailable, leave a reversal queued
// in the journal before Authorize returns, never fail over to another bank,
// and be reversed at the host by the SAF worker.
func TestTimeoutQueuesReversal(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond})
	for _, c := range []struct {
		bank, pan, mti string
		amount         int64
	}{{"alfa", "4000000000000010", "0400", 10099}, {"sber", "5100000000000008", "0420", 20099}} {
		t.Run(c.bank, func(t *testing.T) {
			p := h.authorize(purchaseInput("to-"+c.bank, TypePurchase, c.amount, c.pan))
			if p.Status != journal.PaymentDeclined || p.Reason != "issuer_unavailable" || p.ReasonCode != 5091 || p.ResponseCode != "91" {
				t.Fatalf("payment = %s %s %d %s", p.Status, p.Reason, p.ReasonCode, p.ResponseCode)
			}
			if p.Bank != c.bank {
				t.Fatalf("bank %s: a maybe-sent request must not fail over", p.Bank)
			}
			other := map[string]string{"alfa": "sber", "sber": "alfa"}[c.bank]
			for _, tx := range ledgerOf(h, other).Snapshot() {
				if tx.Amount == c.amount {
					t.Fatalf("the request reached %s after a timeout at %s", other, c.bank)
				}
			}
			auth := h.op(p.ID, journal.OpAuthorization)
			revs := h.op(p.ID, journal.OpReversal)
			if len(auth) != 1 || auth[0].Status != journal.OpTimeout {
				t.Fatalf("authorization ops %+v", auth)
			}
			if len(revs) != 1 || revs[0].Status != journal.OpQueued || revs[0].RefOperationID != auth[0].ID || revs[0].RRN != p.RRN {
				t.Fatalf("reversal ops %+v", revs)
			}
			items, err := h.store.ListSAF(h.ctx, journal.SAFFilter{PaymentID: p.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 || items[0].Kind != journal.SAFReversal || items[0].State != journal.SAFQueued || items[0].OperationID != revs[0].ID {
				t.Fatalf("SAF items %+v", items)
			}
			if strings.Contains(string(items[0].Payload), c.pan) {
				t.Fatal("SAF payload holds the PAN")
			}
			txn, ok := ledgerOf(h, c.bank).ByRRN(p.RRN)
			if !ok || txn.State == ledger.StateReversed {
				t.Fatalf("host should hold the unanswered approval: %+v", txn)
			}
			// The worker sends the reversal; the host acknowledges it.
			n, err := h.eng.ProcessSAF(h.ctx, 10)
			if err != nil || n != 1 {
				t.Fatalf("ProcessSAF = %d, %v", n, err)
			}
			txn, _ = ledgerOf(h, c.bank).ByRRN(p.RRN)
			if txn.State != ledger.StateReversed {
				t.Fatalf("host state after reversal: %s", txn.State)
			}
			revs = h.op(p.ID, journal.OpReversal)
			if revs[0].Status != journal.OpAcknowledged || revs[0].MTI != c.mti || revs[0].Attempts != 1 {
				t.Fatalf("reversal op after send %+v", revs[0])
			}
			items, _ = h.store.ListSAF(h.ctx, journal.SAFFilter{PaymentID: p.ID, States: []journal.SAFState{journal.SAFDone}})
			if len(items) != 1 {
				t.Fatalf("SAF item not done: %+v", items)
			}
			// Nothing is allowed on the declined payment.
			_, err = h.eng.Void(h.ctx, OperationInput{PaymentID: p.ID})
			wantState(t, err, "declined")
		})
	}
}

// A reversal the host does not answer is repeated (0401/0421) with the
// first attempt's STAN until acknowledged.
func TestReversalRepeatedUntilAcknowledged(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond})
	p := h.authorize(purchaseInput("rep", TypePurchase, 10099, "4000000000000010"))
	if p.Status != journal.PaymentDeclined {
		t.Fatalf("status %s", p.Status)
	}
	if err := h.simA.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.eng.ProcessSAF(h.ctx, 10); n != 0 {
		t.Fatalf("acknowledged while the host is silent")
	}
	rev := h.op(p.ID, journal.OpReversal)[0]
	firstSTAN := rev.STAN
	if rev.Attempts != 1 || rev.Status != journal.OpQueued || rev.MTI != "0400" {
		t.Fatalf("after a silent attempt: %+v", rev)
	}
	if err := h.simA.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := h.eng.ProcessSAF(h.ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reversal never acknowledged")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rev = h.op(p.ID, journal.OpReversal)[0]
	if rev.STAN != firstSTAN || rev.MTI != "0401" || rev.Status != journal.OpAcknowledged || rev.Attempts < 2 {
		t.Fatalf("repeat: %+v (first STAN %s)", rev, firstSTAN)
	}
	txn, _ := h.simA.Ledger().ByRRN(p.RRN)
	if txn.State != ledger.StateReversed {
		t.Fatalf("host state %s", txn.State)
	}
}

// A late approval (rule 98) after the timeout is recorded on the operation
// and its reversal stays queued; the worker then reverses it.
func TestLateApprovalIsReversed(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 200 * time.Millisecond, lateDelay: 600 * time.Millisecond})
	p := h.authorize(purchaseInput("late", TypePurchase, 10098, "4000000000000010"))
	if p.Status != journal.PaymentDeclined || p.Reason != "issuer_unavailable" {
		t.Fatalf("payment %s %s", p.Status, p.Reason)
	}
	// Keep the reversal from being sent before the late answer arrives, so
	// that the late answer meets a timed-out operation.
	deadline := time.Now().Add(5 * time.Second)
	var auth *journal.Operation
	for {
		auth = h.op(p.ID, journal.OpAuthorization)[0]
		if strings.Contains(auth.LastError, "late response") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("late response never recorded (unsolicited seen: %d): %+v", h.unsols.Load(), auth)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if auth.Status != journal.OpTimeout || auth.ResponseCode != "00" || len(auth.AuthCode) != 6 {
		t.Fatalf("late outcome %+v", auth)
	}
	got, _ := h.eng.Get(h.ctx, p.ID)
	if got.Status != journal.PaymentDeclined {
		t.Fatalf("late approval changed the payment to %s", got.Status)
	}
	items, _ := h.store.ListSAF(h.ctx, journal.SAFFilter{PaymentID: p.ID})
	if len(items) != 1 || items[0].State != journal.SAFQueued {
		t.Fatalf("reversal not queued after the late approval: %+v", items)
	}
	if n, err := h.eng.ProcessSAF(h.ctx, 10); n != 1 || err != nil {
		t.Fatalf("ProcessSAF = %d, %v", n, err)
	}
	txn, _ := h.simA.Ledger().ByRRN(p.RRN)
	if txn.State != ledger.StateReversed {
		t.Fatalf("host state %s", txn.State)
	}
}
