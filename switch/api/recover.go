package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// StaleKey is an idempotency key left in flight, typically by a crash
// between taking the key and storing the answer.
type StaleKey struct {
	Client, RequestID string
	Method, Path      string
	CreatedAt         time.Time
}

// StaleKeys lists in-flight keys created at or before a time (the journal).
type StaleKeys interface {
	StaleInFlight(ctx context.Context, before time.Time, limit int) ([]StaleKey, error)
}

// RecoverStaleKeys settles idempotency keys older than olderThan that are
// still in flight, so that replays of a request a crash interrupted do not
// wait forever. olderThan must exceed the longest a request can run (bank
// timeouts with failover), so a key another process is still serving is
// never touched.
//
// For POST /v1/payments the engine's journal decides: no payment under the
// request_id means nothing was recorded, hence nothing sent (the engine
// journals before it sends), and the key is released so the retry runs; a
// decided payment becomes the stored 200 answer; a payment still pending is
// left for the engine's own recovery. Keys of captures, voids and refunds
// are left in place (and counted): whether their operation reached the bank
// is the engine's to settle.
func (s *Server) RecoverStaleKeys(ctx context.Context, src StaleKeys, olderThan time.Duration) (settled, left int, err error) {
	keys, err := src.StaleInFlight(ctx, s.now().Add(-olderThan), 1000)
	if err != nil {
		return 0, 0, fmt.Errorf("listing stale idempotency keys: %w", err)
	}
	for _, k := range keys {
		if k.Method != http.MethodPost || k.Path != "/v1/payments" {
			left++
			continue
		}
		p, err := s.payments.GetByRequestID(ctx, k.Client, k.RequestID)
		switch {
		case errors.Is(err, ErrNotFound):
			err = s.idem.Release(ctx, k.Client, k.RequestID)
		case err != nil:
		case p.Status == "pending":
			left++
			continue
		default:
			err = s.idem.Complete(ctx, IdemCompletion{Client: k.Client, RequestID: k.RequestID, HTTPStatus: http.StatusOK,
				Response: marshal(s.renderPayment(p, false)), PaymentID: p.ID})
		}
		if err != nil {
			return settled, left, fmt.Errorf("settling idempotency key of client %s: %w", k.Client, err)
		}
		settled++
		s.log.Warn().Str("client", k.Client).Str("request_id", k.RequestID).Msg("settled an idempotency key a crash left in flight")
	}
	return settled, left, nil
}
