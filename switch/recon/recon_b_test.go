package recon

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// rowB builds a Bank B detail record (no RRN; originals by auth code + STAN).
func rowB(typ clearing.Type, stan, auth string, local time.Time, amount, fee int64, settle calendar.Date, origAuth, origSTAN string) clearing.Record {
	r := clearing.Record{
		Type: typ, AuthCode: auth, STAN: stan, TerminalID: "T0000123", MerchantID: m1,
		MaskedPAN: "400000******0010", OperDate: calendar.DateOf(local.In(almaty)), OperTime: clearing.TimeOfDayOf(local.In(almaty)),
		Amount: amount, Currency: clearing.KZT, Fee: fee, SettleDate: settle, OrigAuthCode: origAuth, OrigSTAN: origSTAN,
	}
	r.SettleAmount = typ.ExpectedSettle(amount, fee)
	return r
}

func fileB(t *testing.T, settle calendar.Date, rows []clearing.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := clearing.NewBWriter(&b, clearing.BHeader{SettleDate: settle, AcquirerID: "500002", Sequence: 1})
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

func TestReconBankBKeysAndCrossDay(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { testReconBankBKeysAndCrossDay(t, mode) })
	}
}

func testReconBankBKeysAndCrossDay(t *testing.T, mode string) {
	f := newFixtureMode(t, mode)
	p := map[string]*journal.Payment{}
	add := func(name string, v pay) { v.bank = "sber"; p[name] = f.addPayment(v) }
	ap := journal.PaymentApproved
	add("B1", pay{status: ap, amount: 100000, rrn: "633200000001", stan: "000501", auth: "B00001", local: at(11, 27, 10, 0, 0)})
	add("B2", pay{typ: journal.TypePreauth, status: ap, amount: 200000, rrn: "633200000002", stan: "000502", auth: "B00002", local: at(11, 27, 9, 0, 0)})
	f.addOp(p["B2"], journal.OpCapture, journal.OpAcknowledged, 150000, "633200000002", "000602", at(11, 27, 14, 0, 0))
	add("B3", pay{status: ap, amount: 50000, rrn: "633200000003", stan: "000503", auth: "B00003", local: at(11, 27, 20, 59, 59)})
	// Sunday 29.11 21:00:00 is Bank B's cut-off: operation day Monday,
	// expected on Tuesday 01.12.
	add("B4", pay{status: ap, amount: 30000, rrn: "633200000004", stan: "000504", auth: "B00004", local: at(11, 29, 21, 0, 0)})
	add("B5", pay{status: ap, amount: 40000, rrn: "633200000005", stan: "000505", auth: "B00005", local: at(11, 27, 11, 0, 0)})
	add("B6", pay{status: ap, amount: 60000, rrn: "633200000006", stan: "000506", auth: "B00006", local: at(11, 27, 12, 0, 0)})
	f.addOp(p["B6"], journal.OpRefund, journal.OpAcknowledged, 20000, "633200000106", "000706", at(11, 27, 15, 0, 0))
	// Thursday: due Friday 27.11.
	add("B8", pay{status: ap, amount: 80000, rrn: "633200000008", stan: "000508", auth: "B00008", local: at(11, 26, 10, 0, 0)})
	// Friday: due Monday 30.11, but the bank clears it early on Friday.
	add("B9", pay{status: ap, amount: 90000, rrn: "633200000009", stan: "000509", auth: "B00009", local: at(11, 27, 8, 0, 0)})

	fri, mon := calendar.NewDate(2026, 11, 27), calendar.NewDate(2026, 11, 30)
	P := clearing.Purchase
	friFile := fileB(t, fri, []clearing.Record{
		rowB(P, "000508", "B00008", at(11, 26, 10, 0, 0), 80000, 1465, fri, "", ""), // line 2 matched
		rowB(P, "000509", "B00009", at(11, 27, 8, 0, 0), 90000, 1645, fri, "", ""),  // line 3 settled_on_other_day
	})
	res, err := f.svc.Run(f.ctx, "sber", bytes.NewReader(friFile), Options{FileName: "B20261127.DAT"})
	if err != nil {
		t.Fatalf("Friday run: %v", err)
	}
	if got, want := f.items(res.Run.ID), []got{
		{Matched, KindSale, 2, p["B8"].ID, 80000, 80000, true},
		{SettledOnOtherDay, KindSale, 3, p["B9"].ID, 90000, 90000, true},
	}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Friday items:\n got %+v\nwant %+v", got, want)
	}

	monFile := fileB(t, mon, []clearing.Record{
		rowB(P, "000501", "B00001", at(11, 27, 10, 0, 0), 100000, 1825, mon, "", ""),                      // 2 matched
		rowB(P, "000602", "B00002", at(11, 27, 14, 0, 0), 150000, 2725, mon, "", ""),                      // 3 matched: completion's STAN and time
		rowB(P, "000503", "B00003", at(11, 27, 20, 59, 59), 50000, 925, mon, "", ""),                      // 4 matched
		rowB(P, "000504", "B00004", at(11, 29, 21, 0, 0), 30000, 565, mon, "", ""),                        // 5 settled_on_other_day
		rowB(P, "000505", "B00005", at(11, 26, 11, 0, 0), 40000, 745, mon, "", ""),                        // 6 unknown: same STAN and auth, other date
		rowB(P, "000506", "B00006", at(11, 27, 12, 0, 0), 60000, 1105, mon, "", ""),                       // 7 matched
		rowB(clearing.Refund, "000706", "", at(11, 27, 15, 0, 0), 20000, 0, mon, "B00006", "000506"),      // 8 refund_matched
		rowB(clearing.Chargeback, "000801", "", at(11, 27, 10, 0, 0), 100000, 0, mon, "B00001", "000501"), // 9 chargeback of B1
		rowB(P, "000508", "B00008", at(11, 26, 10, 0, 0), 80000, 1465, mon, "", ""),                       // 10 duplicate of Friday's
		rowB(P, "000502", "B00002", at(11, 27, 9, 0, 0), 200000, 3625, mon, "", ""),                       // 11 unknown: a completed preauth clears under its completion's STAN
	})
	res, err = f.svc.Run(f.ctx, "sber", bytes.NewReader(monFile), Options{FileName: "B20261130.DAT"})
	if err != nil {
		t.Fatalf("Monday run: %v", err)
	}
	want := []got{
		{Matched, KindSale, 2, p["B1"].ID, 100000, 100000, true},
		{Matched, KindSale, 3, p["B2"].ID, 150000, 150000, true},
		{Matched, KindSale, 4, p["B3"].ID, 50000, 50000, true},
		{SettledOnOtherDay, KindSale, 5, p["B4"].ID, 30000, 30000, true},
		{UnknownInJournal, KindSale, 6, "", 40000, 0, false},
		{Matched, KindSale, 7, p["B6"].ID, 60000, 60000, true},
		{RefundMatched, KindRefund, 8, p["B6"].ID, 20000, 20000, true},
		{Chargeback, KindChargeback, 9, p["B1"].ID, 100000, 100000, true},
		{DuplicateInClearing, KindSale, 10, p["B8"].ID, 80000, 80000, false},
		{UnknownInJournal, KindSale, 11, "", 200000, 0, false},
		// B5 is missing; B9, due today, was cleared on Friday: no item.
		{MissingInClearing, KindSale, 0, p["B5"].ID, 0, 40000, false},
	}
	if got := f.items(res.Run.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("Monday items:\n got %+v\nwant %+v", got, want)
	}
	var completionItem Item
	_ = f.st.Items(f.ctx, res.Run.ID, ItemFilter{}, func(it Item) error {
		if it.Line == 3 {
			completionItem = it
		}
		return nil
	})
	if completionItem.OperationID == "" || completionItem.STAN != "000602" {
		t.Fatalf("completion item %+v", completionItem)
	}

	st, err := f.svc.Settlement(f.ctx, mon)
	if err != nil {
		t.Fatal(err)
	}
	// Sales B1 100000 + B2 150000 + B3 50000 + B4 30000 + B6 60000 =
	// 390000; commission 2500 + 3750 + 1250 + 750 + 1500 = 9750; refund
	// 20000; chargeback 100000; net 390000 − 20000 − 100000 − 9750 = 260250.
	// Held: unknown 40000 + duplicate 80000 + unknown 200000 = 320000.
	// Fees: 1825+2725+925+565+745+1105+0+0+1465+3625 = 12980.
	want1 := MerchantSettlement{MerchantID: m1, Currency: "KZT", SettlementCurrency: true,
		SalesCount: 5, Sales: 390000, RefundsCount: 1, Refunds: 20000, ChargebacksCount: 1, Chargebacks: 100000,
		BankFees: 12980, Rate: "2.5%", Commission: 9750, HeldCount: 3, Held: 320000, Net: 260250}
	if len(st.Merchants) != 1 || !reflect.DeepEqual(st.Merchants[0], want1) {
		t.Fatalf("Monday settlement:\n got %+v\nwant %+v", st.Merchants, want1)
	}
	if !reflect.DeepEqual(st.Missing, []string{"alfa"}) || st.PayoutDate != calendar.NewDate(2026, 12, 1) {
		t.Fatalf("settlement header %+v", st)
	}
}

// TestReconRefundOfOldPayment: a refund made on Friday 27.11 of a payment
// from August, far outside the 35-day window, still matches its journal
// refund through the SQL adapter (which fetches the old payment by id).
// Through journal.Store it cannot be found: refund_unknown, held.
func TestReconRefundOfOldPayment(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			f := newFixtureMode(t, mode)
			old := f.addPayment(pay{amount: 90000, rrn: "632400000001", stan: "000901", auth: "A00901", local: time.Date(2026, 8, 14, 12, 0, 0, 0, almaty)})
			f.addOp(old, journal.OpRefund, journal.OpApproved, 30000, "633100000901", "000902", at(11, 27, 11, 0, 0))
			S := calendar.NewDate(2026, 11, 30)
			file := fileA(t, S, []clearing.Record{
				rowA(clearing.Refund, "633100000901", "", "000902", m1, at(11, 27, 11, 0, 0), 30000, 0, clearing.KZT, S, "632400000001"),
			})
			res, err := f.svc.Run(f.ctx, "alfa", bytes.NewReader(file), Options{FileName: "A_CLR_20261130.csv"})
			if err != nil {
				t.Fatal(err)
			}
			want := []got{{RefundMatched, KindRefund, 2, old.ID, 30000, 30000, true}}
			if mode == modeStoreAPI {
				want = []got{{RefundUnknown, KindRefund, 2, "", 30000, 0, false}}
			}
			if g := f.items(res.Run.ID); !reflect.DeepEqual(g, want) {
				t.Fatalf("items:\n got %+v\nwant %+v", g, want)
			}
		})
	}
}
