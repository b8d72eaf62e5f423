package api

import (
	"context"
	"testing"
	"time"
)

// The answer goes out before its idempotency record is stored; Wait
// returns once every such record is stored, and the stored record is the
// answer that was sent (a replay gets it byte for byte).
func TestAnswerThenStoreIdempotency(t *testing.T) {
	h := newHarness(t)
	first := h.do("POST", "/v1/payments", gwToken, toJSON(t, validPayment()))
	if first.Code != 200 {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.s.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	h.idem.mu.Lock()
	rec, ok := h.idem.keys[idemKey{"gateway", "gw-20261127-000123"}]
	h.idem.mu.Unlock()
	if !ok || !rec.rec.Done || rec.rec.HTTPStatus != 200 || string(rec.rec.Response) != first.Body.String() {
		t.Fatalf("stored record after Wait: %+v", rec)
	}
	h.s.mu.Lock()
	left := len(h.s.inflight)
	h.s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d keys still marked in flight in the process after Wait", left)
	}
}
