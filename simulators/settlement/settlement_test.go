package settlement

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
)

var almaty = time.FixedZone("+05", 5*3600)

func at(day, hh, mm, ss int) time.Time { return time.Date(2026, 11, day, hh, mm, ss, 0, almaty) }

// fixture records the scenario every expected file below is computed from.
// Friday 27.11.2026 is the operation day of most rows; Monday 30.11 their
// settlement date; Tuesday 01.12 is configured as a holiday.
func fixture(t *testing.T) *ledger.Ledger {
	t.Helper()
	l := ledger.New(1)
	now := at(27, 12, 0, 0)
	n := 0
	approve := func(kind ledger.Kind, stan, auth string, lt time.Time, amount int64) ledger.Key {
		n++
		k := ledger.Key{STAN: stan, DE7: "11270" + stan[1:], AcquirerID: "12345"}
		mti := "0200"
		if kind == ledger.KindPreauth {
			mti = "0100"
		}
		_, _, code := l.Approve(ledger.Approval{
			Kind: kind, MTI: mti, Key: k, RRN: "633100" + stan, TerminalID: "T0000123",
			MerchantID: "M00000000000123", MaskedPAN: "400000******0010", LocalTime: lt,
			Amount: amount, Currency: "398", Response: "sent", AuthCode: auth,
		}, now)
		if code != "00" {
			t.Fatalf("approve %s: %s", stan, code)
		}
		return k
	}
	p1 := approve(ledger.KindPurchase, "000123", "A1B2C3", at(27, 10, 15, 0), 150000)
	if c := l.Refund(ledger.RefundRequest{Key: ledger.Key{STAN: "000188", DE7: "1127070144", AcquirerID: "12345"},
		RRN: "633100000188", LocalTime: at(27, 12, 1, 44), Amount: 50000, Currency: "398", Original: p1}); c != "00" {
		t.Fatal(c)
	}
	approve(ledger.KindPurchase, "000201", "AUTH01", at(27, 23, 30, 0), 1025) // after both cut-offs
	approve(ledger.KindPurchase, "000202", "AUTH02", at(30, 9, 0, 0), 70000)  // next file
	p4 := approve(ledger.KindPurchase, "000203", "AUTH03", at(27, 11, 0, 0), 9900)
	if c := l.Reverse(ledger.ReversalRequest{STAN: "000400", Original: p4}); c != "00" {
		t.Fatal(c)
	}
	p5 := approve(ledger.KindPurchase, "000204", "AUTH04", at(27, 14, 0, 0), 80000)
	rem := int64(50000)
	if c := l.Reverse(ledger.ReversalRequest{STAN: "000401", Original: p5, Replacement: &rem}); c != "00" {
		t.Fatal(c)
	}
	pa1 := approve(ledger.KindPreauth, "000205", "AUTH05", at(26, 18, 0, 0), 40000)
	if c := l.Complete(ledger.CompletionRequest{Key: ledger.Key{STAN: "000300", DE7: "1127153000", AcquirerID: "12345"},
		RRN: "633100000205", LocalTime: at(27, 20, 30, 0), Amount: 30000, Original: pa1}); c != "00" {
		t.Fatal(c)
	}
	approve(ledger.KindPreauth, "000206", "AUTH06", at(27, 10, 0, 0), 5000)   // never completed
	approve(ledger.KindPurchase, "000207", "AUTH07", at(26, 15, 0, 0), 20000) // settled on Friday
	approve(ledger.KindPurchase, "000208", "AUTH08", at(26, 22, 0, 0), 10000) // A: Friday; B: after 21:00, Monday
	return l
}

func bank(t *testing.T, bankB bool) Bank {
	t.Helper()
	cfg := calendar.BankA()
	if bankB {
		cfg = calendar.BankB()
	}
	cfg.Holidays = []string{"2026-12-01"}
	cal, err := calendar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Bank{BankB: bankB, Fees: Fees{}.WithDefaults(bankB), Calendar: cal, AcquirerID: "12345"}
}

func build(t *testing.T, b Bank, l *ledger.Ledger, req Request) string {
	t.Helper()
	recs, err := Records(b, l.Snapshot(), req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, b, recs, req); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var monday = calendar.NewDate(2026, time.November, 30)

var chargebacks = []Chargeback{{RRN: "633100000207"}, {RRN: "633100000207", Amount: 5000, Reversal: true}}

func TestBankAFile(t *testing.T) {
	b := bank(t, false)
	got := build(t, b, fixture(t), Request{Date: monday, Chargebacks: chargebacks})
	// Fees 2.0% half up: 1500,00 -> 30,00; 500,00 -> 10,00; 10,25 -> 0,205 -> 0,21;
	// 300,00 -> 6,00. The completed preauth shows its 0100's STAN, date and time.
	want := clearing.AHeaderLine + "\r\n" +
		"633100000205;AUTH05;000205;T0000123;M00000000000123;400000******0010;26.11.2026;18:00:00;PURCHASE;300,00;KZT;6,00;294,00;30.11.2026;\r\n" +
		"633100000123;A1B2C3;000123;T0000123;M00000000000123;400000******0010;27.11.2026;10:15:00;PURCHASE;1500,00;KZT;30,00;1470,00;30.11.2026;\r\n" +
		"633100000188;;000188;T0000123;M00000000000123;400000******0010;27.11.2026;12:01:44;REFUND;500,00;KZT;0,00;-500,00;30.11.2026;633100000123\r\n" +
		"633100000204;AUTH04;000204;T0000123;M00000000000123;400000******0010;27.11.2026;14:00:00;PURCHASE;500,00;KZT;10,00;490,00;30.11.2026;\r\n" +
		"633100000201;AUTH01;000201;T0000123;M00000000000123;400000******0010;27.11.2026;23:30:00;PURCHASE;10,25;KZT;0,21;10,04;30.11.2026;\r\n" +
		"633100000207;AUTH07;000207;T0000123;M00000000000123;400000******0010;26.11.2026;15:00:00;CHARGEBACK;200,00;KZT;0,00;-200,00;30.11.2026;633100000207\r\n" +
		"633100000207;AUTH07;000207;T0000123;M00000000000123;400000******0010;26.11.2026;15:00:00;CHARGEBACK_REVERSAL;50,00;KZT;0,00;50,00;30.11.2026;633100000207\r\n" +
		"TOTAL;7;3060,25;46,21;1614,04\r\n"
	if got != want {
		t.Fatalf("bank A file:\n%s\nwant:\n%s", got, want)
	}
	if _, err := clearing.ValidateA(context.Background(), strings.NewReader(got), clearing.ReaderOptions{}); err != nil {
		t.Fatalf("our file does not pass the reader: %v", err)
	}
	if FileName(false, monday) != "A_CLR_20261130.csv" {
		t.Fatal(FileName(false, monday))
	}
}

// brec builds one 150-character Bank B record from its fields, in order.
func brec(parts ...string) string {
	s := strings.Join(parts, "")
	return s + strings.Repeat(" ", 150-len(s)) + "\n"
}

func TestBankBFile(t *testing.T) {
	b := bank(t, true)
	got := build(t, b, fixture(t), Request{Date: monday, Chargebacks: chargebacks, Sequence: 7})
	const tm, card = "T0000123M00000000000123", "400000******0010   "
	// Fees 1.8% half up + 25.00: 100,00 -> 1,80+25 = 2680; 1500,00 -> 5200;
	// 500,00 -> 3400; 300,00 -> 3040; 10,25 -> 0,1845 -> 0,18 + 25 = 2518,
	// more than the sale: D 1493.
	want := brec("H", "BANKB", "20261130", "00000012345", "000007") +
		brec("D", "05", "000208", tm, card, "20261126", "220000", "AUTH08", "000000010000", "398", "0000002680", "C", "000000007320", "20261130") +
		brec("D", "05", "000123", tm, card, "20261127", "101500", "A1B2C3", "000000150000", "398", "0000005200", "C", "000000144800", "20261130") +
		brec("D", "06", "000188", tm, card, "20261127", "120144", "      ", "000000050000", "398", "0000000000", "D", "000000050000", "20261130", "A1B2C3000123") +
		brec("D", "05", "000204", tm, card, "20261127", "140000", "AUTH04", "000000050000", "398", "0000003400", "C", "000000046600", "20261130") +
		brec("D", "05", "000300", tm, card, "20261127", "203000", "AUTH05", "000000030000", "398", "0000003040", "C", "000000026960", "20261130") +
		brec("D", "05", "000201", tm, card, "20261127", "233000", "AUTH01", "000000001025", "398", "0000002518", "D", "000000001493", "20261130") +
		brec("D", "15", "000207", tm, card, "20261126", "150000", "AUTH07", "000000020000", "398", "0000000000", "D", "000000020000", "20261130", "AUTH07000207") +
		brec("D", "35", "000207", tm, card, "20261126", "150000", "AUTH07", "000000005000", "398", "0000000000", "C", "000000005000", "20261130", "AUTH07000207") +
		brec("T", "00000008", "000000000316025", "C", "000000000159187")
	if got != want {
		t.Fatalf("bank B file:\n%s\nwant:\n%s", got, want)
	}
	if _, _, err := clearing.ValidateB(context.Background(), strings.NewReader(got), clearing.ReaderOptions{}); err != nil {
		t.Fatalf("our file does not pass the reader: %v", err)
	}
}

func TestCalendar(t *testing.T) {
	for _, bankB := range []bool{false, true} {
		b := bank(t, bankB)
		l := fixture(t)
		// Monday 09:00 settles on the next business day after the Tuesday
		// holiday: Wednesday 02.12.
		got := build(t, b, l, Request{Date: calendar.NewDate(2026, time.December, 2)})
		if !strings.Contains(got, "000202") || strings.Count(got, "\n") != 3 {
			t.Fatalf("bankB=%v 02.12 file:\n%s", bankB, got)
		}
		if _, err := Records(b, l.Snapshot(), Request{Date: calendar.NewDate(2026, time.December, 1)}); err == nil {
			t.Fatal("file for a holiday accepted")
		}
		// Friday's file: Bank A has Thursday's 15:00 and 22:00 sales, Bank B
		// only the 15:00 one (its cut-off is 21:00).
		fri := calendar.NewDate(2026, time.November, 27)
		recs, err := Records(b, l.Snapshot(), Request{Date: fri})
		if err != nil {
			t.Fatal(err)
		}
		want := 2
		if bankB {
			want = 1
		}
		if len(recs) != want {
			t.Fatalf("bankB=%v Friday rows %d, want %d", bankB, len(recs), want)
		}
	}
}

func TestBreaks(t *testing.T) {
	b := bank(t, false)
	l := fixture(t)
	base, err := Records(b, l.Snapshot(), Request{Date: monday})
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != 5 {
		t.Fatalf("base rows %d", len(base))
	}
	recs, err := Records(b, l.Snapshot(), Request{Date: monday, Breaks: []Break{
		{Type: BreakMissing, RRN: "633100000123"},
		{Type: BreakAmount, RRN: "633100000204", Amount: 60000},
		{Type: BreakDuplicate, RRN: "633100000201"},
		{Type: BreakUnknown, Amount: 77700},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 {
		t.Fatalf("rows %d, want 6", len(recs))
	}
	for _, r := range recs {
		if r.RRN == "633100000123" {
			t.Fatal("missing row still present")
		}
	}
	var p5 *clearing.Record
	dups := 0
	for i := range recs {
		if recs[i].RRN == "633100000204" {
			p5 = &recs[i]
		}
		if recs[i].RRN == "633100000201" {
			dups++
		}
	}
	if p5 == nil || p5.Amount != 60000 || p5.Fee != 1200 || p5.SettleAmount != 58800 {
		t.Fatalf("changed row %+v", p5)
	}
	if dups != 2 {
		t.Fatalf("duplicate rows %d", dups)
	}
	u := recs[len(recs)-1]
	if u.Amount != 77700 || u.Fee != 1554 || u.RRN == "" || u.STAN == "" || u.SettleDate != monday {
		t.Fatalf("unknown row %+v", u)
	}
	if _, ok := l.ByRRN(u.RRN); ok {
		t.Fatal("unknown row names a real transaction")
	}
	// The file with those breaks is still well formed...
	var buf bytes.Buffer
	if err := Write(&buf, b, recs, Request{Date: monday}); err != nil {
		t.Fatal(err)
	}
	if _, err := clearing.ValidateA(context.Background(), &buf, clearing.ReaderOptions{}); err != nil {
		t.Fatal(err)
	}
	// ...while a trailer break makes the reader reject it whole.
	for _, bankB := range []bool{false, true} {
		bb := bank(t, bankB)
		got := build(t, bb, l, Request{Date: monday, Breaks: []Break{{Type: BreakTrailer}}})
		var err error
		if bankB {
			_, _, err = clearing.ValidateB(context.Background(), strings.NewReader(got), clearing.ReaderOptions{})
		} else {
			_, err = clearing.ValidateA(context.Background(), strings.NewReader(got), clearing.ReaderOptions{})
		}
		var fe *clearing.FileError
		if !errors.As(err, &fe) {
			t.Fatalf("bankB=%v: trailer break accepted: %v", bankB, err)
		}
	}
	for _, bad := range []Request{
		{Date: monday, Breaks: []Break{{Type: BreakMissing, RRN: "000000000000"}}},
		{Date: monday, Breaks: []Break{{Type: "shuffle"}}},
		{Date: monday, Chargebacks: []Chargeback{{RRN: "633100000203"}}}, // reversed
		{Date: monday, Chargebacks: []Chargeback{{RRN: "633100000206"}}}, // never completed
		{Date: monday, Chargebacks: []Chargeback{{RRN: "633100000207", Amount: 20001}}},
	} {
		if _, err := Records(b, l.Snapshot(), bad); err == nil {
			t.Errorf("request %+v accepted", bad)
		}
	}
}

func TestFees(t *testing.T) {
	for _, tc := range []struct {
		f    Fees
		amt  int64
		cur  clearing.Currency
		want int64
	}{
		{Fees{Percent: "2.0"}, 25, clearing.KZT, 1},    // 0.5 -> 1
		{Fees{Percent: "2.0"}, 24, clearing.KZT, 0},    // 0.48 -> 0
		{Fees{Percent: "1.8"}, 2500, clearing.KZT, 45}, // exact
		{Fees{Percent: "1.8", FixedPerSale: map[string]int64{"KZT": 2500}}, 2500, clearing.KZT, 2545},
		{Fees{Percent: "1.8", FixedPerSale: map[string]int64{"KZT": 2500}}, 2500, clearing.USD, 45},
		{Fees{Percent: "0.0125"}, 40000, clearing.KZT, 5},
	} {
		got, err := tc.f.Fee(tc.amt, tc.cur)
		if err != nil || got != tc.want {
			t.Errorf("%+v on %d %s: %d %v, want %d", tc.f, tc.amt, tc.cur, got, err, tc.want)
		}
	}
	for _, bad := range []Fees{{Percent: "2,0"}, {Percent: "101"}, {Percent: "1.23456"}, {Percent: "-1"},
		{Percent: "1", FixedPerSale: map[string]int64{"XXX": 1}}, {Percent: "1", FixedPerSale: map[string]int64{"KZT": -1}}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
