package recon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// Test PAN from the simulator's test range (simulator.md), never a real card.
const testPAN = "4000000000000010"

var almaty = time.FixedZone("+05", 5*3600)

func at(month time.Month, day, hh, mm, ss int) time.Time {
	return time.Date(2026, month, day, hh, mm, ss, 0, almaty)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	js    journal.Store
	vault *cardvault.Vault
	st    *Store
	svc   *Service
	dir   string
	n     int
}

func randKey(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCal(t testing.TB, c calendar.Config) *calendar.Calendar {
	cal, err := calendar.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

// Fixture modes: how the journal is stored and read, and where the recon
// store lives.
const (
	modeStoreAPI = "JournalSource" // SQLite journal read through journal.Store
	modeSQL      = "SQLSource"     // SQLite journal read by the SQL adapter
	modePostgres = "PostgreSQL"    // journal, adapter and recon store on PostgreSQL
)

var modes = []string{modeStoreAPI, modeSQL, modePostgres}

// newFixture opens a real SQLite journal and a real SQLite recon store in
// a temporary directory and builds the service over them.
func newFixture(t testing.TB) *fixture { return newFixtureMode(t, modeStoreAPI) }

const defaultPGDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// pgSchema creates a fresh schema for the test, dropped at its end. An
// unreachable PostgreSQL fails the test unless SWITCH_TEST_PG=off.
func pgSchema(t testing.TB, prefix string) (dsn, schema string) {
	t.Helper()
	if os.Getenv("SWITCH_TEST_PG") == "off" {
		t.Skip("SWITCH_TEST_PG=off")
	}
	dsn = defaultPGDSN
	if v := os.Getenv("SWITCH_TEST_PG_DSN"); v != "" {
		dsn = v
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema = prefix + hex.EncodeToString(b)
	admin := func(q string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("PostgreSQL at %s is unreachable (SWITCH_TEST_PG=off skips): %v", dsn, err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	admin("CREATE SCHEMA " + schema)
	t.Cleanup(func() { admin("DROP SCHEMA " + schema + " CASCADE") })
	return dsn, schema
}

// newFixtureMode builds the fixture for one mode.
func newFixtureMode(t testing.TB, mode string) *fixture {
	t.Helper()
	ctx := ctxT(t)
	dir := t.TempDir()
	jcfg := journal.Config{Driver: journal.DriverSQLite, DSN: filepath.Join(dir, "journal.db")}
	scfg := StoreConfig{DSN: filepath.Join(dir, "recon.db")}
	if mode == modePostgres {
		dsn, js := pgSchema(t, "recon_test_j_")
		_, rs := pgSchema(t, "recon_test_r_")
		jcfg = journal.Config{Driver: journal.DriverPostgres, DSN: dsn, Schema: js, MaxConns: 4}
		scfg = StoreConfig{Driver: "postgres", DSN: dsn, Schema: rs}
	}
	js, err := journal.Open(ctx, jcfg)
	if err != nil {
		t.Fatalf("opening journal: %v", err)
	}
	t.Cleanup(func() { _ = js.Close() })
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: randKey(t)}, HashKey: randKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenStore(ctx, scfg)
	if err != nil {
		t.Fatalf("opening recon store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{t: t, ctx: ctx, js: js, vault: v, st: st, dir: dir}
	var src Source = JournalSource{Store: f.js, PageSize: 7} // a small page exercises keyset pagination
	if mode != modeStoreAPI {
		ss, err := OpenSQLSource(ctx, jcfg)
		if err != nil {
			t.Fatalf("opening SQL source: %v", err)
		}
		t.Cleanup(func() { _ = ss.Close() })
		src = ss
	}
	f.svc = f.service(st, src)
	return f
}

func (f *fixture) service(st *Store, src Source) *Service {
	svc, err := NewService(Config{
		Banks: map[string]BankConfig{
			"alfa": {Format: FormatA, Calendar: mustCal(f.t, calendar.BankA())},
			"sber": {Format: FormatB, Calendar: mustCal(f.t, calendar.BankB())},
		},
		TempDir:    f.dir,
		Settlement: SettlementConfig{DefaultRate: "2.5%", MerchantRates: map[string]string{"M00000000000456": "2.0%"}},
		States:     f.js,
	}, src, st)
	if err != nil {
		f.t.Fatalf("NewService: %v", err)
	}
	return svc
}

const (
	m1 = "M00000000000123"
	m2 = "M00000000000456"
)

// pay describes a journal payment to create.
type pay struct {
	bank     string
	typ      journal.PaymentType
	status   journal.PaymentStatus
	amount   int64
	ccy      string
	merchant string
	terminal string
	rrn      string
	stan     string
	auth     string
	local    time.Time
	voided   int64
}

// addPayment stores p in the journal (created at its local time) with its
// authorization operation, and returns it.
func (f *fixture) addPayment(p pay) *journal.Payment {
	f.t.Helper()
	f.n++
	if p.bank == "" {
		p.bank = "alfa"
	}
	if p.ccy == "" {
		p.ccy = "KZT"
	}
	if p.merchant == "" {
		p.merchant = m1
	}
	if p.terminal == "" {
		p.terminal = "T0000123"
	}
	if p.status == "" {
		p.status = journal.PaymentApproved
	}
	if p.typ == "" {
		p.typ = journal.TypePurchase
	}
	id := journal.NewPaymentID()
	card, err := journal.SealCard(f.vault, id, testPAN, "2812", "")
	if err != nil {
		f.t.Fatal(err)
	}
	card.Source = "keyed"
	jp := &journal.Payment{
		ID: id, Client: "gw", RequestID: "req-" + id, Type: p.typ, Status: p.status,
		Amount: p.amount, Currency: p.ccy, Card: card,
		Merchant: journal.Merchant{ID: p.merchant, TerminalID: p.terminal, MCC: "5411", Name: "DEMO SHOP", City: "ALMATY", Country: "KZ"},
		Bank:     p.bank, Route: "kzt-default", AcquirerID: "400001", STAN: p.stan, RRN: p.rrn,
		TransmissionTime: p.local.UTC(), LocalTime: p.local, AuthCode: p.auth, VoidedAmount: p.voided,
		CreatedAt: p.local, UpdatedAt: p.local,
	}
	if p.status == journal.PaymentApproved || p.status == journal.PaymentVoided {
		jp.ResponseCode = "00"
	}
	mti := "0200"
	if p.typ == journal.TypePreauth {
		mti = "0100"
	}
	auth := &journal.Operation{ID: journal.NewID(journal.PrefixOperation), Kind: journal.OpAuthorization, RequestID: jp.RequestID,
		Bank: p.bank, MTI: mti, STAN: p.stan, RRN: p.rrn, LocalTime: p.local, TransmissionTime: p.local.UTC(),
		Amount: p.amount, Currency: p.ccy, Status: journal.OpApproved, AuthCode: p.auth, CreatedAt: p.local}
	if p.status == journal.PaymentDeclined {
		auth.Status = journal.OpTimeout
	}
	if err := f.js.CreatePayment(f.ctx, jp, auth); err != nil {
		f.t.Fatalf("creating payment %s: %v", p.rrn, err)
	}
	return jp
}

// addOp stores an operation of p (capture, refund, void, reversal) and
// updates p's money fields the way the engine does.
func (f *fixture) addOp(p *journal.Payment, kind journal.OpKind, status journal.OpStatus, amount int64, rrn, stan string, local time.Time) *journal.Operation {
	f.t.Helper()
	ops, err := f.js.ListOperations(f.ctx, p.ID)
	if err != nil || len(ops) == 0 {
		f.t.Fatalf("listing operations of %s: %v", p.ID, err)
	}
	prefix := journal.PrefixOperation
	if kind == journal.OpRefund {
		prefix = journal.PrefixRefund
	}
	op := &journal.Operation{ID: journal.NewID(prefix), PaymentID: p.ID, Kind: kind, RefOperationID: ops[0].ID, Bank: p.Bank,
		MTI: "0220", STAN: stan, RRN: rrn, LocalTime: local, TransmissionTime: local.UTC(), Amount: amount,
		Currency: p.Currency, Status: status, CreatedAt: local}
	if err := f.js.AddOperation(f.ctx, op); err != nil {
		f.t.Fatalf("adding %s to %s: %v", kind, p.RRN, err)
	}
	cur, err := f.js.GetPayment(f.ctx, p.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	switch kind {
	case journal.OpCapture:
		cur.CapturedAmount = amount
	case journal.OpRefund:
		cur.RefundedAmount += amount
	case journal.OpVoid:
		cur.VoidedAmount += amount
	}
	if err := f.js.UpdatePayment(f.ctx, cur); err != nil {
		f.t.Fatalf("updating %s: %v", p.RRN, err)
	}
	*p = *cur
	return op
}

// row builds a Bank A clearing row for settlement day settle.
func rowA(typ clearing.Type, rrn, auth, stan, merchant string, local time.Time, amount, fee int64, ccy clearing.Currency, settle calendar.Date, orig string) clearing.Record {
	r := clearing.Record{
		Type: typ, RRN: rrn, AuthCode: auth, STAN: stan, TerminalID: "T0000123", MerchantID: merchant,
		MaskedPAN: "400000******0010", OperDate: calendar.DateOf(local.In(almaty)), OperTime: clearing.TimeOfDayOf(local.In(almaty)),
		Amount: amount, Currency: ccy, Fee: fee, SettleDate: settle, OrigRRN: orig,
	}
	r.SettleAmount = typ.ExpectedSettle(amount, fee)
	return r
}

func fileA(t testing.TB, settle calendar.Date, rows []clearing.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := clearing.NewAWriter(&b, settle)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// got is a compact view of an item for exact comparisons.
type got struct {
	cat     Category
	kind    Kind
	line    int64
	payment string
	amount  int64
	exp     int64
	payable bool
}

func (f *fixture) items(runID string) []got {
	f.t.Helper()
	var out []got
	err := f.st.Items(f.ctx, runID, ItemFilter{}, func(it Item) error {
		out = append(out, got{it.Category, it.Kind, it.Line, it.PaymentID, it.Amount, it.ExpectedAmount, it.Payable})
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// journalStates returns the reconciliation state and reference the journal
// holds for each named payment of a scenario.
func (f *fixture) journalStates(ids map[string]string) map[string][2]string {
	f.t.Helper()
	out := map[string][2]string{}
	for name, id := range ids {
		p, err := f.js.GetPayment(f.ctx, id)
		if err != nil {
			f.t.Fatalf("GetPayment %s: %v", name, err)
		}
		out[name] = [2]string{string(p.ReconState), p.ReconRef}
	}
	return out
}
