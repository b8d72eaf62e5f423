package calendar

import (
	"errors"
	"fmt"
	"time"
)

// Date is a civil date (no time of day, no zone): the unit of operation days
// and settlement days. The zero Date is "no date". Date is comparable and may
// be used as a map key.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// NewDate returns the Date for year, month and day, normalising overflow the
// way time.Date does (31 November becomes 1 December).
func NewDate(year int, month time.Month, day int) Date {
	return DateOf(time.Date(year, month, day, 12, 0, 0, 0, time.UTC))
}

// DateOf returns the civil date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d names a real day of the Gregorian calendar within
// years 1..9999.
func (d Date) Valid() bool {
	return d.Year >= 1 && d.Year <= 9999 && d.Month >= time.January && d.Month <= time.December &&
		d.Day >= 1 && d.Day <= daysIn(d.Month, d.Year)
}

// Time returns midnight at the start of d in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// AddDays returns d shifted by n days.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return cmpInt(d.Year, o.Year)
	case d.Month != o.Month:
		return cmpInt(int(d.Month), int(o.Month))
	default:
		return cmpInt(d.Day, o.Day)
	}
}

// Before reports whether d is before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// String formats d as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText implements encoding.TextMarshaler (YYYY-MM-DD).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see ParseDate.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// YYYYMMDD formats d as eight digits, e.g. 20261130.
func (d Date) YYYYMMDD() string { return string(d.AppendYYYYMMDD(make([]byte, 0, 8))) }

// DMY formats d as DD.MM.YYYY, e.g. 30.11.2026.
func (d Date) DMY() string { return string(d.AppendDMY(make([]byte, 0, 10))) }

// AppendYYYYMMDD appends d as YYYYMMDD to b. Years outside 0..9999 are
// written modulo 10000; callers validate first.
func (d Date) AppendYYYYMMDD(b []byte) []byte {
	b = append4(b, d.Year)
	b = append2(b, int(d.Month))
	return append2(b, d.Day)
}

// AppendDMY appends d as DD.MM.YYYY to b.
func (d Date) AppendDMY(b []byte) []byte {
	b = append2(b, d.Day)
	b = append(b, '.')
	b = append2(b, int(d.Month))
	b = append(b, '.')
	return append4(b, d.Year)
}

// ErrBadDate is wrapped by every date parsing error.
var ErrBadDate = errors.New("invalid date")

// ParseYYYYMMDD parses eight digits YYYYMMDD into a valid Date.
func ParseYYYYMMDD(s string) (Date, error) {
	if len(s) != 8 {
		return Date{}, fmt.Errorf("%w: want YYYYMMDD, got %d characters", ErrBadDate, len(s))
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[4:6])
	dd, ok3 := digits(s[6:8])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("%w: want YYYYMMDD, got non-digits", ErrBadDate)
	}
	return checked(y, m, dd)
}

// ParseDMY parses DD.MM.YYYY into a valid Date.
func ParseDMY(s string) (Date, error) {
	if len(s) != 10 || s[2] != '.' || s[5] != '.' {
		return Date{}, fmt.Errorf("%w: want DD.MM.YYYY", ErrBadDate)
	}
	dd, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	y, ok3 := digits(s[6:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("%w: want DD.MM.YYYY, got non-digits", ErrBadDate)
	}
	return checked(y, m, dd)
}

// ParseISO parses YYYY-MM-DD into a valid Date.
func ParseISO(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("%w: want YYYY-MM-DD", ErrBadDate)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	dd, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("%w: want YYYY-MM-DD, got non-digits", ErrBadDate)
	}
	return checked(y, m, dd)
}

// ParseDate accepts the three spellings used in configuration and bank
// files: YYYY-MM-DD, DD.MM.YYYY and YYYYMMDD.
func ParseDate(s string) (Date, error) {
	switch {
	case len(s) == 8:
		return ParseYYYYMMDD(s)
	case len(s) == 10 && s[4] == '-':
		return ParseISO(s)
	case len(s) == 10 && s[2] == '.':
		return ParseDMY(s)
	}
	return Date{}, fmt.Errorf("%w: want YYYY-MM-DD, DD.MM.YYYY or YYYYMMDD", ErrBadDate)
}

func checked(y, m, d int) (Date, error) {
	v := Date{Year: y, Month: time.Month(m), Day: d}
	if !v.Valid() {
		return Date{}, fmt.Errorf("%w: day %02d month %02d year %04d does not exist", ErrBadDate, d, m, y)
	}
	return v, nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func append2(b []byte, v int) []byte {
	v = ((v % 100) + 100) % 100
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func append4(b []byte, v int) []byte {
	v = ((v % 10000) + 10000) % 10000
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
