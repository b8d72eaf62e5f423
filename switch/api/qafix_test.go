package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A 405 carries the Allow header listing what the endpoint takes, and the
// contract's error body.
func TestMethodNotAllowedHasAllow(t *testing.T) {
	h := newHarness(t)
	cases := map[string]string{
		"/v1/payments": "GET, HEAD, POST",
		"/v1/payments/pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3/capture": "POST",
		"/v1/payments/pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3":         "GET, HEAD",
	}
	for path, want := range cases {
		rec := h.do("DELETE", path, gwToken, "")
		wantError(t, rec, 405, "method_not_allowed", "")
		if got := rec.Header().Get("Allow"); got != want {
			t.Errorf("DELETE %s: Allow %q, want %q", path, got, want)
		}
	}
	if rec := h.do("GET", "/v2/nothing", gwToken, ""); rec.Header().Get("Allow") != "" {
		t.Errorf("404 carries Allow %q", rec.Header().Get("Allow"))
	}
}

// merchant.name and city are counted in characters: a Cyrillic name of 12
// characters (24 bytes) fails the ASCII rule with a message that says so,
// not a length rule it does not break.
func TestMerchantTextCountsCharacters(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ field, value string }{
		{"merchant.name", "МАГАЗИНДЕМОА"}, // 12 characters, 24 bytes
		{"merchant.city", "АЛМАТЫАЛМАТЫ"}, // 12 characters, 24 bytes
	} {
		body := validPayment()
		set(body, c.field, c.value, false)
		e := wantError(t, h.do("POST", "/v1/payments", gwToken, toJSON(t, body)), 400, "invalid_request", c.field)
		want := c.field + " must be printable ASCII (DE43 is ans): transliterate"
		if e.Error.Message != want {
			t.Errorf("%s: message %q, want %q", c.field, e.Error.Message, want)
		}
	}
	body := validPayment()
	set(body, "merchant.name", strings.Repeat("Ж", 23), false)
	wantError(t, h.do("POST", "/v1/payments", gwToken, toJSON(t, body)), 400, "invalid_request", "merchant.name")
}

// latency_ms is present on every operation the bank answered, 0 included;
// attempts and next_attempt_at are present on every queued operation, 0
// attempts included; neither appears where it means nothing.
func TestOperationFieldsAlwaysPresentWhereMeaningful(t *testing.T) {
	h := newHarness(t)
	at := time.Date(2026, 11, 27, 10, 15, 0, 0, almatyTest)
	p := &Payment{ID: "pay_x", Status: "approved", CreatedAt: at, Operations: []Operation{
		{Kind: "authorization", Status: "approved", At: at, LatencyMS: 0, BankAnswered: true},
		{Kind: "capture", Status: "queued", At: at, Attempts: 0, NextAttemptAt: at.Add(time.Second)},
		{Kind: "refund", Status: "declined", At: at, LatencyMS: 0, BankAnswered: false},
	}}
	raw, err := json.Marshal(h.s.renderPayment(p, true))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Operations []map[string]any `json:"operations"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Operations[0]["latency_ms"]; !ok || v != 0.0 {
		t.Errorf("answered operation: latency_ms %v present=%v, want 0", v, ok)
	}
	if v, ok := got.Operations[1]["attempts"]; !ok || v != 0.0 {
		t.Errorf("queued operation: attempts %v present=%v, want 0", v, ok)
	}
	if v := got.Operations[1]["next_attempt_at"]; v != "2026-11-27T10:15:01+05:00" {
		t.Errorf("queued operation: next_attempt_at %v", v)
	}
	for _, k := range []string{"latency_ms", "attempts", "next_attempt_at"} {
		if _, ok := got.Operations[2][k]; ok {
			t.Errorf("unanswered operation carries %s: %s", k, raw)
		}
	}
	if _, ok := got.Operations[0]["attempts"]; ok {
		t.Errorf("approved operation carries attempts: %s", raw)
	}
}

// A replay differing only in card.cvv is the same request (the CVV is
// never stored, not even hashed); a CVV given in one and absent in the
// other is a different request.
func TestReplayDifferingOnlyInCVV(t *testing.T) {
	h := newHarness(t)
	first := h.do("POST", "/v1/payments", gwToken, toJSON(t, validPayment()))
	if first.Code != 200 {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	other := validPayment()
	set(other, "card.cvv", "987", false)
	rec := h.do("POST", "/v1/payments", gwToken, toJSON(t, other))
	if rec.Code != 200 || rec.Body.String() != first.Body.String() || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay with another CVV: %d %s", rec.Code, rec.Body)
	}
	if n := h.pay.calls.Load(); n != 1 {
		t.Fatalf("engine called %d times", n)
	}
	absent := validPayment()
	set(absent, "card.cvv", nil, true)
	wantError(t, h.do("POST", "/v1/payments", gwToken, toJSON(t, absent)), 409, "idempotency_conflict", "request_id")
}
