package bankmsg

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/acquirer/h2hswitch/specs"
)

// Formatting and validation of single values. Every error names the data
// element and describes the problem; none contains the value, because the
// value may be a PAN, a CVV or a cryptogram.

// fixedDigits checks that v is exactly n ASCII digits.
func fixedDigits(de, name, v string, n int) (string, error) {
	if len(v) != n || !specs.IsDigits(v) {
		return "", fmt.Errorf("%s %s: want exactly %d digits", de, name, n)
	}
	return v, nil
}

// varDigits checks that v is min..max ASCII digits.
func varDigits(de, name, v string, min, max int) (string, error) {
	if len(v) < min || len(v) > max || !specs.IsDigits(v) {
		return "", fmt.Errorf("%s %s: want %d to %d digits", de, name, min, max)
	}
	return v, nil
}

// ansFixed left-justifies v in a space-filled field of width n. An empty
// value is an error when required.
func ansFixed(de, name, v string, n int, required bool) (string, error) {
	if required && strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%s %s: required", de, name)
	}
	if len(v) > n {
		return "", fmt.Errorf("%s %s: length %d exceeds %d", de, name, len(v), n)
	}
	if !specs.IsPrintableASCII(v) {
		return "", fmt.Errorf("%s %s: only printable ASCII is allowed", de, name)
	}
	return v + strings.Repeat(" ", n-len(v)), nil
}

// ansVar checks an ans variable value of at most max characters.
func ansVar(de, name, v string, max int) (string, error) {
	if len(v) > max {
		return "", fmt.Errorf("%s %s: length %d exceeds %d", de, name, len(v), max)
	}
	if !specs.IsPrintableASCII(v) {
		return "", fmt.Errorf("%s %s: only printable ASCII is allowed", de, name)
	}
	return v, nil
}

// alnumFixed checks that v is exactly n characters A-Z, a-z, 0-9.
func alnumFixed(de, name, v string, n int) (string, error) {
	if len(v) != n {
		return "", fmt.Errorf("%s %s: want exactly %d characters", de, name, n)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return "", fmt.Errorf("%s %s: only letters and digits are allowed", de, name)
		}
	}
	return v, nil
}

// amount12 formats a minor-unit amount as n12.
func amount12(de string, v int64) (string, error) {
	if v < 0 || v > 999_999_999_999 {
		return "", fmt.Errorf("%s amount: out of range 0..999999999999", de)
	}
	return fmt.Sprintf("%012d", v), nil
}

// zeroPad right-justifies digits in a zero-filled field of width n.
func zeroPad(v string, n int) string {
	if len(v) >= n {
		return v
	}
	return strings.Repeat("0", n-len(v)) + v
}

// transmission formats DE7, MMDDhhmmss in UTC.
func transmission(de string, t time.Time) (string, error) {
	if t.IsZero() {
		return "", fmt.Errorf("%s transmission time: required", de)
	}
	return t.UTC().Format("0102150405"), nil
}

// parseAmount parses an n12 amount.
func parseAmount(de, v string) (int64, error) {
	if len(v) != 12 || !specs.IsDigits(v) {
		return 0, fmt.Errorf("%s amount: want 12 digits", de)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s amount: %w", de, err)
	}
	return n, nil
}

// parseMMDDhhmmss turns a year-less timestamp into the instant in loc
// nearest to now: the year is the one of now-1, now, now+1 that puts the
// instant closest to now, which is right for any message less than six
// months away from the clock.
func parseMMDDhhmmss(de, v string, loc *time.Location, now time.Time) (time.Time, error) {
	if len(v) != 10 || !specs.IsDigits(v) {
		return time.Time{}, fmt.Errorf("%s: want MMDDhhmmss", de)
	}
	num := func(i int) int { return int(v[i]-'0')*10 + int(v[i+1]-'0') }
	mo, dd, hh, mi, ss := num(0), num(2), num(4), num(6), num(8)
	if mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 59 {
		return time.Time{}, fmt.Errorf("%s: not a valid date and time", de)
	}
	now = now.In(loc)
	var best time.Time
	for y := now.Year() - 1; y <= now.Year()+1; y++ {
		t := time.Date(y, time.Month(mo), dd, hh, mi, ss, 0, loc)
		if t.Month() != time.Month(mo) || t.Day() != dd {
			continue // 29 February of a common year, 31 April...
		}
		if best.IsZero() || absDur(t.Sub(now)) < absDur(best.Sub(now)) {
			best = t
		}
	}
	if best.IsZero() {
		return time.Time{}, fmt.Errorf("%s: not a valid date and time", de)
	}
	return best, nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
