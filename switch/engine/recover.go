package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// Recover settles the operations a crash left between the journal and the
// bank: authorizations and online refunds still "pending" (journaled, maybe
// sent, never answered). Each is treated as unanswered: its payment (or
// refund) is declined issuer_unavailable and a reversal is queued, in one
// write — the same as a timeout. Only operations created before
// now-olderThan are touched, and never one this process is still working
// on (its in-flight set); olderThan must exceed the longest life of an
// attempt (SAFPolicy.RecoverAfter). Queued reversals and advices need
// nothing: the SAF worker owns them.
//
// One operation that cannot be settled (unknown bank, unreadable row, a
// journal error) never blocks the others: it is logged and counted
// (h2hswitch_engine_recover_failures_total), recovery pages past it and
// the next run retries it. It returns how many operations it settled; the
// error is a listing failure or the context's.
func (e *Engine) Recover(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan <= 0 {
		return 0, invalidInput("olderThan", "recovery needs a positive age")
	}
	before := e.now().Add(-olderThan)
	statuses := []journal.OpStatus{journal.OpPending, journal.OpSent}
	n, failed := 0, 0
	var cur journal.OpCursor
	for {
		ops, err := e.store.ListOperationsByStatusAfter(ctx, statuses, before, cur, e.recoverPage)
		if err != nil {
			return n, fmt.Errorf("listing unfinished operations: %w", err)
		}
		for _, op := range ops {
			cur = journal.OpCursor{CreatedAt: op.CreatedAt, ID: op.ID}
			if e.isInFlight(op.ID) {
				continue // this process is still waiting for its answer
			}
			done, err := e.recoverOp(ctx, op)
			if errors.Is(err, journal.ErrVersionConflict) {
				// Settled meanwhile: its owner recorded the answer late, or
				// another process recovered it first.
				e.log.Info().Str("operation", op.ID).Str("payment", op.PaymentID).Msg("operation settled concurrently; nothing to recover")
				continue
			}
			if err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				failed++
				e.m.recoverFailures.Inc()
				e.log.Error().Err(err).Str("operation", op.ID).Str("payment", op.PaymentID).Str("bank", op.Bank).
					Msg("cannot recover an unfinished operation; going on with the others (retried next run)")
				continue
			}
			if done {
				n++
				e.m.recovered.Inc()
			}
		}
		if len(ops) < e.recoverPage {
			break
		}
	}
	if failed > 0 {
		e.log.Error().Int("failed", failed).Int("recovered", n).Msg("recovery left operations unsettled")
	}
	return n, nil
}

func (e *Engine) recoverOp(ctx context.Context, op *journal.Operation) (bool, error) {
	if op.Kind != journal.OpAuthorization && op.Kind != journal.OpRefund {
		return false, nil // advices and reversals are queued work, not pending
	}
	unlock, err := e.lock(ctx, op.PaymentID)
	if err != nil {
		return false, err
	}
	defer unlock()
	b, err := e.bank(op.Bank)
	if err != nil {
		return false, err
	}
	p, err := e.store.GetPayment(ctx, op.PaymentID)
	if err != nil {
		return false, fmt.Errorf("reading payment: %w", err)
	}
	const why = "no answer recorded before a restart"
	e.log.Warn().Str("payment", p.ID).Str("operation", op.ID).Str("bank", b.Name).Str("stan", op.STAN).Msg("recovering an unfinished operation: declining and reversing")
	if op.Kind == journal.OpAuthorization {
		if p.Status != journal.PaymentPending {
			// The payment was settled by a later attempt: only this
			// attempt's possible approval needs reversing.
			op.Status, op.LastError = journal.OpTimeout, why
			rev, item, err := e.reversalDebt(ctx, b, p, op, op.Amount, nil)
			if err != nil {
				return false, err
			}
			return true, e.write(ctx, "queueing the reversal of a recovered attempt",
				journal.SaveOperation(op), journal.InsertOperation(rev), journal.EnqueueSAF(item))
		}
		return true, e.recordUnanswered(ctx, b, p, op, why, issuerUnavailable(""))
	}
	// An online refund (Bank A): release the reservation and reverse it.
	p.RefundedAmount -= op.Amount
	if p.RefundedAmount < 0 {
		p.RefundedAmount = 0
	}
	rs := issuerUnavailable("")
	op.Status, op.ResponseCode, op.Reason, op.LastError = journal.OpTimeout, rs.ResponseCode, rs.Reason, why
	rev, item, err := e.reversalDebt(ctx, b, p, op, op.Amount, nil)
	if err != nil {
		return false, err
	}
	return true, e.write(ctx, "recording a recovered refund and its reversal",
		journal.SavePayment(p), journal.SaveOperation(op), journal.InsertOperation(rev), journal.EnqueueSAF(item))
}
