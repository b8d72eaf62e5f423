package recon

import (
	"bytes"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// scenarioA populates the journal with Bank A payments whose clearing
// is due on Monday 30.11.2026 (operation days Fri 27, Sat 28, Sun 29)
// and returns the clearing file of that day with one break of every kind.
type scenarioA struct {
	settle calendar.Date
	file   []byte
	p      map[string]*journal.Payment
}

func buildScenarioA(f *fixture) *scenarioA {
	t := f.t
	S := calendar.NewDate(2026, 11, 30)
	p := map[string]*journal.Payment{}
	add := func(name string, v pay) { p[name] = f.addPayment(v) }
	ap, vo, de := journal.PaymentApproved, journal.PaymentVoided, journal.PaymentDeclined
	pre := journal.TypePreauth

	add("P1", pay{status: ap, amount: 150000, rrn: "633100000001", stan: "000001", auth: "A00001", local: at(11, 27, 10, 15, 0)})
	add("P2", pay{status: ap, amount: 100000, rrn: "633100000002", stan: "000002", auth: "A00002", local: at(11, 27, 11, 0, 0)})
	add("P3", pay{status: ap, amount: 50000, rrn: "633100000003", stan: "000003", auth: "A00003", local: at(11, 28, 12, 0, 0)})
	add("P4", pay{status: ap, amount: 70000, rrn: "633100000004", stan: "000004", auth: "A00004", local: at(11, 27, 13, 0, 0)})
	add("P5", pay{status: vo, amount: 40000, rrn: "633100000005", stan: "000005", auth: "A00005", local: at(11, 27, 14, 0, 0), voided: 40000})
	add("P6", pay{typ: pre, status: ap, amount: 200000, rrn: "633100000006", stan: "000006", auth: "A00006", local: at(11, 27, 9, 0, 0)})
	f.addOp(p["P6"], journal.OpCapture, journal.OpAcknowledged, 120000, "633100000006", "000106", at(11, 27, 15, 0, 0))
	// Partially voided pre-authorization, captured at the remaining amount.
	add("P7", pay{typ: pre, status: ap, amount: 300000, rrn: "633100000007", stan: "000007", auth: "A00007", local: at(11, 27, 9, 30, 0)})
	f.addOp(p["P7"], journal.OpVoid, journal.OpAcknowledged, 100000, "633100000007", "000207", at(11, 27, 10, 0, 0))
	f.addOp(p["P7"], journal.OpCapture, journal.OpAcknowledged, 200000, "633100000007", "000107", at(11, 27, 16, 0, 0))
	add("P8", pay{typ: pre, status: ap, amount: 80000, rrn: "633100000008", stan: "000008", auth: "A00008", local: at(11, 28, 10, 0, 0)})
	// Thursday 26.11: expected on Friday 27.11, cleared on Monday.
	add("P9", pay{status: ap, amount: 60000, rrn: "633100000009", stan: "000009", auth: "A00009", local: at(11, 26, 10, 0, 0)})
	// Sunday 29.11 23:30, after the 23:00 cut-off: operation day Monday
	// 30.11, so expected on Tuesday 01.12; the bank cleared it on Monday.
	add("P10", pay{status: ap, amount: 1025, rrn: "633100000010", stan: "000010", auth: "A00010", local: at(11, 29, 23, 30, 0)})
	add("P11", pay{status: ap, amount: 25000, merchant: m2, rrn: "633100000011", stan: "000011", auth: "A00011", local: at(11, 27, 12, 0, 0)})
	f.addOp(p["P11"], journal.OpRefund, journal.OpApproved, 10000, "633100000111", "000111", at(11, 27, 16, 0, 0))
	// Timed out, reversed by the switch, yet cleared.
	add("P13", pay{status: de, amount: 45000, rrn: "633100000013", stan: "000013", auth: "", local: at(11, 27, 17, 0, 0)})
	f.addOp(p["P13"], journal.OpReversal, journal.OpAcknowledged, 45000, "633100000013", "000113", at(11, 27, 17, 0, 20))
	add("P14", pay{status: ap, amount: 10000, rrn: "633100000014", stan: "000014", auth: "A00014", local: at(11, 27, 18, 0, 0)})
	add("P15", pay{status: ap, amount: 5000, ccy: "USD", rrn: "633100000015", stan: "000015", auth: "A00015", local: at(11, 27, 19, 0, 0)})
	add("P16", pay{status: ap, amount: 20000, rrn: "633100000016", stan: "000016", auth: "A00016", local: at(11, 27, 20, 0, 0)})
	f.addOp(p["P16"], journal.OpRefund, journal.OpApproved, 5000, "633100000116", "000116", at(11, 28, 9, 0, 0))
	add("P17", pay{status: vo, amount: 15000, rrn: "633100000017", stan: "000017", auth: "A00017", local: at(11, 27, 21, 0, 0), voided: 15000})
	// Another bank's payment with a colliding RRN must not be matched.
	add("X1", pay{bank: "sber", status: ap, amount: 33300, rrn: "633100009999", stan: "009999", auth: "B99999", local: at(11, 27, 10, 0, 0)})

	K, U := clearing.KZT, clearing.USD
	P, R, CB, CBR := clearing.Purchase, clearing.Refund, clearing.Chargeback, clearing.ChargebackReversal
	rows := []clearing.Record{
		rowA(P, "633100000001", "A00001", "000001", m1, at(11, 27, 10, 15, 0), 150000, 3000, K, S, ""),      // 2 matched
		rowA(P, "633100000002", "A00002", "000002", m1, at(11, 27, 11, 0, 0), 90000, 1800, K, S, ""),        // 3 amount_mismatch
		rowA(P, "633100000004", "A00004", "000004", m1, at(11, 27, 13, 0, 0), 70000, 1400, K, S, ""),        // 4 matched
		rowA(P, "633100000004", "A00004", "000004", m1, at(11, 27, 13, 0, 0), 70000, 1400, K, S, ""),        // 5 duplicate
		rowA(P, "633100000005", "A00005", "000005", m1, at(11, 27, 14, 0, 0), 40000, 800, K, S, ""),         // 6 reversed_but_cleared (voided)
		rowA(P, "633100000006", "A00006", "000106", m1, at(11, 27, 15, 0, 0), 120000, 2400, K, S, ""),       // 7 matched (completion)
		rowA(P, "633100000007", "A00007", "000107", m1, at(11, 27, 16, 0, 0), 200000, 4000, K, S, ""),       // 8 matched (remaining amount)
		rowA(P, "633100000009", "A00009", "000009", m1, at(11, 26, 10, 0, 0), 60000, 1200, K, S, ""),        // 9 settled_on_other_day
		rowA(P, "633100000010", "A00010", "000010", m1, at(11, 29, 23, 30, 0), 1025, 21, K, S, ""),          // 10 settled_on_other_day
		rowA(P, "633100000011", "A00011", "000011", m2, at(11, 27, 12, 0, 0), 25000, 500, K, S, ""),         // 11 matched
		rowA(R, "633100000111", "", "000111", m2, at(11, 27, 16, 0, 0), 10000, 0, K, S, "633100000011"),     // 12 refund_matched
		rowA(R, "633100000777", "", "000777", m1, at(11, 27, 16, 30, 0), 7000, 0, K, S, "633100000001"),     // 13 refund_unknown
		rowA(CB, "633100000801", "", "000801", m1, at(11, 27, 10, 15, 0), 150000, 0, K, S, "633100000001"),  // 14 chargeback
		rowA(CBR, "633100000802", "", "000802", m1, at(11, 27, 10, 15, 0), 150000, 0, K, S, "633100000001"), // 15 chargeback_reversal
		rowA(P, "633100009999", "B99999", "009999", m1, at(11, 27, 10, 0, 0), 33300, 666, K, S, ""),         // 16 unknown_in_journal
		rowA(P, "633100000013", "A00013", "000013", m1, at(11, 27, 17, 0, 0), 45000, 900, K, S, ""),         // 17 reversed_but_cleared (timeout)
		rowA(P, "633100000014", "ZZZZZZ", "000014", m1, at(11, 27, 18, 0, 0), 10000, 200, K, S, ""),         // 18 auth_code_mismatch
		rowA(P, "633100000015", "A00015", "000015", m1, at(11, 27, 19, 0, 0), 5000, 100, U, S, ""),          // 19 matched (USD)
		rowA(P, "633100000016", "A00016", "000016", m1, at(11, 27, 20, 0, 0), 20000, 400, K, S, ""),         // 20 matched
	}
	return &scenarioA{settle: S, file: fileA(t, S, rows), p: p}
}

func TestReconBankAEveryCategory(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { testReconBankAEveryCategory(t, mode) })
	}
}

func testReconBankAEveryCategory(t *testing.T, mode string) {
	f := newFixtureMode(t, mode)
	sc := buildScenarioA(f)
	res, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(sc.file), Options{FileName: "A_CLR_20261130.csv"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Replayed || res.Run.Rows != 19 || res.Run.SettleDate != sc.settle || res.Run.Bank != "alfa" {
		t.Fatalf("run %+v replayed %v", res.Run, res.Replayed)
	}
	id := func(n string) string { return sc.p[n].ID }
	want := []got{
		{Matched, KindSale, 2, id("P1"), 150000, 150000, true},
		{AmountMismatch, KindSale, 3, id("P2"), 90000, 100000, false},
		{Matched, KindSale, 4, id("P4"), 70000, 70000, true},
		{DuplicateInClearing, KindSale, 5, id("P4"), 70000, 70000, false},
		{ReversedButCleared, KindSale, 6, id("P5"), 40000, 0, false},
		{Matched, KindSale, 7, id("P6"), 120000, 120000, true},
		{Matched, KindSale, 8, id("P7"), 200000, 200000, true},
		{SettledOnOtherDay, KindSale, 9, id("P9"), 60000, 60000, true},
		{SettledOnOtherDay, KindSale, 10, id("P10"), 1025, 1025, true},
		{Matched, KindSale, 11, id("P11"), 25000, 25000, true},
		{RefundMatched, KindRefund, 12, id("P11"), 10000, 10000, true},
		{RefundUnknown, KindRefund, 13, id("P1"), 7000, 0, false},
		{Chargeback, KindChargeback, 14, id("P1"), 150000, 150000, true},
		{ChargebackReversal, KindChargebackReversal, 15, id("P1"), 150000, 150000, true},
		{UnknownInJournal, KindSale, 16, "", 33300, 0, false},
		{ReversedButCleared, KindSale, 17, id("P13"), 45000, 0, false},
		{AuthCodeMismatch, KindSale, 18, id("P14"), 10000, 10000, false},
		{Matched, KindSale, 19, id("P15"), 5000, 5000, true},
		{Matched, KindSale, 20, id("P16"), 20000, 20000, true},
		// Journal transactions due on 30.11 and absent, by local time.
		{VoidedNotCleared, KindSale, 0, id("P17"), 0, 15000, false},
		{PreauthUncaptured, KindSale, 0, id("P8"), 0, 80000, false},
		{MissingInClearing, KindSale, 0, id("P3"), 0, 50000, false},
		{MissingInClearing, KindRefund, 0, id("P16"), 0, 5000, false},
	}
	gotItems := f.items(res.Run.ID)
	if !reflect.DeepEqual(gotItems, want) {
		for i := range max(len(gotItems), len(want)) {
			var g, w got
			if i < len(gotItems) {
				g = gotItems[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("item %d:\n got %+v\nwant %+v", i+1, g, w)
			}
		}
		t.FailNow()
	}
	// Breaks: amount, duplicate, 2× reversed, refund_unknown, unknown,
	// auth code, 2× missing = 9.
	if res.Run.Summary.Breaks != 9 || len(res.Breaks) != 9 {
		t.Fatalf("breaks: summary %d, listed %d, want 9", res.Run.Summary.Breaks, len(res.Breaks))
	}
	if c := res.Run.Summary.Counts; c[Matched] != 7 || c[SettledOnOtherDay] != 2 || c[MissingInClearing] != 2 {
		t.Fatalf("counts %v", c)
	}
	// P1..P17 on alfa whose clearing day is 30.11: P1-P8, P11, P14-P17
	// (P9 is due 27.11, P10 01.12, P13 declined) = 13 sales, plus the
	// refunds of P11 (27.11) and P16 (28.11) = 15.
	if res.Run.Summary.Journal != 15 {
		t.Fatalf("journal in scope %d, want 15", res.Run.Summary.Journal)
	}

	// The payment's reconciliation state and the row it matched.
	states, err := f.st.PaymentStates(f.ctx, id("P6"))
	if err != nil || len(states) != 1 || states[0].Item.Category != Matched || states[0].Item.Line != 7 ||
		states[0].Item.STAN != "000106" || states[0].Item.MaskedPAN != "400000******0010" {
		t.Fatalf("state of P6: %+v %v", states, err)
	}

	// Written back to the journal: per payment the worst outcome of its
	// items in the run, and its sale's row.
	names := map[string]string{}
	for n, p := range sc.p {
		names[n] = p.ID
	}
	wantStates := map[string][2]string{
		"P1":  {"mismatch", "alfa/2026-11-30/2"}, // matched, but its refund row is unknown
		"P2":  {"mismatch", "alfa/2026-11-30/3"},
		"P3":  {"missing", "alfa/2026-11-30/0"},
		"P4":  {"mismatch", "alfa/2026-11-30/4"}, // matched, then cleared twice
		"P5":  {"mismatch", "alfa/2026-11-30/6"},
		"P6":  {"matched", "alfa/2026-11-30/7"},
		"P7":  {"matched", "alfa/2026-11-30/8"},
		"P8":  {"not_cleared", "alfa/2026-11-30/0"},
		"P9":  {"matched", "alfa/2026-11-30/9"},
		"P10": {"matched", "alfa/2026-11-30/10"},
		"P11": {"matched", "alfa/2026-11-30/11"},
		"P13": {"mismatch", "alfa/2026-11-30/17"},
		"P14": {"mismatch", "alfa/2026-11-30/18"},
		"P15": {"matched", "alfa/2026-11-30/19"},
		"P16": {"missing", "alfa/2026-11-30/20"}, // its refund is missing
		"P17": {"not_cleared", "alfa/2026-11-30/0"},
	}
	gotStates := f.journalStates(names)
	for n, w := range wantStates {
		if gotStates[n] != w {
			t.Errorf("journal state of %s: %v, want %v", n, gotStates[n], w)
		}
	}
	for n, g := range gotStates {
		if _, ok := wantStates[n]; !ok && g != [2]string{} {
			t.Errorf("journal state of %s (not in the run): %v", n, g)
		}
	}

	st, err := f.svc.Settlement(f.ctx, sc.settle)
	if err != nil {
		t.Fatalf("Settlement: %v", err)
	}
	if st.PayoutDate != calendar.NewDate(2026, 12, 1) || len(st.Runs) != 1 || !reflect.DeepEqual(st.Missing, []string{"sber"}) {
		t.Fatalf("settlement header %+v", st)
	}
	wantM := []MerchantSettlement{
		{
			MerchantID: m1, Currency: "KZT", SettlementCurrency: true,
			// Payable sales: P1 150000 + P4 70000 + P6 120000 + P7 200000
			// + P9 60000 + P10 1025 + P16 20000 = 621025 (7 rows).
			SalesCount: 7, Sales: 621025,
			// The only M1 refund row is unknown to the journal: held.
			RefundsCount: 0, Refunds: 0,
			ChargebacksCount: 1, Chargebacks: 150000, CBReversalsCount: 1, ChargebackReversals: 150000,
			// Fees of every M1 KZT row: 3000+1800+1400+1400+800+2400+4000
			// +1200+21+0+0+0+666+900+200+400 = 18187.
			BankFees: 18187, Rate: "2.5%",
			// 2.5% per row, half up: 3750+1750+3000+5000+1500+26 (25.625)
			// +500 = 15526.
			Commission: 15526,
			// Held: P2 90000, P4 dup 70000, P5 40000, refund 7000, unknown
			// 33300, P13 45000, P14 10000 = 295300 (7 rows).
			HeldCount: 7, Held: 295300,
			// 621025 − 0 − 150000 + 150000 − 15526 = 605499.
			Net: 605499,
		},
		{
			MerchantID: m2, Currency: "KZT", SettlementCurrency: true,
			SalesCount: 1, Sales: 25000, RefundsCount: 1, Refunds: 10000, BankFees: 500, Rate: "2%",
			// 2.0% of 25000 = 500; net 25000 − 10000 − 500 = 14500.
			Commission: 500, Net: 14500,
		},
		{
			MerchantID: m1, Currency: "USD", SettlementCurrency: false,
			// 2.5% of 5000 = 125; net 4875, reported apart, not converted.
			SalesCount: 1, Sales: 5000, BankFees: 100, Rate: "2.5%", Commission: 125, Net: 4875,
		},
	}
	if !reflect.DeepEqual(st.Merchants, wantM) {
		t.Fatalf("merchants:\n got %+v\nwant %+v", st.Merchants, wantM)
	}
	if len(st.Totals) != 2 || st.Totals[0].Currency != "KZT" || st.Totals[0].Net != 605499+14500 || st.Totals[1].Net != 4875 {
		t.Fatalf("totals %+v", st.Totals)
	}
}

func TestReconIdempotentAndSecondFileRefused(t *testing.T) {
	f := newFixture(t)
	sc := buildScenarioA(f)
	first, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(sc.file), Options{FileName: "A_CLR_20261130.csv"})
	if err != nil {
		t.Fatal(err)
	}
	before := f.items(first.Run.ID)

	// The same file again: the stored result, nothing written.
	again, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(sc.file), Options{FileName: "A_CLR_20261130.csv"})
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if !again.Replayed || again.Run.ID != first.Run.ID || len(again.Breaks) != len(first.Breaks) ||
		again.Run.Summary.Breaks != first.Run.Summary.Breaks {
		t.Fatalf("re-run: replayed %v run %s (first %s), %d breaks (first %d)", again.Replayed, again.Run.ID, first.Run.ID, len(again.Breaks), len(first.Breaks))
	}
	if after := f.items(first.Run.ID); !reflect.DeepEqual(after, before) {
		t.Fatal("re-run changed the stored items")
	}
	var runs int
	if err := f.st.db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM recon_runs`).Scan(&runs); err != nil || runs != 1 {
		t.Fatalf("runs stored: %d %v", runs, err)
	}

	// A different file for the same bank and day: refused.
	other := fileA(t, sc.settle, []clearing.Record{
		rowA(clearing.Purchase, "633100000001", "A00001", "000001", m1, at(11, 27, 10, 15, 0), 150000, 3000, clearing.KZT, sc.settle, ""),
	})
	if _, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(other), Options{}); !errors.Is(err, ErrAlreadyReconciled) {
		t.Fatalf("second file: %v, want ErrAlreadyReconciled", err)
	}
	// Forced: it replaces the first run.
	forced, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(other), Options{Force: true})
	if err != nil {
		t.Fatalf("forced: %v", err)
	}
	if !forced.Run.Forced || forced.Run.ID == first.Run.ID {
		t.Fatalf("forced run %+v", forced.Run)
	}
	active, err := f.st.ActiveRun(f.ctx, "alfa", sc.settle)
	if err != nil || active == nil || active.ID != forced.Run.ID {
		t.Fatalf("active run %+v %v", active, err)
	}
	// Only P1 matched now; every other sale and refund due that day is
	// missing: P2, P3, P4, P6, P7, P11, P14, P15 (USD), P16 and the refunds
	// of P11 and P16 = 11; P8 stays uncaptured, P5 and P17 voided.
	if c := forced.Run.Summary.Counts; c[Matched] != 1 || c[MissingInClearing] != 11 || c[PreauthUncaptured] != 1 || c[VoidedNotCleared] != 2 || len(c) != 4 {
		t.Fatalf("counts after forced run %v", c)
	}
	var missing []string
	for _, it := range forced.Breaks {
		if it.Category == MissingInClearing {
			missing = append(missing, it.RRN)
		}
	}
	wantMissing := []string{"633100000002", "633100000003", "633100000004", "633100000006", "633100000007",
		"633100000011", "633100000014", "633100000015", "633100000016", "633100000111", "633100000116"}
	sort.Strings(missing)
	if !reflect.DeepEqual(missing, wantMissing) {
		t.Fatalf("missing after forced run:\n got %v\nwant %v", missing, wantMissing)
	}
	// The journal follows the forced run: P2 is now missing from that
	// day's file; P1 is matched (its unknown refund row is gone).
	if js := f.journalStates(map[string]string{"P1": sc.p["P1"].ID, "P2": sc.p["P2"].ID}); js["P1"] != [2]string{"matched", "alfa/2026-11-30/2"} ||
		js["P2"] != [2]string{"missing", "alfa/2026-11-30/0"} {
		t.Errorf("journal states after the forced run: %v", js)
	}
	// Settlement follows the active run only: P1 150000 − 3750 commission.
	st, err := f.svc.Settlement(f.ctx, sc.settle)
	if err != nil || len(st.Merchants) != 1 || st.Merchants[0].Net != 146250 {
		t.Fatalf("settlement after force: %+v %v", st, err)
	}
}

func TestReconRejectsTrailerMismatchWhole(t *testing.T) {
	f := newFixture(t)
	sc := buildScenarioA(f)
	var b bytes.Buffer
	w, err := clearing.NewAWriter(&b, sc.settle)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rowA(clearing.Purchase, "633100000001", "A00001", "000001", m1, at(11, 27, 10, 15, 0), 150000, 3000, clearing.KZT, sc.settle, "")); err != nil {
		t.Fatal(err)
	}
	tot := w.Totals()
	tot.Amount++ // one tiyn more than the rows
	if err := w.CloseWithTrailer(tot); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Run(f.ctx, "alfa", bytes.NewReader(b.Bytes()), Options{FileName: "A_CLR_20261130.csv"})
	var fe *clearing.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("trailer mismatch: %v, want a *clearing.FileError", err)
	}
	var runs, items int
	if err := f.st.db.QueryRowContext(f.ctx, `SELECT (SELECT COUNT(*) FROM recon_runs), (SELECT COUNT(*) FROM recon_items)`).Scan(&runs, &items); err != nil {
		t.Fatal(err)
	}
	if runs != 0 || items != 0 {
		t.Fatalf("rejected file left %d runs and %d items", runs, items)
	}
	// The valid file is still accepted afterwards.
	if _, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(sc.file), Options{FileName: "A_CLR_20261130.csv"}); err != nil {
		t.Fatalf("valid file after a rejected one: %v", err)
	}
	// A name that contradicts the content is rejected too.
	if _, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(sc.file), Options{FileName: "A_CLR_20261201.csv"}); err == nil {
		t.Fatal("file named for another day was accepted")
	}
}

// TestReconConcurrentSameFile runs the same file from several goroutines:
// exactly one run is recorded, the others return it as replayed.
func TestReconConcurrentSameFile(t *testing.T) {
	f := newFixture(t)
	sc := buildScenarioA(f)
	type out struct {
		res *Result
		err error
	}
	ch := make(chan out, 4)
	for range 4 {
		go func() {
			res, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(sc.file), Options{FileName: "A_CLR_20261130.csv"})
			ch <- out{res, err}
		}()
	}
	ids := map[string]bool{}
	fresh := 0
	for range 4 {
		o := <-ch
		if o.err != nil {
			t.Fatalf("concurrent run: %v", o.err)
		}
		ids[o.res.Run.ID] = true
		if !o.res.Replayed {
			fresh++
		}
	}
	if len(ids) != 1 || fresh != 1 {
		t.Fatalf("%d distinct runs, %d fresh; want 1 and 1", len(ids), fresh)
	}
}

// TestReconEdgeCases covers the rest of the classification rules on Bank A.
func TestReconEdgeCases(t *testing.T) {
	f := newFixture(t)
	S := calendar.NewDate(2026, 11, 30)
	ap := journal.PaymentApproved
	// A purchase partially voided (2000 of 10000) is expected at 8000.
	e1 := f.addPayment(pay{status: ap, amount: 10000, voided: 2000, rrn: "633100000101", stan: "000101", auth: "E00001", local: at(11, 27, 10, 0, 0)})
	// A pre-authorization never captured, yet cleared.
	e2 := f.addPayment(pay{typ: journal.TypePreauth, status: ap, amount: 20000, rrn: "633100000102", stan: "000102", auth: "E00002", local: at(11, 27, 10, 0, 0)})
	// KZT in the journal, USD in the file.
	e3 := f.addPayment(pay{status: ap, amount: 5000, rrn: "633100000103", stan: "000103", auth: "E00003", local: at(11, 27, 10, 0, 0)})
	// Declined without any reversal, yet cleared.
	e4 := f.addPayment(pay{status: journal.PaymentDeclined, amount: 7000, rrn: "633100000104", stan: "000104", auth: "", local: at(11, 27, 10, 0, 0)})
	// A refund cleared at another amount; a refund the bank declined.
	e5 := f.addPayment(pay{status: ap, amount: 9000, rrn: "633100000105", stan: "000105", auth: "E00005", local: at(11, 27, 10, 0, 0)})
	f.addOp(e5, journal.OpRefund, journal.OpApproved, 3000, "633100000115", "000115", at(11, 27, 11, 0, 0))
	f.addOp(e5, journal.OpRefund, journal.OpDeclined, 1000, "633100000125", "000125", at(11, 27, 12, 0, 0))
	K, P, R := clearing.KZT, clearing.Purchase, clearing.Refund
	file := fileA(t, S, []clearing.Record{
		rowA(P, "633100000101", "E00001", "000101", m1, at(11, 27, 10, 0, 0), 8000, 160, K, S, ""),
		rowA(P, "633100000102", "E00002", "000102", m1, at(11, 27, 10, 0, 0), 20000, 400, K, S, ""),
		rowA(P, "633100000103", "E00003", "000103", m1, at(11, 27, 10, 0, 0), 5000, 100, clearing.USD, S, ""),
		rowA(P, "633100000104", "E00004", "000104", m1, at(11, 27, 10, 0, 0), 7000, 140, K, S, ""),
		rowA(P, "633100000105", "E00005", "000105", m1, at(11, 27, 10, 0, 0), 9000, 180, K, S, ""),
		rowA(R, "633100000115", "", "000115", m1, at(11, 27, 11, 0, 0), 3500, 0, K, S, "633100000105"),
		rowA(R, "633100000125", "", "000125", m1, at(11, 27, 12, 0, 0), 1000, 0, K, S, "633100000105"),
	})
	res, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(file), Options{FileName: "A_CLR_20261130.csv"})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{
		{Matched, KindSale, 2, e1.ID, 8000, 8000, true},
		{AmountMismatch, KindSale, 3, e2.ID, 20000, 0, false},
		{AmountMismatch, KindSale, 4, e3.ID, 5000, 5000, false},
		{ReversedButCleared, KindSale, 5, e4.ID, 7000, 0, false},
		{Matched, KindSale, 6, e5.ID, 9000, 9000, true},
		{AmountMismatch, KindRefund, 7, e5.ID, 3500, 3000, false},
		{RefundUnknown, KindRefund, 8, e5.ID, 1000, 0, false},
	}
	if g := f.items(res.Run.ID); !reflect.DeepEqual(g, want) {
		t.Fatalf("items:\n got %+v\nwant %+v", g, want)
	}
	notes := map[int64]string{}
	_ = f.st.Items(f.ctx, res.Run.ID, ItemFilter{}, func(it Item) error { notes[it.Line] = it.Note; return nil })
	for line, want := range map[int64]string{3: "never captured", 4: "currency differs", 5: "declined or unanswered"} {
		if !strings.Contains(notes[line], want) {
			t.Fatalf("line %d note %q, want it to say %q", line, notes[line], want)
		}
	}
}
