package loadgen

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/bench/mix"
)

// gateway is a small in-memory stand-in for the switch's upstream API
// (upstream-api.md) that enforces what the load generator must get right:
// the token, strict JSON, unique request_ids, Luhn-valid PANs, and the
// payment state rules of capture, void and refund. It tests the generator;
// the switch itself is measured by scripts/bench.sh.
type gateway struct {
	t     *testing.T
	token string
	delay time.Duration
	// force, when set, answers every request with this status and body.
	forceStatus int
	forceBody   string

	mu         sync.Mutex
	seen       map[string]bool
	payments   map[string]*payment
	duplicates int
	violations []string
}

type payment struct {
	typ, status string
	amount      int64
	captured    bool
}

func newGateway(t *testing.T) (*gateway, string) {
	g := &gateway{t: t, token: "test-token", seen: map[string]bool{}, payments: map[string]*payment{}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv.URL
}

func (g *gateway) violation(format string, args ...any) {
	g.mu.Lock()
	g.violations = append(g.violations, fmt.Sprintf(format, args...))
	g.mu.Unlock()
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.delay > 0 {
		time.Sleep(g.delay)
	}
	if r.Header.Get("Authorization") != "Bearer "+g.token {
		g.violation("bad Authorization header")
		http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
		return
	}
	if g.forceStatus != 0 {
		w.WriteHeader(g.forceStatus)
		_, _ = w.Write([]byte(g.forceBody))
		return
	}
	write := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	conflict := func() {
		write(http.StatusConflict, map[string]any{"error": map[string]string{"code": "invalid_state"}})
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	path := strings.TrimPrefix(r.URL.Path, "/v1/payments")
	if path == "" {
		var req paymentJSON
		if err := dec.Decode(&req); err != nil || !mix.LuhnValid(req.Card.PAN) || req.Currency != "KZT" || len(req.Merchant.TerminalID) != 8 {
			g.violation("bad payment request: %v", err)
			write(http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_request"}})
			return
		}
		if !g.fresh(req.RequestID) {
			conflict()
			return
		}
		p := &payment{typ: req.Type, amount: req.Amount, status: "approved"}
		reason := "approved"
		suffix := fmt.Sprintf("%02d", req.Amount%100)
		if slices.Contains(mix.DeclineCodes(), suffix) {
			p.status, reason = "declined", "declined_"+suffix
		}
		g.mu.Lock()
		id := fmt.Sprintf("pay_%d", len(g.payments)+1)
		g.payments[id] = p
		g.mu.Unlock()
		write(http.StatusOK, map[string]any{"id": id, "status": p.status, "reason": reason, "type": req.Type})
		return
	}
	id, op, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	var req operationJSON
	if err := dec.Decode(&req); err != nil || !g.fresh(req.RequestID) {
		g.violation("bad or repeated %s request: %v", op, err)
		conflict()
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.payments[id]
	switch {
	case p == nil:
		write(http.StatusNotFound, map[string]any{"error": map[string]string{"code": "not_found"}})
	case op == "capture" && p.typ == "preauth" && p.status == "approved" && !p.captured && req.Amount <= p.amount:
		p.captured = true
		write(http.StatusOK, map[string]any{"id": id, "status": "approved"})
	case op == "void" && p.typ == "purchase" && p.status == "approved":
		p.status = "voided"
		write(http.StatusOK, map[string]any{"id": id, "status": "voided"})
	case op == "refunds" && p.typ == "purchase" && p.status == "approved" && req.Amount <= p.amount:
		p.status = "refunded"
		write(http.StatusOK, map[string]any{"id": "ref_" + id, "status": "approved", "reason": "approved"})
	default:
		g.violations = append(g.violations, fmt.Sprintf("%s of %s payment %s in state %s", op, p.typ, id, p.status))
		conflict()
	}
}

func (g *gateway) fresh(rid string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rid == "" || len(rid) > 64 || g.seen[rid] {
		g.duplicates++
		return false
	}
	g.seen[rid] = true
	return true
}

func TestClosedLoopMix(t *testing.T) {
	g, url := newGateway(t)
	r, err := New(Config{BaseURL: url, Token: g.token, Concurrency: 8, Duration: time.Second, Seed: 11, Label: "closed", Backend: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run, err := r.Run(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(run.String())
	if len(g.violations) > 0 || g.duplicates > 0 {
		t.Fatalf("protocol violations %v, duplicate request_ids %d", g.violations, g.duplicates)
	}
	if run.Mode != "closed" || run.Requests < 200 || run.Errors != 0 || run.Timeouts != 0 || run.Unexpected != 0 {
		t.Fatalf("run: %s (%v)", run.String(), run.ErrorKinds)
	}
	for _, op := range []string{"purchase", "preauth", "capture", "refund", "void"} {
		if run.ByOp[op] == 0 {
			t.Errorf("no %s requests: %v", op, run.ByOp)
		}
	}
	// Every preauth was approved and captured once.
	if run.ByOp["capture"] != run.ByOp["preauth"] {
		t.Errorf("captures %d != preauths %d", run.ByOp["capture"], run.ByOp["preauth"])
	}
	if run.ApprovedAuths == 0 || run.ApprovedAuths >= run.Approved || run.Declined == 0 {
		t.Errorf("approved %d (auths %d), declined %d", run.Approved, run.ApprovedAuths, run.Declined)
	}
	if got := int64(len(g.seen)); got != run.Requests {
		t.Errorf("server saw %d requests, run counted %d", got, run.Requests)
	}
}

func TestOpenLoopKeepsSchedule(t *testing.T) {
	g, url := newGateway(t)
	// A worker per flow: even on a starved CI machine no flow waits for a
	// free worker, so every scheduled flow must be sent.
	r, err := New(Config{BaseURL: url, Token: g.token, Concurrency: 256, Rate: 200, Duration: time.Second, Seed: 12})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	run, err := r.Run(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(run.String())
	if run.Mode != "open" || run.Flows != 200 || run.Unsent != 0 {
		t.Errorf("flows %d, unsent %d; want all 200 scheduled flows sent", run.Flows, run.Unsent)
	}
	if el := time.Since(start); el < 990*time.Millisecond || el > 3*time.Second {
		t.Errorf("200 flows at 200/s took %s", el)
	}
	if run.Errors != 0 || run.Unexpected != 0 {
		t.Errorf("errors %d, unexpected %d (%v)", run.Errors, run.Unexpected, run.ErrorKinds)
	}
}

// TestOpenLoopNoCoordinatedOmission: a server that needs 40 ms per request
// with one request outstanding can serve 25/s; offered 100/s, the queue
// grows and latency measured from the intended send times must show it,
// where a closed loop would report about 40 ms.
func TestOpenLoopNoCoordinatedOmission(t *testing.T) {
	g, url := newGateway(t)
	g.delay = 40 * time.Millisecond
	r, err := New(Config{BaseURL: url, Token: g.token, Concurrency: 1, Rate: 100, Duration: time.Second, Seed: 13,
		Weights: mix.Weights{Purchase: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run, err := r.Run(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(run.String())
	if run.Latency.P99 < 300 || run.Latency.Max < 500 {
		t.Errorf("p99 %.1f ms, max %.1f ms: the queueing delay behind a 40 ms server is hidden", run.Latency.P99, run.Latency.Max)
	}
	if run.Unsent < 50 || run.Flows+run.Unsent != 100 {
		t.Errorf("sent %d, unsent %d of 100 scheduled", run.Flows, run.Unsent)
	}
	if run.MaxSendLagMs < 300 {
		t.Errorf("max send lag %.1f ms, want the backlog to show", run.MaxSendLagMs)
	}
}

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		status     int
		body, kind string
		timeout    bool
	}{
		{http.StatusServiceUnavailable, `{"error":{"code":"overloaded","message":"x"}}`, "http_503_overloaded", false},
		{http.StatusTooManyRequests, `{"error":{"code":"rate_limited"}}`, "http_429_rate_limited", false},
		{http.StatusOK, `not json`, "bad_json_200", false},
		{http.StatusOK, `{"id":"pay_1","status":"declined","reason":"issuer_unavailable"}`, "bank_timeout", true},
	}
	for _, c := range cases {
		g, url := newGateway(t)
		g.forceStatus, g.forceBody = c.status, c.body
		r, err := New(Config{BaseURL: url, Token: g.token, Concurrency: 2, Duration: 5 * time.Second, MaxFlows: 20, Seed: 14,
			Weights: mix.Weights{Purchase: 1}})
		if err != nil {
			t.Fatal(err)
		}
		run, err := r.Run(t.Context(), nil, nil)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if run.Requests != 20 || run.ErrorKinds[c.kind] != 20 {
			t.Errorf("%d %s: requests %d, kinds %v; want 20 × %s", c.status, c.body, run.Requests, run.ErrorKinds, c.kind)
		}
		if c.timeout && run.Timeouts != 20 || !c.timeout && run.Errors != 20 {
			t.Errorf("%s: errors %d, timeouts %d", c.kind, run.Errors, run.Timeouts)
		}
	}
}

func TestClientTimeout(t *testing.T) {
	g, url := newGateway(t)
	g.delay = 300 * time.Millisecond
	r, err := New(Config{BaseURL: url, Token: g.token, Concurrency: 2, Duration: 5 * time.Second, MaxFlows: 4, Seed: 15,
		RequestTimeout: 50 * time.Millisecond, Weights: mix.Weights{Purchase: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run, err := r.Run(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Timeouts != 4 || run.ErrorKinds["client_timeout"] != 4 {
		t.Errorf("timeouts %d (%v), want 4 client timeouts", run.Timeouts, run.ErrorKinds)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := Config{BaseURL: "http://127.0.0.1:8080", Token: "t", Concurrency: 1, Duration: time.Second}
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "https://[::1]:8443/", "http://127.8.9.10:80"} {
		if err := CheckLoopbackURL(u); err != nil {
			t.Errorf("CheckLoopbackURL(%s): %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.5:8080", "http://example.com", "ftp://127.0.0.1/", "http://0.0.0.0:8080", "://x"} {
		if err := CheckLoopbackURL(u); err == nil {
			t.Errorf("CheckLoopbackURL(%s) accepted", u)
		}
	}
	bad := []func(*Config){
		func(c *Config) { c.Token = "" },
		func(c *Config) { c.Concurrency = 0 },
		func(c *Config) { c.Concurrency = MaxConcurrency + 1 },
		func(c *Config) { c.Duration = 0 },
		func(c *Config) { c.Duration = 2 * MaxDuration },
		func(c *Config) { c.Rate = -1 },
		func(c *Config) { c.MaxFlows = -1 },
		func(c *Config) { c.Weights = mix.Weights{Refund: -1, Purchase: 2} },
	}
	for i, mut := range bad {
		c := ok
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
	if _, err := New(ok); err != nil {
		t.Errorf("good config refused: %v", err)
	}
}

func TestRequestIDs(t *testing.T) {
	r, err := New(Config{BaseURL: "http://127.0.0.1:1", Token: "t", Concurrency: 1, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	id := r.requestID(MaxConcurrency, 1<<40, "c")
	if len(id) > 64 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") != "" {
		t.Errorf("request_id %q breaks the contract's 1..64 [A-Za-z0-9._:-]", id)
	}
	r2, _ := New(Config{BaseURL: "http://127.0.0.1:1", Token: "t", Concurrency: 1, Duration: time.Second})
	if r.requestID(0, 1, "p") == r2.requestID(0, 1, "p") {
		t.Error("two runs produce the same request_id")
	}
}
