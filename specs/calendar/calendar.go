// Package calendar is each bank's business-day calendar: its time zone, its
// clearing cut-off, its weekends and holidays, and from those the operation
// day and the settlement day of a transaction.
//
// The rule (docs/clearing.md): a transaction at local time t belongs to the
// operation day D = t's local date if t's local time of day is before the
// cut-off, else D+1. It is settled on the first business day strictly after
// D. So a purchase on Friday 27.11.2026 10:15 settles on Monday 30.11.2026,
// as in Bank A's sample clearing file, and so do Friday-after-cut-off,
// Saturday and Sunday operations.
package calendar

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the bank zone must resolve on hosts without zoneinfo
)

// DefaultTimeZone is the banks' zone. Since 1 March 2024 all of Kazakhstan
// is UTC+05:00 without daylight saving time.
const DefaultTimeZone = "Asia/Almaty"

// almatyOffset is the offset Asia/Almaty has had since 2024-03-01.
const almatyOffset = 5 * 60 * 60

// Config configures one bank's calendar. It is what the switch's YAML holds
// under a bank's "calendar" key.
type Config struct {
	// TimeZone is an IANA zone name; empty means DefaultTimeZone.
	TimeZone string `mapstructure:"time_zone" yaml:"time_zone" json:"time_zone"`
	// CutOff is the local time of day ("HH:MM" or "HH:MM:SS") from which a
	// transaction belongs to the next operation day.
	CutOff string `mapstructure:"cut_off" yaml:"cut_off" json:"cut_off"`
	// Holidays are non-business days besides Saturdays and Sundays, as
	// YYYY-MM-DD, DD.MM.YYYY or YYYYMMDD.
	Holidays []string `mapstructure:"holidays" yaml:"holidays" json:"holidays"`
	// WorkingDays are Saturdays or Sundays declared business days (the
	// government's transferred working days). Same spellings as Holidays.
	WorkingDays []string `mapstructure:"working_days" yaml:"working_days" json:"working_days"`
}

// BankA returns Bank A's calendar configuration without holidays: Almaty
// time, cut-off 23:00 (bank-a-h2h.md, "Daily clearing file").
func BankA() Config { return Config{TimeZone: DefaultTimeZone, CutOff: "23:00"} }

// BankB returns Bank B's calendar configuration without holidays: Almaty
// time, cut-off 21:00 (bank-b-h2h.md, "Daily clearing file").
func BankB() Config { return Config{TimeZone: DefaultTimeZone, CutOff: "21:00"} }

// Calendar answers business-day questions for one bank. It is immutable and
// safe for concurrent use.
type Calendar struct {
	loc      *time.Location
	cutOff   int // seconds after local midnight
	holidays map[Date]struct{}
	working  map[Date]struct{}
}

// New validates cfg and builds its Calendar. Errors name the offending key.
func New(cfg Config) (*Calendar, error) {
	loc, err := loadZone(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("calendar: time_zone: %w", err)
	}
	cut, err := parseClock(cfg.CutOff)
	if err != nil {
		return nil, fmt.Errorf("calendar: cut_off: %w", err)
	}
	c := &Calendar{
		loc:      loc,
		cutOff:   cut,
		holidays: make(map[Date]struct{}, len(cfg.Holidays)),
		working:  make(map[Date]struct{}, len(cfg.WorkingDays)),
	}
	for i, s := range cfg.Holidays {
		d, err := ParseDate(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("calendar: holidays[%d]: %w", i, err)
		}
		c.holidays[d] = struct{}{}
	}
	for i, s := range cfg.WorkingDays {
		d, err := ParseDate(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("calendar: working_days[%d]: %w", i, err)
		}
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			return nil, fmt.Errorf("calendar: working_days[%d]: %s is a %s, only a Saturday or Sunday can be declared a working day", i, d, wd)
		}
		if _, dup := c.holidays[d]; dup {
			return nil, fmt.Errorf("calendar: working_days[%d]: %s is also listed in holidays", i, d)
		}
		c.working[d] = struct{}{}
	}
	return c, nil
}

// loadZone resolves the zone name. For Asia/Almaty it falls back to a fixed
// +05:00 when the zone is missing or when the zone data predates the
// 2024-03-01 change (old data says +06:00 and would shift every cut-off by an
// hour).
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	loc, err := time.LoadLocation(name)
	if name != DefaultTimeZone {
		if err != nil {
			return nil, fmt.Errorf("loading zone %q: %w", name, err)
		}
		return loc, nil
	}
	if err == nil {
		_, off := time.Date(2024, time.June, 1, 0, 0, 0, 0, loc).Zone()
		if off == almatyOffset {
			return loc, nil
		}
	}
	return time.FixedZone("+05", almatyOffset), nil
}

// parseClock parses HH:MM or HH:MM:SS into seconds after midnight.
func parseClock(s string) (int, error) {
	var h, m, sec int
	ok := false
	switch len(s) {
	case 5:
		if s[2] == ':' {
			var ok1, ok2 bool
			h, ok1 = digits(s[0:2])
			m, ok2 = digits(s[3:5])
			ok = ok1 && ok2
		}
	case 8:
		if s[2] == ':' && s[5] == ':' {
			var ok1, ok2, ok3 bool
			h, ok1 = digits(s[0:2])
			m, ok2 = digits(s[3:5])
			sec, ok3 = digits(s[6:8])
			ok = ok1 && ok2 && ok3
		}
	}
	if !ok || h > 23 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("want HH:MM or HH:MM:SS between 00:00:01 and 23:59:59, got %q", s)
	}
	v := h*3600 + m*60 + sec
	if v == 0 {
		return 0, fmt.Errorf("cut-off 00:00 would move every transaction to the next day; want a time after midnight")
	}
	return v, nil
}

// Location returns the bank's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// CutOff returns the cut-off as a duration after local midnight.
func (c *Calendar) CutOff() time.Duration { return time.Duration(c.cutOff) * time.Second }

// IsHoliday reports whether d is a configured holiday.
func (c *Calendar) IsHoliday(d Date) bool {
	_, ok := c.holidays[d]
	return ok
}

// IsBusinessDay reports whether the bank settles on d: not a holiday, and
// either Monday to Friday or a declared working Saturday/Sunday.
func (c *Calendar) IsBusinessDay(d Date) bool {
	if _, ok := c.holidays[d]; ok {
		return false
	}
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		_, ok := c.working[d]
		return ok
	}
	return true
}

// NextBusinessDay returns the first business day strictly after d.
func (c *Calendar) NextBusinessDay(d Date) Date {
	// Terminates: at most len(holidays) weekdays are skipped, and at most
	// two weekend days per week.
	for {
		d = d.AddDays(1)
		if c.IsBusinessDay(d) {
			return d
		}
	}
}

// BusinessDayOnOrAfter returns d if it is a business day, else the next one.
func (c *Calendar) BusinessDayOnOrAfter(d Date) Date {
	if c.IsBusinessDay(d) {
		return d
	}
	return c.NextBusinessDay(d)
}

// OperationDay returns the day a transaction at instant t belongs to: t's
// date in the bank's zone, or the next date if t's local time of day is at or
// after the cut-off. The operation day may be a weekend or holiday.
func (c *Calendar) OperationDay(t time.Time) Date {
	lt := t.In(c.loc)
	d := DateOf(lt)
	if lt.Hour()*3600+lt.Minute()*60+lt.Second() >= c.cutOff {
		d = d.AddDays(1)
	}
	return d
}

// SettlementDate returns the settlement day of operation day op: the first
// business day strictly after op.
func (c *Calendar) SettlementDate(op Date) Date { return c.NextBusinessDay(op) }

// SettlementDay returns the business day on which a transaction at instant t
// is settled: SettlementDate(OperationDay(t)). This is the date in the name
// of the clearing file that carries it.
func (c *Calendar) SettlementDay(t time.Time) Date { return c.NextBusinessDay(c.OperationDay(t)) }

// CutOffAt returns the instant of the cut-off that closes operation day op:
// op-1 at the cut-off time is where op begins, op at the cut-off is where it
// ends. Transactions in [CutOffAt(op-1), CutOffAt(op)) belong to op.
func (c *Calendar) CutOffAt(op Date) time.Time {
	return time.Date(op.Year, op.Month, op.Day, 0, 0, c.cutOff, 0, c.loc)
}
