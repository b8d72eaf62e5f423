package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/switch/bankmsg"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// RunSAF repeats queued reversals and advices until ctx ends: every
// interval it claims the due items and sends them (up to SAFPolicy.Parallel
// at once), and every SAFPolicy.RecoverEvery it settles operations a dead
// process left without an outcome (Recover). It returns ctx's error.
func (e *Engine) RunSAF(ctx context.Context, interval time.Duration, batch int) error {
	if interval <= 0 {
		interval = time.Second
	}
	if batch <= 0 {
		batch = 32
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastRecover time.Time
	for {
		if e.saf.RecoverEvery > 0 && time.Since(lastRecover) >= e.saf.RecoverEvery {
			lastRecover = time.Now()
			if n, err := e.Recover(ctx, e.saf.RecoverAfter); err != nil && ctx.Err() == nil {
				e.log.Error().Err(err).Msg("recovering abandoned operations")
			} else if n > 0 {
				e.log.Warn().Int("operations", n).Msg("recovered operations left without an outcome")
			}
		}
		for {
			// Drain what is due now before waiting for the next tick.
			n, err := e.processSAF(ctx, batch)
			if err != nil && ctx.Err() == nil {
				e.log.Error().Err(err).Msg("SAF pass failed")
			}
			if err != nil || n < batch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ProcessSAF claims up to limit due SAF items and attempts each once. It
// returns how many were finished (acknowledged by the bank).
func (e *Engine) ProcessSAF(ctx context.Context, limit int) (int, error) {
	items, err := e.store.ClaimDue(ctx, e.owner, limit, e.saf.Lease)
	if err != nil {
		return 0, fmt.Errorf("claiming due SAF items: %w", err)
	}
	return e.work(ctx, items), nil
}

// processSAF is ProcessSAF reporting how many items it claimed.
func (e *Engine) processSAF(ctx context.Context, limit int) (int, error) {
	items, err := e.store.ClaimDue(ctx, e.owner, limit, e.saf.Lease)
	if err != nil {
		return 0, fmt.Errorf("claiming due SAF items: %w", err)
	}
	e.work(ctx, items)
	return len(items), nil
}

// work attempts the claimed items, at most SAFPolicy.Parallel at once
// (one silent bank must not hold back the others' items for a whole
// batch of timeouts), and returns how many were acknowledged.
func (e *Engine) work(ctx context.Context, items []*journal.SAFItem) int {
	var (
		wg   sync.WaitGroup
		done atomic.Int64
		sem  = make(chan struct{}, e.saf.Parallel)
	)
	for _, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ok, err := e.processItem(ctx, it)
			if err != nil {
				e.log.Warn().Err(err).Str("saf", it.ID).Str("kind", string(it.Kind)).Str("bank", it.Bank).Str("payment", it.PaymentID).Msg("SAF attempt failed")
			}
			if ok {
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return int(done.Load())
}

// backoff is the delay after the n-th failed attempt (n >= 1): RepeatMin
// doubling up to RepeatInterval, the bank's maximum interval.
func (b *Bank) backoff(n int) time.Duration {
	d := b.RepeatMin
	for i := 1; i < n && d < b.RepeatInterval; i++ {
		d *= 2
	}
	return min(d, b.RepeatInterval)
}

func (e *Engine) processItem(ctx context.Context, it *journal.SAFItem) (bool, error) {
	b, err := e.bank(it.Bank)
	if err != nil {
		return false, e.dead(ctx, it, "config", err.Error())
	}
	op, err := e.store.GetOperation(ctx, it.OperationID)
	if err != nil {
		return false, fmt.Errorf("reading operation %s: %w", it.OperationID, err)
	}
	switch op.Status {
	case journal.OpAcknowledged, journal.OpApproved:
		// The synchronous attempt (or a late answer) already got it
		// acknowledged.
		return true, e.store.CompleteSAF(ctx, it.ID, e.owner)
	case journal.OpDeclined:
		return false, e.dead(ctx, it, "refused", "bank refused: "+op.ResponseCode)
	case journal.OpFailed:
		return false, e.dead(ctx, it, "cancelled", "operation cancelled: "+op.LastError)
	}
	// Per-payment order: nothing overtakes an earlier debt of the same
	// payment at the same bank.
	before, err := e.earlierDebt(ctx, it)
	if err != nil {
		return false, err
	}
	if before != nil {
		e.m.safAttempts.WithLabelValues(it.Bank, string(it.Kind), "held").Inc()
		why := fmt.Sprintf("held behind %s %s (%s)", before.Kind, before.ID, before.State)
		if err := e.store.RescheduleSAF(ctx, it.ID, e.owner, e.now().Add(b.RepeatMin), why); err != nil {
			return false, fmt.Errorf("rescheduling held SAF item %s: %w", it.ID, err)
		}
		return false, nil
	}
	if it.Kind == journal.SAFCompletion {
		if rev, err := e.authReversed(ctx, op); err != nil {
			return false, err
		} else if rev != nil {
			// The authorization is being (or was) reversed: a completion
			// would charge what the bank is told to release.
			op.Status, op.LastError = journal.OpFailed, "not sent: the authorization is reversed by "+rev.ID
			if err := e.store.UpdateOperation(ctx, op); err != nil {
				return false, fmt.Errorf("cancelling completion %s: %w", op.ID, err)
			}
			return false, e.dead(ctx, it, "cancelled", op.LastError)
		}
	}
	p, err := e.store.GetPayment(ctx, it.PaymentID)
	if err != nil {
		return false, fmt.Errorf("reading payment %s: %w", it.PaymentID, err)
	}
	var pay payload
	if err := json.Unmarshal(it.Payload, &pay); err != nil {
		return false, e.dead(ctx, it, "unreadable", "unreadable payload: "+err.Error())
	}
	actx, cancel := context.WithTimeout(ctx, b.SyncTimeout)
	// The lease is renewed right before the send, fenced by owner: if the
	// pre-send work outlived it and another process took the item over,
	// this one does not send (two processes never send an item at once).
	// The renewed lease outlasts the send (Lease > SyncTimeout + 5 s).
	fence := func(ctx context.Context) error {
		if err := e.store.ExtendLease(ctx, it.ID, e.owner, e.saf.Lease); err != nil {
			return fmt.Errorf("renewing the lease of SAF item %s: %w", it.ID, err)
		}
		return nil
	}
	acked, aerr := e.attempt(actx, b, p, op, pay, op.Attempts > 0, fence)
	cancel()
	if errors.Is(aerr, journal.ErrLeaseLost) {
		e.m.safAttempts.WithLabelValues(it.Bank, string(it.Kind), "lease_lost").Inc()
		return false, aerr // another process owns the item now: report nothing
	}
	switch {
	case acked:
		e.m.safAttempts.WithLabelValues(it.Bank, string(it.Kind), "acknowledged").Inc()
		return true, e.store.CompleteSAF(ctx, it.ID, e.owner)
	case op.Status == journal.OpDeclined:
		e.m.safAttempts.WithLabelValues(it.Bank, string(it.Kind), "refused").Inc()
		return false, e.dead(ctx, it, "refused", "bank refused: "+op.ResponseCode)
	}
	var perm *permanentError
	if errors.As(aerr, &perm) {
		return false, errors.Join(aerr, e.dead(ctx, it, "unbuildable", aerr.Error()))
	}
	if errors.Is(aerr, errWaitingForOriginal) {
		e.m.safAttempts.WithLabelValues(it.Bank, string(it.Kind), "held").Inc()
		return false, e.store.RescheduleSAF(ctx, it.ID, e.owner, e.now().Add(b.RepeatMin), aerr.Error())
	}
	e.m.safAttempts.WithLabelValues(it.Bank, string(it.Kind), "unanswered").Inc()
	why := op.LastError
	if aerr != nil {
		why = aerr.Error()
	}
	next := b.backoff(op.Attempts)
	// Attempts count sends that may have reached the bank (not claims
	// while held, nor sends that surely never left).
	cause := ""
	age := e.now().Sub(it.CreatedAt)
	switch {
	case e.saf.MaxAge > 0 && age >= e.saf.MaxAge:
		cause, why = "max_age", fmt.Sprintf("unacknowledged after %s: %s", age.Round(time.Second), why)
	case e.saf.MaxAttempts > 0 && op.Attempts >= e.saf.MaxAttempts:
		cause, why = "max_attempts", fmt.Sprintf("unacknowledged after %d attempts: %s", op.Attempts, why)
	}
	if cause != "" {
		if it.Kind != journal.SAFReversal {
			return false, errors.Join(aerr, e.dead(ctx, it, cause, why))
		}
		// A reversal is repeated until the bank acknowledges it (bank
		// documents): never parked. It goes on at the bank's maximum
		// interval and the overdue alert fires for an operator.
		next = b.RepeatInterval
		e.m.safOverdue.WithLabelValues(it.Bank, string(it.Kind), cause).Inc()
		e.log.Error().Str("saf", it.ID).Str("bank", it.Bank).Str("payment", it.PaymentID).Str("cause", cause).Str("why", why).
			Msg("reversal still unacknowledged: repeating at the bank's maximum interval; needs attention")
	}
	if err := e.store.RescheduleSAF(ctx, it.ID, e.owner, e.now().Add(next), why); err != nil {
		return false, fmt.Errorf("rescheduling SAF item %s: %w", it.ID, err)
	}
	return false, aerr
}

// dead parks an item for an operator (visible and retryable at
// /v1/admin/saf) and raises the dead-letter alert metric.
func (e *Engine) dead(ctx context.Context, it *journal.SAFItem, cause, why string) error {
	e.m.safDead.WithLabelValues(it.Bank, string(it.Kind), cause).Inc()
	if it.Kind == journal.SAFStandInAdvice && cause == "refused" && e.standIn != nil {
		// The bank does not honour an approval the switch gave: a loss.
		if op, err := e.store.GetOperation(ctx, it.OperationID); err == nil {
			e.standIn.RecordLoss(it.Bank, op.Currency, op.Amount)
		}
	}
	e.log.Error().Str("saf", it.ID).Str("kind", string(it.Kind)).Str("bank", it.Bank).Str("payment", it.PaymentID).
		Str("cause", cause).Str("why", why).Msg("SAF item moved to dead-letter: needs an operator")
	if err := e.store.DeadSAF(ctx, it.ID, e.owner, why); err != nil {
		return fmt.Errorf("moving SAF item %s to dead-letter: %w", it.ID, err)
	}
	return nil
}

// safRank orders items of one payment queued in the same instant: a
// reversal goes first.
func safRank(k journal.SAFKind) int {
	if k == journal.SAFReversal {
		return 0
	}
	return 1
}

// safBefore reports whether a was queued before b.
func safBefore(a, b *journal.SAFItem) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	if ra, rb := safRank(a.Kind), safRank(b.Kind); ra != rb {
		return ra < rb
	}
	return a.ID < b.ID
}

// earlierDebt returns the oldest unfinished (queued, in progress or dead)
// item of it's payment at the same bank queued before it, or nil. Per
// payment the bank receives debts in the order they arose: a stand-in
// advice before the completion or reversal of that payment, a partial
// reversal before the later completion, a completion before the refund.
func (e *Engine) earlierDebt(ctx context.Context, it *journal.SAFItem) (*journal.SAFItem, error) {
	items, err := e.store.ListSAF(ctx, journal.SAFFilter{PaymentID: it.PaymentID})
	if err != nil {
		return nil, fmt.Errorf("reading SAF items of %s: %w", it.PaymentID, err)
	}
	var first *journal.SAFItem
	for _, o := range items {
		if o.ID == it.ID || o.Bank != it.Bank || !safBefore(o, it) {
			continue
		}
		if first == nil || safBefore(o, first) {
			owed, err := e.stillOwed(ctx, o)
			if err != nil {
				return nil, err
			}
			if owed {
				first = o
			}
		}
	}
	return first, nil
}

// stillOwed reports whether an unfinished item's operation still waits for
// the bank: an item whose synchronous attempt (or a late answer) was
// acknowledged stays queued until the worker finishes it, but owes nothing.
func (e *Engine) stillOwed(ctx context.Context, it *journal.SAFItem) (bool, error) {
	if it.OperationID == "" {
		return true, nil
	}
	op, err := e.store.GetOperation(ctx, it.OperationID)
	if err != nil {
		return false, fmt.Errorf("reading operation %s of SAF item %s: %w", it.OperationID, it.ID, err)
	}
	return op.Status != journal.OpAcknowledged && op.Status != journal.OpApproved, nil
}

// finishSoon makes the SAF item of an operation the bank acknowledged on
// its synchronous attempt due now, so that the worker's next pass finishes
// it (CompleteSAF needs the lease, which only ClaimDue gives) instead of
// leaving it queued until its back-off due time. Until then the admin list
// leaves it out (switch/api/adapt). A failure only delays the cleanup.
func (e *Engine) finishSoon(ctx context.Context, itemID string) {
	wctx, cancel := e.detached(ctx)
	defer cancel()
	if err := e.store.MakeDue(wctx, itemID); err != nil && !errors.Is(err, journal.ErrInvalidState) {
		// ErrInvalidState: a worker holds or finished it already.
		e.log.Warn().Err(err).Str("saf", itemID).Msg("acknowledged SAF item not made due; the worker finishes it at its due time")
	}
}

// owesBefore reports whether the payment has a debt at bank the bank has
// not acknowledged yet.
func (e *Engine) owesBefore(ctx context.Context, paymentID, bank string) (bool, error) {
	items, err := e.store.ListSAF(ctx, journal.SAFFilter{PaymentID: paymentID, Bank: bank})
	if err != nil {
		return false, fmt.Errorf("reading SAF items of %s: %w", paymentID, err)
	}
	for _, it := range items {
		owed, err := e.stillOwed(ctx, it)
		if err != nil || owed {
			return owed, err
		}
	}
	return false, nil
}

// authReversed returns the switch-initiated reversal of the authorization
// a completion refers to, if one exists (not refused by the bank).
func (e *Engine) authReversed(ctx context.Context, completion *journal.Operation) (*journal.Operation, error) {
	if completion.RefOperationID == "" {
		return nil, nil
	}
	ops, err := e.store.ListOperations(ctx, completion.PaymentID)
	if err != nil {
		return nil, fmt.Errorf("reading operations of %s: %w", completion.PaymentID, err)
	}
	for _, o := range ops {
		if o.Kind == journal.OpReversal && o.RefOperationID == completion.RefOperationID && o.Status != journal.OpDeclined {
			return o, nil
		}
	}
	return nil, nil
}

// HandleUnsolicited takes a response no pending request was waiting for
// (banklink's OnUnsolicited): typically the late answer to an authorization
// that timed out. It is matched by bank + STAN (+ RRN) to a timed-out or
// queued operation and recorded; a late approval keeps its reversal queued
// (one is created if, against the rules, none exists) — it is never
// cancelled. Nothing is sent from here.
func (e *Engine) HandleUnsolicited(bank string, msg *iso8583.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), e.saf.WriteTimeout)
	defer cancel()
	if err := e.handleUnsolicited(ctx, bank, msg); err != nil {
		e.log.Error().Err(err).Str("bank", bank).Msg("handling unsolicited message")
	}
}

func (e *Engine) handleUnsolicited(ctx context.Context, bank string, msg *iso8583.Message) error {
	b, err := e.bank(bank)
	if err != nil {
		return err
	}
	res, err := bankmsg.DecodeResponse(b.Dialect, msg)
	if err != nil {
		return fmt.Errorf("decoding unsolicited message: %w", err)
	}
	op, err := e.findUnanswered(ctx, bank, res)
	if err != nil {
		return err
	}
	if op == nil {
		e.m.late.WithLabelValues(bank, "unmatched").Inc()
		e.log.Warn().Str("bank", bank).Str("mti", res.MTI).Str("stan", res.STAN).Msg("unsolicited response matches no operation; ignored")
		return nil
	}
	e.logMessage(ctx, op.PaymentID, op.ID, bank, journal.DirIn, logFields(msg))
	rs := e.reason(b, res.ResponseCode)
	if op.Status == journal.OpQueued {
		// A late acknowledgement of a reversal or advice we are repeating.
		if res.ResponseCode == "00" || (op.Kind == journal.OpReversal || op.Kind == journal.OpVoid) && res.ResponseCode == "25" {
			op.Status, op.ResponseCode, op.BankResponseCode, op.Reason = journal.OpAcknowledged, rs.ResponseCode, rs.BankResponseCode, rs.Reason
			op.LastError = ""
			e.m.late.WithLabelValues(bank, "acknowledged").Inc()
			return e.write(ctx, "recording late acknowledgement", journal.SaveOperation(op))
		}
		e.m.late.WithLabelValues(bank, "declined").Inc()
		return nil
	}
	// A late answer to a timed-out request: record what the bank said; the
	// operation stays timed out (the payment was declined upstream).
	op.ResponseCode, op.BankResponseCode, op.AuthCode = rs.ResponseCode, rs.BankResponseCode, res.AuthCode
	op.LastError = "late response " + res.ResponseCode + " after timeout"
	muts := []journal.Mutation{journal.SaveOperation(op)}
	outcome := "declined"
	if rs.Approved() {
		outcome = "approved"
		all, err := e.store.ListOperations(ctx, op.PaymentID)
		if err != nil {
			return fmt.Errorf("reading operations of %s: %w", op.PaymentID, err)
		}
		// The reversal already owed covers it while it is queued, or if
		// the bank reversed it (00). One the bank answered 25 (it did not
		// know the transaction yet) does not: a new reversal is queued.
		if !reversalCovers(all, op.ID) {
			p, err := e.store.GetPayment(ctx, op.PaymentID)
			if err != nil {
				return fmt.Errorf("reading payment %s: %w", op.PaymentID, err)
			}
			rev, item, err := e.reversalDebt(ctx, b, p, op, op.Amount, nil)
			if err != nil {
				return err
			}
			muts = append(muts, journal.InsertOperation(rev), journal.EnqueueSAF(item))
		}
		e.log.Warn().Str("bank", bank).Str("payment", op.PaymentID).Str("stan", op.STAN).Msg("late approval: its reversal stays queued")
	}
	e.m.late.WithLabelValues(bank, outcome).Inc()
	return e.write(ctx, "recording late response", muts...)
}

// lateMatchLimit bounds the journal look-up of a late response: STANs
// wrap after 999999 operations of a bank, so a handful of candidates
// (newest first) always holds the live one.
const lateMatchLimit = 20

// findUnanswered finds the timed-out or queued operation a late response
// answers: through the in-memory index, else by the journal's bank + STAN
// look-up, newest first (after a restart, or once the index entry
// expired), filtered by RRN and status.
func (e *Engine) findUnanswered(ctx context.Context, bank string, res *bankmsg.Response) (*journal.Operation, error) {
	match := func(o *journal.Operation) bool {
		return o.Bank == bank && o.STAN == res.STAN && (res.RRN == "" || o.RRN == res.RRN) &&
			(o.Status == journal.OpTimeout || o.Status == journal.OpQueued)
	}
	if id, ok := e.lookupUnanswered(bank, res.STAN); ok {
		op, err := e.store.GetOperation(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("reading operation %s of a late response: %w", id, err)
		}
		if match(op) {
			return op, nil
		}
	}
	if res.STAN == "" {
		return nil, nil
	}
	ops, err := e.store.FindOperationsBySTAN(ctx, bank, res.STAN, lateMatchLimit)
	if err != nil {
		return nil, fmt.Errorf("looking up the operation of a late response: %w", err)
	}
	for _, op := range ops { // newest first
		if match(op) {
			return op, nil
		}
	}
	return nil, nil
}
