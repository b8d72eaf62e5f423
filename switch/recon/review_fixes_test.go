package recon

import (
	"bytes"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// Regression tests for the settlement specialist's review (docs/recon.md,
// "Review fixes"). Each failed before its fix.

var (
	fri = calendar.NewDate(2026, 11, 27)
	mon = calendar.NewDate(2026, 11, 30)
)

func (f *fixture) runA(settle calendar.Date, rows []clearing.Record) []got {
	f.t.Helper()
	res, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(fileA(f.t, settle, rows)),
		Options{FileName: "A_CLR_" + settle.YYYYMMDD() + ".csv"})
	if err != nil {
		f.t.Fatalf("run of %s: %v", settle, err)
	}
	return f.items(res.Run.ID)
}

// settled returns merchant → settlement of day d (KZT).
func (f *fixture) settled(d calendar.Date) map[string]MerchantSettlement {
	f.t.Helper()
	st, err := f.svc.Settlement(f.ctx, d)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]MerchantSettlement{}
	for _, m := range st.Merchants {
		out[m.MerchantID] = m
	}
	return out
}

// A sale due Monday, cleared early in Friday's file and repeated in
// Monday's, is paid once, whichever file is reconciled first.
func TestSaleClearedEarlyAndRepeatedIsPaidOnce(t *testing.T) {
	for _, order := range []string{"fri-mon", "mon-fri"} {
		t.Run(order, func(t *testing.T) {
			f := newFixtureMode(t, modeSQL)
			p := f.addPayment(pay{amount: 100000, rrn: "633100000777", stan: "000777", auth: "A77777", local: at(11, 27, 10, 0, 0)})
			row := func(d calendar.Date) []clearing.Record {
				return []clearing.Record{rowA(clearing.Purchase, "633100000777", "A77777", "000777", m1, at(11, 27, 10, 0, 0), 100000, 2000, clearing.KZT, d, "")}
			}
			first, second := fri, mon
			if order == "mon-fri" {
				first, second = mon, fri
			}
			g1 := f.runA(first, row(first))
			g2 := f.runA(second, row(second))
			if len(g1) != 1 || !g1[0].payable || g1[0].payment != p.ID {
				t.Fatalf("first run %+v", g1)
			}
			if len(g2) != 1 || g2[0].cat != DuplicateInClearing || g2[0].payable {
				t.Fatalf("repeat: %+v, want one held duplicate_in_clearing", g2)
			}
			paid := f.settled(fri)[m1].Sales + f.settled(mon)[m1].Sales
			if paid != 100000 {
				t.Errorf("merchant paid %d over both days, want 100000", paid)
			}
		})
	}
}

// Same for a refund: deducted once.
func TestRefundClearedEarlyAndRepeatedIsDeductedOnce(t *testing.T) {
	for _, order := range []string{"fri-mon", "mon-fri"} {
		t.Run(order, func(t *testing.T) {
			f := newFixtureMode(t, modeSQL)
			p := f.addPayment(pay{amount: 100000, rrn: "633100000778", stan: "000778", auth: "A77778", local: at(11, 20, 10, 0, 0)})
			f.addOp(p, journal.OpRefund, journal.OpApproved, 30000, "633100000779", "000779", at(11, 27, 11, 0, 0))
			row := func(d calendar.Date) []clearing.Record {
				return []clearing.Record{rowA(clearing.Refund, "633100000779", "", "000779", m1, at(11, 27, 11, 0, 0), 30000, 0, clearing.KZT, d, "633100000778")}
			}
			first, second := fri, mon
			if order == "mon-fri" {
				first, second = mon, fri
			}
			g1 := f.runA(first, row(first))
			g2 := f.runA(second, row(second))
			if len(g1) != 1 || g1[0].cat != RefundMatched {
				t.Fatalf("first run %+v", g1)
			}
			if len(g2) != 1 || g2[0].cat != DuplicateInClearing || g2[0].payable {
				t.Fatalf("repeat: %+v, want one held duplicate_in_clearing", g2)
			}
			if d := f.settled(fri)[m1].Refunds + f.settled(mon)[m1].Refunds; d != 30000 {
				t.Errorf("refunds deducted %d over both days, want 30000", d)
			}
		})
	}
}

// A chargeback (and its reversal) repeated in another day's file is
// deducted (credited) once, whichever file comes first.
func TestChargebackRepeatedInAnotherDaysFile(t *testing.T) {
	for _, order := range []string{"fri-mon/" + modeSQL, "mon-fri/" + modeSQL, "fri-mon/" + modePostgres} {
		t.Run(order, func(t *testing.T) {
			mode := order[strings.IndexByte(order, '/')+1:]
			f := newFixtureMode(t, mode)
			f.addPayment(pay{amount: 100000, rrn: "633100000901", stan: "000901", auth: "A00901", local: at(11, 10, 10, 0, 0)})
			rows := func(d calendar.Date) []clearing.Record {
				return []clearing.Record{
					rowA(clearing.Chargeback, "633100000901", "A00901", "000901", m1, at(11, 25, 10, 0, 0), 40000, 0, clearing.KZT, d, "633100000901"),
					rowA(clearing.ChargebackReversal, "633100000901", "A00901", "000901", m1, at(11, 26, 10, 0, 0), 40000, 0, clearing.KZT, d, "633100000901"),
				}
			}
			first, second := fri, mon
			if strings.HasPrefix(order, "mon-fri") {
				first, second = mon, fri
			}
			g1 := f.runA(first, rows(first))
			g2 := f.runA(second, rows(second))
			if len(g1) != 2 || g1[0].cat != Chargeback || g1[1].cat != ChargebackReversal || !g1[0].payable || !g1[1].payable {
				t.Fatalf("first run %+v", g1)
			}
			if len(g2) != 2 || g2[0].cat != DuplicateInClearing || g2[1].cat != DuplicateInClearing || g2[0].payable || g2[1].payable {
				t.Fatalf("repeat: %+v, want two held duplicates", g2)
			}
			if cb := f.settled(fri)[m1].Chargebacks + f.settled(mon)[m1].Chargebacks; cb != 40000 {
				t.Errorf("chargebacks deducted %d, want 40000", cb)
			}
		})
	}
}

// Two identical chargeback rows in one file deduct once; chargebacks above
// the sale (net of reversals) and reversals above the chargebacks are held.
func TestChargebackDuplicateAndOverAmount(t *testing.T) {
	f := newFixtureMode(t, modeSQL)
	f.addPayment(pay{amount: 100000, rrn: "633100000901", stan: "000901", auth: "A00901", local: at(11, 20, 10, 0, 0)})
	CB, CR := clearing.Chargeback, clearing.ChargebackReversal
	cb := func(typ clearing.Type, stan string, h int, amount int64) clearing.Record {
		return rowA(typ, "633100000901", "A00901", stan, m1, at(11, 27, h, 0, 0), amount, 0, clearing.KZT, mon, "633100000901")
	}
	g := f.runA(mon, []clearing.Record{
		cb(CB, "000901", 9, 60000),   // 2 counted: 60000 of 100000
		cb(CB, "000901", 9, 60000),   // 3 the same row again: duplicate
		cb(CB, "000902", 10, 50000),  // 4 would reach 110000: over
		cb(CR, "000903", 11, 70000),  // 5 reversals 70000 > chargebacks 60000: over
		cb(CR, "000904", 12, 60000),  // 6 counted: net 0
		cb(CB, "000905", 13, 100000), // 7 counted: net 100000
		cb(CB, "000906", 14, 1),      // 8 over by 1
	})
	want := []struct {
		cat     Category
		payable bool
	}{
		{Chargeback, true}, {DuplicateInClearing, false}, {ChargebackOverAmount, false},
		{ChargebackOverAmount, false}, {ChargebackReversal, true}, {Chargeback, true}, {ChargebackOverAmount, false},
	}
	if len(g) != len(want) {
		t.Fatalf("items %+v", g)
	}
	for i, w := range want {
		if g[i].cat != w.cat || g[i].payable != w.payable || g[i].line != int64(i+2) {
			t.Errorf("line %d: %+v, want %s payable=%v", i+2, g[i], w.cat, w.payable)
		}
	}
	s := f.settled(mon)[m1]
	if s.Chargebacks != 160000 || s.ChargebackReversals != 60000 || s.Net != -100000 || s.HeldCount != 4 {
		t.Errorf("settlement %+v: want chargebacks 160000, reversals 60000, net -100000, 4 held", s)
	}
	if !ChargebackOverAmount.IsBreak() || !MerchantMismatch.IsBreak() {
		t.Error("new categories must be breaks")
	}
}

// A row that matches a payment by its keys but names another merchant (or
// terminal) is held, and the settlement groups it under the journal's
// merchant, never the row's.
func TestRowNamingAnotherMerchantIsHeld(t *testing.T) {
	f := newFixtureMode(t, modeSQL)
	p := f.addPayment(pay{amount: 100000, merchant: m1, rrn: "633100000951", stan: "000951", auth: "A00951", local: at(11, 27, 10, 0, 0)})
	f.addOp(p, journal.OpRefund, journal.OpApproved, 10000, "633100000952", "000952", at(11, 27, 11, 0, 0))
	q := f.addPayment(pay{amount: 50000, merchant: m1, rrn: "633100000961", stan: "000961", auth: "A00961", local: at(11, 27, 12, 0, 0)})
	otherTerm := rowA(clearing.Purchase, "633100000961", "A00961", "000961", m1, at(11, 27, 12, 0, 0), 50000, 1000, clearing.KZT, mon, "")
	otherTerm.TerminalID = "T0000999"
	res, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(fileA(t, mon, []clearing.Record{
		rowA(clearing.Purchase, "633100000951", "A00951", "000951", m2, at(11, 27, 10, 0, 0), 100000, 2000, clearing.KZT, mon, ""),
		rowA(clearing.Refund, "633100000952", "", "000952", m2, at(11, 27, 11, 0, 0), 10000, 0, clearing.KZT, mon, "633100000951"),
		rowA(clearing.Chargeback, "633100000951", "A00951", "000951", m2, at(11, 27, 13, 0, 0), 5000, 0, clearing.KZT, mon, "633100000951"),
		otherTerm,
	})), Options{FileName: "A_CLR_20261130.csv"})
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	if err := f.st.Items(f.ctx, res.Run.ID, ItemFilter{}, func(it Item) error { items = append(items, it); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 {
		t.Fatalf("items %+v", items)
	}
	for i, it := range items {
		wantPay := p.ID
		if i == 3 {
			wantPay = q.ID
		}
		if it.Category != MerchantMismatch || it.Payable || it.PaymentID != wantPay || it.MerchantID != m1 || it.TerminalID != "T0000123" {
			t.Errorf("line %d: %s payable=%v payment=%s merchant=%s terminal=%s, want held merchant_mismatch of %s under %s/T0000123",
				it.Line, it.Category, it.Payable, it.PaymentID, it.MerchantID, it.TerminalID, wantPay, m1)
		}
		if !strings.Contains(it.Note, "the journal has merchant "+m1) {
			t.Errorf("line %d: note %q does not name the journal's merchant", it.Line, it.Note)
		}
	}
	if res.Run.Summary.Breaks != 4 {
		t.Errorf("breaks %d, want 4", res.Run.Summary.Breaks)
	}
	s := f.settled(mon)
	if _, ok := s[m2]; ok {
		t.Errorf("merchant %s named only by the bank's rows appears in the settlement: %+v", m2, s[m2])
	}
	if got := s[m1]; got.Sales != 0 || got.Refunds != 0 || got.Chargebacks != 0 || got.Net != 0 || got.HeldCount != 4 || got.Held != 165000 {
		t.Errorf("settlement of %s %+v: want everything held", m1, got)
	}
}

// Matched rows are paid under the journal's merchant at its rate.
func TestSettlementUsesJournalMerchantRate(t *testing.T) {
	f := newFixtureMode(t, modeSQL)
	f.addPayment(pay{amount: 100000, merchant: m2, rrn: "633100000971", stan: "000971", auth: "A00971", local: at(11, 27, 10, 0, 0)})
	g := f.runA(mon, []clearing.Record{
		rowA(clearing.Purchase, "633100000971", "A00971", "000971", m2, at(11, 27, 10, 0, 0), 100000, 2000, clearing.KZT, mon, ""),
	})
	if len(g) != 1 || g[0].cat != Matched {
		t.Fatalf("items %+v", g)
	}
	s := f.settled(mon)[m2]
	if s.Commission != 2000 || s.Rate != "2%" || s.Net != 98000 {
		t.Errorf("settlement %+v: want 2%% commission 2000, net 98000", s)
	}
}

// Bank B names a chargeback's original by terminal + STAN + auth code only:
// when several payments of the window share them, the most recent one not
// after the chargeback's date is charged back, whatever the scan order.
func TestBankBChargebackLinksMostRecentPayment(t *testing.T) {
	for _, mode := range []string{modeStoreAPI, modeSQL} {
		t.Run(mode, func(t *testing.T) {
			f := newFixtureMode(t, mode)
			ap := journal.PaymentApproved
			// Created out of time order: the journal's scan order must not
			// decide.
			recent := f.addPayment(pay{bank: "sber", status: ap, amount: 70000, rrn: "633200000302", stan: "000301", auth: "B00301", local: at(11, 20, 10, 0, 0)})
			f.addPayment(pay{bank: "sber", status: ap, amount: 60000, rrn: "633200000301", stan: "000301", auth: "B00301", local: at(11, 5, 10, 0, 0)})
			f.addPayment(pay{bank: "sber", status: ap, amount: 80000, rrn: "633200000303", stan: "000301", auth: "B00301", local: at(11, 26, 10, 0, 0)})
			res, err := f.svc.Run(f.ctx, "sber", bytes.NewReader(fileB(t, mon, []clearing.Record{
				rowB(clearing.Purchase, "000301", "B00301", at(11, 26, 10, 0, 0), 80000, 1465, mon, "", ""),
				rowB(clearing.Chargeback, "000990", "", at(11, 25, 10, 0, 0), 70000, 0, mon, "B00301", "000301"),
			})), Options{FileName: "B20261130.DAT"})
			if err != nil {
				t.Fatal(err)
			}
			g := f.items(res.Run.ID)
			if len(g) < 2 || g[1].kind != KindChargeback || g[1].payment != recent.ID || g[1].exp != 70000 || g[1].cat != Chargeback {
				t.Fatalf("chargeback linked to %+v, want %s (of 20.11, the latest not after 25.11)", g, recent.ID)
			}
		})
	}
}
