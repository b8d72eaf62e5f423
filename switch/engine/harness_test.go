package engine

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/routing"
	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/specs/reasons"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// The end-to-end tests run the engine against the real journal (SQLite in
// t.TempDir()), real bank links over TCP and the in-process reference
// simulators of both banks.

const testRoutes = `version: 1
rules:
  - name: mastercard-to-sber
    match:
      bins: ["510000-510099"]
    banks: [sber]
  - name: default
    banks: [alfa, sber]
`

var testMerchant = journal.Merchant{
	ID: "M00000000000123", TerminalID: "T0000123", MCC: "5411",
	Name: "DEMO SHOP", City: "ALMATY", Country: "KZ",
}

type harnessOpts struct {
	timeout   time.Duration // both links' response timeout
	lateDelay time.Duration // simulator's rule-98 delay
	routes    string
	// addrA overrides the address Bank A's link dials (e.g. a proxy).
	addrA func(h *harness, simAddr string) string
	// deadA points Bank A's link at a port nobody listens on: the bank is
	// never usable.
	deadA bool
	// configure adjusts the engine's configuration (stand-in, breaker,
	// SAF policy) before it is built.
	configure func(h *harness, c *Config)
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	store  journal.Store
	dbPath string
	vault  *cardvault.Vault
	simA   *banksim.Sim
	simB   *banksim.Sim
	linkA  *banklink.Link
	linkB  *banklink.Link
	eng    *Engine
	unsols atomic.Int64
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 3 * time.Second
	}
	if o.lateDelay == 0 {
		o.lateDelay = 3 * time.Second
	}
	if o.routes == "" {
		o.routes = testRoutes
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx}
	dir := t.TempDir()

	h.dbPath = filepath.Join(dir, "journal.db")
	store, err := journal.Open(ctx, journal.Config{Driver: journal.DriverSQLite, DSN: h.dbPath})
	if err != nil {
		t.Fatalf("opening journal: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	h.store = store

	key := make([]byte, 32)
	hashKey := make([]byte, 32)
	for i := range key {
		key[i], hashKey[i] = byte(i+1), byte(200-i)
	}
	h.vault, err = cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: key}, HashKey: hashKey})
	if err != nil {
		t.Fatalf("vault: %v", err)
	}

	h.simA = startSim(t, ctx, specs.DialectASCII, o.lateDelay)
	h.simB = startSim(t, ctx, specs.DialectBinary, o.lateDelay)

	var eng atomic.Pointer[Engine]
	onUnsol := func(bank string, msg *iso8583.Message) {
		h.unsols.Add(1)
		if e := eng.Load(); e != nil {
			e.HandleUnsolicited(bank, msg)
		}
	}
	addrA := h.simA.Addr()
	if o.addrA != nil {
		addrA = o.addrA(h, addrA)
	}
	if o.deadA {
		addrA = deadAddr(t)
	}
	dA, dB := mustDialect(t, specs.DialectASCII), mustDialect(t, specs.DialectBinary)
	h.linkA = openLink(t, ctx, "alfa", addrA, dA, o.timeout, store, onUnsol, !o.deadA)
	h.linkB = openLink(t, ctx, "sber", h.simB.Addr(), dB, o.timeout, store, onUnsol, true)

	routesPath := filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(routesPath, []byte(o.routes), 0o600); err != nil {
		t.Fatal(err)
	}
	router, err := routing.NewRouter(routing.RouterConfig{Path: routesPath, Options: routing.Options{Banks: []string{"alfa", "sber"}}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	if _, err := router.Load(routesPath); err != nil {
		t.Fatalf("loading routes: %v", err)
	}

	cfg := Config{
		Store: store, Vault: h.vault, Router: RouterFrom(router, nil), Reasons: testReasons(t),
		Banks: []Bank{
			{Name: "alfa", Dialect: dA, Link: h.linkA, AcquirerID: "123456", CutOff: 23 * time.Hour, SyncTimeout: o.timeout, RepeatInterval: 200 * time.Millisecond},
			{Name: "sber", Dialect: dB, Link: h.linkB, AcquirerID: "654321", CutOff: 21 * time.Hour, SyncTimeout: o.timeout, RepeatInterval: 200 * time.Millisecond},
		},
		Logger: zerolog.Nop(),
	}
	if o.configure != nil {
		o.configure(h, &cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	eng.Store(e)
	h.eng = e
	return h
}

func mustDialect(t *testing.T, name string) *specs.Dialect {
	t.Helper()
	d, err := specs.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func startSim(t *testing.T, ctx context.Context, dialect string, late time.Duration) *banksim.Sim {
	t.Helper()
	acq := "123456"
	if dialect == specs.DialectBinary {
		acq = "654321"
	}
	s, err := banksim.New(banksim.Config{Dialect: dialect, Listen: "127.0.0.1:0", AcquirerID: acq, LateDelay: late, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("simulator %s: %v", dialect, err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatalf("starting simulator %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openLink(t *testing.T, ctx context.Context, bank, addr string, d *specs.Dialect, timeout time.Duration, store journal.Store, onUnsol func(string, *iso8583.Message), wait bool) *banklink.Link {
	t.Helper()
	l, err := banklink.Open(banklink.Config{
		Bank: bank, Address: addr, Connections: 1, Timeout: timeout,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	}, d, banklink.WithSTANSource(STANSequence{Store: store, Bank: bank}), banklink.WithOnUnsolicited(onUnsol))
	if err != nil {
		t.Fatalf("opening link %s: %v", bank, err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.Close(cctx)
	})
	if !wait {
		return l
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := l.WaitUsable(wctx); err != nil {
		t.Fatalf("link %s never became usable: %v", bank, err)
	}
	return l
}

func purchaseInput(reqID string, typ PaymentType, amount int64, pan string) AuthorizeInput {
	return AuthorizeInput{
		Client: "gateway", RequestID: reqID, Type: typ, Amount: amount, Currency: "KZT",
		Merchant: testMerchant,
		Card:     &CardInput{PAN: pan, Expiry: "2812", CVV: "123", Holder: "TEST HOLDER"},
	}
}

func (h *harness) authorize(in AuthorizeInput) *Payment {
	h.t.Helper()
	p, err := h.eng.Authorize(h.ctx, in)
	if err != nil {
		h.t.Fatalf("Authorize(%s): %v", in.RequestID, err)
	}
	return p
}

func (h *harness) op(paymentID string, kind journal.OpKind) []*journal.Operation {
	h.t.Helper()
	ops, err := h.store.ListOperations(h.ctx, paymentID)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*journal.Operation
	for _, o := range ops {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// testReasons is the real specs/reasons table.
func testReasons(t *testing.T) ReasonMapper {
	t.Helper()
	tbl, err := reasons.New()
	if err != nil {
		t.Fatalf("loading reasons: %v", err)
	}
	return ReasonsFrom(tbl)
}

// deadAddr returns a loopback address with no listener.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func contextWithCancel(h *harness) (context.Context, context.CancelFunc) {
	return context.WithCancel(h.ctx)
}
