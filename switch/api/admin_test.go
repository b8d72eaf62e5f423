package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// memRoutes records what the operator endpoints pass to routing.
type memRoutes struct {
	lastExplain ExplainQuery
	problems    []string
	reloads     int
}

func (m *memRoutes) Current(context.Context) (any, error) {
	return map[string]any{"version": 7, "checksum": "abc"}, nil
}

func (m *memRoutes) Validate(_ context.Context, table []byte) ([]string, error) {
	if strings.Contains(string(table), "ghost") {
		return []string{`line 3: rule "x": banks: unknown bank "ghost"`}, nil
	}
	return nil, nil
}

func (m *memRoutes) Reload(context.Context) (any, []string, error) {
	m.reloads++
	if m.problems != nil {
		return nil, m.problems, nil
	}
	return map[string]any{"version": 8}, nil, nil
}

func (m *memRoutes) Explain(_ context.Context, q ExplainQuery) (any, error) {
	m.lastExplain = q
	return map[string]any{"rule": "kzt-default"}, nil
}

type memSAF struct{ retried []string }

func (m *memSAF) ListSAF(context.Context) ([]SAFItem, error) {
	return []SAFItem{{ID: "saf_01JDX3M0Q2K7V8F4T5Z6A1B2C3", Bank: "alfa", Kind: "reversal", PaymentID: "pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3",
		State: "queued", Attempts: 3, NextAttemptAt: time.Date(2026, 11, 27, 5, 16, 0, 0, time.UTC),
		LastError: "timeout on 4000000000000010", CreatedAt: time.Date(2026, 11, 27, 5, 15, 0, 0, time.UTC)}}, nil
}

func (m *memSAF) RetrySAF(_ context.Context, id string) error {
	if id != "saf_01JDX3M0Q2K7V8F4T5Z6A1B2C3" {
		return ErrNotFound
	}
	m.retried = append(m.retried, id)
	return nil
}

type memBanks struct{}

func (memBanks) BankStatus(context.Context) ([]BankStatus, error) {
	return []BankStatus{{Bank: "alfa", Dialect: "h2h87-ascii", ConnectionsConfigured: 4, ConnectionsUp: 4, SignedOn: 4,
		LastEcho: time.Date(2026, 11, 27, 5, 15, 30, 0, time.UTC), Circuit: "closed", Usable: true}}, nil
}

func TestOperatorEndpoints(t *testing.T) {
	routes, saf := &memRoutes{}, &memSAF{}
	h := newHarness(t, func(o *Options) { o.Routes, o.SAF, o.Banks = routes, saf, memBanks{} })

	rec := h.do("GET", "/v1/admin/routes/explain?pan=40000000000&amount=150000&currency=KZT&merchant_id=M1&mcc=5411", opToken, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "kzt-default") {
		t.Fatalf("explain: %d %s", rec.Code, rec.Body)
	}
	want := ExplainQuery{PANPrefix: "40000000000", Amount: 150000, Currency: "KZT", MerchantID: "M1", MCC: "5411", Type: "purchase"}
	if routes.lastExplain != want {
		t.Errorf("explain query %+v, want %+v", routes.lastExplain, want)
	}
	// A full PAN (or anything past 11 digits) never travels in a URL.
	for _, pan := range []string{"400000000001", "4000000000000010", "4000000000000000006"} {
		routes.lastExplain = ExplainQuery{}
		er := wantError(t, h.do("GET", "/v1/admin/routes/explain?pan="+pan+"&amount=1&currency=KZT", opToken, ""), 400, "invalid_request", "pan")
		if !strings.Contains(er.Error.Message, "11 digits") {
			t.Errorf("pan of %d digits: message %q does not say at most 11 digits", len(pan), er.Error.Message)
		}
		if routes.lastExplain != (ExplainQuery{}) {
			t.Errorf("pan of %d digits reached routing: %+v", len(pan), routes.lastExplain)
		}
	}
	wantError(t, h.do("GET", "/v1/admin/routes/explain?pan=4000&amount=1&currency=KZT", opToken, ""), 400, "invalid_request", "pan")
	wantError(t, h.do("GET", "/v1/admin/routes/explain?pan=400000&amount=x&currency=KZT", opToken, ""), 400, "invalid_request", "amount")
	wantError(t, h.do("GET", "/v1/admin/routes/explain?pan=400000&amount=1&currency=XYZ", opToken, ""), 400, "invalid_request", "currency")
	wantError(t, h.do("GET", "/v1/admin/routes/explain?pan=400000&amount=1&currency=KZT&type=refund", opToken, ""), 400, "invalid_request", "type")
	wantError(t, h.do("GET", "/v1/admin/routes/explain?pan=400000&amount=1&currency=KZT&bin=1", opToken, ""), 400, "invalid_request", "bin")

	rec = h.do("POST", "/v1/admin/routes/validate", opToken, "version: 1\nrules:\n  - {name: x, banks: [ghost]}\n")
	var v struct {
		Valid    bool     `json:"valid"`
		Problems []string `json:"problems"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &v)
	if rec.Code != 200 || v.Valid || len(v.Problems) != 1 {
		t.Errorf("validate invalid: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("POST", "/v1/admin/routes/validate", opToken, "version: 1\nrules: []\n")
	if rec.Code != 200 || rec.Body.String() != `{"valid":true,"problems":[]}` {
		t.Errorf("validate valid: %d %s", rec.Code, rec.Body)
	}

	if rec := h.do("POST", "/v1/admin/routes/reload", opToken, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"reloaded":true`) {
		t.Errorf("reload: %d %s", rec.Code, rec.Body)
	}
	routes.problems = []string{"p1", "p2"}
	e := wantError(t, h.do("POST", "/v1/admin/routes/reload", opToken, ""), 409, "invalid_state", "")
	if len(e.Error.Details) != 2 {
		t.Errorf("reload refusal details %v", e.Error.Details)
	}

	rec = h.do("GET", "/v1/admin/saf", opToken, "")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `"next_attempt_at":"2026-11-27T10:16:00+05:00"`) || !strings.Contains(body, `"attempts":3`) ||
		strings.Contains(body, "4000000000000010") || !strings.Contains(body, "400000******0010") {
		t.Errorf("saf list: %d %s", rec.Code, body)
	}
	if rec := h.do("POST", "/v1/admin/saf/saf_01JDX3M0Q2K7V8F4T5Z6A1B2C3/retry", opToken, ""); rec.Code != 200 || len(saf.retried) != 1 {
		t.Errorf("retry: %d %s", rec.Code, rec.Body)
	}
	wantError(t, h.do("POST", "/v1/admin/saf/saf_01JDX3M0Q2K7V8F4T5Z6A1B2C4/retry", opToken, ""), 404, "not_found", "")
	wantError(t, h.do("POST", "/v1/admin/saf/bogus/retry", opToken, ""), 404, "not_found", "")

	rec = h.do("GET", "/v1/admin/banks", opToken, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"last_echo":"2026-11-27T10:15:30+05:00"`) || !strings.Contains(rec.Body.String(), `"signed_on":4`) {
		t.Errorf("banks: %d %s", rec.Code, rec.Body)
	}
}

func TestOperatorEndpointsWithoutServices(t *testing.T) {
	h := newHarness(t)
	for _, c := range [][2]string{{"GET", "/v1/admin/banks"}, {"GET", "/v1/admin/routes"}, {"POST", "/v1/admin/routes/reload"}, {"GET", "/v1/admin/saf"}} {
		wantError(t, h.do(c[0], c[1], opToken, ""), 503, "overloaded", "")
	}
}
