package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// StaleKey is an idempotency key left in flight, typically by a crash
// between taking the key and storing the answer.
type StaleKey struct {
	Client, RequestID string
	Method, Path      string
	CreatedAt         time.Time
}

// StaleKeys lists in-flight keys created at or before a time (the journal),
// oldest first (created time, client, request id), resuming after the key
// after (zero: from the start).
type StaleKeys interface {
	StaleInFlight(ctx context.Context, before time.Time, after StaleKey, limit int) ([]StaleKey, error)
}

// staleKeyPage is how many in-flight keys one look-up reads.
const staleKeyPage = 500

// RecoverStaleKeys settles idempotency keys older than olderThan that are
// still in flight, so that replays of a request a crash interrupted do not
// wait forever. olderThan must exceed the longest a request can run (bank
// timeouts with failover), so a key another process is still serving is
// never touched.
//
// The engine journals before it sends, so its journal decides:
//
//   - POST /v1/payments: no payment under the request_id means nothing was
//     recorded, hence nothing sent, and the key is released so the retry
//     runs; a decided payment becomes the stored 200 answer; a payment
//     still pending is left for the engine's own recovery.
//   - capture, void, refund: the operation the request created (found by
//     its request_id on the payment) becomes the stored answer — the
//     payment for a capture or void, the refund for a refund; none means
//     nothing was journaled and the key is released; an online refund
//     still pending is left for the engine's recovery.
//
// A key that cannot be settled now (left, or a look-up failed: logged) is
// paged past, so it never hides newer keys.
func (s *Server) RecoverStaleKeys(ctx context.Context, src StaleKeys, olderThan time.Duration) (settled, left int, err error) {
	before := s.now().Add(-olderThan)
	var after StaleKey
	for {
		keys, err := src.StaleInFlight(ctx, before, after, staleKeyPage)
		if err != nil {
			return settled, left, fmt.Errorf("listing stale idempotency keys: %w", err)
		}
		for _, k := range keys {
			after = k
			done, err := s.settleKey(ctx, k)
			if err != nil {
				if ctx.Err() != nil {
					return settled, left, ctx.Err()
				}
				s.log.Error().Err(err).Str("client", k.Client).Str("request_id", k.RequestID).Msg("cannot settle an idempotency key a crash left in flight; retried on the next sweep")
			}
			if !done {
				left++
				continue
			}
			settled++
			s.log.Warn().Str("client", k.Client).Str("request_id", k.RequestID).Str("path", k.Path).Msg("settled an idempotency key a crash left in flight")
		}
		if len(keys) < staleKeyPage {
			return settled, left, nil
		}
	}
}

// settleKey settles one stale key; done false leaves it in flight.
func (s *Server) settleKey(ctx context.Context, k StaleKey) (bool, error) {
	if k.Method != http.MethodPost {
		return false, nil
	}
	if k.Path == "/v1/payments" {
		p, err := s.payments.GetByRequestID(ctx, k.Client, k.RequestID)
		switch {
		case errors.Is(err, ErrNotFound):
			return s.releaseKey(ctx, k)
		case err != nil:
			return false, fmt.Errorf("reading the payment of the key: %w", err)
		case p.Status == "pending":
			return false, nil
		}
		return s.completeKey(ctx, k, marshal(s.renderPayment(p, false)), p.ID)
	}
	paymentID, action, ok := operationPath(k.Path)
	if !ok {
		return false, nil
	}
	p, err := s.payments.Get(ctx, paymentID)
	switch {
	case errors.Is(err, ErrNotFound):
		return s.releaseKey(ctx, k) // unknown payment: nothing was recorded
	case err != nil:
		return false, fmt.Errorf("reading payment %s: %w", paymentID, err)
	case p.Client != k.Client:
		return s.releaseKey(ctx, k) // refused as not found: nothing recorded
	}
	var op *Operation
	for i := range p.Operations {
		if o := &p.Operations[i]; o.Kind == action && o.RequestID == k.RequestID {
			op = o
		}
	}
	switch {
	case op == nil:
		// Nothing journaled under this request_id, so nothing was sent.
		return s.releaseKey(ctx, k)
	case action != "refund":
		return s.completeKey(ctx, k, marshal(s.renderPayment(p, false)), p.ID)
	case op.Status == "pending":
		return false, nil // an online refund awaiting the engine's recovery
	}
	return s.completeKey(ctx, k, marshal(s.renderRefund(refundFromOperation(p, op))), p.ID)
}

func (s *Server) releaseKey(ctx context.Context, k StaleKey) (bool, error) {
	if err := s.idem.Release(ctx, k.Client, k.RequestID); err != nil {
		return false, fmt.Errorf("releasing the key: %w", err)
	}
	return true, nil
}

func (s *Server) completeKey(ctx context.Context, k StaleKey, body []byte, paymentID string) (bool, error) {
	err := s.idem.Complete(ctx, IdemCompletion{Client: k.Client, RequestID: k.RequestID, HTTPStatus: http.StatusOK,
		Response: body, PaymentID: paymentID})
	if err != nil {
		return false, fmt.Errorf("storing the answer of the key: %w", err)
	}
	return true, nil
}

// operationPath splits /v1/payments/{id}/capture|void|refunds into the
// payment id and the operation kind it creates.
func operationPath(path string) (paymentID, kind string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v1/payments/")
	if !found {
		return "", "", false
	}
	id, action, found := strings.Cut(rest, "/")
	if !found || id == "" {
		return "", "", false
	}
	switch action {
	case "capture":
		return id, "capture", true
	case "void":
		return id, "void", true
	case "refunds":
		return id, "refund", true
	}
	return "", "", false
}

// refundFromOperation is the refund answer as the engine gives it, rebuilt
// from the journaled refund operation.
func refundFromOperation(p *Payment, op *Operation) *Refund {
	r := &Refund{
		ID: op.ID, PaymentID: p.ID, Status: "approved", Amount: op.Amount, Currency: p.Currency,
		RRN: op.RRN, ResponseCode: op.ResponseCode, BankResponseCode: op.BankResponseCode, Reason: op.Reason,
		CreatedAt: op.At,
	}
	switch op.Status {
	case "declined", "timeout", "failed":
		r.Status = "declined"
	}
	if r.Reason == "" && r.Status == "approved" {
		r.ResponseCode, r.Reason = "00", "approved"
	}
	return r
}
