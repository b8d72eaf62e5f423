package api

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
)

// memIdem is an in-memory IdempotencyStore with the journal's semantics
// (begin inserts in flight or reports replay/in progress/conflict). The
// journal's own conformance suite tests the durable one; this lets the HTTP
// layer's tests run without a database.
type memIdem struct {
	mu   sync.Mutex
	keys map[idemKey]*memIdemRec
}

type memIdemRec struct {
	hash  string
	begin IdemBegin
	rec   IdemRecord
}

func newMemIdem() *memIdem { return &memIdem{keys: map[idemKey]*memIdemRec{}} }

func (m *memIdem) Begin(_ context.Context, b IdemBegin) (IdemOutcome, IdemRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := idemKey{b.Client, b.RequestID}
	r, ok := m.keys[k]
	switch {
	case !ok:
		m.keys[k] = &memIdemRec{hash: b.BodyHash, begin: b}
		return IdemNew, IdemRecord{}, nil
	case r.hash != b.BodyHash:
		return IdemConflict, r.rec, nil
	case r.rec.Done:
		return IdemReplay, r.rec, nil
	}
	return IdemInProgress, r.rec, nil
}

func (m *memIdem) Complete(_ context.Context, c IdemCompletion) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.keys[idemKey{c.Client, c.RequestID}]
	if !ok || r.rec.Done {
		return ErrNotFound
	}
	r.rec = IdemRecord{Done: true, HTTPStatus: c.HTTPStatus, Response: append([]byte(nil), c.Response...), PaymentID: c.PaymentID}
	return nil
}

func (m *memIdem) Release(_ context.Context, client, requestID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := idemKey{client, requestID}
	if r, ok := m.keys[k]; ok && !r.rec.Done {
		delete(m.keys, k)
	}
	return nil
}

// memPayments is a small in-memory payment service with the contract's
// state rules for the operations the tests exercise: PAN ending 0036 is
// declined do_not_honor (simulator.md), everything else approved.
type memPayments struct {
	mu       sync.Mutex
	payments map[string]*Payment
	byReq    map[idemKey]string
	calls    atomic.Int64
	// gate, when set, holds Authorize until it is closed (in-flight tests).
	gate chan struct{}
	// entered is signalled when Authorize starts.
	entered chan struct{}
	// failNext makes the next Authorize return this error.
	failNext error
	lastReq  AuthorizeRequest
}

func newMemPayments() *memPayments {
	return &memPayments{payments: map[string]*Payment{}, byReq: map[idemKey]string{}}
}

var almatyTest = time.FixedZone("+05", 5*3600)

func (m *memPayments) Authorize(ctx context.Context, req AuthorizeRequest) (*Payment, error) {
	m.calls.Add(1)
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failNext; err != nil {
		m.failNext = nil
		return nil, err
	}
	m.lastReq = req
	pan := ""
	if req.Card != nil {
		pan = req.Card.PAN
	} else {
		pan = req.NetworkToken.Token
	}
	p := &Payment{
		ID: "pay_" + ulid.Make().String(), Client: req.Client, RequestID: req.RequestID, Type: req.Type,
		Amount: req.Amount, Currency: req.Currency, MaskedPAN: maskPAN(pan), Brand: "visa",
		RRN: "633100000123", STAN: "000123", Bank: "alfa", Route: "kzt-default",
		CreatedAt: time.Date(2026, 11, 27, 5, 15, 0, 0, time.UTC),
	}
	if pan[len(pan)-4:] == "0036" {
		p.Status, p.ResponseCode, p.Reason, p.ReasonCode = "declined", "05", "do_not_honor", 5005
	} else {
		p.Status, p.ResponseCode, p.Reason, p.AuthCode = "approved", "00", "approved", "A1B2C3"
	}
	p.Operations = []Operation{{Kind: "authorization", MTI: "0200", STAN: "000123", Status: p.Status, ResponseCode: p.ResponseCode, At: p.CreatedAt, LatencyMS: 84, BankAnswered: true}}
	m.payments[p.ID] = p
	m.byReq[idemKey{req.Client, req.RequestID}] = p.ID
	cp := *p
	cp.Operations = nil
	return &cp, nil
}

func (m *memPayments) Capture(_ context.Context, req OperationRequest) (*Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.payments[req.PaymentID]
	if !ok {
		return nil, ErrNotFound
	}
	if p.Type != "preauth" || p.Status != "approved" || p.CapturedAmount > 0 {
		return nil, &StateError{Message: "only an approved, uncaptured preauth can be captured"}
	}
	amt := p.Amount
	if req.Amount != nil {
		if *req.Amount > p.Amount {
			return nil, &StateError{Message: "capture above the authorized amount"}
		}
		amt = *req.Amount
	}
	p.CapturedAmount = amt
	p.Operations = append(p.Operations, Operation{Kind: "capture", RequestID: req.RequestID, MTI: "0220", Status: "queued", Amount: amt,
		At: p.CreatedAt.Add(time.Minute), Attempts: 2, NextAttemptAt: p.CreatedAt.Add(2 * time.Minute)})
	cp := *p
	cp.Operations = nil
	return &cp, nil
}

func (m *memPayments) Void(_ context.Context, req OperationRequest) (*Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.payments[req.PaymentID]
	if !ok {
		return nil, ErrNotFound
	}
	if p.Status != "approved" {
		return nil, &StateError{Message: "only an approved payment can be voided"}
	}
	p.Status, p.VoidedAmount = "voided", p.Amount
	p.Operations = append(p.Operations, Operation{Kind: "void", RequestID: req.RequestID, MTI: "0400", Status: "acknowledged", Amount: p.Amount, At: p.CreatedAt})
	cp := *p
	cp.Operations = nil
	return &cp, nil
}

func (m *memPayments) Refund(_ context.Context, req OperationRequest) (*Refund, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.payments[req.PaymentID]
	if !ok {
		return nil, ErrNotFound
	}
	if p.Status != "approved" || *req.Amount > p.Amount {
		return nil, &StateError{Message: "refund above the refundable amount"}
	}
	rf := &Refund{ID: "ref_" + ulid.Make().String(), PaymentID: p.ID, Status: "approved", Amount: *req.Amount,
		Currency: p.Currency, RRN: "633100000124", ResponseCode: "00", Reason: "approved", CreatedAt: p.CreatedAt}
	p.Operations = append(p.Operations, Operation{Kind: "refund", ID: rf.ID, RequestID: req.RequestID, MTI: "0200", Status: "approved",
		ResponseCode: "00", Reason: "approved", RRN: rf.RRN, Amount: rf.Amount, At: rf.CreatedAt})
	return rf, nil
}

func (m *memPayments) Get(_ context.Context, id string) (*Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.payments[id]
	if !ok {
		return nil, ErrNotFound
	}
	cp := *p
	cp.Operations = append([]Operation(nil), p.Operations...)
	return &cp, nil
}

func (m *memPayments) GetByRequestID(ctx context.Context, client, requestID string) (*Payment, error) {
	m.mu.Lock()
	id, ok := m.byReq[idemKey{client, requestID}]
	m.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	return m.Get(ctx, id)
}

// StaleInFlight lists in-flight keys in (client, request id) order after
// the cursor (the tests control age by choosing which keys exist).
func (m *memIdem) StaleInFlight(_ context.Context, _ time.Time, after StaleKey, limit int) ([]StaleKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []StaleKey
	for k, r := range m.keys {
		if !r.rec.Done && (k.client > after.Client || k.client == after.Client && k.requestID > after.RequestID) {
			out = append(out, StaleKey{Client: k.client, RequestID: k.requestID, Method: r.begin.Method, Path: r.begin.Path})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Client != out[j].Client {
			return out[i].Client < out[j].Client
		}
		return out[i].RequestID < out[j].RequestID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
