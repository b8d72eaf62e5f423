// Package adapt connects the API's consumer interfaces (package api) to the
// switch's concrete parts: the payment engine, the journal (idempotency keys
// and the SAF queue), the routing table holder and the bank links. It only
// translates types and error kinds; no business rule lives here.
package adapt

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/acquirer/h2hswitch/routing"
	"github.com/acquirer/h2hswitch/specs/reasons"
	"github.com/acquirer/h2hswitch/switch/api"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
	"github.com/acquirer/h2hswitch/switch/breaker"
	"github.com/acquirer/h2hswitch/switch/engine"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// Engine is what the API needs of *engine.Engine.
type Engine interface {
	Authorize(ctx context.Context, in engine.AuthorizeInput) (*engine.Payment, error)
	Capture(ctx context.Context, in engine.OperationInput) (*engine.Payment, error)
	Void(ctx context.Context, in engine.OperationInput) (*engine.Payment, error)
	Refund(ctx context.Context, in engine.OperationInput) (*engine.Refund, error)
	Get(ctx context.Context, id string) (*engine.Payment, error)
	GetByRequestID(ctx context.Context, client, requestID string) (*engine.Payment, error)
}

// Messages gives the cardholder message of a reason (specs/reasons.Table).
type Messages interface {
	ByName(name string) (reasons.Reason, bool)
}

// Payments adapts the engine to api.Payments.
type Payments struct {
	Engine   Engine
	Messages Messages
}

var _ api.Payments = Payments{}

// Authorize converts the validated request and runs it.
func (p Payments) Authorize(ctx context.Context, r api.AuthorizeRequest) (*api.Payment, error) {
	in := engine.AuthorizeInput{
		Client: r.Client, RequestID: r.RequestID, Type: engine.PaymentType(r.Type),
		Amount: r.Amount, Currency: r.Currency,
		Merchant: journal.Merchant{
			ID: r.Merchant.ID, TerminalID: r.Merchant.TerminalID, MCC: r.Merchant.MCC, Name: r.Merchant.Name,
			City: r.Merchant.City, Country: r.Merchant.Country, SubMerchantID: r.Merchant.SubMerchantID,
		},
		OrderID: r.OrderID, Description: r.Description,
	}
	if c := r.Card; c != nil {
		in.Card = &engine.CardInput{PAN: c.PAN, Expiry: c.Expiry, CVV: c.CVV, Holder: c.Holder}
	}
	if t := r.NetworkToken; t != nil {
		in.NetworkToken = &engine.NetworkTokenInput{Token: t.Token, Expiry: t.Expiry, Cryptogram: t.Cryptogram, Wallet: t.Wallet, ECI: t.ECI}
	}
	if d := r.ThreeDS; d != nil {
		in.ThreeDS = &bankmsg.ThreeDS{ECI: d.ECI, AuthenticationValue: d.AuthenticationValue, DSTransactionID: d.DSTransactionID, Version: d.Version}
	}
	if s := r.StoredCredential; s != nil {
		in.StoredCredential = &bankmsg.StoredCredential{Initiator: s.Initiator, Type: s.Type, Sequence: s.Sequence, NetworkTransactionID: s.NetworkTransactionID}
	}
	ep, err := p.Engine.Authorize(ctx, in)
	if err != nil {
		return nil, apiError(err)
	}
	return p.payment(ep), nil
}

func opInput(r api.OperationRequest) engine.OperationInput {
	return engine.OperationInput{Client: r.Client, RequestID: r.RequestID, PaymentID: r.PaymentID, Amount: r.Amount}
}

// Capture runs a capture.
func (p Payments) Capture(ctx context.Context, r api.OperationRequest) (*api.Payment, error) {
	ep, err := p.Engine.Capture(ctx, opInput(r))
	if err != nil {
		return nil, apiError(err)
	}
	return p.payment(ep), nil
}

// Void runs a void.
func (p Payments) Void(ctx context.Context, r api.OperationRequest) (*api.Payment, error) {
	ep, err := p.Engine.Void(ctx, opInput(r))
	if err != nil {
		return nil, apiError(err)
	}
	return p.payment(ep), nil
}

// Refund runs a refund.
func (p Payments) Refund(ctx context.Context, r api.OperationRequest) (*api.Refund, error) {
	rf, err := p.Engine.Refund(ctx, opInput(r))
	if err != nil {
		return nil, apiError(err)
	}
	return &api.Refund{
		ID: rf.ID, PaymentID: rf.PaymentID, Status: rf.Status, Amount: rf.Amount, Currency: rf.Currency,
		RRN: rf.RRN, ResponseCode: rf.ResponseCode, BankResponseCode: rf.BankResponseCode, Reason: rf.Reason,
		CreatedAt: rf.CreatedAt,
	}, nil
}

// Get reads a payment with its operations.
func (p Payments) Get(ctx context.Context, id string) (*api.Payment, error) {
	ep, err := p.Engine.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	return p.payment(ep), nil
}

// GetByRequestID reads the payment a request created.
func (p Payments) GetByRequestID(ctx context.Context, client, requestID string) (*api.Payment, error) {
	ep, err := p.Engine.GetByRequestID(ctx, client, requestID)
	if err != nil {
		return nil, apiError(err)
	}
	return p.payment(ep), nil
}

func (p Payments) payment(ep *engine.Payment) *api.Payment {
	j := ep.Payment
	out := &api.Payment{
		ID: j.ID, Client: j.Client, RequestID: j.RequestID, Type: string(j.Type), Status: string(j.Status),
		Amount: j.Amount, Currency: j.Currency, MaskedPAN: j.Card.MaskedPAN, Brand: j.Card.Brand,
		AuthCode: j.AuthCode, RRN: j.RRN, STAN: j.STAN, Bank: j.Bank, Route: j.Route,
		ResponseCode: j.ResponseCode, BankResponseCode: j.BankResponseCode, Reason: j.Reason, ReasonCode: j.ReasonCode,
		NetworkTransactionID: j.NetworkTransactionID, StandIn: j.StandIn,
		CapturedAmount: j.CapturedAmount, VoidedAmount: j.VoidedAmount, CreatedAt: j.CreatedAt,
	}
	if p.Messages != nil && j.Reason != "" {
		if r, ok := p.Messages.ByName(j.Reason); ok {
			out.CardholderMessage = &api.CardholderMessage{EN: r.Messages.EN, RU: r.Messages.RU, KK: r.Messages.KK}
		}
	}
	for _, o := range ep.Operations {
		op := api.Operation{
			Kind: string(o.Kind), MTI: o.MTI, STAN: o.STAN, Status: opStatus(o), ResponseCode: o.ResponseCode,
			Amount: o.Amount, At: o.CreatedAt, LatencyMS: o.LatencyMS, BankAnswered: bankAnswered(o.Status),
			Attempts: o.Attempts, NextAttemptAt: o.NextAttemptAt,
		}
		switch o.Kind {
		case journal.OpRefund:
			op.ID, op.RRN, op.Reason, op.BankResponseCode = o.ID, o.RRN, o.Reason, o.BankResponseCode
			op.RequestID = o.RequestID
		case journal.OpCapture, journal.OpVoid:
			op.RequestID = o.RequestID
		}
		out.Operations = append(out.Operations, op)
	}
	return out
}

// opStatus is an operation's status as the API shows it (docs/api.md,
// "Operation statuses"): an authorization or refund that ended unanswered
// or unsent is "declined", the word its payment or refund object uses; an
// advice or reversal the switch cancelled without sending is "failed"; an
// operation on its way to the bank is "pending".
func opStatus(o *journal.Operation) string {
	switch o.Status {
	case journal.OpPending, journal.OpSent:
		return "pending"
	case journal.OpTimeout, journal.OpFailed:
		if o.Kind == journal.OpAuthorization || o.Kind == journal.OpRefund {
			return string(journal.OpDeclined)
		}
	}
	return string(o.Status)
}

// bankAnswered reports whether a status is only reached on the bank's
// answer (so the operation has a measured latency, possibly 0 ms).
func bankAnswered(s journal.OpStatus) bool {
	return s == journal.OpApproved || s == journal.OpDeclined || s == journal.OpAcknowledged
}

// apiError maps the engine's typed errors onto the API's.
func apiError(err error) error {
	var e *engine.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case engine.KindNotFound:
		return fmt.Errorf("%w: %s", api.ErrNotFound, e.Message)
	case engine.KindInvalidState:
		return &api.StateError{Message: e.Message}
	case engine.KindInvalidInput:
		return &api.FieldError{Field: e.Field, Message: e.Message}
	case engine.KindUnavailable:
		return fmt.Errorf("%w: %w", api.ErrOverloaded, err)
	}
	return err
}

// Idempotency adapts the journal to api.IdempotencyStore.
type Idempotency struct{ Store journal.Store }

var _ api.IdempotencyStore = Idempotency{}

// Begin inserts or finds a key.
func (a Idempotency) Begin(ctx context.Context, b api.IdemBegin) (api.IdemOutcome, api.IdemRecord, error) {
	res, err := a.Store.BeginIdempotency(ctx, journal.IdempotencyBegin{
		Client: b.Client, RequestID: b.RequestID, BodyHash: b.BodyHash, Method: b.Method, Path: b.Path,
	})
	if err != nil {
		return 0, api.IdemRecord{}, fmt.Errorf("beginning idempotency key: %w", err)
	}
	rec := api.IdemRecord{
		Done: res.Record.State == journal.IdemDone, HTTPStatus: res.Record.HTTPStatus,
		Response: res.Record.Response, PaymentID: res.Record.PaymentID,
	}
	switch res.Outcome {
	case journal.IdemNew:
		return api.IdemNew, rec, nil
	case journal.IdemReplay:
		return api.IdemReplay, rec, nil
	case journal.IdemInProgress:
		return api.IdemInProgress, rec, nil
	case journal.IdemConflict:
		return api.IdemConflict, rec, nil
	}
	return 0, rec, fmt.Errorf("journal returned idempotency outcome %v", res.Outcome)
}

// Complete stores a response.
func (a Idempotency) Complete(ctx context.Context, c api.IdemCompletion) error {
	err := a.Store.CompleteIdempotency(ctx, journal.IdempotencyCompletion{
		Client: c.Client, RequestID: c.RequestID, HTTPStatus: c.HTTPStatus, Response: c.Response, PaymentID: c.PaymentID,
	})
	if err != nil {
		return fmt.Errorf("completing idempotency key: %w", err)
	}
	return nil
}

// Release deletes an in-flight key.
func (a Idempotency) Release(ctx context.Context, client, requestID string) error {
	if err := a.Store.ReleaseIdempotency(ctx, client, requestID); err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	return nil
}

// SAF adapts the journal's store-and-forward queue to api.SAF.
type SAF struct{ Store journal.Store }

var _ api.SAF = SAF{}

// ListSAF lists items not done, next due first.
func (a SAF) ListSAF(ctx context.Context) ([]api.SAFItem, error) {
	items, err := a.Store.ListSAF(ctx, journal.SAFFilter{})
	if err != nil {
		return nil, fmt.Errorf("listing SAF items: %w", err)
	}
	out := make([]api.SAFItem, 0, len(items))
	for _, it := range items {
		done, err := a.acknowledged(ctx, it)
		if err != nil {
			return nil, err
		}
		if done {
			// The synchronous attempt (or a late answer) was acknowledged;
			// the worker finishes the item on its next pass. It owes the
			// bank nothing: not an item for operators (docs/engine.md).
			continue
		}
		out = append(out, api.SAFItem{
			ID: it.ID, Bank: it.Bank, Kind: string(it.Kind), PaymentID: it.PaymentID, OperationID: it.OperationID,
			State: string(it.State), Attempts: it.Attempts, NextAttemptAt: it.NextAttemptAt, LastError: it.LastError,
			CreatedAt: it.CreatedAt,
		})
	}
	return out, nil
}

// acknowledged reports whether a queued item's operation was already
// acknowledged by the bank (the item is only waiting to be finished).
func (a SAF) acknowledged(ctx context.Context, it *journal.SAFItem) (bool, error) {
	if it.State != journal.SAFQueued || it.OperationID == "" {
		return false, nil
	}
	op, err := a.Store.GetOperation(ctx, it.OperationID)
	if errors.Is(err, journal.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading operation %s of SAF item %s: %w", it.OperationID, it.ID, err)
	}
	return op.Status == journal.OpAcknowledged || op.Status == journal.OpApproved, nil
}

// RetrySAF makes an item due now.
func (a SAF) RetrySAF(ctx context.Context, id string) error {
	err := a.Store.MakeDue(ctx, id)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		return fmt.Errorf("%w: SAF item %s", api.ErrNotFound, id)
	case errors.Is(err, journal.ErrInvalidState):
		return &api.StateError{Message: "the item is being sent or already done"}
	case err != nil:
		return fmt.Errorf("making SAF item %s due: %w", id, err)
	}
	return nil
}

// Link is what operators see of a bank link (*banklink.Link).
type Link interface {
	Health() banklink.Health
	Usable() bool
}

// Banks adapts the bank links to api.Banks and tells routing which banks
// are usable.
type Banks struct {
	Links map[string]Link
	// Breakers are the banks' circuit breakers; nil: none (a link with no
	// usable connection is then shown "open").
	Breakers *breaker.Set
}

var _ api.Banks = Banks{}

// BankStatus reports every link, by bank name.
func (b Banks) BankStatus(context.Context) ([]api.BankStatus, error) {
	names := make([]string, 0, len(b.Links))
	for n := range b.Links {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]api.BankStatus, 0, len(names))
	for _, n := range names {
		l := b.Links[n]
		h := l.Health()
		circuit := "closed"
		if br, ok := b.breaker(n); ok {
			circuit = br.State().String()
		} else if !l.Usable() {
			// Without a breaker a link is "open" exactly when it has no
			// usable connection.
			circuit = "open"
		}
		out = append(out, api.BankStatus{
			Bank: n, Dialect: h.Dialect, ConnectionsConfigured: h.Configured, ConnectionsUp: h.Up,
			SignedOn: h.SignedOn, InFlight: h.InFlight, LastEcho: h.LastEcho, Circuit: circuit,
			TimeoutsLastMinute: h.TimeoutsLastMinute, Usable: b.Usable(n),
		})
	}
	return out, nil
}

func (b Banks) breaker(bank string) (*breaker.Breaker, bool) {
	if b.Breakers == nil {
		return nil, false
	}
	return b.Breakers.Get(bank)
}

// Usable reports whether the named bank can take traffic now: a signed-on
// connection and a circuit that is not open.
func (b Banks) Usable(bank string) bool {
	l, ok := b.Links[bank]
	if !ok {
		return false
	}
	if b.Breakers != nil {
		return b.Breakers.Usable(bank, l.Usable())
	}
	return l.Usable()
}

// AnyUsable is the bank half of /readyz.
func (b Banks) AnyUsable(context.Context) error {
	for n := range b.Links {
		if b.Usable(n) {
			return nil
		}
	}
	return errors.New("no bank link is usable")
}

// Router is what the operator endpoints need of *routing.Router.
type Router interface {
	Current() (routing.Info, bool)
	Reload() (routing.Info, error)
	Validate(src []byte) error
	Explain(in routing.Input, usable func(bank string) bool, rnd routing.Rand) (routing.Explanation, error)
}

// Routes adapts the routing holder to api.Routes.
type Routes struct {
	Router Router
	// Usable tells Explain which banks are healthy now.
	Usable func(bank string) bool
}

var _ api.Routes = Routes{}

// Current is the table in force.
func (r Routes) Current(context.Context) (any, error) {
	in, ok := r.Router.Current()
	if !ok {
		return nil, &api.StateError{Message: "no routing table is in force"}
	}
	return in, nil
}

// Validate checks a table without applying it.
func (r Routes) Validate(_ context.Context, table []byte) ([]string, error) {
	return problems(r.Router.Validate(table))
}

// Reload re-reads the table file.
func (r Routes) Reload(context.Context) (any, []string, error) {
	in, err := r.Router.Reload()
	ps, perr := problems(err)
	if perr != nil || len(ps) > 0 {
		return nil, ps, perr
	}
	return in, nil, nil
}

// Explain explains a decision.
func (r Routes) Explain(_ context.Context, q api.ExplainQuery) (any, error) {
	usable := r.Usable
	if usable == nil {
		usable = func(string) bool { return false }
	}
	ex, err := r.Router.Explain(routing.Input{
		PAN: q.PANPrefix, Amount: q.Amount, Currency: q.Currency, MerchantID: q.MerchantID, MCC: q.MCC, Type: q.Type,
	}, usable, nil)
	if err != nil {
		return nil, &api.StateError{Message: "cannot explain: " + err.Error()}
	}
	return ex, nil
}

// problems turns a routing validation error into its problem list; other
// errors (the file cannot be read) are one problem too, since the operator
// must see them, and the table in force stays either way.
func problems(err error) ([]string, error) {
	if err == nil {
		return nil, nil
	}
	var ve *routing.ValidationError
	if errors.As(err, &ve) {
		out := make([]string, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			out = append(out, p.String())
		}
		return out, nil
	}
	return []string{err.Error()}, nil
}

// StaleKeys lists the journal's in-flight idempotency keys for
// api.Server.RecoverStaleKeys.
type StaleKeys struct{ Store journal.Store }

var _ api.StaleKeys = StaleKeys{}

// StaleInFlight lists in-flight keys created at or before before, resuming
// after the key after.
func (a StaleKeys) StaleInFlight(ctx context.Context, before time.Time, after api.StaleKey, limit int) ([]api.StaleKey, error) {
	recs, err := a.Store.ListInFlightIdempotencyAfter(ctx, before,
		journal.IdemCursor{CreatedAt: after.CreatedAt, Client: after.Client, RequestID: after.RequestID}, limit)
	if err != nil {
		return nil, fmt.Errorf("listing in-flight idempotency keys: %w", err)
	}
	out := make([]api.StaleKey, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.StaleKey{Client: r.Client, RequestID: r.RequestID, Method: r.Method, Path: r.Path, CreatedAt: r.CreatedAt})
	}
	return out, nil
}
