package chaos

import (
	"context"
	"fmt"
	"sort"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// Told is what the upstream was told about one request (the load
// generator's record). A request that got no answer (the switch was
// killed) is not Told anything and is judged by the journal alone.
type Told struct {
	Kind      string // authorize, capture, void, refund
	RequestID string
	PaymentID string
	Status    string // approved | declined (payment or refund status after the call)
	StandIn   bool
	RefundID  string
	Amount    int64
}

// Report is the outcome of comparing a journal with the banks' ledgers.
type Report struct {
	Payments   int // payments in the journal
	Approved   int // approved or voided (the bank holds or held them)
	Declined   int
	StandIn    int
	Reversals  int // switch-initiated reversals acknowledged
	Refunds    int
	Dead       int // SAF items in dead-letter
	Mismatches []string
	// MismatchedPayments counts payments (and bank transactions unknown to
	// the switch) with at least one discrepancy.
	MismatchedPayments int
}

type ledgerKey struct{ bank, rrn string }

// Compare checks payment by payment that the journal and the banks'
// ledgers agree, and that what the upstream was told matches both:
//
//   - every authorization attempt the journal does not hold as the
//     payment's approval is absent or reversed at its bank (every approval
//     the upstream was told was declined is reversed);
//   - the payment's approval (or stand-in advice) is at the bank with the
//     journal's money state: reversed when voided, the remaining amount
//     after partial voids, the captured amount, each refund;
//   - no operation is left pending or queued, no SAF item is left owed;
//   - every bank transaction is known to the journal.
func Compare(ctx context.Context, store journal.Store, ledgers map[string][]ledger.Txn, told []Told) (*Report, error) {
	r := &Report{}
	byRRN := map[ledgerKey][]ledger.Txn{}
	for bank, txns := range ledgers {
		for _, t := range txns {
			k := ledgerKey{bank, t.RRN}
			byRRN[k] = append(byRRN[k], t)
		}
	}
	known := map[ledgerKey]bool{}
	bad := map[string]bool{}
	fail := func(id, format string, args ...any) {
		r.Mismatches = append(r.Mismatches, id+": "+fmt.Sprintf(format, args...))
		bad[id] = true
	}

	payments := map[string]*journal.Payment{}
	opsOf := map[string][]*journal.Operation{}
	after := ""
	for {
		page, err := store.ListPayments(ctx, journal.PaymentFilter{AfterID: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("listing journal payments: %w", err)
		}
		for _, p := range page {
			payments[p.ID] = p
			ops, err := store.ListOperations(ctx, p.ID)
			if err != nil {
				return nil, fmt.Errorf("listing operations of %s: %w", p.ID, err)
			}
			opsOf[p.ID] = ops
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	ids := make([]string, 0, len(payments))
	for id := range payments {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	for _, id := range ids {
		p, ops := payments[id], opsOf[id]
		r.Payments++
		switch {
		case p.Status == journal.PaymentApproved || p.Status == journal.PaymentVoided:
			r.Approved++
		case p.Status == journal.PaymentDeclined:
			r.Declined++
		default:
			fail(id, "payment left %s", p.Status)
		}
		if p.StandIn {
			r.StandIn++
		}
		var live *journal.Operation // the op that put the payment on the bank's books
		for _, o := range ops {
			known[ledgerKey{o.Bank, o.RRN}] = true
			switch o.Status {
			case journal.OpPending, journal.OpSent, journal.OpQueued:
				fail(id, "%s %s left %s", o.Kind, o.ID, o.Status)
			}
			switch o.Kind {
			case journal.OpAuthorization:
				if o.Status == journal.OpApproved && p.Status != journal.PaymentDeclined && !p.StandIn {
					live = o
					continue
				}
				// Never the payment's approval: nothing may stand at the bank.
				for _, t := range byRRN[ledgerKey{o.Bank, o.RRN}] {
					if !t.StandIn && t.State != ledger.StateReversed {
						fail(id, "authorization %s (%s STAN %s, %s) not held by the switch is %s at the bank", o.ID, o.Bank, o.STAN, o.Status, t.State)
					}
				}
			case journal.OpAdvice:
				if p.StandIn && p.Status != journal.PaymentDeclined {
					live = o
				}
			case journal.OpReversal:
				if o.Status == journal.OpAcknowledged {
					r.Reversals++
				}
			}
		}
		if live == nil {
			if p.Status != journal.PaymentDeclined {
				fail(id, "%s payment has no approving operation", p.Status)
			}
			continue
		}
		t, ok := findTxn(byRRN[ledgerKey{live.Bank, live.RRN}], p.StandIn)
		if !ok {
			fail(id, "%s %s (%s RRN %s) is not at the bank", p.Status, live.Kind, live.Bank, live.RRN)
			continue
		}
		if p.StandIn && live.Status != journal.OpAcknowledged {
			fail(id, "stand-in advice %s is %s", live.ID, live.Status)
		}
		checkMoney(p, ops, t, fail, r)
	}
	for k, txns := range byRRN {
		if !known[k] {
			for _, t := range txns {
				fail("bank:"+k.bank+":"+k.rrn, "bank holds a %s %s (STAN %s) the switch's journal does not know", t.Kind, t.State, t.STAN)
			}
		}
	}
	checkTold(payments, opsOf, told, fail)

	dead, err := store.ListSAF(ctx, journal.SAFFilter{States: []journal.SAFState{journal.SAFQueued, journal.SAFInProgress, journal.SAFDead}})
	if err != nil {
		return nil, fmt.Errorf("listing SAF items: %w", err)
	}
	for _, it := range dead {
		if it.State == journal.SAFDead {
			r.Dead++
		}
		// An item still listed is a debt not known to be settled, unless
		// its operation was acknowledged and only the worker's final write
		// is missing.
		op, err := store.GetOperation(ctx, it.OperationID)
		if err != nil {
			return nil, fmt.Errorf("reading operation of SAF item %s: %w", it.ID, err)
		}
		if op.Status != journal.OpAcknowledged && op.Status != journal.OpApproved {
			fail(it.PaymentID, "SAF %s %s left %s (%s): %s", it.Kind, it.ID, it.State, op.Status, it.LastError)
		}
	}
	r.MismatchedPayments = len(bad)
	sort.Strings(r.Mismatches)
	return r, nil
}

// findTxn picks the bank transaction of an RRN that is the payment's: the
// stand-in advice's record, or the authorization's.
func findTxn(txns []ledger.Txn, standIn bool) (ledger.Txn, bool) {
	for _, t := range txns {
		if t.StandIn == standIn {
			return t, true
		}
	}
	return ledger.Txn{}, false
}

// checkMoney compares the payment's money state with its bank transaction.
func checkMoney(p *journal.Payment, ops []*journal.Operation, t ledger.Txn, fail func(string, string, ...any), r *Report) {
	id := p.ID
	if t.Amount != p.Amount {
		fail(id, "amount %d at the switch, %d at the bank", p.Amount, t.Amount)
	}
	if p.Status == journal.PaymentVoided {
		if t.State != ledger.StateReversed {
			fail(id, "voided at the switch, %s at the bank", t.State)
		}
		return
	}
	if t.State == ledger.StateReversed {
		fail(id, "approved at the switch, reversed at the bank")
		return
	}
	if want := p.Amount - p.VoidedAmount; t.Authorized != want {
		fail(id, "authorized %d at the switch (voided %d), %d at the bank", want, p.VoidedAmount, t.Authorized)
	}
	switch {
	case p.CapturedAmount > 0 && t.Completion == nil:
		fail(id, "captured %d at the switch, not completed at the bank", p.CapturedAmount)
	case p.CapturedAmount > 0 && t.Completion.Amount != p.CapturedAmount:
		fail(id, "captured %d at the switch, %d at the bank", p.CapturedAmount, t.Completion.Amount)
	case p.CapturedAmount == 0 && t.Completion != nil:
		fail(id, "not captured at the switch, completed %d at the bank", t.Completion.Amount)
	}
	if got := t.Refunded(); got != p.RefundedAmount {
		fail(id, "refunded %d at the switch, %d at the bank", p.RefundedAmount, got)
	}
	for _, o := range ops {
		if o.Kind != journal.OpRefund {
			continue
		}
		standing := false
		for _, f := range t.Refunds {
			if f.RRN == o.RRN && !f.Reversed {
				standing = true
			}
		}
		ok := o.Status == journal.OpApproved || o.Status == journal.OpAcknowledged
		if ok {
			r.Refunds++
		}
		if ok != standing {
			fail(id, "refund %s is %s at the switch, standing=%v at the bank", o.ID, o.Status, standing)
		}
	}
}

// checkTold compares what the upstream was told with the journal (the
// ledger checks then carry it to the bank).
func checkTold(payments map[string]*journal.Payment, opsOf map[string][]*journal.Operation, told []Told, fail func(string, string, ...any)) {
	for _, t := range told {
		p, ok := payments[t.PaymentID]
		if !ok {
			fail(t.PaymentID, "upstream was told %s %s for a payment the journal does not hold", t.Kind, t.Status)
			continue
		}
		switch t.Kind {
		case "authorize":
			declined := p.Status == journal.PaymentDeclined
			if (t.Status == "declined") != declined {
				fail(p.ID, "upstream told %s, journal says %s", t.Status, p.Status)
			}
			if t.StandIn != p.StandIn {
				fail(p.ID, "upstream told stand_in=%v, journal %v", t.StandIn, p.StandIn)
			}
		case "void":
			if p.VoidedAmount < t.Amount {
				fail(p.ID, "upstream told a void of %d succeeded, journal voided %d", t.Amount, p.VoidedAmount)
			}
		case "capture":
			if p.CapturedAmount != t.Amount {
				fail(p.ID, "upstream told a capture of %d succeeded, journal captured %d", t.Amount, p.CapturedAmount)
			}
		case "refund":
			var op *journal.Operation
			for _, o := range opsOf[p.ID] {
				if o.ID == t.RefundID {
					op = o
				}
			}
			switch {
			case op == nil:
				fail(p.ID, "refund %s told %s is not in the journal", t.RefundID, t.Status)
			case t.Status == "approved" && op.Status != journal.OpApproved && op.Status != journal.OpAcknowledged:
				fail(p.ID, "refund %s told approved is %s", t.RefundID, op.Status)
			case t.Status == "declined" && (op.Status == journal.OpApproved || op.Status == journal.OpAcknowledged):
				fail(p.ID, "refund %s told declined is %s", t.RefundID, op.Status)
			}
		}
	}
}
