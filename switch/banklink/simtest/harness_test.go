package simtest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
)

// Test data from simulator.md. Never a real person's card.
const (
	cardApprove  = "4000000000000010"
	cardApprove2 = "5100000000000008"
	cardDecline  = "4000000000000036" // always 05
	cardToken    = "4895370000000106" // Visa network token
	testExpiry   = "2812"
	acquirerID   = "12345"
	kzt          = "398"
)

// waitShort bounds every wait on a condition that must come quickly.
const waitShort = 5 * time.Second

// startSim starts a simulator of dialect on cfg.Listen (127.0.0.1:0 when
// empty) and stops it at the end of the test.
func startSim(t *testing.T, dialect string, mod func(*banksim.Config)) *banksim.Sim {
	t.Helper()
	cfg := banksim.Config{Dialect: dialect, AcquirerID: acquirerID, AuthCodeSeed: 7}
	if mod != nil {
		mod(&cfg)
	}
	sim, err := banksim.New(cfg)
	if err != nil {
		t.Fatalf("banksim.New: %v", err)
	}
	if err := sim.Start(context.Background()); err != nil {
		t.Fatalf("banksim.Start: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// linkConfig is a test link: one connection (so that the simulator's
// per-connection state is the link's), short timers.
func linkConfig(dialect, addr string) banklink.Config {
	bank := "alfa"
	if dialect == specs.DialectBinary {
		bank = "sber"
	}
	return banklink.Config{
		Bank:           bank,
		Dialect:        dialect,
		Address:        addr,
		Connections:    1,
		MaxInFlight:    16,
		Timeout:        3 * time.Second,
		EchoInterval:   30 * time.Second,
		ReadTimeout:    60 * time.Second,
		ConnectTimeout: 2 * time.Second,
		SignOnTimeout:  2 * time.Second,
		SignOffTimeout: time.Second,
		BackoffMin:     10 * time.Millisecond,
		BackoffMax:     100 * time.Millisecond,
		LateWindow:     10 * time.Second,
	}
}

func dialectOf(t *testing.T, name string) *specs.Dialect {
	t.Helper()
	d, err := specs.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// openLink opens a link and waits until it is usable.
func openLink(t *testing.T, cfg banklink.Config, d *specs.Dialect, opts ...banklink.Option) *banklink.Link {
	t.Helper()
	l, err := banklink.Open(cfg, d, opts...)
	if err != nil {
		t.Fatalf("banklink.Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	if err := l.WaitUsable(ctx); err != nil {
		t.Fatalf("WaitUsable: %v", err)
	}
	return l
}

// waitFor polls cond until it holds or waitShort passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitShort)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitShort, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// env is one simulator and one link of the same dialect.
type env struct {
	t    *testing.T
	d    *specs.Dialect
	sim  *banksim.Sim
	link *banklink.Link
	rrn  *atomic.Int64
	// clock gives every message a distinct DE7 second: the simulator keys
	// messages by STAN + DE7 + DE32, as DE90 names them.
	clock *atomic.Int64
}

func newEnv(t *testing.T, dialect string, simMod func(*banksim.Config), linkMod func(*banklink.Config), opts ...banklink.Option) *env {
	t.Helper()
	sim := startSim(t, dialect, simMod)
	d := dialectOf(t, dialect)
	cfg := linkConfig(dialect, sim.Addr())
	if linkMod != nil {
		linkMod(&cfg)
	}
	e := &env{t: t, d: d, sim: sim, rrn: new(atomic.Int64), clock: new(atomic.Int64)}
	e.rrn.Store(time.Now().UnixNano() % 1_000_000)
	e.link = openLink(t, cfg, d, opts...)
	return e
}

func (e *env) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (e *env) stan() string {
	e.t.Helper()
	ctx, cancel := e.ctx()
	defer cancel()
	s, err := e.link.NextSTAN(ctx)
	if err != nil {
		e.t.Fatalf("NextSTAN: %v", err)
	}
	return s
}

// now returns a transmission time one second after the previous one.
func (e *env) now() time.Time {
	return time.Now().Truncate(time.Second).Add(time.Duration(e.clock.Add(1)) * time.Second)
}

func (e *env) newRRN() string { return fmt.Sprintf("6331%08d", e.rrn.Add(1)) }

// auth is a purchase or pre-authorization of amount on the approving card.
func (e *env) auth(op specs.Op, amount int64) *bankmsg.Request {
	now := e.now()
	return &bankmsg.Request{
		Op: op, STAN: e.stan(), RRN: e.newRRN(), TransmissionTime: now, LocalTime: now,
		PAN: cardApprove, Expiry: testExpiry, CardSource: bankmsg.SourceKeyed,
		Amount: amount, CurrencyNumeric: kzt, MCC: "5999", AcquirerID: acquirerID,
		TerminalID: "T0000123", MerchantID: "M00000000000123",
		MerchantName: "TEST SHOP", MerchantCity: "ALMATY", MerchantCountry: "KZ",
	}
}

// follow is a message that refers to orig (completion, refund, advice,
// reversal): DE90 names orig, DE37 is orig's unless rrn is set.
func (e *env) follow(op specs.Op, orig *bankmsg.Request, origMTI string, amount int64) *bankmsg.Request {
	r := *orig
	r.Op = op
	r.Repeat = false
	r.STAN = e.stan()
	now := e.now()
	r.TransmissionTime, r.LocalTime = now, now
	r.Amount = amount
	r.ThreeDS, r.Wallet, r.StoredCredential, r.CVV = nil, nil, nil, ""
	r.Original = &bankmsg.Original{MTI: origMTI, STAN: orig.STAN, TransmissionTime: orig.TransmissionTime}
	if op == specs.OpReversal {
		r.Original.ProcessingCode = processingCode(orig)
	}
	return &r
}

// repeat is the repeat of r: same STAN and content, new DE7.
func (e *env) repeat(r *bankmsg.Request) *bankmsg.Request {
	c := *r
	c.Repeat = true
	c.TransmissionTime = e.now()
	return &c
}

func processingCode(r *bankmsg.Request) string {
	if r.Op == specs.OpRefund {
		return specs.ProcRefund
	}
	return specs.ProcPurchase
}

// result is one exchange.
type result struct {
	req  *iso8583.Message
	raw  *iso8583.Message
	resp *bankmsg.Response
	err  error
	took time.Duration
}

// send encodes r, sends it with Link.Send and decodes the answer.
func (e *env) send(r *bankmsg.Request) result {
	e.t.Helper()
	msg, err := bankmsg.Encode(e.d, r)
	if err != nil {
		e.t.Fatalf("bankmsg.Encode %s: %v", r.Op, err)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	start := time.Now()
	raw, err := e.link.Send(ctx, msg)
	res := result{req: msg, raw: raw, err: err, took: time.Since(start)}
	if err != nil {
		return res
	}
	if res.resp, err = bankmsg.DecodeResponse(e.d, raw); err != nil {
		e.t.Fatalf("bankmsg.DecodeResponse: %v", err)
	}
	return res
}

// exchange sends r and requires an answer with response MTI wantMTI and
// DE39 wantRC whose echoed fields match the request (checkEcho).
func (e *env) exchange(r *bankmsg.Request, wantMTI, wantRC string) result {
	e.t.Helper()
	res := e.send(r)
	if res.err != nil {
		e.t.Fatalf("Send %s: %v", r.Op, res.err)
	}
	if res.resp.MTI != wantMTI || res.resp.ResponseCode != wantRC {
		e.t.Fatalf("%s: got %s DE39 %s, want %s DE39 %s", r.Op, res.resp.MTI, res.resp.ResponseCode, wantMTI, wantRC)
	}
	checkEcho(e.t, e.d, res.req, res.raw)
	return res
}

// echoed are the fields both documents say a response echoes.
var echoed = [...]int{3, 4, 7, 11, 37, 41, 42, 49}

// checkEcho asserts the contract's response rules: DE 3, 4, 7, 11, 37, 41,
// 42, 49 echoed exactly when the request had them (DE70 too for network
// management), DE39 present, DE2 and the request's card data absent.
func checkEcho(t *testing.T, d *specs.Dialect, req, resp *iso8583.Message) {
	t.Helper()
	ids := echoed[:]
	if mti, _ := req.GetMTI(); strings.HasPrefix(mti, "08") {
		ids = append(ids[:len(ids):len(ids)], 70)
	}
	for _, id := range ids {
		want, _ := req.GetString(id)
		got, _ := resp.GetString(id)
		if got != want {
			t.Errorf("DE%d: response has %q, request had %q", id, got, want)
		}
	}
	// Exactly the echoed fields, DE39, DE38 (approvals), the network
	// transaction ID (A DE48 tag 22, B DE62) and DE70 (08xx): nothing else,
	// DE2 above all.
	allowed := map[int]bool{39: true, 38: true}
	for _, id := range ids {
		allowed[id] = true
	}
	if d.Private == specs.PrivateDE48TLV {
		allowed[48] = true
	} else {
		allowed[62] = true
	}
	bm := resp.Bitmap()
	for id := 2; id <= bm.Len(); id++ {
		if !bm.IsBitmapPresenceBit(id) && bm.IsSet(id) && !allowed[id] {
			t.Errorf("response carries DE%d, which no response may carry", id)
		}
	}
	if rc, _ := resp.GetString(39); rc != "00" && bm.IsSet(38) {
		t.Errorf("a DE39 %q response carries DE38", rc)
	}
	if !bm.IsSet(39) {
		t.Error("response has no DE39")
	}
	if d.Private == specs.PrivateDE48TLV && bm.IsSet(48) {
		tags, err := specs.SubelementsOf(resp.GetField(48))
		if err != nil {
			t.Fatalf("response DE48: %v", err)
		}
		for tag := range tags {
			if tag != specs.TagNetworkTxnID {
				t.Errorf("response DE48 carries tag %s; only 22 may come back", tag)
			}
		}
	}
}

// txn returns the simulator's ledger entry with this RRN.
func (e *env) txn(rrn string) ledger.Txn {
	e.t.Helper()
	tx, ok := e.sim.Ledger().ByRRN(rrn)
	if !ok {
		e.t.Fatalf("ledger has no transaction with RRN %s", rrn)
	}
	return tx
}
