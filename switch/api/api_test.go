package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
)

const (
	gwToken  = "gw-token-0123456789abcdefghij"
	gw2Token = "gw2-token-0123456789abcdefghij"
	opToken  = "op-token-0123456789abcdefghij"
	testPAN  = "4000000000000010"
	declPAN  = "4000000000000036"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type harness struct {
	t     *testing.T
	s     *Server
	pay   *memPayments
	idem  *memIdem
	clock *clock
	logs  *syncBuffer
	reg   *prometheus.Registry
}

func newHarness(t *testing.T, mods ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, pay: newMemPayments(), idem: newMemIdem(), logs: &syncBuffer{}, reg: prometheus.NewRegistry(),
		clock: &clock{t: time.Date(2026, 11, 27, 10, 15, 0, 0, almatyTest)}}
	o := Options{
		Payments: h.pay, Idempotency: h.idem,
		Clients: []Client{
			{Name: "gateway", Token: gwToken, Role: RoleGateway, RateLimit: 1000},
			{Name: "gateway2", Token: gw2Token, Role: RoleGateway, RateLimit: 1000},
			{Name: "ops", Token: opToken, Role: RoleOperator, RateLimit: 1000},
		},
		IdempotencyKey: bytes.Repeat([]byte{7}, 32),
		Logger:         zerolog.New(h.logs),
		Registry:       h.reg,
		Now:            h.clock.now,
		ReplayWait:     5 * time.Second,
	}
	for _, m := range mods {
		m(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	return h
}

func (h *harness) do(method, path, token, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	return rec
}

// validPayment is the contract's example request.
func validPayment() map[string]any {
	return map[string]any{
		"request_id": "gw-20261127-000123",
		"type":       "purchase",
		"amount":     150000,
		"currency":   "KZT",
		"merchant": map[string]any{
			"id": "M00000000000123", "terminal_id": "T0000123", "mcc": "5411", "name": "DEMO SHOP",
			"city": "ALMATY", "country": "KZ", "sub_merchant_id": "S-778",
		},
		"card":              map[string]any{"pan": testPAN, "expiry": "2812", "cvv": "123", "holder": "TEST HOLDER"},
		"three_ds":          map[string]any{"version": "2.2.0", "eci": "05", "authentication_value": "AAABBJg0VhI0VniQEjRWAAAAAAA=", "ds_transaction_id": "f25084f0-5b16-4c0a-ae5d-b24808a95e4b"},
		"stored_credential": map[string]any{"initiator": "cardholder", "type": "one_click", "sequence": "initial"},
		"order_id":          "INV-1001",
		"description":       "Order 1001",
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type errResp struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Field   string   `json:"field"`
		Details []string `json:"details"`
	} `json:"error"`
}

// wantError checks status and the contract's error body, exactly: one
// top-level "error" object with code, message and (optionally) field.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) errResp {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil || len(raw) != 1 || raw["error"] == nil {
		t.Fatalf("error body not {\"error\":{...}}: %s", rec.Body)
	}
	for k := range raw["error"] {
		if k != "code" && k != "message" && k != "field" && k != "details" {
			t.Errorf("unexpected key %q in error body %s", k, rec.Body)
		}
	}
	var e errResp
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if e.Error.Code != code || e.Error.Field != field || e.Error.Message == "" {
		t.Fatalf("error %+v, want code %q field %q", e.Error, code, field)
	}
	return e
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	body := toJSON(t, validPayment())
	cases := []struct {
		name, method, path, header string
		status                     int
		code                       string
	}{
		{"no token", "POST", "/v1/payments", "", 401, "unauthorized"},
		{"wrong token", "POST", "/v1/payments", "Bearer nope-0123456789abcdefghij", 401, "unauthorized"},
		{"token prefix", "POST", "/v1/payments", "Bearer " + gwToken[:10], 401, "unauthorized"},
		{"basic scheme", "POST", "/v1/payments", "Basic " + gwToken, 401, "unauthorized"},
		{"gateway on admin", "GET", "/v1/admin/banks", "Bearer " + gwToken, 403, "forbidden"},
		{"gateway on saf retry", "POST", "/v1/admin/saf/saf_01JDX3M0Q2K7V8F4T5Z6A1B2C3/retry", "Bearer " + gwToken, 403, "forbidden"},
		{"operator on payment", "POST", "/v1/payments", "Bearer " + opToken, 403, "forbidden"},
		{"no token on admin", "GET", "/v1/admin/routes", "", 401, "unauthorized"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(body))
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			rec := httptest.NewRecorder()
			h.s.Handler().ServeHTTP(rec, req)
			wantError(t, rec, c.status, c.code, "")
			if c.status == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	if n := h.pay.calls.Load(); n != 0 {
		t.Errorf("engine called %d times by refused requests", n)
	}
	// Public endpoints need no token.
	if rec := h.do("GET", "/healthz", "", ""); rec.Code != 200 {
		t.Errorf("healthz %d", rec.Code)
	}
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t)
	p := validPayment()
	p["description"] = strings.Repeat("x", 70000)
	big := toJSON(t, p)
	// With Content-Length.
	wantError(t, h.do("POST", "/v1/payments", gwToken, big), 413, "too_large", "")
	// Without Content-Length (chunked): the reader stops at the limit.
	req := httptest.NewRequest("POST", "/v1/payments", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+gwToken)
	rec := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	wantError(t, rec, 413, "too_large", "")
	// Exactly at the limit is read (and then judged on content).
	exact := `{"request_id":"r1","amount":1` + strings.Repeat(" ", 64<<10-len(`{"request_id":"r1","amount":1}`)) + `}`
	if len(exact) != 64<<10 {
		t.Fatalf("len %d", len(exact))
	}
	wantError(t, h.do("POST", "/v1/payments", gwToken, exact), 400, "invalid_request", "type")
	if h.pay.calls.Load() != 0 {
		t.Error("engine called")
	}
}

func TestRateLimitPerClient(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Clients[0].RateLimit = 2 // gateway: burst 2, 2/s
	})
	get := func(tok string) *httptest.ResponseRecorder {
		return h.do("GET", "/v1/payments?request_id=none", tok, "")
	}
	for i := range 2 {
		if rec := get(gwToken); rec.Code != 404 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := get(gwToken)
	wantError(t, rec, 429, "rate_limited", "")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Another client has its own bucket.
	if rec := get(gw2Token); rec.Code != 404 {
		t.Errorf("other client limited: %d", rec.Code)
	}
	// Tokens come back with time.
	h.clock.add(600 * time.Millisecond)
	if rec := get(gwToken); rec.Code != 404 {
		t.Errorf("after refill: %d", rec.Code)
	}
	wantError(t, get(gwToken), 429, "rate_limited", "")
}

func TestMalformedJSON(t *testing.T) {
	h := newHarness(t)
	valid := toJSON(t, validPayment())
	cases := []struct {
		name, body, field string
	}{
		{"empty", "", ""},
		{"not json", "hello", ""},
		{"array", "[1,2]", ""},
		{"string", `"x"`, ""},
		{"truncated", valid[:len(valid)-3], ""},
		{"trailing object", valid + `{"a":1}`, ""},
		{"trailing garbage", valid + ` x`, ""},
		{"unknown top-level", strings.Replace(valid, `"order_id"`, `"orderid"`, 1), "orderid"},
		{"unknown nested", strings.Replace(valid, `"holder"`, `"holdr"`, 1), "card.holdr"},
		{"case variant", strings.Replace(valid, `"amount"`, `"Amount"`, 1), "Amount"},
		{"duplicate key", strings.Replace(valid, `"amount":150000`, `"amount":150000,"amount":1`, 1), "amount"},
		{"amount string", strings.Replace(valid, `"amount":150000`, `"amount":"150000"`, 1), "amount"},
		{"amount float", strings.Replace(valid, `"amount":150000`, `"amount":1500.5`, 1), "amount"},
		{"amount exponent", strings.Replace(valid, `"amount":150000`, `"amount":1e5`, 1), "amount"},
		{"merchant not object", strings.Replace(toJSON(t, map[string]any{"merchant": 5}), "5", "5", 1), "merchant"},
		{"pan number", strings.Replace(valid, `"pan":"`+testPAN+`"`, `"pan":`+testPAN, 1), "card.pan"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, h.do("POST", "/v1/payments", gwToken, c.body), 400, "invalid_request", c.field)
		})
	}
	if h.pay.calls.Load() != 0 {
		t.Error("engine called for malformed input")
	}
}

// set changes (or with del, removes) the value at a dotted path.
func set(m map[string]any, path string, v any, del bool) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		m = m[p].(map[string]any)
	}
	if del {
		delete(m, parts[len(parts)-1])
	} else {
		m[parts[len(parts)-1]] = v
	}
}

func TestFieldRules(t *testing.T) {
	h := newHarness(t) // clock: 2026-11-27 Asia/Almaty
	type change struct {
		path string
		v    any
		del  bool
	}
	wallet := map[string]any{"token": "4895370000000106", "expiry": "2812", "cryptogram": "AgAAAAAABk4DWZ4C28yUQAAAAAA=", "wallet": "apple_pay", "eci": "07"}
	if !luhnValid("4895370000000106") {
		t.Fatal("test token not Luhn-valid")
	}
	cases := []struct {
		name   string
		ch     []change
		field  string // "" = valid
		substr string
	}{
		{"valid", nil, "", ""},
		{"request_id missing", []change{{"request_id", nil, true}}, "request_id", "1..64"},
		{"request_id bad char", []change{{"request_id", "gw 1", false}}, "request_id", ""},
		{"request_id too long", []change{{"request_id", strings.Repeat("a", 65), false}}, "request_id", ""},
		{"request_id 64", []change{{"request_id", strings.Repeat("a", 64), false}}, "", ""},
		{"type", []change{{"type", "sale", false}}, "type", "purchase, preauth"},
		{"preauth ok", []change{{"type", "preauth", false}}, "", ""},
		{"amount zero", []change{{"amount", 0, false}}, "amount", ""},
		{"amount negative", []change{{"amount", -1, false}}, "amount", ""},
		{"amount max", []change{{"amount", 999999999999, false}}, "", ""},
		{"amount over max", []change{{"amount", 1000000000000, false}}, "amount", ""},
		{"currency unknown", []change{{"currency", "XYZ", false}}, "currency", ""},
		{"currency lower", []change{{"currency", "kzt", false}}, "currency", ""},
		{"currency missing", []change{{"currency", nil, true}}, "currency", ""},
		{"currency usd", []change{{"currency", "USD", false}}, "", ""},
		{"merchant missing", []change{{"merchant", nil, true}}, "merchant", ""},
		{"merchant id long", []change{{"merchant.id", "M000000000001234", false}}, "merchant.id", ""},
		{"merchant id empty", []change{{"merchant.id", "", false}}, "merchant.id", ""},
		{"terminal 7", []change{{"merchant.terminal_id", "T000012", false}}, "merchant.terminal_id", "exactly 8"},
		{"terminal 9", []change{{"merchant.terminal_id", "T00001234", false}}, "merchant.terminal_id", ""},
		{"mcc letters", []change{{"merchant.mcc", "54A1", false}}, "merchant.mcc", "4 digits"},
		{"mcc 3", []change{{"merchant.mcc", "541", false}}, "merchant.mcc", ""},
		{"name 23", []change{{"merchant.name", strings.Repeat("N", 23), false}}, "merchant.name", ""},
		{"name 22", []change{{"merchant.name", strings.Repeat("N", 22), false}}, "", ""},
		{"name non-ascii", []change{{"merchant.name", "МАГАЗИН", false}}, "merchant.name", "ASCII"},
		{"city 14", []change{{"merchant.city", strings.Repeat("C", 14), false}}, "merchant.city", ""},
		{"country unknown", []change{{"merchant.country", "XX", false}}, "merchant.country", ""},
		{"country lower", []change{{"merchant.country", "kz", false}}, "merchant.country", ""},
		{"country alpha3", []change{{"merchant.country", "KAZ", false}}, "merchant.country", ""},
		{"sub merchant 16", []change{{"merchant.sub_merchant_id", strings.Repeat("S", 16), false}}, "merchant.sub_merchant_id", ""},
		{"sub merchant absent", []change{{"merchant.sub_merchant_id", nil, true}}, "", ""},
		{"no card", []change{{"card", nil, true}}, "card", "network_token"},
		{"card and token", []change{{"network_token", wallet, false}}, "card", "exactly one"},
		{"pan luhn", []change{{"card.pan", "4000000000000011", false}}, "card.pan", "Luhn"},
		{"pan short", []change{{"card.pan", "400000000006", false}}, "card.pan", "13 to 19"},
		{"pan long", []change{{"card.pan", "40000000000000000006", false}}, "card.pan", "13 to 19"},
		{"pan letters", []change{{"card.pan", "4000a00000000010", false}}, "card.pan", ""},
		{"pan 13 ok", []change{{"card.pan", "4000000000006", false}}, "", ""},
		{"pan 19 ok", []change{{"card.pan", "4000000000000000006", false}}, "", ""},
		{"expiry past", []change{{"card.expiry", "2610", false}}, "card.expiry", "past"},
		{"expiry this month", []change{{"card.expiry", "2611", false}}, "", ""},
		{"expiry month 13", []change{{"card.expiry", "2813", false}}, "card.expiry", ""},
		{"expiry month 00", []change{{"card.expiry", "2800", false}}, "card.expiry", ""},
		{"expiry format", []change{{"card.expiry", "12/28", false}}, "card.expiry", "YYMM"},
		{"expiry far", []change{{"card.expiry", "9912", false}}, "card.expiry", ""},
		{"cvv 2", []change{{"card.cvv", "12", false}}, "card.cvv", "3 or 4"},
		{"cvv 5", []change{{"card.cvv", "12345", false}}, "card.cvv", ""},
		{"cvv letters", []change{{"card.cvv", "12a", false}}, "card.cvv", ""},
		{"cvv 4", []change{{"card.cvv", "1234", false}}, "", ""},
		{"cvv absent", []change{{"card.cvv", nil, true}}, "", ""},
		{"holder long", []change{{"card.holder", strings.Repeat("H", 27), false}}, "card.holder", ""},
		{"wallet ok", []change{{"card", nil, true}, {"network_token", wallet, false}, {"three_ds", nil, true}}, "", ""},
		{"wallet kind", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.wallet", "samsung_pay", false}}, "network_token.wallet", "apple_pay, google_pay"},
		{"wallet google", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.wallet", "google_pay", false}}, "", ""},
		{"token luhn", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.token", "4895370000000107", false}}, "network_token.token", "Luhn"},
		{"token expiry", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.expiry", "2501", false}}, "network_token.expiry", "past"},
		{"token cryptogram missing", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.cryptogram", nil, true}}, "network_token.cryptogram", ""},
		{"token cryptogram not b64", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.cryptogram", "not base64!", false}}, "network_token.cryptogram", "base64"},
		{"token eci", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.eci", "7", false}}, "network_token.eci", ""},
		{"token with cvv", []change{{"card", nil, true}, {"network_token", wallet, false}, {"network_token.cvv", "123", false}}, "network_token.cvv", "unknown"},
		{"3ds eci", []change{{"three_ds.eci", "5", false}}, "three_ds.eci", "2 digits"},
		{"3ds eci letters", []change{{"three_ds.eci", "0A", false}}, "three_ds.eci", ""},
		{"3ds av not b64", []change{{"three_ds.authentication_value", "***", false}}, "three_ds.authentication_value", "base64"},
		{"3ds av long", []change{{"three_ds.authentication_value", strings.Repeat("A", 44), false}}, "three_ds.authentication_value", "40"},
		{"3ds av missing", []change{{"three_ds.authentication_value", nil, true}}, "three_ds.authentication_value", ""},
		{"3ds uuid", []change{{"three_ds.ds_transaction_id", "f25084f0-5b16-4c0a-ae5d-b24808a95e4", false}}, "three_ds.ds_transaction_id", "UUID"},
		{"3ds version", []change{{"three_ds.version", "2.2", false}}, "three_ds.version", "2.2.0"},
		{"3ds version letters", []change{{"three_ds.version", "v2.2.0", false}}, "three_ds.version", ""},
		{"sc initiator", []change{{"stored_credential.initiator", "bank", false}}, "stored_credential.initiator", "cardholder, merchant"},
		{"sc type", []change{{"stored_credential.type", "monthly", false}}, "stored_credential.type", ""},
		{"sc sequence", []change{{"stored_credential.sequence", "first", false}}, "stored_credential.sequence", ""},
		{"sc sequence missing", []change{{"stored_credential.sequence", nil, true}}, "stored_credential.sequence", ""},
		{"mit subsequent without ntid", []change{{"card.cvv", nil, true}, {"stored_credential.initiator", "merchant", false}, {"stored_credential.sequence", "subsequent", false}, {"stored_credential.type", "recurring", false}}, "stored_credential.network_transaction_id", "required"},
		{"mit subsequent with ntid", []change{{"card.cvv", nil, true}, {"stored_credential.initiator", "merchant", false}, {"stored_credential.sequence", "subsequent", false}, {"stored_credential.network_transaction_id", "123456789012345", false}}, "", ""},
		{"ntid too long", []change{{"stored_credential.network_transaction_id", "1234567890123456", false}}, "stored_credential.network_transaction_id", ""},
		{"mit with cvv", []change{{"stored_credential.initiator", "merchant", false}}, "card.cvv", "merchant-initiated"},
		{"order_id 65", []change{{"order_id", strings.Repeat("o", 65), false}}, "order_id", "64"},
		{"order_id 64", []change{{"order_id", strings.Repeat("o", 64), false}}, "", ""},
		{"description 257", []change{{"description", strings.Repeat("д", 257), false}}, "description", "256"},
		{"description 256 unicode", []change{{"description", strings.Repeat("д", 256), false}}, "", ""},
		{"description control", []change{{"description", "a\u0000b", false}}, "description", "control"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPayment()
			p["request_id"] = fmt.Sprintf("rule-%d", i)
			for _, ch := range c.ch {
				v := ch.v
				if mv, ok := v.(map[string]any); ok { // fresh copy per case
					cp := map[string]any{}
					for k, x := range mv {
						cp[k] = x
					}
					v = cp
				}
				set(p, ch.path, v, ch.del)
			}
			rec := h.do("POST", "/v1/payments", gwToken, toJSON(t, p))
			if c.field == "" {
				if rec.Code != 200 {
					t.Fatalf("valid request refused: %d %s", rec.Code, rec.Body)
				}
				return
			}
			e := wantError(t, rec, 400, "invalid_request", c.field)
			if !strings.Contains(e.Error.Message, c.substr) {
				t.Errorf("message %q lacks %q", e.Error.Message, c.substr)
			}
		})
	}
}

func TestPaymentResponseShape(t *testing.T) {
	h := newHarness(t)
	rec := h.do("POST", "/v1/payments", gwToken, toJSON(t, validPayment()))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"request_id": "gw-20261127-000123", "type": "purchase", "status": "approved", "amount": 150000.0,
		"currency": "KZT", "card": map[string]any{"masked_pan": "400000******0010", "brand": "visa"},
		"auth_code": "A1B2C3", "rrn": "633100000123", "stan": "000123", "bank": "alfa", "route": "kzt-default",
		"response_code": "00", "reason": "approved", "reason_code": 0.0, "stand_in": false,
		"created_at": "2026-11-27T10:15:00+05:00",
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if !strings.HasPrefix(got["id"].(string), "pay_") {
		t.Errorf("id %v", got["id"])
	}
	if _, ok := got["operations"]; ok {
		t.Error("operations on a POST answer")
	}
	// The engine got the validated request with the card data.
	if h.pay.lastReq.Card.CVV != "123" || h.pay.lastReq.Client != "gateway" || h.pay.lastReq.Merchant.TerminalID != "T0000123" {
		t.Errorf("engine request %+v", h.pay.lastReq.Merchant)
	}

	// A decline is a 200 with the reason and no auth code.
	p := validPayment()
	p["request_id"] = "decl-1"
	set(p, "card.pan", declPAN, false)
	rec = h.do("POST", "/v1/payments", gwToken, toJSON(t, p))
	var d map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &d)
	if rec.Code != 200 || d["status"] != "declined" || d["reason"] != "do_not_honor" || d["reason_code"] != 5005.0 || d["response_code"] != "05" {
		t.Errorf("decline: %d %s", rec.Code, rec.Body)
	}
	if _, ok := d["auth_code"]; ok {
		t.Error("auth_code on a decline")
	}
}

func TestLookupsAndOwnership(t *testing.T) {
	h := newHarness(t)
	p := validPayment()
	p["type"] = "preauth"
	rec := h.do("POST", "/v1/payments", gwToken, toJSON(t, p))
	var created map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	id := created["id"].(string)

	cap := h.do("POST", "/v1/payments/"+id+"/capture", gwToken, `{"request_id":"cap-1","amount":120000}`)
	if cap.Code != 200 || !strings.Contains(cap.Body.String(), `"captured_amount":120000`) {
		t.Fatalf("capture: %d %s", cap.Code, cap.Body)
	}
	for _, path := range []string{"/v1/payments/" + id, "/v1/payments?request_id=gw-20261127-000123"} {
		rec := h.do("GET", path, gwToken, "")
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		var got struct {
			ID         string           `json:"id"`
			Operations []map[string]any `json:"operations"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		if got.ID != id || len(got.Operations) != 2 {
			t.Fatalf("GET %s: %s", path, rec.Body)
		}
		auth, capOp := got.Operations[0], got.Operations[1]
		if auth["kind"] != "authorization" || auth["mti"] != "0200" || auth["latency_ms"] != 84.0 || auth["at"] != "2026-11-27T10:15:00+05:00" {
			t.Errorf("authorization op %v", auth)
		}
		if _, ok := auth["attempts"]; ok {
			t.Errorf("attempts on a finished op: %v", auth)
		}
		if capOp["status"] != "queued" || capOp["attempts"] != 2.0 || capOp["next_attempt_at"] != "2026-11-27T10:17:00+05:00" {
			t.Errorf("queued op %v", capOp)
		}
	}
	// Another gateway client cannot see or act on it; an operator can read it.
	wantError(t, h.do("GET", "/v1/payments/"+id, gw2Token, ""), 404, "not_found", "")
	wantError(t, h.do("POST", "/v1/payments/"+id+"/void", gw2Token, `{"request_id":"v-x"}`), 404, "not_found", "")
	if rec := h.do("GET", "/v1/payments/"+id, opToken, ""); rec.Code != 200 {
		t.Errorf("operator read: %d", rec.Code)
	}
	wantError(t, h.do("GET", "/v1/payments?request_id=gw-20261127-000123", opToken, ""), 400, "invalid_request", "client")
	if rec := h.do("GET", "/v1/payments?request_id=gw-20261127-000123&client=gateway", opToken, ""); rec.Code != 200 {
		t.Errorf("operator by request_id: %d %s", rec.Code, rec.Body)
	}
	// Malformed ids and unknown payments are 404; bad queries 400.
	wantError(t, h.do("GET", "/v1/payments/pay_nope", gwToken, ""), 404, "not_found", "")
	wantError(t, h.do("GET", "/v1/payments/pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3", gwToken, ""), 404, "not_found", "")
	wantError(t, h.do("GET", "/v1/payments?request_id=a&foo=1", gwToken, ""), 400, "invalid_request", "foo")
	wantError(t, h.do("GET", "/v1/payments?request_id=a%20b", gwToken, ""), 400, "invalid_request", "request_id")
	wantError(t, h.do("GET", "/v1/payments?request_id=a&request_id=b", gwToken, ""), 400, "invalid_request", "request_id")

	// State errors and operation field rules.
	wantError(t, h.do("POST", "/v1/payments/"+id+"/capture", gwToken, `{"request_id":"cap-2"}`), 409, "invalid_state", "")
	wantError(t, h.do("POST", "/v1/payments/"+id+"/refunds", gwToken, `{"request_id":"ref-1"}`), 400, "invalid_request", "amount")
	wantError(t, h.do("POST", "/v1/payments/"+id+"/refunds", gwToken, `{"request_id":"ref-1","amount":0}`), 400, "invalid_request", "amount")
	wantError(t, h.do("POST", "/v1/payments/"+id+"/void", gwToken, `{"amount":5}`), 400, "invalid_request", "request_id")
	wantError(t, h.do("POST", "/v1/payments/"+id+"/void", gwToken, `{"request_id":"v1","reason":"x"}`), 400, "invalid_request", "reason")
	ref := h.do("POST", "/v1/payments/"+id+"/refunds", gwToken, `{"request_id":"ref-2","amount":50000}`)
	var rf map[string]any
	_ = json.Unmarshal(ref.Body.Bytes(), &rf)
	if ref.Code != 200 || rf["payment_id"] != id || rf["amount"] != 50000.0 || rf["status"] != "approved" ||
		!strings.HasPrefix(rf["id"].(string), "ref_") || rf["created_at"] != "2026-11-27T10:15:00+05:00" {
		t.Errorf("refund: %d %s", ref.Code, ref.Body)
	}
	void := h.do("POST", "/v1/payments/"+id+"/void", gwToken, `{"request_id":"void-1"}`)
	if void.Code != 200 || !strings.Contains(void.Body.String(), `"status":"voided"`) {
		t.Errorf("void: %d %s", void.Code, void.Body)
	}
}

func TestIdempotentReplayAndConflict(t *testing.T) {
	h := newHarness(t)
	body := toJSON(t, validPayment())
	first := h.do("POST", "/v1/payments", gwToken, body)
	if first.Code != 200 {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	// Same body, different key order and whitespace: the same request.
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	reordered, _ := json.MarshalIndent(m, "", "   ")
	for _, b := range []string{body, string(reordered)} {
		rec := h.do("POST", "/v1/payments", gwToken, b)
		if rec.Code != 200 || rec.Body.String() != first.Body.String() || rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s", rec.Code, rec.Body)
		}
	}
	if n := h.pay.calls.Load(); n != 1 {
		t.Fatalf("engine called %d times", n)
	}
	// Different body, same request_id.
	p := validPayment()
	p["amount"] = 150001
	wantError(t, h.do("POST", "/v1/payments", gwToken, toJSON(t, p)), 409, "idempotency_conflict", "request_id")
	// The same request_id from another client is another key.
	if rec := h.do("POST", "/v1/payments", gw2Token, body); rec.Code != 200 || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("other client: %d", rec.Code)
	}
	// A stored error answer replays with its status too.
	var created map[string]any
	_ = json.Unmarshal(first.Body.Bytes(), &created)
	capPath := "/v1/payments/" + created["id"].(string) + "/capture"
	c1 := h.do("POST", capPath, gwToken, `{"request_id":"cap-x"}`)
	c2 := h.do("POST", capPath, gwToken, `{"request_id":"cap-x"}`)
	wantError(t, c1, 409, "invalid_state", "")
	if c2.Code != 409 || c2.Body.String() != c1.Body.String() {
		t.Errorf("stored 409 replay: %d %s", c2.Code, c2.Body)
	}
	// A capture reusing the payment's request_id is a conflict (other endpoint).
	wantError(t, h.do("POST", capPath, gwToken, `{"request_id":"gw-20261127-000123"}`), 409, "idempotency_conflict", "request_id")
}

func TestConcurrentReplayWaitsForOriginal(t *testing.T) {
	h := newHarness(t)
	h.pay.gate = make(chan struct{})
	h.pay.entered = make(chan struct{}, 4)
	body := toJSON(t, validPayment())
	results := make(chan *httptest.ResponseRecorder, 3)
	go func() { results <- h.do("POST", "/v1/payments", gwToken, body) }()
	<-h.pay.entered // the original is inside the engine
	for range 2 {
		go func() { results <- h.do("POST", "/v1/payments", gwToken, body) }()
	}
	select {
	case r := <-results:
		t.Fatalf("a request finished while the original is in flight: %d %s", r.Code, r.Body)
	case <-time.After(100 * time.Millisecond):
	}
	close(h.pay.gate)
	var bodies []string
	for range 3 {
		r := <-results
		if r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		bodies = append(bodies, r.Body.String())
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("answers differ:\n%s", strings.Join(bodies, "\n"))
	}
	if n := h.pay.calls.Load(); n != 1 {
		t.Errorf("engine called %d times", n)
	}
}

func TestReplayAcrossProcessesPollsStore(t *testing.T) {
	a := newHarness(t)
	// Process b shares a's idempotency store and payments, as two switches
	// share one journal.
	b := newHarness(t, func(o *Options) { o.Idempotency = a.idem; o.Payments = a.pay })
	a.pay.gate = make(chan struct{})
	a.pay.entered = make(chan struct{}, 2)
	body := toJSON(t, validPayment())
	ra, rb := make(chan *httptest.ResponseRecorder, 1), make(chan *httptest.ResponseRecorder, 1)
	go func() { ra <- a.do("POST", "/v1/payments", gwToken, body) }()
	<-a.pay.entered
	go func() { rb <- b.do("POST", "/v1/payments", gwToken, body) }()
	time.Sleep(50 * time.Millisecond) // b is polling now
	close(a.pay.gate)
	r1, r2 := <-ra, <-rb
	if r1.Code != 200 || r2.Code != 200 || r1.Body.String() != r2.Body.String() {
		t.Fatalf("a: %d %s\nb: %d %s", r1.Code, r1.Body, r2.Code, r2.Body)
	}
	if a.pay.calls.Load() != 1 {
		t.Errorf("engine called %d times", a.pay.calls.Load())
	}
	if got := metricValue(t, b.s.metrics.replays.WithLabelValues("waited")); got < 1 {
		t.Errorf("waited replays %v", got)
	}
}

func TestReplayGivesUpAfterReplayWait(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ReplayWait = 100 * time.Millisecond })
	// A key left in flight (e.g. by a crashed process).
	_, _, _ = h.idem.Begin(t.Context(), IdemBegin{Client: "gateway", RequestID: "gw-20261127-000123", BodyHash: h.s.bodyHash("POST", "/v1/payments", []byte("x"))})
	p := validPayment()
	// Same body hash is needed for "in progress": recompute from the real request.
	h.idem.keys[idemKey{"gateway", "gw-20261127-000123"}].hash = func() string {
		b := authorizeBody{}
		_ = decodeStrict([]byte(toJSON(t, p)), &b)
		c := *b.Card
		c.CVV = "present"
		b.Card = &c
		return h.s.bodyHash("POST", "/v1/payments", marshal(b))
	}()
	start := time.Now()
	rec := h.do("POST", "/v1/payments", gwToken, toJSON(t, p))
	wantError(t, rec, 503, "overloaded", "")
	if el := time.Since(start); el < 100*time.Millisecond || el > 2*time.Second {
		t.Errorf("gave up after %v", el)
	}
	if h.pay.calls.Load() != 0 {
		t.Error("engine called for an in-flight key")
	}
}

func TestOverloadReleasesKey(t *testing.T) {
	h := newHarness(t)
	h.pay.failNext = ErrOverloaded
	body := toJSON(t, validPayment())
	wantError(t, h.do("POST", "/v1/payments", gwToken, body), 503, "overloaded", "")
	// Nothing was sent: the retry with the same request_id runs afresh.
	if rec := h.do("POST", "/v1/payments", gwToken, body); rec.Code != 200 || rec.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry: %d %s", rec.Code, rec.Body)
	}
	if h.pay.calls.Load() != 2 {
		t.Errorf("engine calls %d", h.pay.calls.Load())
	}
	// An internal error is stored: its replay does not run the engine again.
	p := validPayment()
	p["request_id"] = "internal-1"
	h.pay.failNext = errors.New("journal write failed")
	wantError(t, h.do("POST", "/v1/payments", gwToken, toJSON(t, p)), 500, "internal_error", "")
	wantError(t, h.do("POST", "/v1/payments", gwToken, toJSON(t, p)), 500, "internal_error", "")
	if h.pay.calls.Load() != 3 {
		t.Errorf("engine calls %d", h.pay.calls.Load())
	}
}

func TestInFlightLimit(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxInFlight = 1 })
	h.pay.gate = make(chan struct{})
	h.pay.entered = make(chan struct{}, 1)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- h.do("POST", "/v1/payments", gwToken, toJSON(t, validPayment())) }()
	<-h.pay.entered
	wantError(t, h.do("GET", "/v1/payments?request_id=x", gwToken, ""), 503, "overloaded", "")
	close(h.pay.gate)
	if r := <-done; r.Code != 200 {
		t.Fatalf("%d", r.Code)
	}
	if rec := h.do("GET", "/v1/payments?request_id=x", gwToken, ""); rec.Code != 404 {
		t.Errorf("after: %d", rec.Code)
	}
}

func TestDrain(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Readiness = []Check{{Name: "journal", Check: func(context.Context) error { return nil }}}
	})
	if rec := h.do("GET", "/readyz", "", ""); rec.Code != 200 {
		t.Fatalf("readyz %d", rec.Code)
	}
	h.s.Drain()
	wantError(t, h.do("POST", "/v1/payments", gwToken, toJSON(t, validPayment())), 503, "shutting_down", "")
	wantError(t, h.do("GET", "/readyz", "", ""), 503, "shutting_down", "")
	if rec := h.do("GET", "/healthz", "", ""); rec.Code != 200 {
		t.Errorf("healthz while draining %d", rec.Code)
	}
	if h.pay.calls.Load() != 0 {
		t.Error("engine called while draining")
	}
}

func TestReadiness(t *testing.T) {
	var journalErr error = errors.New("database is locked at /secret/path")
	h := newHarness(t, func(o *Options) {
		o.Readiness = []Check{
			{Name: "journal", Check: func(context.Context) error { return journalErr }},
			{Name: "banks", Check: func(context.Context) error { return nil }},
		}
	})
	rec := h.do("GET", "/readyz", "", "")
	e := wantError(t, rec, 503, "not_ready", "")
	if len(e.Error.Details) != 1 || e.Error.Details[0] != "journal: not ready" || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("readyz body %s", rec.Body)
	}
	journalErr = nil
	if rec := h.do("GET", "/readyz", "", ""); rec.Code != 200 {
		t.Errorf("ready: %d", rec.Code)
	}
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	h := newHarness(t)
	wantError(t, h.do("GET", "/v2/payments", gwToken, ""), 404, "not_found", "")
	wantError(t, h.do("DELETE", "/v1/payments", gwToken, ""), 405, "method_not_allowed", "")
	wantError(t, h.do("GET", "/v1/payments/pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3/capture", gwToken, ""), 405, "method_not_allowed", "")
}

// TestNoCardDataLeaks runs approvals, declines and validation failures and
// checks that neither answers nor log lines ever carry a full PAN or CVV.
func TestNoCardDataLeaks(t *testing.T) {
	h := newHarness(t)
	var answers []string
	do := func(method, path, tok, body string) {
		rec := h.do(method, path, tok, body)
		answers = append(answers, rec.Body.String())
	}
	p := validPayment()
	set(p, "card.cvv", "987", false)
	do("POST", "/v1/payments", gwToken, toJSON(t, p))
	p["request_id"] = "leak-2"
	set(p, "card.pan", declPAN, false)
	do("POST", "/v1/payments", gwToken, toJSON(t, p))
	p["request_id"] = "leak-3"
	set(p, "card.pan", "4000000000000011", false) // Luhn failure
	do("POST", "/v1/payments", gwToken, toJSON(t, p))
	p["request_id"] = "leak-4"
	set(p, "card.pan", testPAN, false)
	set(p, "card.expiry", "2001", false)
	do("POST", "/v1/payments", gwToken, toJSON(t, p))
	// A PAN used as an unknown key or as a query parameter name.
	do("POST", "/v1/payments", gwToken, `{"`+testPAN+`":1}`)
	do("GET", "/v1/payments?"+testPAN+"=1", gwToken, "")
	do("GET", "/v1/admin/routes/explain?pan="+testPAN+"&amount=100&currency=KZT&x"+testPAN+"=1", opToken, "")
	do("POST", "/v1/payments", opToken, toJSON(t, p))

	all := strings.Join(answers, "\n") + "\n" + h.logs.String()
	for _, secret := range []string{testPAN, declPAN, "4000000000000011", `"987"`, "cvv\":\"987"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q leaked:\n%s", secret, all)
		}
	}
	if !strings.Contains(h.logs.String(), `"route":"POST /v1/payments"`) {
		t.Errorf("no access log lines:\n%s", h.logs)
	}
}

func TestAccessLogAndMetrics(t *testing.T) {
	h := newHarness(t)
	req := httptest.NewRequest("POST", "/v1/payments", strings.NewReader(toJSON(t, validPayment())))
	req.Header.Set("Authorization", "Bearer "+gwToken)
	req.Header.Set("X-Request-Id", "trace-42")
	rec := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	if rec.Header().Get("X-Request-Id") != "trace-42" {
		t.Errorf("X-Request-Id not echoed")
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		_ = json.Unmarshal([]byte(l), &line)
		if line["message"] == "request" {
			break
		}
	}
	if line["http_request_id"] != "trace-42" || line["client"] != "gateway" || line["request_id"] != "gw-20261127-000123" ||
		!strings.HasPrefix(fmt.Sprint(line["payment_id"]), "pay_") || line["status"] != 200.0 || line["latency_ms"] == nil {
		t.Errorf("access log line %v", line)
	}
	wantError(t, h.do("POST", "/v1/payments", "", "{}"), 401, "unauthorized", "")
	if got := metricValue(t, h.s.metrics.requests.WithLabelValues("POST /v1/payments", "purchase", "200", "approved")); got != 1 {
		t.Errorf("approved counter %v", got)
	}
	if got := metricValue(t, h.s.metrics.requests.WithLabelValues("POST /v1/payments", "", "401", "unauthorized")); got != 1 {
		t.Errorf("401 counter %v", got)
	}
	if got := metricValue(t, h.s.metrics.inFlight); got != 0 {
		t.Errorf("in flight %v", got)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	base := func() Options {
		return Options{Payments: newMemPayments(), Idempotency: newMemIdem(), IdempotencyKey: make([]byte, 32),
			Registry: prometheus.NewRegistry(), Clients: []Client{{Name: "g", Token: "t", Role: RoleGateway, RateLimit: 1}}}
	}
	for name, mod := range map[string]func(*Options){
		"no payments": func(o *Options) { o.Payments = nil },
		"no idem":     func(o *Options) { o.Idempotency = nil },
		"short key":   func(o *Options) { o.IdempotencyKey = make([]byte, 8) },
		"no clients":  func(o *Options) { o.Clients = nil },
		"bad role":    func(o *Options) { o.Clients[0].Role = "root" },
		"no registry": func(o *Options) { o.Registry = nil },
	} {
		o := base()
		mod(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(base()); err != nil {
		t.Errorf("base: %v", err)
	}
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge")
	return 0
}

// panicPayments panics inside Authorize, as a bug would.
type panicPayments struct{ *memPayments }

func (panicPayments) Authorize(context.Context, AuthorizeRequest) (*Payment, error) {
	panic("bug with card 4000000000000010")
}

func TestPanicInEngineIsStored500(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Payments = panicPayments{newMemPayments()} })
	body := toJSON(t, validPayment())
	wantError(t, h.do("POST", "/v1/payments", gwToken, body), 500, "internal_error", "")
	// The key is completed, not left in flight: the replay answers at once.
	start := time.Now()
	wantError(t, h.do("POST", "/v1/payments", gwToken, body), 500, "internal_error", "")
	if time.Since(start) > time.Second {
		t.Error("replay waited on a key a panic left in flight")
	}
	if strings.Contains(h.logs.String(), "4000000000000010") {
		t.Error("panic value logged")
	}
}
