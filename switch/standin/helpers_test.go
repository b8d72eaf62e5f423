package standin

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// Test cards: Luhn-valid PANs in the simulator's test BIN 400000.
const (
	panA = "4000000000000010"
	panB = "4000000000000028"
	panC = "4000000000000036"
)

// clock is a manual clock; tests move it, nothing sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func almaty(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatalf("loading Asia/Almaty: %v", err)
	}
	return loc
}

// env is a real SQLite journal, a card vault and a clock.
type env struct {
	t     *testing.T
	store journal.Store
	vault *cardvault.Vault
	clock *clock
	seq   atomic.Int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := journal.Open(context.Background(), journal.Config{DSN: filepath.Join(t.TempDir(), "journal.db")})
	if err != nil {
		t.Fatalf("opening journal: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	key := func() []byte {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: key()}, HashKey: key()})
	if err != nil {
		t.Fatalf("card vault: %v", err)
	}
	// Noon in Almaty: far from the day boundary unless a test moves it.
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, almaty(t))
	return &env{t: t, store: store, vault: v, clock: &clock{t: now}}
}

func (e *env) hash(pan string) string { return e.vault.Hash(pan) }

// seed is a payment already in the journal.
type seed struct {
	pan      string
	bank     string
	amount   int64
	currency string
	standIn  bool
	status   journal.PaymentStatus
	at       time.Time
	authCode string
}

// add journals a payment the way the engine leaves it.
func (e *env) add(s seed) *journal.Payment {
	e.t.Helper()
	if s.bank == "" {
		s.bank = "alfa"
	}
	if s.currency == "" {
		s.currency = "KZT"
	}
	if s.status == "" {
		s.status = journal.PaymentApproved
	}
	if s.at.IsZero() {
		s.at = e.clock.Now()
	}
	id := journal.NewPaymentID()
	card, err := journal.SealCard(e.vault, id, s.pan, "2812", "")
	if err != nil {
		e.t.Fatalf("sealing card: %v", err)
	}
	p := &journal.Payment{
		ID: id, Client: "gw", RequestID: fmt.Sprintf("req-%d", e.seq.Add(1)), Type: journal.TypePurchase,
		Status: s.status, Amount: s.amount, Currency: s.currency, Card: card, Bank: s.bank,
		Merchant: journal.Merchant{ID: "M00000000000123", TerminalID: "T0000123", MCC: "5411"},
		StandIn:  s.standIn, AuthCode: s.authCode, CreatedAt: s.at,
	}
	if err := e.store.CreatePayment(context.Background(), p, nil); err != nil {
		e.t.Fatalf("journaling payment: %v", err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// baseConfig: alfa stands in purchases and preauths up to 50 000.00 KZT or
// 200.00 USD each, 3 a day per card, 100 000.00 KZT / 500.00 USD a day.
func baseConfig() Config {
	return Config{Banks: map[string]BankConfig{
		"alfa": {Rules: Rules{
			Enabled:     ptr(true),
			MaxAmount:   map[string]int64{"KZT": 5_000_000, "USD": 20_000},
			DailyCount:  ptr[int64](3),
			DailyAmount: map[string]int64{"KZT": 10_000_000, "USD": 50_000},
			MCCDeny:     []string{"7995"},
		}},
	}}
}

func (e *env) policy(cfg Config, opts ...func(*Options)) *Policy {
	e.t.Helper()
	o := Options{Journal: e.store, Now: e.clock.Now}
	for _, f := range opts {
		f(&o)
	}
	p, err := New(cfg, o)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return p
}

// input is a KZT purchase on card pan at alfa.
func (e *env) input(pan string, amount int64) Input {
	return Input{Bank: "alfa", MerchantID: "M00000000000123", MCC: "5411", Type: Purchase,
		Amount: amount, Currency: "KZT", PANHash: e.hash(pan), Now: e.clock.Now()}
}

func decide(t *testing.T, p *Policy, in Input) Decision {
	t.Helper()
	d, err := p.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

func wantDecline(t *testing.T, d Decision, reason string) {
	t.Helper()
	if d.Approve || d.Reason != reason {
		t.Fatalf("decision %+v, want declined %s", d, reason)
	}
}

func wantApprove(t *testing.T, d Decision) {
	t.Helper()
	if !d.Approve || !IsStandInAuthCode(d.AuthCode) || d.Reason != "" {
		t.Fatalf("decision %+v, want approved with a stand-in code", d)
	}
}

// approveAndJournal is what the engine does with an approval: journal the
// payment as a stand-in approval, then Commit.
func (e *env) approveAndJournal(p *Policy, in Input, pan string) {
	e.t.Helper()
	d := decide(e.t, p, in)
	wantApprove(e.t, d)
	e.add(seed{pan: pan, amount: in.Amount, currency: in.Currency, standIn: true, at: in.Now, authCode: d.AuthCode})
	p.Commit(d)
}
