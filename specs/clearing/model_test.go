package clearing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCurrencyTablesAgree(t *testing.T) {
	for _, c := range []Currency{KZT, USD, EUR, RUB, GBP, CNY, KGS, UZS, TRY, AED, CHF, JPY} {
		a, ok1 := CurrencyByAlpha(c.Alpha)
		n, ok2 := CurrencyByNumeric(c.Numeric)
		if !ok1 || !ok2 || a != c || n != c || !c.supported() {
			t.Errorf("%v: by alpha %v %v, by numeric %v %v", c, a, ok1, n, ok2)
		}
	}
	if JPY.Exponent != 0 || KZT.Exponent != 2 {
		t.Error("exponents")
	}
	if _, ok := CurrencyByAlpha("XTS"); ok {
		t.Error("unknown alpha accepted")
	}
	if _, ok := CurrencyByNumeric("000"); ok {
		t.Error("unknown numeric accepted")
	}
}

func TestTypeRules(t *testing.T) {
	tests := []struct {
		typ    Type
		name   string
		settle int64
	}{
		{Purchase, "PURCHASE", 970},
		{Refund, "REFUND", -1000},
		{Chargeback, "CHARGEBACK", -1000},
		{ChargebackReversal, "CHARGEBACK_REVERSAL", 1000},
	}
	for _, tt := range tests {
		if tt.typ.String() != tt.name || tt.typ.ExpectedSettle(1000, 30) != tt.settle || !tt.typ.Valid() {
			t.Errorf("%v: %s %d", tt.typ, tt.typ.String(), tt.typ.ExpectedSettle(1000, 30))
		}
	}
	if Type(9).Valid() || Type(9).String() != "Type(9)" {
		t.Error("invalid type")
	}
}

func TestMajorAmounts(t *testing.T) {
	for _, tt := range []struct {
		v   int64
		exp int
		s   string
	}{{150000, 2, "1500,00"}, {-50000, 2, "-500,00"}, {5, 2, "0,05"}, {0, 2, "0,00"}, {1500, 0, "1500"}, {MaxAmount, 2, "9999999999,99"}} {
		if got := string(appendMajor(nil, tt.v, tt.exp)); got != tt.s {
			t.Errorf("appendMajor(%d, %d) = %q, want %q", tt.v, tt.exp, got, tt.s)
		}
		if got, ok := parseMajor(tt.s, tt.exp, true); !ok || got != tt.v {
			t.Errorf("parseMajor(%q) = %d %v", tt.s, got, ok)
		}
	}
	for _, s := range []string{"", ",00", "1,000", "1,0", "1.00", "+1,00", "--1,00", "1 000,00", "1,0a", "99999999999999,00", "-"} {
		if _, ok := parseMajor(s, 2, true); ok {
			t.Errorf("parseMajor(%q) accepted", s)
		}
	}
	if _, ok := parseMajor("-1,00", 2, false); ok {
		t.Error("unsigned field accepted a sign")
	}
	if _, ok := parseMajor("15,00", 0, false); ok {
		t.Error("JPY amount with decimals accepted")
	}
}

func TestLineErrorText(t *testing.T) {
	for _, tt := range []struct {
		e    LineError
		want string
	}{
		{LineError{Line: 3, Column: 10, Field: "AMOUNT", Msg: "bad"}, "line 3, column 10 (AMOUNT): bad"},
		{LineError{Line: 4, Start: 72, End: 83, Field: "amount", Msg: "bad"}, "line 4, positions 72-83 (amount): bad"},
		{LineError{Line: 1, Msg: "empty file"}, "line 1: empty file"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
	fe := &FileError{Err: errors.New("io"), Errors: []LineError{{Line: 1, Msg: "x"}}}
	if !strings.Contains(fe.Error(), "io") || !errors.Is(fe, fe.Err) {
		t.Error(fe.Error())
	}
}

func TestTimeOfDay(t *testing.T) {
	loc := time.FixedZone("+05", 5*3600)
	at := time.Date(2026, 11, 27, 10, 15, 7, 0, loc)
	c := TimeOfDayOf(at)
	if c != (TimeOfDay{10, 15, 7}) || c.String() != "10:15:07" || !c.On(d(2026, 11, 27), loc).Equal(at) {
		t.Errorf("%v", c)
	}
	for _, s := range []string{"24:00:00", "10:60:00", "10:00:60", "10-00-00", "1:00:00"} {
		if _, ok := parseClock(s, ':'); ok {
			t.Errorf("parseClock(%q) accepted", s)
		}
	}
}

func TestValidateBContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ValidateB(ctx, strings.NewReader(sampleB), ReaderOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("ValidateB with cancelled ctx = %v", err)
	}
	h, tr, err := ValidateB(context.Background(), strings.NewReader(sampleB), ReaderOptions{})
	if err != nil || h.Sequence != 7 || tr.Count != 4 {
		t.Fatalf("ValidateB = %+v %+v %v", h, tr, err)
	}
}
