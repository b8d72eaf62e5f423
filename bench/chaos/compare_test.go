package chaos

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// world is a real SQLite journal plus hand-built bank ledgers.
type world struct {
	t      *testing.T
	ctx    context.Context
	store  journal.Store
	vault  *cardvault.Vault
	ledger map[string][]ledger.Txn
	n      int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	store, err := journal.Open(ctx, journal.Config{Driver: journal.DriverSQLite, DSN: filepath.Join(t.TempDir(), "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	key, hk := make([]byte, 32), make([]byte, 32)
	for i := range key {
		key[i], hk[i] = byte(i+3), byte(90-i)
	}
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: key}, HashKey: hk})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ctx: ctx, store: store, vault: v, ledger: map[string][]ledger.Txn{}}
}

// payment journals a purchase at alfa with one authorization op of the
// given status and returns it.
func (w *world) payment(status journal.PaymentStatus, opStatus journal.OpStatus, amount int64) (*journal.Payment, *journal.Operation) {
	w.t.Helper()
	w.n++
	id := journal.NewPaymentID()
	card, err := journal.SealCard(w.vault, id, "4000000000000010", "2812", "")
	if err != nil {
		w.t.Fatal(err)
	}
	rrn := "63310000000" + string(rune('0'+w.n))
	p := &journal.Payment{
		ID: id, Client: "gw", RequestID: "r" + rrn, Type: journal.TypePurchase, Status: status, Amount: amount, Currency: "KZT",
		Merchant: journal.Merchant{ID: "M1", TerminalID: "T0000001", MCC: "5411", Name: "S", City: "C", Country: "KZ"},
		Card:     card, Bank: "alfa", AcquirerID: "123456", RRN: rrn, STAN: "00000" + string(rune('0'+w.n)),
	}
	op := &journal.Operation{Kind: journal.OpAuthorization, Bank: "alfa", MTI: "0200", STAN: p.STAN, RRN: rrn,
		Amount: amount, Currency: "KZT", Status: opStatus}
	if err := w.store.CreatePayment(w.ctx, p, op); err != nil {
		w.t.Fatal(err)
	}
	return p, op
}

func (w *world) bank(t ledger.Txn) { w.ledger["alfa"] = append(w.ledger["alfa"], t) }

func (w *world) compare(told []Told) *Report {
	w.t.Helper()
	r, err := Compare(w.ctx, w.store, w.ledger, told)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func TestCompareAgreeingWorld(t *testing.T) {
	w := newWorld(t)
	ok, _ := w.payment(journal.PaymentApproved, journal.OpApproved, 1000)
	w.bank(ledger.Txn{RRN: ok.RRN, Kind: ledger.KindPurchase, Amount: 1000, Authorized: 1000, State: ledger.StateAuthorized})
	dec, _ := w.payment(journal.PaymentDeclined, journal.OpTimeout, 2000)
	// The timed-out approval the bank recorded was reversed.
	w.bank(ledger.Txn{RRN: dec.RRN, Kind: ledger.KindPurchase, Amount: 2000, State: ledger.StateReversed})
	r := w.compare([]Told{{Kind: "authorize", PaymentID: ok.ID, Status: "approved"}, {Kind: "authorize", PaymentID: dec.ID, Status: "declined"}})
	if r.MismatchedPayments != 0 || r.Payments != 2 || r.Approved != 1 || r.Declined != 1 {
		t.Fatalf("report %+v", r)
	}
}

// Every kind of disagreement the chaos matrix must catch is caught, each
// on its own payment.
func TestCompareFindsEachMismatch(t *testing.T) {
	w := newWorld(t)
	// 1. Declined upstream, still approved at the bank (reversal lost).
	lost, _ := w.payment(journal.PaymentDeclined, journal.OpTimeout, 1000)
	w.bank(ledger.Txn{RRN: lost.RRN, Kind: ledger.KindPurchase, Amount: 1000, Authorized: 1000, State: ledger.StateAuthorized})
	// 2. Voided at the switch, not reversed at the bank.
	void, _ := w.payment(journal.PaymentVoided, journal.OpApproved, 1000)
	w.bank(ledger.Txn{RRN: void.RRN, Kind: ledger.KindPurchase, Amount: 1000, Authorized: 1000, State: ledger.StateAuthorized})
	// 3. Approved at the switch, unknown at the bank.
	w.payment(journal.PaymentApproved, journal.OpApproved, 1000)
	// 4. A bank transaction the journal never heard of.
	w.bank(ledger.Txn{RRN: "699999999999", Kind: ledger.KindPurchase, Amount: 5, State: ledger.StateAuthorized})
	// 5. Refunded at the switch, not at the bank.
	ref, _ := w.payment(journal.PaymentApproved, journal.OpApproved, 1000)
	ref.RefundedAmount = 400
	if err := w.store.UpdatePayment(w.ctx, ref); err != nil {
		t.Fatal(err)
	}
	w.bank(ledger.Txn{RRN: ref.RRN, Kind: ledger.KindPurchase, Amount: 1000, Authorized: 1000, State: ledger.StateAuthorized})
	// 6. Told approved, journal declined.
	told, _ := w.payment(journal.PaymentDeclined, journal.OpDeclined, 1000)
	// 7. A reversal left queued.
	q, auth := w.payment(journal.PaymentDeclined, journal.OpTimeout, 1000)
	if err := w.store.AddOperation(w.ctx, &journal.Operation{PaymentID: q.ID, Kind: journal.OpReversal, RefOperationID: auth.ID,
		Bank: "alfa", MTI: "0400", RRN: q.RRN, Amount: 1000, Currency: "KZT", Status: journal.OpQueued}); err != nil {
		t.Fatal(err)
	}

	r := w.compare([]Told{{Kind: "authorize", PaymentID: told.ID, Status: "approved"}})
	if r.MismatchedPayments != 7 {
		t.Fatalf("found %d mismatched payments, want 7:\n%s", r.MismatchedPayments, strings.Join(r.Mismatches, "\n"))
	}
	for _, want := range []string{"not held by the switch is authorized", "voided at the switch, authorized", "is not at the bank",
		"does not know", "refunded 400 at the switch, 0 at the bank", "upstream told approved", "left queued"} {
		found := false
		for _, m := range r.Mismatches {
			found = found || strings.Contains(m, want)
		}
		if !found {
			t.Errorf("no mismatch says %q:\n%s", want, strings.Join(r.Mismatches, "\n"))
		}
	}
}
