package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// OperationInput is a capture, void or refund request on a payment.
type OperationInput struct {
	Client    string
	RequestID string
	PaymentID string
	// Amount nil means the default (capture: what remains authorized;
	// void: all that remains). A refund needs it.
	Amount *int64
}

// Refund is the result of a refund request.
type Refund struct {
	ID               string // "ref_" + ULID
	PaymentID        string
	Status           string // approved | declined
	Amount           int64
	Currency         string
	RRN              string
	ResponseCode     string
	BankResponseCode string
	Reason           string
	ReasonCode       int
	CreatedAt        time.Time
}

// Get returns a payment with its operations; *Error KindNotFound when the id
// is unknown.
func (e *Engine) Get(ctx context.Context, id string) (*Payment, error) { return e.view(ctx, id) }

// GetByRequestID returns the payment (client, requestID) created.
func (e *Engine) GetByRequestID(ctx context.Context, client, requestID string) (*Payment, error) {
	p, err := e.store.GetPaymentByRequestID(ctx, client, requestID)
	if errors.Is(err, journal.ErrNotFound) {
		return nil, &Error{Kind: KindNotFound, Message: "no payment for this request_id"}
	}
	if err != nil {
		return nil, fmt.Errorf("reading payment by request_id: %w", err)
	}
	return e.view(ctx, p.ID)
}

// view is get for callers outside the engine: the card's ciphertext and
// PAN hash stay inside.
func (e *Engine) view(ctx context.Context, id string) (*Payment, error) {
	p, err := e.get(ctx, id)
	if err != nil {
		return nil, err
	}
	p.Card.Ciphertext, p.Card.PANHash, p.Card.KeyID = nil, "", 0
	if err := e.scheduleFromSAF(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// scheduleFromSAF sets attempts and next attempt of p's queued operations
// from the SAF items that send them: the numbers GET /v1/admin/saf shows
// (the operation's own counters also count the synchronous attempt and
// are not moved by the worker's holds and back-offs).
func (e *Engine) scheduleFromSAF(ctx context.Context, p *Payment) error {
	queued := false
	for _, o := range p.Operations {
		queued = queued || o.Status == journal.OpQueued
	}
	if !queued {
		return nil
	}
	items, err := e.store.ListSAF(ctx, journal.SAFFilter{PaymentID: p.ID})
	if err != nil {
		return fmt.Errorf("reading SAF items of %s: %w", p.ID, err)
	}
	byOp := make(map[string]*journal.SAFItem, len(items))
	for _, it := range items {
		byOp[it.OperationID] = it
	}
	for _, o := range p.Operations {
		if it, ok := byOp[o.ID]; ok && o.Status == journal.OpQueued {
			o.Attempts, o.NextAttemptAt = it.Attempts, it.NextAttemptAt
		}
	}
	return nil
}

func (e *Engine) get(ctx context.Context, id string) (*Payment, error) {
	p, err := e.store.GetPayment(ctx, id)
	if errors.Is(err, journal.ErrNotFound) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading payment %s: %w", id, err)
	}
	ops, err := e.store.ListOperations(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading operations of %s: %w", id, err)
	}
	return &Payment{Payment: *p, Operations: ops}, nil
}

// snapshot maps a journaled payment onto the state machine's view. A
// captured preauth is "approved" with a captured amount in the journal.
func (e *Engine) snapshot(p *journal.Payment, b *Bank) Snapshot {
	s := Snapshot{
		Type: PaymentType(p.Type), Status: Status(p.Status), Amount: p.Amount,
		CapturedAmount: p.CapturedAmount, VoidedAmount: p.VoidedAmount, RefundedAmount: p.RefundedAmount,
	}
	if p.Status == journal.PaymentApproved && p.CapturedAmount > 0 {
		s.Status = StatusCaptured
	}
	if b != nil {
		s.VoidDeadline = VoidDeadline(p.TransmissionTime, b.Dialect.Location, b.CutOff)
	}
	return s
}

// begin loads a payment under its lock and decides the action.
func (e *Engine) begin(ctx context.Context, in OperationInput, a Action) (*Payment, *Bank, Transition, func(), error) {
	unlock, err := e.lock(ctx, in.PaymentID)
	if err != nil {
		return nil, nil, Transition{}, nil, err
	}
	p, err := e.get(ctx, in.PaymentID)
	if err != nil {
		unlock()
		return nil, nil, Transition{}, nil, err
	}
	if in.Client != "" && p.Client != in.Client {
		unlock()
		return nil, nil, Transition{}, nil, notFound(in.PaymentID) // another client's payment does not exist for this one
	}
	var b *Bank
	if p.Bank != "" {
		if b, err = e.bank(p.Bank); err != nil {
			unlock()
			return nil, nil, Transition{}, nil, fmt.Errorf("payment %s: %w", p.ID, err)
		}
	}
	tr, err := Decide(e.snapshot(&p.Payment, b), a, in.Amount, e.now())
	if err != nil {
		unlock()
		return nil, nil, Transition{}, nil, err
	}
	if b == nil {
		unlock()
		return nil, nil, Transition{}, nil, invalidState("the payment has no bank")
	}
	return p, b, tr, unlock, nil
}

// Capture completes an approved pre-authorization (0220 at both banks, an
// advice). The completion is durable (queued for repeats) before the
// payment is answered as captured; one synchronous attempt is made.
func (e *Engine) Capture(ctx context.Context, in OperationInput) (*Payment, error) {
	p, b, tr, unlock, err := e.begin(ctx, in, ActionCapture)
	if err != nil {
		return nil, err
	}
	defer unlock()
	auth := authOp(p.Operations)
	if auth == nil {
		return nil, invalidState("the payment has no authorization")
	}
	for _, o := range p.Operations {
		if o.Kind == journal.OpReversal && o.RefOperationID == auth.ID && o.Status != journal.OpDeclined {
			// Never complete what the switch is reversing at the bank.
			return nil, invalidState("the authorization is being reversed")
		}
	}
	pay := payload{
		Op: specs.OpCompletion, Amount: tr.Amount, RRN: p.RRN, AuthCode: p.AuthCode,
		Original: originalOf(p.AcquirerID, auth),
	}
	p.CapturedAmount = tr.Amount
	op, err := e.adviceFlow(ctx, b, &p.Payment, journal.OpCapture, journal.SAFCompletion, in.RequestID, "", tr.Amount, auth.ID, pay)
	if err != nil {
		return nil, err
	}
	return e.answer(ctx, p, op)
}

// Void reverses an approved purchase (in full, before the bank's cut-off)
// or all or part of an approved pre-authorization. Sent as a reversal
// (Bank A 0400, Bank B 0420) that is queued before the answer and repeated
// until the bank acknowledges it.
func (e *Engine) Void(ctx context.Context, in OperationInput) (*Payment, error) {
	p, b, tr, unlock, err := e.begin(ctx, in, ActionVoid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	auth := authOp(p.Operations)
	if auth == nil {
		return nil, invalidState("the payment has no authorization")
	}
	pay := payload{Op: specs.OpReversal, Amount: p.Amount, RRN: p.RRN, Original: originalOf(p.AcquirerID, auth)}
	if tr.Partial {
		rem := tr.Remaining
		pay.Replacement = &rem
	}
	p.VoidedAmount += tr.Amount
	if tr.Next == StatusVoided {
		p.Status = journal.PaymentVoided
	}
	op, err := e.adviceFlow(ctx, b, &p.Payment, journal.OpVoid, journal.SAFReversal, in.RequestID, "", tr.Amount, auth.ID, pay)
	if err != nil {
		return nil, err
	}
	return e.answer(ctx, p, op)
}

// Refund returns money on an approved purchase or a captured preauth.
// Bank A: an online 0200 200000 the bank approves or declines. Bank B: a
// 0220 200000 advice, approved once queued and repeated until acknowledged.
func (e *Engine) Refund(ctx context.Context, in OperationInput) (*Refund, error) {
	p, b, tr, unlock, err := e.begin(ctx, in, ActionRefund)
	if err != nil {
		return nil, err
	}
	defer unlock()
	orig := authOp(p.Operations)
	if p.Type == journal.TypePreauth {
		orig = lastOp(p.Operations, journal.OpCapture)
	}
	if orig == nil {
		return nil, invalidState("the payment has no original to refund")
	}
	refID, err := e.newID(journal.PrefixRefund)
	if err != nil {
		return nil, err
	}
	now := e.now()
	rrn, err := e.nextRRN(ctx, b, now)
	if err != nil {
		return nil, unavailable("allocating RRN", err)
	}
	pay := payload{Op: specs.OpRefund, Amount: tr.Amount, RRN: rrn, Original: originalOf(p.AcquirerID, orig)}
	p.RefundedAmount += tr.Amount // reserved now; released if the bank declines
	spec := b.Dialect.Ops[specs.OpRefund]
	if !spec.Advice && (orig.Kind == journal.OpCapture || orig.Kind == journal.OpAdvice) && orig.Status != journal.OpAcknowledged {
		// An online refund needs the bank to know the original it refers
		// to, which is still being repeated. A payment-state condition
		// (409), not capacity (503): see docs/engine.md. An advice
		// refund (Bank B) instead queues behind it (SAF ordering).
		if orig.Kind == journal.OpAdvice {
			return nil, invalidState("the payment's stand-in advice has not reached the bank yet; retry the refund later (nothing was recorded: use a new request_id)")
		}
		return nil, invalidState("the payment's capture has not been acknowledged by the bank yet; retry the refund later (nothing was recorded: use a new request_id)")
	}
	if spec.Advice {
		if _, err := e.adviceFlow(ctx, b, &p.Payment, journal.OpRefund, journal.SAFRefundAdvice, in.RequestID, refID, tr.Amount, orig.ID, pay); err != nil {
			return nil, err
		}
	} else if err := e.onlineRefund(ctx, b, &p.Payment, in.RequestID, refID, tr.Amount, orig.ID, pay); err != nil {
		return nil, err
	}
	op, err := e.store.GetOperation(ctx, refID)
	if err != nil {
		return nil, fmt.Errorf("reading refund %s: %w", refID, err)
	}
	if spec.Advice && op.Status == journal.OpDeclined {
		// The bank refused the advice outright (e.g. 25, unknown
		// original): the refund did not happen, release its amount. The
		// SAF worker parks the item for an operator.
		cur, err := e.store.GetPayment(ctx, p.ID)
		if err != nil {
			return nil, fmt.Errorf("reading payment %s: %w", p.ID, err)
		}
		cur.RefundedAmount -= op.Amount
		if err := e.store.UpdatePayment(ctx, cur); err != nil {
			return nil, fmt.Errorf("releasing refused refund %s: %w", refID, err)
		}
	}
	return refundOf(op, p.ID), nil
}

func refundOf(op *journal.Operation, paymentID string) *Refund {
	r := &Refund{
		ID: op.ID, PaymentID: paymentID, Status: "approved", Amount: op.Amount, Currency: op.Currency,
		RRN: op.RRN, ResponseCode: op.ResponseCode, BankResponseCode: op.BankResponseCode,
		Reason: op.Reason, CreatedAt: op.CreatedAt,
	}
	if op.Status == journal.OpDeclined || op.Status == journal.OpTimeout || op.Status == journal.OpFailed {
		r.Status = "declined"
	}
	if r.Reason == "" && r.Status == "approved" {
		r.ResponseCode, r.Reason = "00", "approved"
	}
	r.ReasonCode = reasonCodeOf(r.Reason, r.ResponseCode)
	return r
}

// reasonCodeOf derives reason_code from the normalized reason for the few
// the engine itself produces; others follow reason-codes.md's rule
// (5000 + ISO code) where the code is numeric.
func reasonCodeOf(reason, code string) int {
	switch reason {
	case "approved", "":
		return 0
	case "authentication_failed":
		return 5206
	case "authentication_required":
		return 5208
	case "recurring_revoked":
		return 5210
	case "risk_declined":
		return 5300
	}
	n := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return 5005
		}
		n = n*10 + int(c-'0')
	}
	return 5000 + n
}

func lastOp(ops []*journal.Operation, kind journal.OpKind) *journal.Operation {
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].Kind == kind {
			return ops[i]
		}
	}
	return nil
}

// originalOf is DE90 (and the DE3 a reversal repeats) of op.
func originalOf(acquirerID string, op *journal.Operation) *bankmsg.Original {
	pc := specs.ProcPurchase
	if op.Kind == journal.OpRefund {
		pc = specs.ProcRefund
	}
	return &bankmsg.Original{
		MTI: op.MTI, STAN: op.STAN, TransmissionTime: op.TransmissionTime,
		AcquirerID: acquirerID, ProcessingCode: pc,
	}
}

// payload is what a SAF item keeps to rebuild its message; the card comes
// from the payment's ciphertext, the merchant from the payment, the STAN
// from the operation.
type payload struct {
	Op          specs.Op          `json:"op"`
	Amount      int64             `json:"amount"` // DE4
	RRN         string            `json:"rrn"`
	AuthCode    string            `json:"auth_code,omitempty"`
	Original    *bankmsg.Original `json:"original,omitempty"`
	Replacement *int64            `json:"replacement,omitempty"` // DE95
	// StandIn marks a stand-in advice whose DE90 names the authorization
	// the switch stood in for without sending it: the authorization's MTI,
	// the advice's own STAN, the stand-in time and our acquirer id.
	StandIn bool `json:"stand_in,omitempty"`
}

// adviceFlow journals the operation, the payment's new money state and the
// SAF item in one write (the debt is durable before anything is sent or
// answered), then makes one synchronous attempt; the SAF worker repeats it
// if that attempt is not acknowledged.
//
// It returns the new operation when p and it are exactly as journaled (every
// write succeeded as planned), nil when the caller must read them back.
func (e *Engine) adviceFlow(ctx context.Context, b *Bank, p *journal.Payment, kind journal.OpKind, safKind journal.SAFKind,
	requestID, opID string, amount int64, refOp string, pay payload) (*journal.Operation, error) {
	// Per payment the bank receives debts in the order they arose: behind
	// an earlier unfinished debt the first attempt is the SAF worker's.
	held, err := e.owesBefore(ctx, p.ID, b.Name)
	if err != nil {
		return nil, unavailable("reading the payment's queued debts", err)
	}
	// The worker may take the item only once the synchronous attempt is
	// over (its send is bounded by SyncTimeout).
	due := e.now().Add(b.SyncTimeout + b.backoff(1))
	if held {
		due = e.now()
	}
	op, item, err := e.debt(ctx, b, p, kind, safKind, requestID, opID, amount, refOp, pay, due)
	if err != nil {
		return nil, err
	}
	if err := e.store.Write(ctx, journal.SavePayment(p), journal.InsertOperation(op), journal.EnqueueSAF(item)); err != nil {
		if errors.Is(err, journal.ErrVersionConflict) {
			return nil, unavailable("the payment changed concurrently; retry", err)
		}
		if e.exists(ctx, op.ID) {
			// Committed although the write failed: the debt is durable
			// and the SAF worker sends it. Answer from the journal — a
			// 503 would let the gateway's retry create it a second time.
			e.log.Warn().Err(err).Str("payment", p.ID).Str("operation", op.ID).Msg("advice committed although its write failed; the SAF worker sends it")
			return nil, nil
		}
		return nil, unavailable(fmt.Sprintf("journaling %s of %s", kind, p.ID), err)
	}
	if held {
		e.log.Info().Str("payment", p.ID).Str("operation", op.ID).Msg("queued behind an earlier debt of the payment")
		return op, nil
	}
	// The synchronous attempt must be over before the worker may claim
	// the item (due): its deadline keeps a slow journal write from making
	// the two send the same message at once.
	budget := min(b.SyncTimeout, due.Sub(e.now())-b.RepeatMin/2)
	if budget <= 0 {
		e.log.Warn().Str("payment", p.ID).Str("operation", op.ID).Msg("no time left for the synchronous attempt; the SAF worker sends it")
		return op, nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	written := op.Version
	acked, err := e.attempt(sctx, b, p, op, pay, false, nil)
	if err != nil {
		e.log.Warn().Err(err).Str("payment", p.ID).Str("operation", op.ID).Msg("advice not acknowledged yet; SAF will repeat it")
	}
	if acked {
		e.finishSoon(ctx, item.ID)
	}
	// An attempt that ran its course wrote the operation twice (before
	// the send and with the outcome), and changes nothing after its last
	// write; anything else (stopped early, a failed write) may have left
	// the operation in memory ahead of the journal.
	if op.Version != written+2 {
		return nil, nil
	}
	return op, nil
}

// answer is the payment after an action on it: p as this action wrote it
// (its version-checked write proves nobody changed it meanwhile) with its
// operations as read at the start of the action under the payment's lock,
// plus op, the action's new operation — or, when op is nil (the action did
// not end as planned), the payment read back from the journal.
func (e *Engine) answer(ctx context.Context, p *Payment, op *journal.Operation) (*Payment, error) {
	if op == nil {
		return e.view(ctx, p.ID)
	}
	v := &Payment{Payment: *journal.StoredPayment(&p.Payment), Operations: make([]*journal.Operation, 0, len(p.Operations)+1)}
	for _, o := range p.Operations {
		v.Operations = append(v.Operations, journal.StoredOperation(o))
	}
	v.Operations = append(v.Operations, journal.StoredOperation(op))
	v.Card.Ciphertext, v.Card.PANHash, v.Card.KeyID = nil, "", 0
	return v, nil
}

// debt builds a queued operation and its SAF item. The STAN is taken now
// when the link can give one, else at the first attempt.
func (e *Engine) debt(ctx context.Context, b *Bank, p *journal.Payment, kind journal.OpKind, safKind journal.SAFKind,
	requestID, opID string, amount int64, refOp string, pay payload, due time.Time) (*journal.Operation, *journal.SAFItem, error) {
	if opID == "" {
		id, err := e.newID(journal.PrefixOperation)
		if err != nil {
			return nil, nil, err
		}
		opID = id
	}
	stan, err := b.Link.NextSTAN(ctx)
	if err != nil {
		stan = "" // allocated at the first attempt
	}
	spec := b.Dialect.Ops[pay.Op]
	body, err := json.Marshal(pay)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding SAF payload: %w", err)
	}
	op := &journal.Operation{
		ID: opID, PaymentID: p.ID, Kind: kind, RequestID: requestID, RefOperationID: refOp,
		Bank: b.Name, MTI: spec.MTI, STAN: stan, RRN: pay.RRN, Amount: amount, Currency: p.Currency,
		Status: journal.OpQueued, NextAttemptAt: due, CreatedAt: e.now(),
	}
	item := &journal.SAFItem{
		Bank: b.Name, Kind: safKind, PaymentID: p.ID, OperationID: op.ID, Payload: body, NextAttemptAt: due,
	}
	return op, item, nil
}

// reversalDebt is the reversal owed for an operation that may have reached
// the bank unanswered; it is due at once.
func (e *Engine) reversalDebt(ctx context.Context, b *Bank, p *journal.Payment, orig *journal.Operation, amount int64, replacement *int64) (*journal.Operation, *journal.SAFItem, error) {
	pay := payload{
		Op: specs.OpReversal, Amount: orig.Amount, RRN: orig.RRN, Replacement: replacement,
		Original: originalOf(p.AcquirerID, orig),
	}
	return e.debt(ctx, b, p, journal.OpReversal, journal.SAFReversal, "", "", amount, orig.ID, pay, time.Time{})
}

// attempt sends a queued operation once (repeat selects 0401/0421/0221)
// and records the outcome on the operation: acknowledged (the SAF worker
// then finishes the item), declined (parked for an operator), or left
// queued. It reports whether the bank acknowledged.
//
// fence, when set, runs after the attempt is journaled and right before the
// send; an error from it stops the send (the SAF worker proves it still
// holds the item's lease, so no other process sends the same item at the
// same time).
func (e *Engine) attempt(ctx context.Context, b *Bank, p *journal.Payment, op *journal.Operation, pay payload, repeat bool, fence func(context.Context) error) (bool, error) {
	if op.STAN == "" {
		stan, err := b.Link.NextSTAN(ctx)
		if err != nil {
			return false, fmt.Errorf("allocating STAN: %w", err)
		}
		op.STAN = stan
	}
	if op.RefOperationID != "" && pay.Original != nil {
		// DE90 names the message as the bank acknowledged it: a
		// completion or a stand-in advice by its acknowledged attempt
		// (a repeat carries a new DE7) — so what refers to one waits
		// until it is acknowledged.
		ref, err := e.store.GetOperation(ctx, op.RefOperationID)
		if err != nil {
			return false, fmt.Errorf("reading original %s of %s: %w", op.RefOperationID, op.ID, err)
		}
		if (ref.Kind == journal.OpCapture || ref.Kind == journal.OpAdvice) && ref.Status != journal.OpAcknowledged {
			return false, errWaitingForOriginal
		}
		pay.Original = originalOf(p.AcquirerID, ref)
	}
	if pay.StandIn && op.RefOperationID == "" {
		pay.Original = &bankmsg.Original{
			MTI: b.Dialect.Ops[opFor(PaymentType(p.Type))].MTI, STAN: op.STAN, TransmissionTime: p.TransmissionTime,
			AcquirerID: p.AcquirerID, ProcessingCode: specs.ProcPurchase,
		}
	}
	pan, expiry, err := e.vault.Open(p.ID, p.Card.KeyID, p.Card.Ciphertext)
	if err != nil {
		return false, permanent(fmt.Errorf("opening card data of %s: %w", p.ID, err))
	}
	ccy, ok := e.ccy.ByAlpha(p.Currency)
	if !ok {
		return false, permanent(fmt.Errorf("payment %s: unknown currency %q", p.ID, p.Currency))
	}
	now := e.now()
	spec := b.Dialect.Ops[pay.Op]
	req := &bankmsg.Request{
		Op: pay.Op, Repeat: repeat && spec.RepeatMTI != "", STAN: op.STAN, RRN: pay.RRN,
		TransmissionTime: now.UTC(), LocalTime: now.In(b.Dialect.Location),
		PAN: pan, Expiry: expiry, CardSource: bankmsg.CardSource(p.Card.Source),
		Amount: pay.Amount, CurrencyNumeric: ccy.Numeric,
		MCC: p.Merchant.MCC, AcquirerID: p.AcquirerID, TerminalID: p.Merchant.TerminalID, MerchantID: p.Merchant.ID,
		MerchantName: p.Merchant.Name, MerchantCity: p.Merchant.City, MerchantCountry: p.Merchant.Country,
		SubMerchantID: p.Merchant.SubMerchantID,
		AuthCode:      pay.AuthCode, Original: pay.Original, Replacement: pay.Replacement,
	}
	msg, mti, err := encode(b, req)
	if err != nil {
		return false, permanent(err)
	}
	if op.Attempts == 0 || op.TransmissionTime.IsZero() {
		// The first attempt's DE7 and local time identify the operation
		// later (DE90 of a refund's reversal, clearing matching).
		op.TransmissionTime, op.LocalTime = req.TransmissionTime, req.LocalTime
	}
	op.Attempts++
	op.MTI = mti
	// Write-ahead of the attempt (and of a new STAN), with the outgoing
	// message's log entry: whoever reads the operation after this —
	// another process taking the item over — sends a repeat with this
	// STAN, which the bank never applies twice.
	out := newMessage(p.ID, op.ID, b.Name, journal.DirOut, logFields(msg))
	logOut, outSeparately := messageMutations(out)
	if err := e.store.Write(ctx, append([]journal.Mutation{journal.SaveOperation(op)}, logOut...)...); err != nil {
		return false, fmt.Errorf("journaling attempt of %s: %w", op.ID, err)
	}
	if outSeparately {
		e.writeMessage(ctx, out)
	}
	if fence != nil {
		if err := fence(ctx); err != nil {
			return false, fmt.Errorf("not sending %s: %w", op.ID, err)
		}
	}
	start := time.Now()
	resp, sendErr := b.Link.Send(ctx, msg)
	op.LatencyMS = time.Since(start).Milliseconds()
	wctx, cancel := e.detached(ctx)
	defer cancel()
	acked := false
	var (
		in    *journal.Message
		logIn []journal.Mutation // in's log entry, written with the outcome
	)
	if sendErr != nil {
		op.LastError = sendErr.Error()
		if b.NotSent(sendErr) {
			op.Attempts-- // nothing left: the next attempt is still the first
		} else {
			e.rememberUnanswered(op)
		}
	} else {
		in = newMessage(p.ID, op.ID, b.Name, journal.DirIn, logFields(resp))
		var inSeparately bool
		if logIn, inSeparately = messageMutations(in); inSeparately {
			e.writeMessage(wctx, in)
		}
		res, err := bankmsg.DecodeResponse(b.Dialect, resp)
		switch {
		case err != nil:
			op.LastError = "undecodable response: " + err.Error()
		default:
			rs := e.reason(b, res.ResponseCode)
			op.ResponseCode, op.BankResponseCode, op.Reason = rs.ResponseCode, rs.BankResponseCode, rs.Reason
			switch {
			case res.ResponseCode == "00" || (pay.Op == specs.OpReversal && res.ResponseCode == "25"):
				// 25 to a reversal: the bank has nothing (left) to
				// reverse; the contract says it ends the repeats.
				acked, op.Status, op.LastError = true, journal.OpAcknowledged, ""
				op.NextAttemptAt = time.Time{}
				// What refers to this message later (a refund's DE90)
				// names the attempt the bank acknowledged.
				op.TransmissionTime, op.LocalTime = req.TransmissionTime, req.LocalTime
			case res.ResponseCode == "91" || res.ResponseCode == "96":
				op.LastError = "bank answered " + res.ResponseCode + "; will repeat"
			default:
				op.Status, op.LastError = journal.OpDeclined, "bank refused the advice with "+res.ResponseCode
			}
		}
	}
	// The outcome and the answer's log entry in one write.
	if err := e.store.Write(wctx, append([]journal.Mutation{journal.SaveOperation(op)}, logIn...)...); err != nil {
		if len(logIn) > 0 {
			e.writeMessage(wctx, in) // rolled back with the outcome
		}
		return acked, fmt.Errorf("recording attempt of %s: %w", op.ID, err)
	}
	if sendErr != nil {
		return false, sendErr
	}
	return acked, nil
}

// onlineRefund is Bank A's refund: a 0200 200000 the bank decides. The
// refund operation (with the reserved amount on the payment) is durable
// before it is sent; an unanswered refund is declined and reversed.
func (e *Engine) onlineRefund(ctx context.Context, b *Bank, p *journal.Payment, requestID, refID string, amount int64, refOp string, pay payload) error {
	op, _, err := e.debt(ctx, b, p, journal.OpRefund, journal.SAFRefundAdvice, requestID, refID, amount, refOp, pay, time.Time{})
	if err != nil {
		return err
	}
	op.Status, op.NextAttemptAt = journal.OpPending, time.Time{}
	if op.STAN == "" {
		return unavailable("no STAN from the bank link", nil)
	}
	pan, expiry, err := e.vault.Open(p.ID, p.Card.KeyID, p.Card.Ciphertext)
	if err != nil {
		return fmt.Errorf("opening card data of %s: %w", p.ID, err)
	}
	ccy, ok := e.ccy.ByAlpha(p.Currency)
	if !ok {
		return fmt.Errorf("payment %s: unknown currency %q", p.ID, p.Currency)
	}
	now := e.now()
	req := &bankmsg.Request{
		Op: specs.OpRefund, STAN: op.STAN, RRN: pay.RRN,
		TransmissionTime: now.UTC(), LocalTime: now.In(b.Dialect.Location),
		PAN: pan, Expiry: expiry, CardSource: bankmsg.CardSource(p.Card.Source),
		Amount: amount, CurrencyNumeric: ccy.Numeric,
		MCC: p.Merchant.MCC, AcquirerID: p.AcquirerID, TerminalID: p.Merchant.TerminalID, MerchantID: p.Merchant.ID,
		MerchantName: p.Merchant.Name, MerchantCity: p.Merchant.City, MerchantCountry: p.Merchant.Country,
		SubMerchantID: p.Merchant.SubMerchantID, Original: pay.Original,
	}
	msg, mti, err := encode(b, req)
	if err != nil {
		return err
	}
	op.MTI, op.TransmissionTime, op.LocalTime, op.Attempts = mti, req.TransmissionTime, req.LocalTime, 1
	// Until its outcome is recorded, this process's Recover must not take
	// the refund for abandoned.
	defer e.markInFlight(op.ID)()
	out := newMessage(p.ID, op.ID, b.Name, journal.DirOut, logFields(msg))
	logOut, outSeparately := messageMutations(out)
	if err := e.store.Write(ctx, append([]journal.Mutation{journal.SavePayment(p), journal.InsertOperation(op)}, logOut...)...); err != nil {
		if errors.Is(err, journal.ErrVersionConflict) {
			return unavailable("the payment changed concurrently; retry", err)
		}
		if e.exists(ctx, op.ID) {
			// Committed although the write failed: nothing was sent.
			// Settle it as not sent (reservation released) and answer
			// from it — never a 503 that would let a retry refund twice.
			return e.refundNotSent(ctx, op.ID, "not sent: the refund's commit was not confirmed in time")
		}
		return unavailable("journaling refund of "+p.ID, err)
	}
	if outSeparately {
		e.writeMessage(ctx, out)
	}
	if age := e.now().Sub(op.CreatedAt); age > e.saf.CommitTimeout {
		return e.refundNotSent(ctx, op.ID, fmt.Sprintf("not sent: journaling took %s (commit budget %s)", age.Round(time.Millisecond), e.saf.CommitTimeout))
	}
	start := time.Now()
	resp, sendErr := b.Link.Send(ctx, msg)
	op.LatencyMS = time.Since(start).Milliseconds()
	wctx, cancel := e.detached(ctx)
	defer cancel()
	if sendErr != nil {
		p.RefundedAmount -= amount
		rs := issuerUnavailable("")
		op.ResponseCode, op.Reason, op.LastError = rs.ResponseCode, rs.Reason, sendErr.Error()
		if b.NotSent(sendErr) {
			op.Status = journal.OpFailed
			return e.write(wctx, "recording unsent refund", journal.SavePayment(p), journal.SaveOperation(op))
		}
		op.Status = journal.OpTimeout
		rev, item, err := e.reversalDebt(wctx, b, p, op, amount, nil)
		if err != nil {
			return err
		}
		if err := e.write(wctx, "recording refund timeout and its reversal",
			journal.SavePayment(p), journal.SaveOperation(op), journal.InsertOperation(rev), journal.EnqueueSAF(item)); err != nil {
			if errors.Is(err, journal.ErrVersionConflict) {
				return e.settleAfterConflict(wctx, b, op.ID, answer{maybeApproved: true, note: "unanswered: " + sendErr.Error()})
			}
			return err
		}
		e.rememberUnanswered(op)
		return nil
	}
	e.logMessage(wctx, p.ID, op.ID, b.Name, journal.DirIn, logFields(resp))
	res, err := bankmsg.DecodeResponse(b.Dialect, resp)
	if err != nil {
		p.RefundedAmount -= amount
		op.Status, op.LastError = journal.OpTimeout, "undecodable response: "+err.Error()
		rs := systemError()
		op.ResponseCode, op.Reason = rs.ResponseCode, rs.Reason
		rev, item, err := e.reversalDebt(wctx, b, p, op, amount, nil)
		if err != nil {
			return err
		}
		err = e.write(wctx, "recording unreadable refund answer and its reversal",
			journal.SavePayment(p), journal.SaveOperation(op), journal.InsertOperation(rev), journal.EnqueueSAF(item))
		if errors.Is(err, journal.ErrVersionConflict) {
			return e.settleAfterConflict(wctx, b, op.ID, answer{maybeApproved: true, note: op.LastError})
		}
		return err
	}
	rs := e.reason(b, res.ResponseCode)
	op.ResponseCode, op.BankResponseCode, op.Reason = rs.ResponseCode, rs.BankResponseCode, rs.Reason
	var werr error
	if rs.Approved() {
		op.Status, op.AuthCode = journal.OpApproved, res.AuthCode
		werr = e.write(wctx, "recording refund approval", journal.SaveOperation(op))
	} else {
		op.Status = journal.OpDeclined
		p.RefundedAmount -= amount
		werr = e.write(wctx, "recording refund decline", journal.SavePayment(p), journal.SaveOperation(op))
	}
	if errors.Is(werr, journal.ErrVersionConflict) {
		// A peer's Recover declined the refund and queued its reversal
		// meanwhile: an approved refund must be reversed at the bank.
		return e.settleAfterConflict(wctx, b, op.ID, answer{
			responseCode: rs.ResponseCode, bankResponseCode: rs.BankResponseCode, authCode: res.AuthCode,
			maybeApproved: rs.Approved(), note: "answer " + res.ResponseCode + " after the refund was settled by recovery",
		})
	}
	return werr
}

// exists reports whether operation id is in the journal (re-read on a
// detached context after an ambiguous write).
func (e *Engine) exists(ctx context.Context, id string) bool {
	rctx, cancel := e.detached(ctx)
	defer cancel()
	_, err := e.store.GetOperation(rctx, id)
	return err == nil
}

// refundNotSent settles an online refund that was journaled but never
// handed to the link: failed, its reservation released, in one write.
func (e *Engine) refundNotSent(ctx context.Context, refID, why string) error {
	wctx, cancel := e.detached(ctx)
	defer cancel()
	for range 3 {
		op, err := e.store.GetOperation(wctx, refID)
		if err != nil {
			return fmt.Errorf("re-reading refund %s: %w", refID, err)
		}
		if op.Status != journal.OpPending {
			return nil // settled already
		}
		p, err := e.store.GetPayment(wctx, op.PaymentID)
		if err != nil {
			return fmt.Errorf("reading payment %s: %w", op.PaymentID, err)
		}
		p.RefundedAmount = max(0, p.RefundedAmount-op.Amount)
		rs := systemError()
		op.Status, op.ResponseCode, op.Reason, op.LastError = journal.OpFailed, rs.ResponseCode, rs.Reason, why
		err = e.store.Write(wctx, journal.SavePayment(p), journal.SaveOperation(op))
		if err == nil {
			e.log.Warn().Str("payment", p.ID).Str("refund", refID).Str("why", why).Msg("online refund not sent; declined")
			return nil
		}
		if !errors.Is(err, journal.ErrVersionConflict) {
			return fmt.Errorf("recording unsent refund %s: %w", refID, err)
		}
	}
	return fmt.Errorf("recording unsent refund %s: %w", refID, journal.ErrVersionConflict)
}

// permanentError marks a failure that no repeat can cure (the message
// cannot be built); the SAF worker parks the item for an operator.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return &permanentError{err: err} }

// errWaitingForOriginal: the operation cannot be sent before the one it
// refers to is acknowledged; the SAF worker tries again later.
var errWaitingForOriginal = errors.New("waiting for the original to be acknowledged")

func (e *Engine) write(ctx context.Context, what string, muts ...journal.Mutation) error {
	if err := e.store.Write(ctx, muts...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
