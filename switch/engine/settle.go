package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// reversalCovers reports whether a reversal of operation opID already
// covers a possible approval: one still owed (queued, in progress, or
// parked for an operator) or one the bank acknowledged with 00. A reversal
// the bank answered 25 does not: the bank did not know the transaction
// yet, and an approval that reached it later stands.
func reversalCovers(all []*journal.Operation, opID string) bool {
	for _, o := range all {
		if o.Kind == journal.OpReversal && o.RefOperationID == opID &&
			(o.Status != journal.OpAcknowledged || o.ResponseCode == "00") {
			return true
		}
	}
	return false
}

// answer is what the bank said to one attempt, for settleAfterConflict.
type answer struct {
	responseCode, bankResponseCode, authCode string
	// maybeApproved: the bank approved, or its answer could not be read
	// (it may be an approval).
	maybeApproved bool
	note          string
}

// settleAfterConflict runs when recording the outcome of an attempt failed
// with a version conflict: another process (a peer's Recover, which does
// not know this process is alive) settled the operation meanwhile —
// declined it and queued a reversal. The payment stays as journaled (the
// gateway is answered from it), the bank's answer is recorded on the
// operation, and when that answer may be an approval a reversal is made
// sure of: none is queued unless one already covers it (reversalCovers).
// A late approval is never left standing.
func (e *Engine) settleAfterConflict(ctx context.Context, b *Bank, opID string, a answer) error {
	var last error
	for range 3 {
		cur, err := e.store.GetOperation(ctx, opID)
		if err != nil {
			return fmt.Errorf("re-reading operation %s after a version conflict: %w", opID, err)
		}
		switch cur.Status {
		case journal.OpApproved, journal.OpDeclined:
			return nil // the answer is recorded already
		case journal.OpPending, journal.OpSent:
			// Not settled by anyone: the conflict is elsewhere on the
			// payment. Nothing to decide here; Recover settles it.
			return fmt.Errorf("recording the answer to %s: %w", opID, journal.ErrVersionConflict)
		}
		cur.ResponseCode, cur.BankResponseCode, cur.AuthCode = a.responseCode, a.bankResponseCode, a.authCode
		cur.LastError = a.note
		muts := []journal.Mutation{journal.SaveOperation(cur)}
		if a.maybeApproved {
			all, err := e.store.ListOperations(ctx, cur.PaymentID)
			if err != nil {
				return fmt.Errorf("reading operations of %s: %w", cur.PaymentID, err)
			}
			if !reversalCovers(all, cur.ID) {
				p, err := e.store.GetPayment(ctx, cur.PaymentID)
				if err != nil {
					return fmt.Errorf("reading payment %s: %w", cur.PaymentID, err)
				}
				rev, item, err := e.reversalDebt(ctx, b, p, cur, cur.Amount, nil)
				if err != nil {
					return err
				}
				muts = append(muts, journal.InsertOperation(rev), journal.EnqueueSAF(item))
				e.log.Error().Str("payment", cur.PaymentID).Str("operation", cur.ID).Str("bank", b.Name).Str("stan", cur.STAN).
					Msg("approval arrived after the operation was settled elsewhere and its reversal ended: queueing a new reversal")
			}
		}
		last = e.store.Write(ctx, muts...)
		if last == nil {
			outcome := "declined"
			if a.maybeApproved {
				outcome = "approved"
			}
			e.m.late.WithLabelValues(b.Name, outcome).Inc()
			e.log.Warn().Str("payment", cur.PaymentID).Str("operation", cur.ID).Str("bank", b.Name).Str("code", a.responseCode).
				Msg("answer arrived after the operation was settled by recovery; recorded on the operation")
			return nil
		}
		if !errors.Is(last, journal.ErrVersionConflict) {
			break
		}
	}
	return fmt.Errorf("recording the answer to %s after a version conflict: %w", opID, last)
}
