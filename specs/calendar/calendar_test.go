package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustNew(t *testing.T, cfg Config) *Calendar {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

// almaty returns the instant of a local Almaty wall-clock time, built from
// UTC so that the test does not depend on the calendar's own zone loading.
func almaty(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC).Add(-5 * time.Hour)
}

func TestContractSampleFridaySettlesMonday(t *testing.T) {
	// bank-a-h2h.md sample: operations 27.11.2026 10:15:00 and 12:01:44
	// (a Friday) carry SETTLE_DATE 30.11.2026 (the Monday).
	c := mustNew(t, BankA())
	for _, at := range []time.Time{almaty(2026, 11, 27, 10, 15, 0), almaty(2026, 11, 27, 12, 1, 44)} {
		if got := c.OperationDay(at); got != NewDate(2026, 11, 27) {
			t.Errorf("OperationDay(%v) = %v, want 2026-11-27", at, got)
		}
		if got := c.SettlementDay(at); got.DMY() != "30.11.2026" {
			t.Errorf("SettlementDay(%v) = %v, want 30.11.2026", at, got.DMY())
		}
	}
}

func TestCutOffBoundary(t *testing.T) {
	a := mustNew(t, BankA())
	b := mustNew(t, BankB())
	tests := []struct {
		name     string
		cal      *Calendar
		at       time.Time
		op, sett Date
	}{
		// Thursday 26.11.2026: before the cut-off it settles Friday, from
		// the cut-off on it is Friday's operation and settles Monday.
		{"A 22:59:59", a, almaty(2026, 11, 26, 22, 59, 59), NewDate(2026, 11, 26), NewDate(2026, 11, 27)},
		{"A 23:00:00", a, almaty(2026, 11, 26, 23, 0, 0), NewDate(2026, 11, 27), NewDate(2026, 11, 30)},
		{"A 23:59:59", a, almaty(2026, 11, 26, 23, 59, 59), NewDate(2026, 11, 27), NewDate(2026, 11, 30)},
		{"A 00:00:00", a, almaty(2026, 11, 27, 0, 0, 0), NewDate(2026, 11, 27), NewDate(2026, 11, 30)},
		{"B 20:59:59", b, almaty(2026, 11, 26, 20, 59, 59), NewDate(2026, 11, 26), NewDate(2026, 11, 27)},
		{"B 21:00:00", b, almaty(2026, 11, 26, 21, 0, 0), NewDate(2026, 11, 27), NewDate(2026, 11, 30)},
		{"B 22:30:00", b, almaty(2026, 11, 26, 22, 30, 0), NewDate(2026, 11, 27), NewDate(2026, 11, 30)},
		// Friday after the cut-off, Saturday and Sunday all settle Monday.
		{"A Fri 23:00", a, almaty(2026, 11, 27, 23, 0, 0), NewDate(2026, 11, 28), NewDate(2026, 11, 30)},
		{"A Sat", a, almaty(2026, 11, 28, 12, 0, 0), NewDate(2026, 11, 28), NewDate(2026, 11, 30)},
		{"A Sun 23:00 is Monday's", a, almaty(2026, 11, 29, 23, 0, 0), NewDate(2026, 11, 30), NewDate(2026, 12, 1)},
		{"B Sun 20:59:59", b, almaty(2026, 11, 29, 20, 59, 59), NewDate(2026, 11, 29), NewDate(2026, 11, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.OperationDay(tt.at); got != tt.op {
				t.Errorf("OperationDay = %v, want %v", got, tt.op)
			}
			if got := tt.cal.SettlementDay(tt.at); got != tt.sett {
				t.Errorf("SettlementDay = %v, want %v", got, tt.sett)
			}
		})
	}
}

func TestInputZoneDoesNotMatter(t *testing.T) {
	c := mustNew(t, BankA())
	utc := time.Date(2026, 11, 26, 17, 59, 59, 0, time.UTC) // 22:59:59 in Almaty
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{utc, utc.In(ny), utc.Add(time.Second), utc.Add(time.Second).In(ny)} {
		want := NewDate(2026, 11, 26)
		if !at.Before(utc.Add(time.Second)) {
			want = NewDate(2026, 11, 27)
		}
		if got := c.OperationDay(at); got != want {
			t.Errorf("OperationDay(%v) = %v, want %v", at, got, want)
		}
	}
}

func TestHolidays(t *testing.T) {
	cfg := BankA()
	cfg.Holidays = []string{"2026-12-16", "17.12.2026"} // Independence Day
	c := mustNew(t, cfg)
	for _, d := range []Date{NewDate(2026, 12, 16), NewDate(2026, 12, 17)} {
		if c.IsBusinessDay(d) || !c.IsHoliday(d) {
			t.Errorf("%v: want a holiday and not a business day", d)
		}
	}
	tests := []struct {
		at   time.Time
		want Date
	}{
		{almaty(2026, 12, 14, 12, 0, 0), NewDate(2026, 12, 15)}, // Mon → Tue
		{almaty(2026, 12, 15, 12, 0, 0), NewDate(2026, 12, 18)}, // Tue → Fri over both holidays
		{almaty(2026, 12, 15, 23, 0, 0), NewDate(2026, 12, 18)}, // Wed's operation
		{almaty(2026, 12, 16, 12, 0, 0), NewDate(2026, 12, 18)}, // on a holiday
		{almaty(2026, 12, 17, 23, 0, 0), NewDate(2026, 12, 21)}, // Fri's operation → Mon
		{almaty(2026, 12, 18, 12, 0, 0), NewDate(2026, 12, 21)},
	}
	for _, tt := range tests {
		if got := c.SettlementDay(tt.at); got != tt.want {
			t.Errorf("SettlementDay(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
	// Without the holidays the same Tuesday settles Wednesday.
	if got := mustNew(t, BankA()).SettlementDay(almaty(2026, 12, 15, 12, 0, 0)); got != NewDate(2026, 12, 16) {
		t.Errorf("without holidays: %v, want 2026-12-16", got)
	}
}

func TestYearEnd(t *testing.T) {
	cfg := BankB()
	cfg.Holidays = []string{"20270101", "2027-01-02"}
	c := mustNew(t, cfg)
	tests := []struct {
		at   time.Time
		want Date
	}{
		{almaty(2026, 12, 30, 20, 59, 59), NewDate(2026, 12, 31)},
		{almaty(2026, 12, 30, 21, 0, 0), NewDate(2027, 1, 4)}, // Thu 31.12's → Fri 1.1 holiday, weekend
		{almaty(2026, 12, 31, 12, 0, 0), NewDate(2027, 1, 4)},
		{almaty(2026, 12, 31, 21, 0, 0), NewDate(2027, 1, 4)}, // belongs to 1.1.2027
		{almaty(2027, 1, 3, 21, 0, 0), NewDate(2027, 1, 5)},   // belongs to Mon 4.1
	}
	for _, tt := range tests {
		if got := c.SettlementDay(tt.at); got != tt.want {
			t.Errorf("SettlementDay(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
	if got := c.OperationDay(almaty(2026, 12, 31, 21, 0, 0)); got != NewDate(2027, 1, 1) {
		t.Errorf("OperationDay across the year = %v", got)
	}
	// Without holidays, Thursday 31.12.2026 settles Friday 1.1.2027.
	if got := mustNew(t, BankB()).SettlementDate(NewDate(2026, 12, 31)); got != NewDate(2027, 1, 1) {
		t.Errorf("no holidays: %v, want 2027-01-01", got)
	}
}

func TestWorkingWeekendDay(t *testing.T) {
	cfg := BankA()
	cfg.WorkingDays = []string{"2026-11-28"} // a Saturday declared a working day
	c := mustNew(t, cfg)
	if !c.IsBusinessDay(NewDate(2026, 11, 28)) {
		t.Fatal("declared working Saturday is not a business day")
	}
	if c.IsBusinessDay(NewDate(2026, 11, 29)) {
		t.Fatal("Sunday became a business day")
	}
	if got := c.SettlementDate(NewDate(2026, 11, 27)); got != NewDate(2026, 11, 28) {
		t.Errorf("Friday settles %v, want the working Saturday", got)
	}
	if got := c.BusinessDayOnOrAfter(NewDate(2026, 11, 29)); got != NewDate(2026, 11, 30) {
		t.Errorf("BusinessDayOnOrAfter(Sun) = %v", got)
	}
	if got := c.BusinessDayOnOrAfter(NewDate(2026, 11, 30)); got != NewDate(2026, 11, 30) {
		t.Errorf("BusinessDayOnOrAfter(Mon) = %v", got)
	}
}

func TestCutOffAt(t *testing.T) {
	c := mustNew(t, BankA())
	got := c.CutOffAt(NewDate(2026, 11, 27))
	if want := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("CutOffAt = %v, want %v", got, want)
	}
	if c.OperationDay(got) != NewDate(2026, 11, 28) || c.OperationDay(got.Add(-time.Nanosecond)) != NewDate(2026, 11, 27) {
		t.Error("CutOffAt is not the boundary OperationDay uses")
	}
	if c.CutOff() != 23*time.Hour {
		t.Errorf("CutOff = %v", c.CutOff())
	}
}

func TestZone(t *testing.T) {
	c := mustNew(t, Config{CutOff: "23:00"}) // empty zone: Asia/Almaty
	_, off := time.Date(2026, 11, 27, 12, 0, 0, 0, c.Location()).Zone()
	if off != 5*3600 {
		t.Fatalf("Almaty offset in 2026 = %d, want +05:00", off)
	}
	loc, err := loadZone("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	if _, off := time.Date(2025, 6, 1, 0, 0, 0, 0, loc).Zone(); off != 5*3600 {
		t.Fatalf("loadZone offset = %d", off)
	}
	other := mustNew(t, Config{TimeZone: "Europe/Moscow", CutOff: "23:00"})
	if got := other.OperationDay(time.Date(2026, 11, 26, 19, 59, 59, 0, time.UTC)); got != NewDate(2026, 11, 26) {
		t.Errorf("Moscow 22:59:59 → %v", got)
	}
	if got := other.OperationDay(time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)); got != NewDate(2026, 11, 27) {
		t.Errorf("Moscow 23:00:00 → %v", got)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{TimeZone: "Mars/Olympus", CutOff: "23:00"}, "time_zone"},
		{Config{CutOff: ""}, "cut_off"},
		{Config{CutOff: "24:00"}, "cut_off"},
		{Config{CutOff: "23:60"}, "cut_off"},
		{Config{CutOff: "00:00"}, "cut_off"},
		{Config{CutOff: "2300"}, "cut_off"},
		{Config{CutOff: "23:00", Holidays: []string{"2026-12-16", "2026-02-30"}}, "holidays[1]"},
		{Config{CutOff: "23:00", WorkingDays: []string{"2026-11-27"}}, "working_days[0]"},
		{Config{CutOff: "23:00", Holidays: []string{"2026-11-28"}, WorkingDays: []string{"2026-11-28"}}, "working_days[0]"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
	c := mustNew(t, Config{CutOff: "21:30:15"})
	if c.CutOff() != 21*time.Hour+30*time.Minute+15*time.Second {
		t.Errorf("HH:MM:SS cut-off = %v", c.CutOff())
	}
}

func TestDateParseFormat(t *testing.T) {
	d := NewDate(2026, 11, 30)
	if d.YYYYMMDD() != "20261130" || d.DMY() != "30.11.2026" || d.String() != "2026-11-30" {
		t.Fatalf("formats: %s %s %s", d.YYYYMMDD(), d.DMY(), d)
	}
	for _, s := range []string{"20261130", "30.11.2026", "2026-11-30"} {
		got, err := ParseDate(s)
		if err != nil || got != d {
			t.Errorf("ParseDate(%q) = %v, %v", s, got, err)
		}
	}
	if got, err := ParseDMY("29.02.2028"); err != nil || got != NewDate(2028, 2, 29) {
		t.Errorf("leap day: %v %v", got, err)
	}
	for _, s := range []string{"", "29.02.2027", "31.04.2026", "00.01.2026", "01.13.2026", "1.11.2026", "30-11-2026", "3O.11.2026", "30.11.0000", "20261131", "2026113", "+0261130", "2026-11-3x"} {
		if _, err := ParseDate(s); !errors.Is(err, ErrBadDate) {
			t.Errorf("ParseDate(%q) err = %v, want ErrBadDate", s, err)
		}
	}
	var u Date
	if err := u.UnmarshalText([]byte("16.12.2026")); err != nil || u != NewDate(2026, 12, 16) {
		t.Errorf("UnmarshalText: %v %v", u, err)
	}
	if b, _ := u.MarshalText(); string(b) != "2026-12-16" {
		t.Errorf("MarshalText = %s", b)
	}
	if !NewDate(2026, 12, 31).Before(NewDate(2027, 1, 1)) || !NewDate(2027, 1, 1).After(NewDate(2026, 12, 31)) || NewDate(2026, 5, 5).Compare(NewDate(2026, 5, 5)) != 0 {
		t.Error("Compare")
	}
	if NewDate(2026, 12, 31).AddDays(1) != NewDate(2027, 1, 1) || NewDate(2028, 3, 1).AddDays(-1) != NewDate(2028, 2, 29) {
		t.Error("AddDays")
	}
	if NewDate(2026, 11, 27).Weekday() != time.Friday {
		t.Error("Weekday")
	}
	if !(Date{}).IsZero() || (Date{}).Valid() {
		t.Error("zero Date")
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"20261130", "30.11.2026", "2026-11-30", "29.02.2027", "", "99999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			return
		}
		if !d.Valid() {
			t.Fatalf("ParseDate(%q) = invalid %v without error", s, d)
		}
		for _, back := range []string{d.YYYYMMDD(), d.DMY(), d.String()} {
			if d2, err := ParseDate(back); err != nil || d2 != d {
				t.Fatalf("round trip of %v via %q: %v %v", d, back, d2, err)
			}
		}
	})
}
