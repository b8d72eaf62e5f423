package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/switch/app"
	"github.com/acquirer/h2hswitch/switch/config"
)

const (
	gatewayToken  = "e2e-gateway-token-0123456789abcdef"
	operatorToken = "e2e-operator-token-0123456789abcdef"
	// lateDelay is the simulators' rule-98 delay: beyond bankTimeout, so a
	// 98 is a late approval the switch must reverse.
	lateDelay   = 3 * time.Second
	bankTimeout = "2s"
	defaultPG   = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// routesKZTAlfa sends USD to Bank B only and everything else to Bank A
// with Bank B as failover.
const routesKZTAlfa = `version: 1
rules:
  - name: usd-to-sber
    match: {currencies: [USD]}
    banks: [sber]
  - name: kzt-default
    banks: [alfa, sber]
`

// lockedBuffer is a log sink shared by goroutines.
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

// bank is one simulated bank host behind a tap.
type bank struct {
	name string
	sim  *banksim.Sim
	tap  *tap
	logs *lockedBuffer
}

func startBank(t *testing.T, name, dialect string) *bank {
	t.Helper()
	logs := &lockedBuffer{}
	s, err := banksim.New(banksim.Config{
		Dialect: dialect, Listen: "127.0.0.1:0", LateDelay: lateDelay,
		Logger: zerolog.New(logs).Level(zerolog.DebugLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &bank{name: name, sim: s, tap: startTap(t, dialect, s.Addr()), logs: logs}
}

// journalOpts select the switch's journal.
type journalOpts struct {
	driver string // sqlite (default) or postgres
	dsn    string
	schema string
}

// pgJournal creates a fresh schema in the test database, dropped when the
// test ends. PostgreSQL being unreachable fails the test unless
// SWITCH_TEST_PG=off says to skip, as in the journal's own tests.
func pgJournal(t *testing.T) journalOpts {
	t.Helper()
	if os.Getenv("SWITCH_TEST_PG") == "off" {
		t.Skip("SWITCH_TEST_PG=off")
	}
	dsn := os.Getenv("SWITCH_TEST_PG_DSN")
	if dsn == "" {
		dsn = defaultPG
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "e2e_" + hex.EncodeToString(rnd[:])
	admin := func(sql string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("PostgreSQL at %s is unreachable (SWITCH_TEST_PG=off skips): %v", dsn, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin("CREATE SCHEMA " + schema)
	t.Cleanup(func() { admin("DROP SCHEMA " + schema + " CASCADE") })
	return journalOpts{driver: "postgres", dsn: dsn, schema: schema}
}

// env is both banks and the files a switch runs from.
type env struct {
	t          *testing.T
	dir        string
	alfa, sber *bank
	routes     string // routing table path
	// bodies collects every API response body, for the card-data leak scan.
	bodies *lockedBuffer
	// switches are the switches started, whose logs the leak scan reads.
	switches []*sw
}

func newEnv(t *testing.T, routes string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), bodies: &lockedBuffer{}}
	// Registered first, so it runs last: after every switch and simulator
	// has shut down and written its final lines.
	t.Cleanup(e.checkNoLeaks)
	e.alfa, e.sber = startBank(t, "alfa", "h2h87-ascii"), startBank(t, "sber", "h2h87-binary")
	e.routes = filepath.Join(e.dir, "routes.yaml")
	e.writeRoutes(routes)
	return e
}

func (e *env) writeRoutes(table string) {
	e.t.Helper()
	// Write then rename, as an operator's deploy tool does, so the watcher
	// never sees a half-written file.
	tmp := e.routes + ".tmp"
	if err := os.WriteFile(tmp, []byte(table), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.routes); err != nil {
		e.t.Fatal(err)
	}
}

// configYAML is the switch configuration for this env's banks.
func (e *env) configYAML(j journalOpts) string {
	if j.driver == "" {
		j = journalOpts{driver: "sqlite", dsn: filepath.Join(e.dir, "journal.db")}
	}
	schema := ""
	if j.schema != "" {
		schema = "\n  schema: " + j.schema
	}
	return fmt.Sprintf(`api:
  listen: 127.0.0.1:0
  shutdown_timeout: 5s
  replay_wait: 10s
  clients:
    gateway: {token: %s, role: gateway, rate_limit: 5000}
    ops: {token: %s, role: operator, rate_limit: 1000}
log: {level: debug, format: json}
journal:
  driver: %s
  dsn: %q%s
  current_key_id: "1"
  pan_keys: {"1": AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
  hmac_key: HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=
routing: {file: %q}
banks:
  alfa: {dialect: h2h87-ascii, addr: "%s", connections: 2, timeout: %s, repeat_interval: 200ms, acquirer_id: "400001", echo_interval: 30s}
  sber: {dialect: h2h87-binary, addr: "%s", connections: 2, timeout: %s, repeat_interval: 200ms, acquirer_id: "500002", echo_interval: 30s}
`, gatewayToken, operatorToken, j.driver, j.dsn, schema, e.routes, e.alfa.tap.addr(), bankTimeout, e.sber.tap.addr(), bankTimeout)
}

// sw is one running switch.
type sw struct {
	e    *env
	logs *lockedBuffer
	base string
	app  *app.App
	hup  chan struct{}
	stop context.CancelFunc
	done chan error
}

// startSwitch builds the switch exactly as cmd/switchd does (config.Load,
// app.Build, Serve on a real listener) and waits until both banks are
// usable.
func (e *env) startSwitch(j journalOpts) *sw {
	e.t.Helper()
	path := filepath.Join(e.dir, fmt.Sprintf("switch-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(e.configYAML(j)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		e.t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	a, err := app.Build(ctx, cfg, zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger())
	if err != nil {
		stop()
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		a.Close(context.Background())
		e.t.Fatal(err)
	}
	s := &sw{e: e, logs: logs, base: "http://" + ln.Addr().String(), app: a, hup: make(chan struct{}, 1), stop: stop, done: make(chan error, 1)}
	e.switches = append(e.switches, s)
	go func() { s.done <- a.Serve(ctx, ln, nil, s.hup) }()
	e.t.Cleanup(func() { s.shutdown() })
	s.waitBanks(2)
	return s
}

// shutdown is SIGTERM: drain, sign off, close the journal.
func (s *sw) shutdown() {
	s.e.t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.e.t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		s.e.t.Error("switch did not shut down")
	}
}

// waitBanks waits until n banks are usable according to /v1/admin/banks.
func (s *sw) waitBanks(n int) {
	s.e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, b := s.call("GET", "/v1/admin/banks", operatorToken, "")
		if st == 200 && strings.Count(fmt.Sprint(b["banks"]), "usable:true") == n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.e.t.Fatalf("fewer than %d banks usable", n)
}

// do sends one request and returns the status and raw body.
func (s *sw) do(method, path, token, body string) (int, []byte) {
	s.e.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		s.e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	s.e.bodies.Write(raw)
	s.e.bodies.Write([]byte("\n"))
	return resp.StatusCode, raw
}

// call is do with the JSON body decoded (nil when it is not JSON).
func (s *sw) call(method, path, token, body string) (int, map[string]any) {
	s.e.t.Helper()
	st, raw := s.do(method, path, token, body)
	var m map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &m); err != nil {
			s.e.t.Fatalf("%s %s: bad JSON %q", method, path, raw)
		}
	}
	return st, m
}

// pay posts a payment and fails the test on a non-200.
func (s *sw) pay(body string) map[string]any {
	s.e.t.Helper()
	st, p := s.call("POST", "/v1/payments", gatewayToken, body)
	if st != 200 {
		s.e.t.Fatalf("payment: %d %v", st, p)
	}
	return p
}

// eventually polls cond for up to 10 s and reports whether it came true.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// req is an authorization request under construction.
type req struct {
	ID       string
	Type     string
	Amount   int64
	Currency string
	PAN      string
	Expiry   string
	CVV      string
	// Extra is raw JSON members appended to the body (three_ds, ...).
	Extra string
	// Token replaces card with a network_token member when set.
	Token string
}

func (r req) json() string {
	if r.Type == "" {
		r.Type = "purchase"
	}
	if r.Currency == "" {
		r.Currency = "KZT"
	}
	if r.Expiry == "" {
		r.Expiry = "2812"
	}
	src := r.Token
	if src == "" {
		cvv := ""
		if r.CVV != "" {
			cvv = fmt.Sprintf(`,"cvv":%q`, r.CVV)
		}
		src = fmt.Sprintf(`"card":{"pan":%q,"expiry":%q%s}`, r.PAN, r.Expiry, cvv)
	}
	extra := ""
	if r.Extra != "" {
		extra = "," + r.Extra
	}
	return fmt.Sprintf(`{"request_id":%q,"type":%q,"amount":%d,"currency":%q,`+
		`"merchant":{"id":"M00000000000123","terminal_id":"T0000123","mcc":"5411","name":"DEMO SHOP","city":"ALMATY","country":"KZ"},`+
		`%s%s}`, r.ID, r.Type, r.Amount, r.Currency, src, extra)
}

// uniq makes a request id unique across runs (the PostgreSQL journal
// outlives one) and valid for the API (at most 64 of [A-Za-z0-9._:-]).
func uniq(s string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return s + "-" + hex.EncodeToString(b[:])
}
