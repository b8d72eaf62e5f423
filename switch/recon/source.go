package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// Txn is a journal payment in the shape reconciliation needs: its keys,
// its money state, and (when the payment has any) its completion and
// refunds. Card data is the masked PAN only.
type Txn struct {
	PaymentID  string
	Type       journal.PaymentType
	Status     journal.PaymentStatus
	MerchantID string
	TerminalID string
	MaskedPAN  string
	Currency   string // alpha-3
	RRN        string // DE37 of the authorization
	STAN       string // DE11 of the authorization
	AuthCode   string
	// LocalTime is DE12/13 of the authorization as an instant; the bank's
	// zone is applied by the reconciler.
	LocalTime time.Time

	Amount   int64
	Captured int64
	Voided   int64
	Refunded int64

	// OpsLoaded is set once Completion, Refunds and Reversed reflect the
	// payment's operations.
	OpsLoaded bool
	// Completion is the capture (0220) of a pre-authorization, nil if none
	// happened (declined or failed captures are not kept).
	Completion *TxnOp
	// Refunds are the refunds that happened (approved, acknowledged or
	// still being repeated as an advice), not those declined or reversed.
	Refunds []TxnOp
	// Reversed is set when a reversal or void of the authorization reached
	// or is owed to the bank.
	Reversed bool
}

// TxnOp is a completion or refund of a payment.
type TxnOp struct {
	ID        string
	RRN       string // a refund's own RRN; a completion's is the payment's
	STAN      string // the operation's own DE11
	LocalTime time.Time
	Amount    int64
}

// Source is what reconciliation reads from the journal. It is defined here,
// by its consumer; JournalSource implements it over journal.Store.
type Source interface {
	// ScanTxns calls fn for every payment of bank journaled in [from, to),
	// in any order. Payments with a capture, a refund or a void come with
	// their operations loaded.
	ScanTxns(ctx context.Context, bank string, from, to time.Time, fn func(*Txn) error) error
	// LoadOperations fills t's operation-derived fields when OpsLoaded is
	// false (needed only for the rare declined payment a bank cleared).
	LoadOperations(ctx context.Context, t *Txn) error
}

// PaymentReader is the part of journal.Store that JournalSource uses.
type PaymentReader interface {
	ListPayments(ctx context.Context, f journal.PaymentFilter) ([]*journal.Payment, error)
	ListOperations(ctx context.Context, paymentID string) ([]*journal.Operation, error)
}

// JournalSource reads transactions through the journal's public Store
// methods: payments by bank and creation time with keyset pagination, and
// operations per payment for the few payments that have more than their
// authorization.
type JournalSource struct {
	Store PaymentReader
	// PageSize is the number of payments per ListPayments call (default
	// and maximum 10000, the journal's bound).
	PageSize int
}

const maxPage = 10000

// ScanTxns implements Source.
func (s JournalSource) ScanTxns(ctx context.Context, bank string, from, to time.Time, fn func(*Txn) error) error {
	page := s.PageSize
	if page <= 0 || page > maxPage {
		page = maxPage
	}
	after := ""
	for {
		ps, err := s.Store.ListPayments(ctx, journal.PaymentFilter{Bank: bank, CreatedFrom: from, CreatedBefore: to, AfterID: after, Limit: page})
		if err != nil {
			return fmt.Errorf("listing payments of %s after %q: %w", bank, after, err)
		}
		for _, p := range ps {
			t := txnOf(p)
			if needsOps(p) {
				if err := s.LoadOperations(ctx, t); err != nil {
					return err
				}
			}
			if err := fn(t); err != nil {
				return err
			}
		}
		if len(ps) < page {
			return nil
		}
		after = ps[len(ps)-1].ID
	}
}

// needsOps: payments whose clearing depends on operations beyond the
// authorization.
func needsOps(p *journal.Payment) bool {
	return p.CapturedAmount > 0 || p.RefundedAmount > 0 || p.VoidedAmount > 0 || p.Status == journal.PaymentVoided
}

func txnOf(p *journal.Payment) *Txn {
	return &Txn{
		PaymentID: p.ID, Type: p.Type, Status: p.Status,
		MerchantID: p.Merchant.ID, TerminalID: p.Merchant.TerminalID, MaskedPAN: p.Card.MaskedPAN,
		Currency: p.Currency, RRN: p.RRN, STAN: p.STAN, AuthCode: p.AuthCode, LocalTime: p.LocalTime,
		Amount: p.Amount, Captured: p.CapturedAmount, Voided: p.VoidedAmount, Refunded: p.RefundedAmount,
	}
}

// LoadOperations implements Source.
func (s JournalSource) LoadOperations(ctx context.Context, t *Txn) error {
	if t.OpsLoaded {
		return nil
	}
	ops, err := s.Store.ListOperations(ctx, t.PaymentID)
	if err != nil {
		return fmt.Errorf("listing operations of %s: %w", t.PaymentID, err)
	}
	applyOps(t, ops)
	return nil
}

// opHappened reports whether an operation reached, or is owed to, the bank
// (declined, failed and timed-out-then-reversed operations did not happen).
func opHappened(st journal.OpStatus) bool {
	switch st {
	case journal.OpApproved, journal.OpAcknowledged, journal.OpQueued, journal.OpSent, journal.OpPending:
		return true
	}
	return false
}

// applyOps derives Completion, Refunds and Reversed from ops (oldest
// first). A reversal or void refers to the operation it undoes: a capture
// or refund in ops, otherwise the authorization (which callers need not
// pass).
func applyOps(t *Txn, ops []*journal.Operation) {
	reversedOps := map[string]bool{}
	secondary := map[string]bool{}
	for _, op := range ops {
		if op.Kind == journal.OpCapture || op.Kind == journal.OpRefund {
			secondary[op.ID] = true
		}
	}
	for _, op := range ops {
		if (op.Kind == journal.OpReversal || op.Kind == journal.OpVoid) && opHappened(op.Status) {
			reversedOps[op.RefOperationID] = true
		}
	}
	t.Completion, t.Refunds, t.Reversed = nil, nil, false
	for _, op := range ops {
		lt := op.LocalTime
		if lt.IsZero() { // not attempted yet: it will carry the time of its first attempt
			lt = op.CreatedAt
		}
		switch op.Kind {
		case journal.OpCapture:
			if opHappened(op.Status) && !reversedOps[op.ID] {
				t.Completion = &TxnOp{ID: op.ID, RRN: op.RRN, STAN: op.STAN, LocalTime: lt, Amount: op.Amount}
			}
		case journal.OpRefund:
			if opHappened(op.Status) && !reversedOps[op.ID] {
				t.Refunds = append(t.Refunds, TxnOp{ID: op.ID, RRN: op.RRN, STAN: op.STAN, LocalTime: lt, Amount: op.Amount})
			}
		case journal.OpReversal, journal.OpVoid:
			// A switch reversal of the authorization, or a void that
			// voided the payment in full, makes a clearing row a break; a
			// partial void of a pre-authorization leaves the rest to be
			// captured.
			if opHappened(op.Status) && !secondary[op.RefOperationID] &&
				(op.Kind == journal.OpReversal || t.Status == journal.PaymentVoided) {
				t.Reversed = true
			}
		}
	}
	if t.Status == journal.PaymentVoided {
		t.Reversed = true
	}
	t.OpsLoaded = true
}
