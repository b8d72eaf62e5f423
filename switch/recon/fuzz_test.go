package recon

import (
	"bytes"
	"errors"
	"testing"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// FuzzRun feeds arbitrary bytes to Service.Run as both banks' clearing
// files (an upload is hostile input) against a small real journal: it must
// never panic; a rejected file records nothing; an accepted one stores
// exactly its rows plus the journal's missing items, none with a full PAN.
// Seeds: testdata/fuzz/FuzzRun plus the valid files built below.
func FuzzRun(f *testing.F) {
	fx := newFixture(f)
	S := calendar.NewDate(2026, 11, 30)
	fx.addPayment(pay{amount: 150000, rrn: "633100000001", stan: "000001", auth: "A00001", local: at(11, 27, 10, 15, 0)})
	fx.addPayment(pay{bank: "sber", amount: 70000, rrn: "633200000001", stan: "000501", auth: "B00001", local: at(11, 27, 10, 0, 0)})
	f.Add(fileA(f, S, []clearing.Record{
		rowA(clearing.Purchase, "633100000001", "A00001", "000001", m1, at(11, 27, 10, 15, 0), 150000, 3000, clearing.KZT, S, ""),
		rowA(clearing.Refund, "633100000002", "", "000002", m1, at(11, 27, 11, 0, 0), 500, 0, clearing.KZT, S, "633100000001"),
	}))
	var b bytes.Buffer
	w, err := clearing.NewBWriter(&b, clearing.BHeader{SettleDate: S, AcquirerID: "500002"})
	if err != nil {
		f.Fatal(err)
	}
	if err := w.Write(clearing.Record{Type: clearing.Purchase, AuthCode: "B00001", STAN: "000501", TerminalID: "T0000123", MerchantID: m1,
		MaskedPAN: "400000******0010", OperDate: calendar.NewDate(2026, 11, 27), OperTime: clearing.TimeOfDay{Hour: 10},
		Amount: 70000, Currency: clearing.KZT, Fee: 100, SettleAmount: 69900, SettleDate: S}); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bank := range []string{"alfa", "sber"} {
			before := countItems(fx)
			res, err := fx.svc.Run(fx.ctx, bank, bytes.NewReader(data), Options{Force: true})
			if err != nil {
				var fe *clearing.FileError
				if errors.As(err, &fe) || errors.Is(err, ErrBadRequest) {
					if after := countItems(fx); after != before {
						t.Fatalf("%s: rejected file changed the store: %d → %d items", bank, before, after)
					}
					continue
				}
				t.Fatalf("%s: unexpected error kind: %v", bank, err)
			}
			var n int64
			if err := fx.st.Items(fx.ctx, res.Run.ID, ItemFilter{}, func(it Item) error {
				n++
				if cardvault.ContainsPAN(it.MaskedPAN) || cardvault.ContainsPAN(it.Note) {
					t.Fatalf("stored item %d holds a full PAN", it.Seq)
				}
				if it.Kind == "" || it.Category == "" {
					t.Fatalf("item without classification: %+v", it)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, c := range res.Run.Summary.Counts {
				sum += c
			}
			if sum != n || n < res.Run.Rows {
				t.Fatalf("%s: %d items stored, summary %d, rows %d", bank, n, sum, res.Run.Rows)
			}
		}
	})
}

func countItems(fx *fixture) int64 {
	var n int64
	if err := fx.st.db.QueryRowContext(fx.ctx, `SELECT COUNT(*) FROM recon_items`).Scan(&n); err != nil {
		fx.t.Fatal(err)
	}
	return n
}

// FuzzMatch is the in-memory half of FuzzRun, fast enough to fuzz (the
// SQLite engine under coverage instrumentation makes FuzzRun crawl): any
// bytes, read as either bank's file, are matched against a fixed index of
// journal payments. Every row gets a category of its kind, payable only
// when the category allows it, and the missing pass never double-counts.
func FuzzMatch(f *testing.F) {
	S := calendar.NewDate(2026, 11, 30)
	f.Add(fileA(f, S, []clearing.Record{
		rowA(clearing.Purchase, "633100000001", "A00001", "000001", m1, at(11, 27, 10, 15, 0), 150000, 3000, clearing.KZT, S, ""),
		rowA(clearing.Purchase, "633100000001", "A00001", "000001", m1, at(11, 27, 10, 15, 0), 150000, 3000, clearing.KZT, S, ""),
		rowA(clearing.Refund, "633100000101", "", "000101", m1, at(11, 27, 12, 0, 0), 5000, 0, clearing.KZT, S, "633100000001"),
		rowA(clearing.Chargeback, "633100000201", "", "000201", m1, at(11, 27, 12, 0, 0), 5000, 0, clearing.KZT, S, "633100000002"),
	}))
	calA, err := calendar.New(calendar.BankA())
	if err != nil {
		f.Fatal(err)
	}
	calB, err := calendar.New(calendar.BankB())
	if err != nil {
		f.Fatal(err)
	}
	txns := func() []*Txn {
		return []*Txn{
			{PaymentID: "pay_1", Type: "purchase", Status: "approved", MerchantID: m1, TerminalID: "T0000123", MaskedPAN: "400000******0010",
				Currency: "KZT", RRN: "633100000001", STAN: "000001", AuthCode: "A00001", LocalTime: at(11, 27, 10, 15, 0), Amount: 150000,
				OpsLoaded: true, Refunds: []TxnOp{{ID: "ref_1", RRN: "633100000101", STAN: "000101", LocalTime: at(11, 27, 12, 0, 0), Amount: 5000}}},
			{PaymentID: "pay_2", Type: "preauth", Status: "approved", MerchantID: m1, TerminalID: "T0000123", MaskedPAN: "400000******0010",
				Currency: "KZT", RRN: "633100000002", STAN: "000002", AuthCode: "A00002", LocalTime: at(11, 27, 9, 0, 0), Amount: 90000,
				OpsLoaded: true, Completion: &TxnOp{ID: "op_2", RRN: "633100000002", STAN: "000102", LocalTime: at(11, 28, 9, 0, 0), Amount: 80000}},
			{PaymentID: "pay_3", Type: "purchase", Status: "voided", MerchantID: m1, TerminalID: "T0000123", MaskedPAN: "400000******0010",
				Currency: "KZT", RRN: "633100000003", STAN: "000003", AuthCode: "A00003", LocalTime: at(11, 27, 9, 0, 0), Amount: 1000,
				Voided: 1000, OpsLoaded: true, Reversed: true},
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatA, FormatB} {
			cal := calA
			if format == FormatB {
				cal = calB
			}
			m := newMatcher(format, cal, S, nil)
			for _, tx := range txns() {
				m.add(tx)
			}
			b := BankConfig{Format: format}
			rd := b.reader(bytes.NewReader(data), clearing.ReaderOptions{})
			for rd.Next() {
				rec := rd.Record()
				it, err := m.matchRow(t.Context(), &rec, rd.Line())
				if err != nil {
					t.Fatalf("matchRow: %v", err)
				}
				want := map[clearing.Type]Kind{clearing.Purchase: KindSale, clearing.Refund: KindRefund,
					clearing.Chargeback: KindChargeback, clearing.ChargebackReversal: KindChargebackReversal}[rec.Type]
				if it.Kind != want || it.Category == "" {
					t.Fatalf("row of type %v classified %s/%s", rec.Type, it.Kind, it.Category)
				}
				payable := it.Category == Matched || it.Category == SettledOnOtherDay || it.Category == RefundMatched ||
					it.Category == Chargeback || it.Category == ChargebackReversal
				if it.Payable != payable {
					t.Fatalf("%s payable %v", it.Category, it.Payable)
				}
				if cardvault.ContainsPAN(it.MaskedPAN) {
					t.Fatal("a full PAN reached an item")
				}
			}
			seen := map[string]bool{}
			if err := m.missing(t.Context(), func(it Item) error {
				k := it.PaymentID + "/" + it.OperationID + "/" + string(it.Kind)
				if seen[k] {
					t.Fatalf("missing item twice: %s", k)
				}
				seen[k] = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
