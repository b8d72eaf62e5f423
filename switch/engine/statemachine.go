package engine

import (
	"fmt"
	"time"
)

// PaymentType is the kind of payment the gateway asked for.
type PaymentType string

const (
	TypePurchase PaymentType = "purchase" // one-stage: money moves on approval
	TypePreauth  PaymentType = "preauth"  // two-stage: funds held until capture or void
)

// Status is a payment's state. Refunds do not change it: the refunded
// amount is tracked beside it (a fully refunded purchase is still
// "approved" with refunded_amount == amount), and a partially voided
// pre-authorization stays "approved" with voided_amount set.
type Status string

const (
	StatusPending  Status = "pending"  // journaled, authorization not answered yet
	StatusApproved Status = "approved" // approved by the bank (or in stand-in)
	StatusDeclined Status = "declined" // declined, timed out or no bank available
	StatusCaptured Status = "captured" // pre-authorization completed (one capture)
	StatusVoided   Status = "voided"   // reversed in full at the bank
)

// Action is an operation the gateway asks for on an existing payment.
type Action string

const (
	ActionCapture Action = "capture"
	ActionVoid    Action = "void"
	ActionRefund  Action = "refund"
)

// Snapshot is what the state machine needs to know about a payment. All
// amounts are minor units. RefundedAmount includes refunds still in flight
// (reserved), so that two concurrent refunds can never exceed the limit.
type Snapshot struct {
	Type           PaymentType
	Status         Status
	Amount         int64 // authorized (purchase: approved) amount
	CapturedAmount int64
	VoidedAmount   int64
	RefundedAmount int64
	// VoidDeadline is the bank's clearing cut-off that ends the business
	// day of the approval (see VoidDeadline). Only purchases use it.
	VoidDeadline time.Time
}

// Transition is the state machine's verdict on an allowed action.
type Transition struct {
	Action Action
	// Amount is the resolved amount of the operation (the default filled in).
	Amount int64
	// Partial is true for a partial void of a pre-authorization: the
	// reversal carries DE95 = Remaining.
	Partial bool
	// Remaining is what stays authorized (void) or refundable (refund)
	// after this operation.
	Remaining int64
	// Next is the payment's status once the operation is accepted.
	Next Status
}

// Decide is the payment state machine: the single place that decides
// whether an action is allowed on a payment in a given state, and what it
// turns the payment into. amount nil means "the default" (capture: the
// remaining authorized amount; void: all that remains). A refund needs an
// amount. Decide is pure: the caller supplies the clock.
//
// Errors are *Error with KindInvalidState (409 invalid_state) or
// KindInvalidInput (400).
func Decide(s Snapshot, a Action, amount *int64, now time.Time) (Transition, error) {
	if amount != nil && *amount <= 0 {
		return Transition{}, invalidInput("amount", "amount must be positive")
	}
	if err := settledGuard(s, a); err != nil {
		return Transition{}, err
	}
	switch a {
	case ActionCapture:
		return decideCapture(s, amount)
	case ActionVoid:
		return decideVoid(s, amount, now)
	case ActionRefund:
		return decideRefund(s, amount)
	default:
		return Transition{}, invalidInput("action", fmt.Sprintf("unknown action %q", a))
	}
}

// settledGuard rejects every action on payments that are not (or no longer)
// approved, with a message that says why.
func settledGuard(s Snapshot, a Action) error {
	switch s.Status {
	case StatusPending:
		return invalidState(fmt.Sprintf("cannot %s: the authorization is still in progress", a))
	case StatusDeclined:
		return invalidState(fmt.Sprintf("cannot %s a declined payment", a))
	case StatusVoided:
		return invalidState(fmt.Sprintf("cannot %s a voided payment", a))
	case StatusApproved, StatusCaptured:
		return nil
	default:
		return invalidState(fmt.Sprintf("cannot %s a payment in status %q", a, s.Status))
	}
}

func decideCapture(s Snapshot, amount *int64) (Transition, error) {
	if s.Type != TypePreauth {
		return Transition{}, invalidState("only an approved preauth can be captured")
	}
	if s.Status == StatusCaptured {
		return Transition{}, invalidState("the payment is already captured (one capture per payment)")
	}
	remaining := s.Amount - s.VoidedAmount
	amt := remaining
	if amount != nil {
		amt = *amount
	}
	if amt > remaining {
		return Transition{}, invalidState(fmt.Sprintf("capture amount %d exceeds the remaining authorized amount %d", amt, remaining))
	}
	return Transition{Action: ActionCapture, Amount: amt, Remaining: 0, Next: StatusCaptured}, nil
}

func decideVoid(s Snapshot, amount *int64, now time.Time) (Transition, error) {
	if s.Status == StatusCaptured {
		return Transition{}, invalidState("the payment is captured: use a refund")
	}
	if s.RefundedAmount > 0 {
		return Transition{}, invalidState("the payment has refunds: it can no longer be voided")
	}
	switch s.Type {
	case TypePurchase:
		if amount != nil && *amount != s.Amount {
			return Transition{}, invalidState("a purchase can only be voided in full: use a refund for part of it")
		}
		if !now.Before(s.VoidDeadline) {
			return Transition{}, invalidState("the bank's clearing cut-off for this payment has passed: use a refund")
		}
		return Transition{Action: ActionVoid, Amount: s.Amount, Remaining: 0, Next: StatusVoided}, nil
	case TypePreauth:
		remaining := s.Amount - s.VoidedAmount
		amt := remaining
		if amount != nil {
			amt = *amount
		}
		if amt > remaining {
			return Transition{}, invalidState(fmt.Sprintf("void amount %d exceeds the remaining authorized amount %d", amt, remaining))
		}
		if amt == remaining {
			return Transition{Action: ActionVoid, Amount: amt, Remaining: 0, Next: StatusVoided}, nil
		}
		return Transition{Action: ActionVoid, Amount: amt, Partial: true, Remaining: remaining - amt, Next: StatusApproved}, nil
	default:
		return Transition{}, invalidState(fmt.Sprintf("unknown payment type %q", s.Type))
	}
}

func decideRefund(s Snapshot, amount *int64) (Transition, error) {
	if amount == nil {
		return Transition{}, invalidInput("amount", "a refund needs an amount")
	}
	var base int64
	switch {
	case s.Type == TypePurchase && s.Status == StatusApproved:
		base = s.Amount
	case s.Type == TypePreauth && s.Status == StatusCaptured:
		base = s.CapturedAmount
	case s.Type == TypePreauth:
		return Transition{}, invalidState("a preauth must be captured before it can be refunded (void it instead)")
	default:
		return Transition{}, invalidState(fmt.Sprintf("cannot refund a %s in status %q", s.Type, s.Status))
	}
	refundable := base - s.RefundedAmount
	if *amount > refundable {
		return Transition{}, invalidState(fmt.Sprintf("refund amount %d exceeds the refundable amount %d", *amount, refundable))
	}
	return Transition{Action: ActionRefund, Amount: *amount, Remaining: refundable - *amount, Next: s.Status}, nil
}

// VoidDeadline is the first clearing cut-off (cutoff after local midnight in
// loc) strictly after approvedAt: a purchase approved at 22:59 Almaty at a
// 23:00 cut-off can be voided until 23:00; one approved at 23:00 belongs to
// the next business day and can be voided until 23:00 the next day.
func VoidDeadline(approvedAt time.Time, loc *time.Location, cutoff time.Duration) time.Time {
	local := approvedAt.In(loc)
	y, m, d := local.Date()
	c := time.Date(y, m, d, 0, 0, 0, 0, loc).Add(cutoff)
	if !local.Before(c) {
		c = time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(cutoff)
	}
	return c
}
