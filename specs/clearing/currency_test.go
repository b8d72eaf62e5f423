package clearing

import (
	"strings"
	"testing"
)

const aHeaderLine = "RRN;AUTH_CODE;STAN;TERMINAL_ID;MERCHANT_ID;CARD;OPER_DATE;OPER_TIME;OPER_TYPE;AMOUNT;CURRENCY;FEE;SETTLE_AMOUNT;SETTLE_DATE;ORIG_RRN\r\n"

func TestCurrencyTable(t *testing.T) {
	cases := []struct {
		alpha, num string
		exp        int
	}{
		{"KZT", "398", 2}, {"SEK", "752", 2}, {"JPY", "392", 0}, {"KRW", "410", 0},
		{"BHD", "048", 3}, {"KWD", "414", 3}, {"ALL", "008", 2}, {"UYW", "927", 4},
	}
	for _, c := range cases {
		a, ok := CurrencyByAlpha(c.alpha)
		if !ok || a.Numeric != c.num || a.Exponent != c.exp {
			t.Errorf("CurrencyByAlpha(%s) = %+v %v", c.alpha, a, ok)
		}
		n, ok := CurrencyByNumeric(c.num)
		if !ok || n != a {
			t.Errorf("CurrencyByNumeric(%s) = %+v %v, want %+v", c.num, n, ok, a)
		}
	}
	for _, bad := range []string{"", "XXX", "kzt", "KZ", "ZWL"} {
		if c, ok := CurrencyByAlpha(bad); ok {
			t.Errorf("CurrencyByAlpha(%q) = %+v", bad, c)
		}
	}
	for c, want := range map[string]bool{"KZT": true, "JPY": true, "SEK": true, "BHD": false, "KWD": false, "UYW": false} {
		cur, _ := CurrencyByAlpha(c)
		if got := ACarries(cur); got != want {
			t.Errorf("ACarries(%s) = %v, want %v", c, got, want)
		}
	}
	if ACarries(Currency{"XXX", "999", 2}) {
		t.Error("ACarries accepted a currency outside the table")
	}
	if c, ok := CurrencyByNumeric("000"); ok {
		t.Errorf("CurrencyByNumeric(000) = %+v", c)
	}
	for _, c := range []Currency{KZT, USD, EUR, RUB, GBP, CNY, KGS, UZS, TRY, AED, CHF, JPY} {
		if !c.supported() {
			t.Errorf("%+v not in the table", c)
		}
	}
}

// A day's file with one row in a currency outside the old 12-currency list
// (SEK) must be read, not rejected whole.
func TestAReaderAcceptsAnyISOCurrency(t *testing.T) {
	f := aHeaderLine +
		"633100000123;A1B2C3;000123;T0000123;M00000000000123;400000******0010;27.11.2026;10:15:00;PURCHASE;1500,00;KZT;30,00;1470,00;30.11.2026;\r\n" +
		"633100000124;A1B2C4;000124;T0000123;M00000000000123;400000******0010;27.11.2026;10:16:00;PURCHASE;10,00;SEK;0,00;10,00;30.11.2026;\r\n" +
		"633100000125;A1B2C5;000125;T0000123;M00000000000123;400000******0010;27.11.2026;10:17:00;PURCHASE;700;KRW;0;700;30.11.2026;\r\n" +
		"TOTAL;3;2210,00;30,00;2180,00\r\n"
	recs, err := readAllA(t, f, ReaderOptions{})
	if err != nil {
		t.Fatalf("file with SEK and KRW rejected: %v", err)
	}
	if len(recs) != 3 || recs[1].Currency.Alpha != "SEK" || recs[1].Amount != 1000 || recs[2].Currency.Alpha != "KRW" || recs[2].Amount != 700 {
		t.Fatalf("records %+v", recs)
	}
}

// Bank A's trailer sums in hundredths: a 3-decimal currency is refused
// with an error naming the line and the currency.
func TestAReaderRefusesThreeDecimalCurrency(t *testing.T) {
	f := aHeaderLine +
		"633100000123;A1B2C3;000123;T0000123;M00000000000123;400000******0010;27.11.2026;10:15:00;PURCHASE;1,500;BHD;0,000;1,500;30.11.2026;\r\n" +
		"TOTAL;1;1,50;0,00;1,50\r\n"
	_, err := readAllA(t, f, ReaderOptions{})
	fe := fileErr(t, err)
	found := false
	for _, le := range fe.Errors {
		if le.Line == 2 && strings.Contains(le.Msg, "BHD has 3 decimals") {
			found = true
		}
	}
	if !found {
		t.Errorf("want a line-2 error naming BHD, got %v", err)
	}
	rec := wantSampleA()[0]
	rec.Currency, rec.Amount, rec.Fee, rec.SettleAmount = Currency{"BHD", "048", 3}, 1500, 0, 1500
	var sb strings.Builder
	w, err := NewAWriter(&sb, rec.SettleDate)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err == nil || !strings.Contains(err.Error(), "BHD") {
		t.Errorf("writer accepted a BHD row: %v", err)
	}
}

// Bank B carries minor units: 3-decimal and 0-decimal currencies are fine.
func TestBReaderAcceptsAnyISOCurrency(t *testing.T) {
	recs := wantSampleB()
	recs[0].Currency = Currency{"BHD", "048", 3}
	recs[1].Currency = Currency{"SEK", "752", 2}
	var buf strings.Builder
	w, err := NewBWriter(&buf, BHeader{SettleDate: recs[0].SettleDate, AcquirerID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%+v): %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAllB(t, buf.String(), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, recs)
}
