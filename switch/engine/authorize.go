package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acquirer/h2hswitch/switch/bankmsg"
	"github.com/acquirer/h2hswitch/switch/breaker"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// CardInput is a card keyed by the cardholder (or stored by the merchant).
type CardInput struct {
	PAN    string
	Expiry string // YYMM
	CVV    string // sent once, never stored; empty when absent
	Holder string // not sent to the banks in this dialect version
}

// NetworkTokenInput is a wallet payment (Apple Pay / Google Pay).
type NetworkTokenInput struct {
	Token      string // DPAN
	Expiry     string
	Cryptogram string // sent once, never stored
	Wallet     string // apple_pay, google_pay
	ECI        string
}

// AuthorizeInput is a new payment as the API validated it.
type AuthorizeInput struct {
	Client    string
	RequestID string
	Type      PaymentType
	Amount    int64
	Currency  string // ISO 4217 alpha-3
	Merchant  journal.Merchant
	// Exactly one of Card and NetworkToken.
	Card             *CardInput
	NetworkToken     *NetworkTokenInput
	ThreeDS          *bankmsg.ThreeDS
	StoredCredential *bankmsg.StoredCredential
	OrderID          string
	Description      string
}

// Payment is a payment with its operations, oldest first.
type Payment struct {
	journal.Payment
	Operations []*journal.Operation
}

// cardData returns the PAN (or token), expiry, source and wallet of in.
func (in *AuthorizeInput) cardData() (pan, expiry string, src bankmsg.CardSource, wallet string) {
	if in.NetworkToken != nil {
		return in.NetworkToken.Token, in.NetworkToken.Expiry, bankmsg.SourceNetworkToken, in.NetworkToken.Wallet
	}
	src = bankmsg.SourceKeyed
	// A stored card is credential on file, except on the initial payment,
	// where the cardholder keys the card that is being stored.
	if sc := in.StoredCredential; sc != nil && sc.Sequence == "subsequent" {
		src = bankmsg.SourceCredentialOnFile
	}
	return in.Card.PAN, in.Card.Expiry, src, ""
}

func (in *AuthorizeInput) validate() error {
	switch {
	case in.Type != TypePurchase && in.Type != TypePreauth:
		return invalidInput("type", "type must be purchase or preauth")
	case in.Amount <= 0 || in.Amount > 999_999_999_999:
		return invalidInput("amount", "amount must be 1..999999999999")
	case (in.Card == nil) == (in.NetworkToken == nil):
		return invalidInput("card", "exactly one of card and network_token is required")
	case in.Card != nil && !cardvault.ValidPAN(in.Card.PAN):
		return invalidInput("card.pan", "card.pan must be 12..19 digits")
	case in.NetworkToken != nil && !cardvault.ValidPAN(in.NetworkToken.Token):
		return invalidInput("network_token.token", "network_token.token must be 12..19 digits")
	}
	return nil
}

// Authorize runs a new purchase or pre-authorization: route, journal, send,
// record. A bank's decline, a timeout and "no bank available" are not
// errors: they return a declined payment with its reason. Errors are
// *Error (invalid input; unavailable when nothing was sent or recorded) or
// wrapped journal failures.
func (e *Engine) Authorize(ctx context.Context, in AuthorizeInput) (*Payment, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	ccy, ok := e.ccy.ByAlpha(in.Currency)
	if !ok {
		return nil, invalidInput("currency", fmt.Sprintf("unknown currency %q", in.Currency))
	}
	pan, expiry, src, wallet := in.cardData()
	id, err := e.newID(journal.PrefixPayment)
	if err != nil {
		return nil, err
	}
	keyID, ct, err := e.vault.Seal(id, pan, expiry)
	if err != nil {
		return nil, fmt.Errorf("sealing card data of %s: %w", id, err)
	}
	p := &journal.Payment{
		ID: id, Client: in.Client, RequestID: in.RequestID,
		Type: journal.PaymentType(in.Type), Status: journal.PaymentPending,
		Amount: in.Amount, Currency: ccy.Alpha, Merchant: in.Merchant,
		OrderID: in.OrderID, Description: in.Description,
		Card: journal.Card{
			MaskedPAN: cardvault.MaskPAN(pan), Brand: cardvault.Brand(pan),
			PANHash: e.vault.Hash(pan), KeyID: keyID, Ciphertext: ct,
			Source: string(src), Wallet: wallet,
		},
		CreatedAt: e.now(),
	}
	prefix := pan
	if len(prefix) > 11 {
		prefix = prefix[:11]
	}
	dec := e.router.Route(RouteInput{
		PANPrefix: prefix, Brand: p.Card.Brand, Amount: in.Amount, Currency: ccy.Alpha,
		MerchantID: in.Merchant.ID, MCC: in.Merchant.MCC, Type: in.Type,
	}, e.usable)
	p.Route = dec.Rule

	a := &authAttempt{e: e, in: &in, p: p, pan: pan, expiry: expiry, src: src, ccyNumeric: ccy.Numeric}
	var target *Bank // the bank the route would have used: it gets a stand-in's advice
	for _, name := range dec.Banks {
		b, err := e.bank(name)
		if err != nil {
			e.log.Error().Str("payment", p.ID).Str("bank", name).Msg("routing named an unconfigured bank")
			continue
		}
		if target == nil {
			target = b
		}
		if !e.usable(name) {
			continue
		}
		done, err := a.try(ctx, b)
		if err != nil {
			return nil, err
		}
		if done {
			if v := a.view(); v != nil {
				return v, nil
			}
			return e.view(ctx, p.ID)
		}
	}
	// No bank took it: nothing was sent anywhere.
	if dec.NoRoute {
		e.log.Warn().Str("payment", p.ID).Msg("no_route: no routing rule matched")
	} else if target != nil && e.standIn != nil {
		ok, err := a.standInFor(ctx, target)
		if err != nil {
			e.log.Error().Err(err).Str("payment", p.ID).Msg("stand-in failed; declining")
		}
		if ok {
			return e.view(ctx, p.ID)
		}
	}
	setDecline(p, issuerUnavailable(""))
	if err := a.save(ctx); err != nil {
		if !errors.Is(err, journal.ErrVersionConflict) {
			// The commit may have happened: answer from the journal
			// when the payment is there and decided.
			rctx, cancel := e.detached(ctx)
			got, gerr := e.view(rctx, p.ID)
			cancel()
			if gerr == nil && got.Status != journal.PaymentPending {
				return got, nil
			}
		}
		return nil, unavailable("journaling the declined payment", err)
	}
	return e.view(ctx, p.ID)
}

// usable is routing's "usable": a signed-on connection and a circuit
// that is not open.
func (e *Engine) usable(bank string) bool {
	b, ok := e.banks[bank]
	if !ok {
		return false
	}
	if e.breaker != nil {
		return e.breaker.Usable(bank, b.Link.Usable())
	}
	return b.Link.Usable()
}

// authAttempt carries one Authorize call across failover attempts.
type authAttempt struct {
	e          *Engine
	in         *AuthorizeInput
	p          *journal.Payment
	pan        string
	expiry     string
	src        bankmsg.CardSource
	ccyNumeric string
	created    bool // the payment row exists

	// ops are the operations this call journaled on the payment, oldest
	// first; exact says that they and p are exactly what the journal
	// holds (every write of the call succeeded as planned), so the answer
	// is built from them instead of being read back.
	ops   []*journal.Operation
	exact bool
}

// view is the payment as journaled, built from memory (nil unless exact).
func (a *authAttempt) view() *Payment {
	if !a.exact {
		return nil
	}
	v := &Payment{Payment: *journal.StoredPayment(a.p), Operations: make([]*journal.Operation, len(a.ops))}
	for i, op := range a.ops {
		v.Operations[i] = journal.StoredOperation(op)
	}
	v.Card.Ciphertext, v.Card.PANHash, v.Card.KeyID = nil, "", 0
	return v
}

// save stores the payment (creating it on first use).
func (a *authAttempt) save(ctx context.Context) error {
	if !a.created {
		if err := a.e.store.CreatePayment(ctx, a.p, nil); err != nil {
			return fmt.Errorf("journaling payment %s: %w", a.p.ID, err)
		}
		a.created = true
		return nil
	}
	if err := a.e.store.UpdatePayment(ctx, a.p); err != nil {
		return fmt.Errorf("updating payment %s: %w", a.p.ID, err)
	}
	return nil
}

// request builds the authorization request for bank b.
func (a *authAttempt) request(b *Bank, stan, rrn string, now time.Time) *bankmsg.Request {
	in := a.in
	r := &bankmsg.Request{
		Op: opFor(in.Type), STAN: stan, RRN: rrn,
		TransmissionTime: now.UTC(), LocalTime: now.In(b.Dialect.Location),
		PAN: a.pan, Expiry: a.expiry, CardSource: a.src,
		Amount: in.Amount, CurrencyNumeric: a.ccyNumeric,
		MCC: in.Merchant.MCC, AcquirerID: b.AcquirerID,
		TerminalID: in.Merchant.TerminalID, MerchantID: in.Merchant.ID,
		MerchantName: in.Merchant.Name, MerchantCity: in.Merchant.City, MerchantCountry: in.Merchant.Country,
		SubMerchantID: in.Merchant.SubMerchantID,
		ThreeDS:       in.ThreeDS, StoredCredential: in.StoredCredential,
	}
	if sc := in.StoredCredential; sc != nil && sc.Initiator == "merchant" {
		r.MerchantInitiated = true
	}
	if in.Card != nil {
		r.CVV = in.Card.CVV
	}
	if t := in.NetworkToken; t != nil {
		r.Wallet = &bankmsg.Wallet{Kind: t.Wallet, Cryptogram: t.Cryptogram, ECI: t.ECI}
	}
	return r
}

// try sends the authorization to bank b. It reports done when the payment
// reached a final answer (approved, declined, or timed out with its
// reversal queued); false means the request surely never reached b and the
// next bank may be tried.
func (a *authAttempt) try(ctx context.Context, b *Bank) (bool, error) {
	e, p := a.e, a.p
	outcome := func(breaker.Outcome) {}
	if e.breaker != nil {
		ok, done := e.breaker.Allow(b.Name)
		if !ok {
			return false, nil // circuit open: nothing sent, try the next bank
		}
		// done ignores all but its first call: an exit before the send
		// (no STAN, journal failure) is no verdict on the bank.
		outcome = done
		defer done(breaker.Ignore)
	}
	stan, err := b.Link.NextSTAN(ctx)
	if err != nil {
		e.log.Warn().Err(err).Str("payment", p.ID).Str("bank", b.Name).Msg("no STAN from link; trying the next bank")
		return false, nil
	}
	now := e.now()
	rrn, err := e.nextRRN(ctx, b, now)
	if err != nil {
		return false, unavailable("allocating RRN", err)
	}
	req := a.request(b, stan, rrn, now)
	msg, mti, encErr := encode(b, req)
	req.CVV = "" // sent at most once, never kept
	opID, err := e.newID(journal.PrefixOperation)
	if err != nil {
		return false, err
	}
	// Until its outcome is recorded, this process's Recover must not take
	// the operation for abandoned.
	defer e.markInFlight(opID)()
	p.Bank, p.AcquirerID, p.STAN, p.RRN = b.Name, b.AcquirerID, stan, rrn
	p.TransmissionTime, p.LocalTime = req.TransmissionTime, req.LocalTime
	op := &journal.Operation{
		ID: opID, PaymentID: p.ID, Kind: journal.OpAuthorization, RequestID: p.RequestID,
		Bank: b.Name, MTI: mti, STAN: stan, RRN: rrn,
		TransmissionTime: req.TransmissionTime, LocalTime: req.LocalTime,
		Amount: p.Amount, Currency: p.Currency, Status: journal.OpPending, CreatedAt: now,
	}
	if mti == "" {
		op.MTI = b.Dialect.Ops[req.Op].MTI
	}
	if encErr != nil {
		// Our own data cannot be put on the wire: nothing is sent.
		e.log.Error().Err(encErr).Str("payment", p.ID).Str("bank", b.Name).Msg("cannot encode authorization")
		op.Status, op.LastError = journal.OpFailed, encErr.Error()
		setDecline(p, systemError())
		return true, a.journalAttempt(ctx, op)
	}
	// Write-ahead: the payment, its pending operation and the outgoing
	// message's log entry are durable, in one write, before the message
	// goes out.
	out := newMessage(p.ID, op.ID, b.Name, journal.DirOut, logFields(msg))
	logOut, outSeparately := messageMutations(out)
	if err := a.journalAttempt(ctx, op, logOut...); err != nil {
		if errors.Is(err, journal.ErrVersionConflict) || !a.ambiguousWrite(ctx, op, err) {
			return false, unavailable("journaling the authorization", err)
		}
		// The write committed although it reported an error: the
		// payment exists. Nothing was sent; the attempt is failed below
		// and the next bank (or a decline) is journaled on it.
		return a.notSent(ctx, b, op, "not sent: the write-ahead record's commit was not confirmed in time")
	}
	if outSeparately {
		e.writeMessage(ctx, out)
	}
	if age := e.now().Sub(op.CreatedAt); age > e.saf.CommitTimeout {
		// The journal was too slow: sending now could outlive
		// RecoverAfter (a peer would decline and reverse a request that
		// is still in flight). It surely was not sent: fail over.
		return a.notSent(ctx, b, op, fmt.Sprintf("not sent: journaling took %s (commit budget %s)", age.Round(time.Millisecond), e.saf.CommitTimeout))
	}

	start := time.Now()
	resp, sendErr := b.Link.Send(ctx, msg)
	latency := time.Since(start).Milliseconds()
	outcome(breaker.Classify(sendErr))

	wctx, cancel := e.detached(ctx)
	defer cancel()
	op.LatencyMS = latency
	if sendErr != nil {
		if b.NotSent(sendErr) {
			op.Status, op.LastError = journal.OpFailed, sendErr.Error()
			if err := e.store.UpdateOperation(wctx, op); err != nil {
				return false, fmt.Errorf("recording unsent authorization %s: %w", op.ID, err)
			}
			e.log.Warn().Err(sendErr).Str("payment", p.ID).Str("bank", b.Name).Msg("authorization not sent; failing over")
			return false, nil
		}
		// Maybe sent: decline and owe a reversal, both in one write.
		e.log.Warn().Err(sendErr).Str("payment", p.ID).Str("bank", b.Name).Str("stan", stan).Msg("authorization unanswered; reversing")
		if err := e.recordUnanswered(wctx, b, p, op, sendErr.Error(), issuerUnavailable("")); err != nil {
			if errors.Is(err, journal.ErrVersionConflict) {
				// Settled elsewhere meanwhile (declined, reversal queued).
				return true, e.settleAfterConflict(wctx, b, op.ID, answer{maybeApproved: true, note: "unanswered: " + sendErr.Error()})
			}
			return true, err
		}
		return true, a.standInAfterTimeout(wctx, b, op)
	}
	in := newMessage(p.ID, op.ID, b.Name, journal.DirIn, logFields(resp))
	logIn, inSeparately := messageMutations(in)
	res, err := bankmsg.DecodeResponse(b.Dialect, resp)
	if err != nil || inSeparately {
		// Logged on its own: the answer's record never waits on (or
		// fails with) its log entry.
		e.writeMessage(wctx, in)
		logIn = nil
	}
	if err != nil {
		// An answer we cannot read may be an approval: treat it like no
		// answer at all.
		e.log.Error().Err(err).Str("payment", p.ID).Str("bank", b.Name).Msg("undecodable authorization response; reversing")
		why := "undecodable response: " + err.Error()
		if err := e.recordUnanswered(wctx, b, p, op, why, systemError()); err != nil {
			if errors.Is(err, journal.ErrVersionConflict) {
				return true, e.settleAfterConflict(wctx, b, op.ID, answer{maybeApproved: true, note: why})
			}
			return true, err
		}
		return true, nil
	}
	rs := e.reason(b, res.ResponseCode)
	op.ResponseCode, op.BankResponseCode, op.Reason = rs.ResponseCode, rs.BankResponseCode, rs.Reason
	p.ResponseCode, p.BankResponseCode, p.Reason, p.ReasonCode = rs.ResponseCode, rs.BankResponseCode, rs.Reason, rs.ReasonCode
	if rs.Approved() {
		op.Status, op.AuthCode = journal.OpApproved, res.AuthCode
		p.Status, p.AuthCode, p.NetworkTransactionID = journal.PaymentApproved, res.AuthCode, res.NetworkTransactionID
	} else {
		op.Status = journal.OpDeclined
		p.Status = journal.PaymentDeclined
	}
	// The answer and its message's log entry in one write.
	if err := e.store.Write(wctx, append([]journal.Mutation{journal.SavePayment(p), journal.SaveOperation(op)}, logIn...)...); err != nil {
		if logIn != nil {
			e.writeMessage(wctx, in) // rolled back with the answer
		}
		if errors.Is(err, journal.ErrVersionConflict) {
			// A peer's Recover declined the payment and queued a reversal
			// meanwhile: the gateway gets the payment as journaled
			// (declined), and an approval gets its reversal.
			return true, e.settleAfterConflict(wctx, b, op.ID, answer{
				responseCode: rs.ResponseCode, bankResponseCode: rs.BankResponseCode, authCode: res.AuthCode,
				maybeApproved: rs.Approved(), note: "answer " + res.ResponseCode + " after the operation was settled by recovery",
			})
		}
		return true, fmt.Errorf("recording the answer to %s: %w", p.ID, err)
	}
	a.exact = true
	return true, nil
}

// ambiguousWrite reports whether the write-ahead record of op is durable
// although writing it returned err (a commit whose acknowledgement was
// lost, a context that ended while the batch committed). It re-reads the
// operation by its pre-assigned id; when it exists the payment does too and
// a's view of it is refreshed.
func (a *authAttempt) ambiguousWrite(ctx context.Context, op *journal.Operation, werr error) bool {
	e := a.e
	rctx, cancel := e.detached(ctx)
	defer cancel()
	stored, err := e.store.GetOperation(rctx, op.ID)
	if err != nil {
		return false // not there (or unknown: answered 503, Recover settles a late commit)
	}
	p, err := e.store.GetPayment(rctx, a.p.ID)
	if err != nil {
		return false
	}
	e.log.Warn().Err(werr).Str("payment", a.p.ID).Str("operation", op.ID).Msg("write-ahead record committed although its write failed")
	a.created = true
	a.p.Version = p.Version
	op.Version = stored.Version
	return true
}

// notSent records that attempt op was never handed to the link and lets
// Authorize try the next bank.
func (a *authAttempt) notSent(ctx context.Context, b *Bank, op *journal.Operation, why string) (bool, error) {
	e := a.e
	wctx, cancel := e.detached(ctx)
	defer cancel()
	op.Status, op.LastError = journal.OpFailed, why
	if err := e.store.UpdateOperation(wctx, op); err != nil {
		// Left pending: Recover declines it and queues a (harmless)
		// reversal; nothing was sent. Not a 503: the payment exists.
		return false, fmt.Errorf("recording unsent authorization %s: %w", op.ID, err)
	}
	e.log.Warn().Str("payment", a.p.ID).Str("bank", b.Name).Str("operation", op.ID).Str("why", why).Msg("authorization not sent; failing over")
	return false, nil
}

// journalAttempt makes the payment and op durable: created with its first
// operation, or updated with a further (failover) attempt.
// extra mutations (the message log entry) go in the same write.
func (a *authAttempt) journalAttempt(ctx context.Context, op *journal.Operation, extra ...journal.Mutation) error {
	e, p := a.e, a.p
	if !a.created {
		if err := e.store.Write(ctx, append([]journal.Mutation{journal.InsertPayment(p), journal.InsertOperation(op)}, extra...)...); err != nil {
			return fmt.Errorf("journaling payment %s: %w", p.ID, err)
		}
		a.created = true
		a.ops = append(a.ops, op)
		return nil
	}
	if err := e.store.Write(ctx, append([]journal.Mutation{journal.SavePayment(p), journal.InsertOperation(op)}, extra...)...); err != nil {
		return fmt.Errorf("journaling attempt %s of %s: %w", op.ID, p.ID, err)
	}
	a.ops = append(a.ops, op)
	return nil
}

// recordUnanswered declines p (with rs) after its authorization op may have
// reached the bank unanswered, and queues the reversal it owes — in one
// journal write, before anything is answered upstream.
func (e *Engine) recordUnanswered(ctx context.Context, b *Bank, p *journal.Payment, op *journal.Operation, why string, rs Reason) error {
	op.Status, op.LastError = journal.OpTimeout, why
	setDecline(p, rs)
	rev, item, err := e.reversalDebt(ctx, b, p, op, p.Amount, nil)
	if err != nil {
		return err
	}
	if err := e.store.Write(ctx,
		journal.SavePayment(p),
		journal.SaveOperation(op),
		journal.InsertOperation(rev),
		journal.EnqueueSAF(item),
	); err != nil {
		return fmt.Errorf("recording timeout of %s and queueing its reversal: %w", p.ID, err)
	}
	e.rememberUnanswered(op)
	e.m.timeouts.WithLabelValues(b.Name, string(op.Kind)).Inc()
	return nil
}

func setDecline(p *journal.Payment, rs Reason) {
	p.Status = journal.PaymentDeclined
	p.AuthCode = ""
	p.ResponseCode, p.BankResponseCode, p.Reason, p.ReasonCode = rs.ResponseCode, rs.BankResponseCode, rs.Reason, rs.ReasonCode
}

// logMessage journals one masked message; a failure is logged, not
// returned: the operation's own record is what recovery relies on.
func (e *Engine) logMessage(ctx context.Context, paymentID, opID, bank string, dir journal.Direction, fields map[string]string) {
	e.writeMessage(ctx, newMessage(paymentID, opID, bank, dir, fields))
}

// writeMessage journals m in a write of its own; a failure is logged.
func (e *Engine) writeMessage(ctx context.Context, m *journal.Message) {
	if err := e.store.LogMessage(ctx, m); err != nil {
		e.log.Error().Err(err).Str("payment", m.PaymentID).Str("operation", m.OperationID).Msg("journaling message log")
	}
}

// newMessage is the log entry of one masked message.
func newMessage(paymentID, opID, bank string, dir journal.Direction, fields map[string]string) *journal.Message {
	return &journal.Message{
		PaymentID: paymentID, OperationID: opID, Bank: bank, Direction: dir,
		MTI: fields["0"], STAN: fields["11"], Fields: fields,
	}
}

// messageMutations returns m's log entry as mutations to add to the write
// that records its operation (one transaction and one commit fewer per
// message), or reports that m must be logged on its own because the
// journal would refuse it: a malformed log entry must never block the
// money record it would travel with.
func messageMutations(m *journal.Message) (muts []journal.Mutation, separately bool) {
	if journal.CheckMessage(m) != nil {
		return nil, true
	}
	return []journal.Mutation{journal.AppendMessage(m)}, false
}

// authOp reads the operation that put the payment on the bank's books:
// its approved authorization, else its stand-in advice, else its last
// authorization attempt.
func authOp(ops []*journal.Operation) *journal.Operation {
	var last, advice *journal.Operation
	for _, op := range ops {
		switch op.Kind {
		case journal.OpAuthorization:
			last = op
			if op.Status == journal.OpApproved {
				return op
			}
		case journal.OpAdvice:
			advice = op
		}
	}
	if advice != nil {
		return advice
	}
	return last
}
