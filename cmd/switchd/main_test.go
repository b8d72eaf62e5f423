package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/switch/app"
	"github.com/acquirer/h2hswitch/switch/config"
)

const (
	e2eGateway  = "e2e-gateway-token-0123456789abcdef"
	e2eOperator = "e2e-operator-token-0123456789abcdef"
)

// startSim runs a reference bank host in-process on a free port.
func startSim(t *testing.T, dialect string) string {
	t.Helper()
	s, err := banksim.New(banksim.Config{Dialect: dialect, Listen: "127.0.0.1:0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

// writeConfig writes a switch configuration for the two simulators, with a
// journal and a routing table in dir.
func writeConfig(t *testing.T, dir, alfa, sber string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(e2eRoutes), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`

api:
  listen: 127.0.0.1:0
  shutdown_timeout: 5s
  clients:
    gateway: {token: %s, role: gateway, rate_limit: 1000}
    ops: {token: %s, role: operator, rate_limit: 100}
log: {level: error, format: json}
journal:
  driver: sqlite
  dsn: %s
  current_key_id: "1"
  pan_keys: {"1": AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
  hmac_key: HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=
routing: {file: %s}
banks:
  alfa: {dialect: h2h87-ascii, addr: "%s", connections: 2, timeout: 2s, acquirer_id: "400001", echo_interval: 30s}
  sber: {dialect: h2h87-binary, addr: "%s", connections: 2, timeout: 2s, acquirer_id: "500002", echo_interval: 30s}
`, e2eGateway, e2eOperator, filepath.Join(dir, "journal.db"), filepath.Join(dir, "routes.yaml"), alfa, sber)
	path := filepath.Join(dir, "switch.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const e2eRoutes = `version: 3
rules:
  - name: usd-to-sber
    match: {currencies: [USD]}
    banks: [sber]
  - name: kzt-default
    banks: [alfa, sber]
`

// lockedBuffer collects the switch's log lines for the leak check.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type running struct {
	logs *lockedBuffer
	base string
	hup  chan struct{}
	stop context.CancelFunc
	done chan error
}

// startSwitch builds and serves the whole switch as main does.
func startSwitch(t *testing.T, path string) *running {
	t.Helper()
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	a, err := app.Build(ctx, cfg, zerolog.New(logs).Level(zerolog.DebugLevel))
	if err != nil {
		stop()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{logs: logs, base: "http://" + ln.Addr().String(), hup: make(chan struct{}, 1), stop: stop, done: make(chan error, 1)}
	go func() { r.done <- a.Serve(ctx, ln, nil, r.hup) }()
	t.Cleanup(func() { r.shutdown(t) })
	return r
}

func (r *running) shutdown(t *testing.T) {
	t.Helper()
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("switch did not shut down")
	}
}

func (r *running) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: bad JSON %q", method, path, raw)
		}
	}
	if strings.Contains(string(raw), "4000000000000010") {
		t.Fatalf("%s %s: full PAN in the answer", method, path)
	}
	return resp.StatusCode, m
}

func (r *running) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// Ready means one bank is usable; the routing assertions need both.
		st, _ := r.call(t, "GET", "/readyz", "", "")
		_, b := r.call(t, "GET", "/v1/admin/banks", e2eOperator, "")
		if st == 200 && strings.Count(fmt.Sprint(b["banks"]), "usable:true") == 2 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("switch never became ready")
}

func payment(requestID string, amount int, currency string) string {
	return fmt.Sprintf(`{"request_id":%q,"type":"preauth","amount":%d,"currency":%q,
	  "merchant":{"id":"M00000000000123","terminal_id":"T0000123","mcc":"5411","name":"DEMO SHOP","city":"ALMATY","country":"KZ"},
	  "card":{"pan":"4000000000000010","expiry":"2812","cvv":"123"}}`, requestID, amount, currency)
}

// TestSwitchEndToEnd runs the assembled switch against both reference bank
// simulators: payments over HTTP become ISO 8583 at the banks, replays are
// answered from the journal (also after a restart), operator endpoints see
// the real links and routing table, and shutdown drains cleanly.
func TestSwitchEndToEnd(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, startSim(t, "h2h87-ascii"), startSim(t, "h2h87-binary"))
	sw := startSwitch(t, path)
	sw.waitReady(t)

	st, p := sw.call(t, "POST", "/v1/payments", e2eGateway, payment("e2e-1", 150000, "KZT"))
	if st != 200 || p["status"] != "approved" || p["bank"] != "alfa" || p["route"] != "kzt-default" || p["auth_code"] == nil {
		t.Fatalf("purchase: %d %v", st, p)
	}
	if cm, _ := p["cardholder_message"].(map[string]any); cm["en"] != "Payment approved" {
		t.Errorf("cardholder message %v", p["cardholder_message"])
	}
	if card, _ := p["card"].(map[string]any); card["masked_pan"] != "400000******0010" {
		t.Errorf("card %v", p["card"])
	}
	if !strings.HasSuffix(p["created_at"].(string), "+05:00") {
		t.Errorf("created_at %v", p["created_at"])
	}
	id := p["id"].(string)

	// A decline by amount rule, routed to Bank B by currency.
	st, d := sw.call(t, "POST", "/v1/payments", e2eGateway, payment("e2e-2", 100051, "USD"))
	if st != 200 || d["status"] != "declined" || d["reason"] != "insufficient_funds" || d["reason_code"] != 5051.0 || d["bank"] != "sber" {
		t.Fatalf("decline: %d %v", st, d)
	}

	// Replay: the same answer, no second payment.
	st, again := sw.call(t, "POST", "/v1/payments", e2eGateway, payment("e2e-1", 150000, "KZT"))
	if st != 200 || again["id"] != id {
		t.Fatalf("replay: %d %v", st, again)
	}
	st, e := sw.call(t, "POST", "/v1/payments", e2eGateway, payment("e2e-1", 150001, "KZT"))
	if st != 409 || e["error"].(map[string]any)["code"] != "idempotency_conflict" {
		t.Fatalf("conflict: %d %v", st, e)
	}

	// Capture part of the preauth, then look it up with its operations.
	st, c := sw.call(t, "POST", "/v1/payments/"+id+"/capture", e2eGateway, `{"request_id":"e2e-cap","amount":120000}`)
	if st != 200 || c["captured_amount"] != 120000.0 {
		t.Fatalf("capture: %d %v", st, c)
	}
	st, g := sw.call(t, "GET", "/v1/payments/"+id, e2eGateway, "")
	ops, _ := g["operations"].([]any)
	if st != 200 || len(ops) < 2 || ops[0].(map[string]any)["kind"] != "authorization" {
		t.Fatalf("lookup: %d %v", st, g)
	}

	// No answer from Bank A (amount rule 99): declined issuer_unavailable,
	// and the reversal it owes is on the payment.
	st, to := sw.call(t, "POST", "/v1/payments", e2eGateway, payment("e2e-3", 100099, "KZT"))
	if st != 200 || to["status"] != "declined" || to["reason"] != "issuer_unavailable" || to["reason_code"] != 5091.0 || to["response_code"] != "91" {
		t.Fatalf("timeout: %d %v", st, to)
	}
	_, tg := sw.call(t, "GET", "/v1/payments/"+to["id"].(string), e2eGateway, "")
	if !strings.Contains(fmt.Sprint(tg["operations"]), "reversal") {
		t.Errorf("no reversal on a timed-out payment: %v", tg["operations"])
	}

	// Operator views of the real links and table.
	st, banks := sw.call(t, "GET", "/v1/admin/banks", e2eOperator, "")
	if bl, _ := banks["banks"].([]any); st != 200 || len(bl) != 2 || bl[0].(map[string]any)["usable"] != true {
		t.Fatalf("banks: %d %v", st, banks)
	}
	st, routes := sw.call(t, "GET", "/v1/admin/routes", e2eOperator, "")
	if st != 200 || routes["version"] != 3.0 {
		t.Fatalf("routes: %d %v", st, routes)
	}
	st, ex := sw.call(t, "GET", "/v1/admin/routes/explain?pan=40000000000&amount=100&currency=USD", e2eOperator, "")
	if st != 200 || !strings.Contains(fmt.Sprint(ex), "usd-to-sber") {
		t.Fatalf("explain: %d %v", st, ex)
	}
	st, v := sw.call(t, "POST", "/v1/admin/routes/validate", e2eOperator, "version: 1\nrules:\n  - name: x\n    banks: [nobank]\n")
	if st != 200 || v["valid"] != false || len(v["problems"].([]any)) == 0 {
		t.Fatalf("validate: %d %v", st, v)
	}
	// A broken file is refused on reload (HTTP and SIGHUP) and the old table stays.
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte("version: 4\nrules: [{name: y, banks: [ghost]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, rl := sw.call(t, "POST", "/v1/admin/routes/reload", e2eOperator, "")
	if st != 409 || rl["error"].(map[string]any)["code"] != "invalid_state" {
		t.Fatalf("reload of a bad table: %d %v", st, rl)
	}
	sw.hup <- struct{}{}
	if _, routes = sw.call(t, "GET", "/v1/admin/routes", e2eOperator, ""); routes["version"] != 3.0 {
		t.Fatalf("table after refused reload: %v", routes)
	}
	st, saf := sw.call(t, "GET", "/v1/admin/saf", e2eOperator, "")
	if st != 200 || saf["items"] == nil {
		t.Fatalf("saf: %d %v", st, saf)
	}
	if st, m := sw.call(t, "GET", "/metrics", "", ""); st != 200 || m != nil {
		t.Fatalf("metrics: %d", st)
	}

	// Restart on the same journal (with a valid table again: an invalid one
	// stops the start): the replay still answers from the journal.
	sw.shutdown(t)
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(e2eRoutes), 0o600); err != nil {
		t.Fatal(err)
	}
	sw2 := startSwitch(t, path)
	st, after := sw2.call(t, "POST", "/v1/payments", e2eGateway, payment("e2e-1", 150000, "KZT"))
	if st != 200 || after["id"] != id {
		t.Fatalf("replay after restart: %d %v", st, after)
	}
	sw2.shutdown(t)
	for _, l := range []string{sw.logs.String(), sw2.logs.String()} {
		if strings.Contains(l, "4000000000000010") || strings.Contains(l, `"123"`) {
			t.Errorf("card data in the switch's log:\n%s", l)
		}
	}
	if !strings.Contains(sw.logs.String(), `"route":"POST /v1/payments"`) {
		t.Error("no access log")
	}
}
