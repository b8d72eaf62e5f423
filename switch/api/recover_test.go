package api

import (
	"encoding/json"
	"testing"
)

func TestRecoverStaleKeys(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	// A payment that was decided, but whose answer a crash kept from the key.
	p := validPayment()
	p["request_id"] = "crashed-after-engine"
	req := authorizeBody{}
	if err := decodeStrict([]byte(toJSON(t, p)), &req); err != nil {
		t.Fatal(err)
	}
	ar, fe := h.s.validateAuthorize(&req, "gateway")
	if fe != nil {
		t.Fatal(fe)
	}
	paid, err := h.pay.Authorize(ctx, ar)
	if err != nil {
		t.Fatal(err)
	}
	canon := func(p map[string]any) string {
		var b authorizeBody
		_ = decodeStrict([]byte(toJSON(t, p)), &b)
		c := *b.Card
		c.CVV = "present"
		b.Card = &c
		return h.s.bodyHash("POST", "/v1/payments", marshal(b))
	}
	begin := func(rid, path, hash string) {
		if oc, _, _ := h.idem.Begin(ctx, IdemBegin{Client: "gateway", RequestID: rid, BodyHash: hash, Method: "POST", Path: path}); oc != IdemNew {
			t.Fatalf("begin %s: %v", rid, oc)
		}
	}
	begin("crashed-after-engine", "/v1/payments", canon(p))
	// A payment the crash stopped before the engine recorded anything.
	q := validPayment()
	q["request_id"] = "crashed-before-engine"
	begin("crashed-before-engine", "/v1/payments", canon(q))
	// A capture: left for the engine.
	begin("crashed-capture", "/v1/payments/"+paid.ID+"/capture", "x")

	settled, left, err := h.s.RecoverStaleKeys(ctx, h.idem, 0)
	if err != nil || settled != 2 || left != 1 {
		t.Fatalf("settled %d left %d err %v", settled, left, err)
	}
	calls := h.pay.calls.Load()
	rec := h.do("POST", "/v1/payments", gwToken, toJSON(t, p))
	var got map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if rec.Code != 200 || got["id"] != paid.ID || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay of the settled key: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("POST", "/v1/payments", gwToken, toJSON(t, q)); rec.Code != 200 || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry of the released key: %d %s", rec.Code, rec.Body)
	}
	if h.pay.calls.Load() != calls+1 {
		t.Errorf("engine calls %d, want %d", h.pay.calls.Load(), calls+1)
	}
	if oc, _, _ := h.idem.Begin(ctx, IdemBegin{Client: "gateway", RequestID: "crashed-capture", BodyHash: "x"}); oc != IdemInProgress {
		t.Errorf("capture key %v, want still in flight", oc)
	}
}
