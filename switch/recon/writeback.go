package recon

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// ReconNotCleared marks a payment correctly absent from clearing: a
// pre-authorization never captured, a payment voided in full.
const ReconNotCleared = journal.ReconNotCleared

// StateMark is what a run writes back to one journal payment: its state
// and, as Ref, the clearing row its sale matched as
// "<bank>/<settlement day>/<line>" (e.g. "alfa/2026-11-30/17"; line 0: due
// in that day's file and absent from it), or "" when the run holds only
// the payment's refund or chargeback: the journal keeps the reference it
// has.
type StateMark = journal.ReconMark

// StateWriter records reconciliation states in the journal. It is defined
// here, by its consumer; journal.Store implements it. Writing the same
// marks twice must change nothing.
type StateWriter interface {
	SetReconStates(ctx context.Context, marks []StateMark) error
}

// ErrStatesNotWritten: the run is recorded, but writing the payments'
// states to the journal failed. Running the same file again retries (it
// replays the stored result and writes the states).
var ErrStatesNotWritten = errors.New("recon: the run is recorded but the journal's reconciliation states were not written; run the same file again to retry")

// stateBatch is the number of marks per StateWriter call.
const stateBatch = 1000

// severity orders the states a payment's items give it: the worst wins.
func severity(s journal.ReconState) int {
	switch s {
	case journal.ReconMismatch:
		return 4
	case journal.ReconMissing:
		return 3
	case journal.ReconMatched:
		return 2
	case ReconNotCleared:
		return 1
	}
	return 0
}

// StateOf is the journal state an item's category gives its payment ("" for
// chargebacks, which do not change the payment's reconciliation).
func StateOf(c Category) journal.ReconState {
	switch c {
	case Matched, SettledOnOtherDay, RefundMatched:
		return journal.ReconMatched
	case MissingInClearing:
		return journal.ReconMissing
	case PreauthUncaptured, VoidedNotCleared:
		return ReconNotCleared
	case Chargeback, ChargebackReversal:
		return journal.ReconNone
	}
	if c.IsBreak() {
		return journal.ReconMismatch
	}
	return journal.ReconNone
}

// writeStates writes the states of the payments of an accepted run to the
// journal: per payment, the worst state of its items in the run, and the
// first clearing row of its sale.
func (s *Service) writeStates(ctx context.Context, run *Run) error {
	if s.cfg.States == nil {
		return nil
	}
	var (
		batch []StateMark
		cur   StateMark
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.cfg.States.SetReconStates(ctx, batch); err != nil {
			return fmt.Errorf("%w: %w", ErrStatesNotWritten, err)
		}
		batch = batch[:0]
		return nil
	}
	done := func() error {
		if cur.PaymentID == "" || cur.State == journal.ReconNone {
			return nil
		}
		batch = append(batch, cur)
		if len(batch) == stateBatch {
			return flush()
		}
		return nil
	}
	prefix := run.Bank + "/" + run.SettleDate.String() + "/"
	err := s.store.paymentItems(ctx, run.ID, func(it *Item) error {
		if it.PaymentID != cur.PaymentID {
			if err := done(); err != nil {
				return err
			}
			cur = StateMark{PaymentID: it.PaymentID}
		}
		if st := StateOf(it.Category); severity(st) > severity(cur.State) {
			cur.State = st
		}
		// The first row of the sale; a sale due that day but absent from
		// the file (missing, informational) is line 0 of that day's run.
		if it.Kind == KindSale && (cur.Ref == "" || (it.Line > 0 && cur.Ref == prefix+"0")) {
			cur.Ref = prefix + strconv.FormatInt(it.Line, 10)
		}
		return nil
	})
	if err == nil {
		err = done()
	}
	if err == nil {
		err = flush()
	}
	if err != nil && !errors.Is(err, ErrStatesNotWritten) {
		err = fmt.Errorf("%w: %w", ErrStatesNotWritten, err)
	}
	return err
}
