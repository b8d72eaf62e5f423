package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/switch/bankmsg"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// safLease is how long a claimed SAF item stays leased to this process;
// longer than one attempt (bank timeout) so that another process never
// sends the same item concurrently.
const safLease = 2 * time.Minute

// RunSAF repeats queued reversals and advices until ctx ends: every
// interval it claims the due items and sends each once. It returns ctx's
// error.
func (e *Engine) RunSAF(ctx context.Context, interval time.Duration, batch int) error {
	if interval <= 0 {
		interval = time.Second
	}
	if batch <= 0 {
		batch = 32
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := e.ProcessSAF(ctx, batch); err != nil && ctx.Err() == nil {
			e.log.Error().Err(err).Msg("SAF pass failed")
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
	items, err := e.store.ClaimDue(ctx, e.owner, limit, safLease)
	if err != nil {
		return 0, fmt.Errorf("claiming due SAF items: %w", err)
	}
	done := 0
	for _, it := range items {
		ok, err := e.processItem(ctx, it)
		if err != nil {
			e.log.Warn().Err(err).Str("saf", it.ID).Str("bank", it.Bank).Str("payment", it.PaymentID).Msg("SAF attempt failed")
		}
		if ok {
			done++
		}
	}
	return done, nil
}

func (e *Engine) processItem(ctx context.Context, it *journal.SAFItem) (bool, error) {
	b, err := e.bank(it.Bank)
	if err != nil {
		return false, e.store.DeadSAF(ctx, it.ID, e.owner, err.Error())
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
		return false, e.store.DeadSAF(ctx, it.ID, e.owner, "bank refused: "+op.ResponseCode)
	}
	p, err := e.store.GetPayment(ctx, it.PaymentID)
	if err != nil {
		return false, fmt.Errorf("reading payment %s: %w", it.PaymentID, err)
	}
	var pay payload
	if err := json.Unmarshal(it.Payload, &pay); err != nil {
		return false, e.store.DeadSAF(ctx, it.ID, e.owner, "unreadable payload: "+err.Error())
	}
	actx, cancel := context.WithTimeout(ctx, b.SyncTimeout)
	acked, aerr := e.attempt(actx, b, p, op, pay, op.Attempts > 0)
	cancel()
	switch {
	case acked:
		return true, e.store.CompleteSAF(ctx, it.ID, e.owner)
	case op.Status == journal.OpDeclined:
		return false, e.store.DeadSAF(ctx, it.ID, e.owner, "bank refused: "+op.ResponseCode)
	}
	var perm *permanentError
	if errors.As(aerr, &perm) {
		return false, errors.Join(aerr, e.store.DeadSAF(ctx, it.ID, e.owner, aerr.Error()))
	}
	why := op.LastError
	if aerr != nil {
		why = aerr.Error()
	}
	if err := e.store.RescheduleSAF(ctx, it.ID, e.owner, e.now().Add(b.RepeatInterval), why); err != nil {
		return false, fmt.Errorf("rescheduling SAF item %s: %w", it.ID, err)
	}
	return false, aerr
}

// HandleUnsolicited takes a response no pending request was waiting for
// (banklink's OnUnsolicited): typically the late answer to an authorization
// that timed out. It is matched by bank + STAN (+ RRN) to a timed-out or
// queued operation and recorded; a late approval keeps its reversal queued
// (one is created if, against the rules, none exists) — it is never
// cancelled. Nothing is sent from here.
func (e *Engine) HandleUnsolicited(bank string, msg *iso8583.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), postSendTimeout)
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
			return e.write(ctx, "recording late acknowledgement", journal.SaveOperation(op))
		}
		return nil
	}
	// A late answer to a timed-out request: record what the bank said; the
	// operation stays timed out (the payment was declined upstream).
	op.ResponseCode, op.BankResponseCode, op.AuthCode = rs.ResponseCode, rs.BankResponseCode, res.AuthCode
	op.LastError = "late response " + res.ResponseCode + " after timeout"
	muts := []journal.Mutation{journal.SaveOperation(op)}
	if rs.Approved() {
		all, err := e.store.ListOperations(ctx, op.PaymentID)
		if err != nil {
			return fmt.Errorf("reading operations of %s: %w", op.PaymentID, err)
		}
		// The reversal already owed covers it while it is queued, or if
		// the bank reversed it (00). One the bank answered 25 (it did not
		// know the transaction yet) does not: a new reversal is queued.
		owed := false
		for _, o := range all {
			if o.Kind == journal.OpReversal && o.RefOperationID == op.ID &&
				(o.Status != journal.OpAcknowledged || o.ResponseCode == "00") {
				owed = true
			}
		}
		if !owed {
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
	return e.write(ctx, "recording late response", muts...)
}

// findUnanswered finds the timed-out or queued operation a late response
// answers: through the in-memory index, else by scanning the journal's
// timed-out and queued operations (bounded; newest matches win).
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
	ops, err := e.store.ListOperationsByStatus(ctx, []journal.OpStatus{journal.OpTimeout, journal.OpQueued}, time.Time{}, 0)
	if err != nil {
		return nil, fmt.Errorf("looking up the operation of a late response: %w", err)
	}
	for i := len(ops) - 1; i >= 0; i-- {
		if match(ops[i]) {
			return ops[i], nil
		}
	}
	return nil, nil
}
