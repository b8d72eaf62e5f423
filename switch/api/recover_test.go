package api

import (
	"encoding/json"
	"fmt"
	"strings"
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
	// A capture the crash stopped before the engine journaled it.
	begin("crashed-capture", "/v1/payments/"+paid.ID+"/capture", "x")

	settled, left, err := h.s.RecoverStaleKeys(ctx, h.idem, 0)
	if err != nil || settled != 3 || left != 0 {
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
	if oc, _, _ := h.idem.Begin(ctx, IdemBegin{Client: "gateway", RequestID: "crashed-capture", BodyHash: "x"}); oc != IdemNew {
		t.Errorf("capture key without an operation %v, want released (nothing was journaled)", oc)
	}
}

// LOW 11: keys of captures, voids and refunds a crash left in flight are
// settled from the operation the request created, and keys that cannot be
// settled yet (more than one page of them) never hide newer ones.
func TestRecoverStaleOperationKeys(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	authorize := func(rid, typ string) *Payment {
		p := validPayment()
		p["request_id"], p["type"] = rid, typ
		var b authorizeBody
		if err := decodeStrict([]byte(toJSON(t, p)), &b); err != nil {
			t.Fatal(err)
		}
		ar, fe := h.s.validateAuthorize(&b, "gateway")
		if fe != nil {
			t.Fatal(fe)
		}
		paid, err := h.pay.Authorize(ctx, ar)
		if err != nil {
			t.Fatal(err)
		}
		return paid
	}
	begin := func(rid, path string) {
		if oc, _, _ := h.idem.Begin(ctx, IdemBegin{Client: "gateway", RequestID: rid, BodyHash: "h-" + rid, Method: "POST", Path: path}); oc != IdemNew {
			t.Fatalf("begin %s: %v", rid, oc)
		}
	}
	pre := authorize("z-pre", "preauth")
	if _, err := h.pay.Capture(ctx, OperationRequest{Client: "gateway", RequestID: "z-cap", PaymentID: pre.ID}); err != nil {
		t.Fatal(err)
	}
	begin("z-cap", "/v1/payments/"+pre.ID+"/capture")
	pur := authorize("z-pur", "purchase")
	amt := int64(1000)
	rf, err := h.pay.Refund(ctx, OperationRequest{Client: "gateway", RequestID: "z-rf", PaymentID: pur.ID, Amount: &amt})
	if err != nil {
		t.Fatal(err)
	}
	begin("z-rf", "/v1/payments/"+pur.ID+"/refunds")
	begin("z-rf-none", "/v1/payments/"+pur.ID+"/refunds") // never journaled

	// More keys than a page (and than the old fixed limit of 1000) that
	// cannot be settled yet: their payment is still pending. They sort
	// before the settleable ones.
	pending := authorize("a-pending", "purchase")
	h.pay.mu.Lock()
	h.pay.payments[pending.ID].Status = "pending"
	for i := range 1001 {
		h.pay.byReq[idemKey{"gateway", fmt.Sprintf("a-%04d", i)}] = pending.ID
	}
	h.pay.mu.Unlock()
	for i := range 1001 {
		begin(fmt.Sprintf("a-%04d", i), "/v1/payments")
	}

	settled, left, err := h.s.RecoverStaleKeys(ctx, h.idem, 0)
	if err != nil || settled != 3 || left != 1001 {
		t.Fatalf("settled %d left %d err %v; want 3 settled past 1001 unsettleable", settled, left, err)
	}
	oc, rec, _ := h.idem.Begin(ctx, IdemBegin{Client: "gateway", RequestID: "z-cap", BodyHash: "h-z-cap"})
	if oc != IdemReplay || rec.HTTPStatus != 200 || !strings.Contains(string(rec.Response), pre.ID) || !strings.Contains(string(rec.Response), `"captured_amount"`) {
		t.Fatalf("capture key: %v %d %s", oc, rec.HTTPStatus, rec.Response)
	}
	oc, rec, _ = h.idem.Begin(ctx, IdemBegin{Client: "gateway", RequestID: "z-rf", BodyHash: "h-z-rf"})
	var got map[string]any
	_ = json.Unmarshal(rec.Response, &got)
	if oc != IdemReplay || rec.HTTPStatus != 200 || got["id"] != rf.ID || got["status"] != "approved" || got["amount"] != float64(amt) {
		t.Fatalf("refund key: %v %d %s", oc, rec.HTTPStatus, rec.Response)
	}
	if oc, _, _ := h.idem.Begin(ctx, IdemBegin{Client: "gateway", RequestID: "z-rf-none", BodyHash: "h-z-rf-none"}); oc != IdemNew {
		t.Fatalf("refund key without an operation: %v, want released", oc)
	}
}
