package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/breaker"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/standin"
)

// StandIn is the stand-in (STIP) policy as the engine uses it;
// *standin.Policy satisfies it.
type StandIn interface {
	// OnTimeout reports whether a payment the bank did not answer in time
	// may be stood in (after its reversal is queued).
	OnTimeout(bank, merchantID string) bool
	// Decide applies the rules; an approval holds a reservation against
	// the card's daily limits until Commit or Release.
	Decide(ctx context.Context, in standin.Input) (standin.Decision, error)
	Commit(d standin.Decision)
	Release(d standin.Decision)
	// RecordLoss counts an advice the bank refused.
	RecordLoss(bank, currency string, amount int64)
}

// Breaker is the per-bank circuit breaker as the engine uses it;
// *breaker.Set satisfies it.
type Breaker interface {
	// Usable combines the link's usability with the circuit (closed, or
	// half-open with a probe free). No side effects.
	Usable(bank string, linkUsable bool) bool
	// Allow asks to send one authorization to bank. ok false: the circuit
	// is open (or its probe is taken); try the next bank. When ok, done
	// must be called once with the exchange's outcome.
	Allow(bank string) (ok bool, done func(breaker.Outcome))
}

// standInFor stands in for a payment nothing was sent for: the winning
// rule left no usable bank. target is the bank the route would have used;
// it receives the advice. It reports whether the payment was approved and
// journaled; false leaves p untouched for the caller to decline.
func (a *authAttempt) standInFor(ctx context.Context, target *Bank) (bool, error) {
	e, p := a.e, a.p
	d, ok := a.decideStandIn(ctx, target)
	if !ok {
		return false, nil
	}
	rrn, err := e.nextRRN(ctx, target, e.now())
	if err != nil {
		e.standIn.Release(d)
		return false, unavailable("allocating RRN", err)
	}
	p.Bank, p.AcquirerID, p.RRN = target.Name, target.AcquirerID, rrn
	op, item, err := a.approveStandIn(ctx, target, d, nil)
	if err != nil {
		e.standIn.Release(d)
		return false, err
	}
	muts := []journal.Mutation{journal.InsertPayment(p), journal.InsertOperation(op), journal.EnqueueSAF(item)}
	if a.created {
		muts[0] = journal.SavePayment(p)
	}
	if err := e.store.Write(ctx, muts...); err != nil {
		e.standIn.Release(d)
		return false, unavailable("journaling the stand-in approval", err)
	}
	a.created = true
	e.standIn.Commit(d)
	e.log.Warn().Str("payment", p.ID).Str("bank", target.Name).Str("card", p.Card.MaskedPAN).
		Msg("approved in stand-in; advice queued")
	return true, nil
}

// standInAfterTimeout stands in for a payment whose authorization went
// unanswered at b, when the policy allows it on a timeout. The decline and
// its reversal are already durable; the approval and its advice are a
// second write (a crash between them leaves a declined, reversed payment).
func (a *authAttempt) standInAfterTimeout(ctx context.Context, b *Bank, auth *journal.Operation) error {
	e, p := a.e, a.p
	if e.standIn == nil || !e.standIn.OnTimeout(b.Name, p.Merchant.ID) {
		return nil
	}
	d, ok := a.decideStandIn(ctx, b)
	if !ok {
		return nil
	}
	saved := *p
	op, item, err := a.approveStandIn(ctx, b, d, auth)
	if err != nil {
		*p = saved
		e.standIn.Release(d)
		return err
	}
	if err := e.store.Write(ctx, journal.SavePayment(p), journal.InsertOperation(op), journal.EnqueueSAF(item)); err != nil {
		*p = saved
		e.standIn.Release(d)
		if errors.Is(err, journal.ErrVersionConflict) {
			return nil // settled elsewhere (recovery): it stays declined
		}
		return fmt.Errorf("journaling stand-in approval of %s after a timeout: %w", p.ID, err)
	}
	e.standIn.Commit(d)
	e.log.Warn().Str("payment", p.ID).Str("bank", b.Name).Msg("approved in stand-in after a timeout; reversal and advice queued")
	return nil
}

// decideStandIn asks the policy; it reports an approval.
func (a *authAttempt) decideStandIn(ctx context.Context, b *Bank) (standin.Decision, bool) {
	e, p, in := a.e, a.p, a.in
	if e.standIn == nil {
		return standin.Decision{}, false
	}
	si := standin.Input{
		Bank: b.Name, MerchantID: p.Merchant.ID, MCC: p.Merchant.MCC, Type: standin.PaymentType(p.Type),
		Amount: p.Amount, Currency: p.Currency, PANHash: p.Card.PANHash, PaymentID: p.ID, Now: p.CreatedAt,
	}
	if sc := in.StoredCredential; sc != nil {
		si.MerchantInitiated = sc.Initiator == "merchant"
		si.Subsequent = sc.Sequence == "subsequent"
		si.StoresCredential = sc.Sequence == "initial"
	}
	d, err := e.standIn.Decide(ctx, si)
	if err != nil {
		e.log.Error().Err(err).Str("payment", p.ID).Str("bank", b.Name).Msg("stand-in decision failed; declining")
		return d, false
	}
	if !d.Approve {
		e.log.Info().Str("payment", p.ID).Str("bank", b.Name).Str("why", d.Reason).Msg("stand-in declined")
		return d, false
	}
	return d, true
}

// approveStandIn marks p approved in stand-in with d's code and builds the
// advice owed to b (0220 for a purchase, 0120 for a preauth), due at once.
// Its DE90 names the authorization stood in for: auth when it was sent
// (and timed out), else the one the switch would have sent (payload.StandIn).
func (a *authAttempt) approveStandIn(ctx context.Context, b *Bank, d standin.Decision, auth *journal.Operation) (*journal.Operation, *journal.SAFItem, error) {
	e, p := a.e, a.p
	now := e.now()
	kind := specs.OpAdvicePurchase
	if p.Type == journal.TypePreauth {
		kind = specs.OpAdvicePreauth
	}
	pay := payload{Op: kind, Amount: p.Amount, RRN: p.RRN, AuthCode: d.AuthCode, StandIn: true}
	ref := ""
	if auth != nil {
		ref, pay.Original = auth.ID, originalOf(p.AcquirerID, auth)
	}
	op, item, err := e.debt(ctx, b, p, journal.OpAdvice, journal.SAFStandInAdvice, "", "", p.Amount, ref, pay, now)
	if err != nil {
		return nil, nil, err
	}
	op.TransmissionTime, op.LocalTime = now.UTC(), now.In(b.Dialect.Location)
	p.Status, p.StandIn, p.AuthCode = journal.PaymentApproved, true, d.AuthCode
	p.ResponseCode, p.BankResponseCode, p.Reason, p.ReasonCode = "00", "", "approved", 0
	p.STAN, p.TransmissionTime, p.LocalTime = op.STAN, op.TransmissionTime, op.LocalTime
	return op, item, nil
}
