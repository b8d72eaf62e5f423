package cardvault

import "strings"

// PAN-like digit runs: the card number lengths ISO/IEC 7812 allows for the
// schemes we accept.
const (
	panRunMin = 13
	panRunMax = 19
)

// MaskPAN masks a PAN as first 6 + last 4 ("400000******0010"). Anything too
// short to mask safely is replaced entirely by asterisks.
func MaskPAN(pan string) string {
	if len(pan) < panRunMin-1 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// Luhn reports whether s is all digits and passes the Luhn (mod 10) check.
func Luhn(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// MaskPANsIn masks every maximal run of 13-19 ASCII digits that passes the
// Luhn check, the shape of a full PAN, and reports whether it masked any.
// Longer or shorter runs (amounts, DE90, RRNs) are left alone.
func MaskPANsIn(s string) (string, bool) {
	var b []byte // allocated only when something is masked
	masked := false
	i := 0
	for i < len(s) {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if n := j - i; n >= panRunMin && n <= panRunMax && Luhn(s[i:j]) {
			if b == nil {
				b = []byte(s)
			}
			copy(b[i:j], MaskPAN(s[i:j]))
			masked = true
		}
		i = j
	}
	if !masked {
		return s, false
	}
	return string(b), true
}

// ContainsPAN reports whether s holds a PAN-like digit run (see MaskPANsIn).
func ContainsPAN(s string) bool {
	_, found := MaskPANsIn(s)
	return found
}

// Brand names the card scheme of a PAN by its BIN, "" when unknown.
func Brand(pan string) string {
	if len(pan) < 6 || !allDigits(pan[:6]) {
		return ""
	}
	p2 := atoi(pan[:2])
	p4 := atoi(pan[:4])
	switch {
	case pan[0] == '4':
		return "visa"
	case p4 >= 2200 && p4 <= 2204:
		return "mir"
	case (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720):
		return "mastercard"
	case p2 == 34 || p2 == 37:
		return "amex"
	case p4 >= 3528 && p4 <= 3589:
		return "jcb"
	case p2 == 62:
		return "unionpay"
	}
	return ""
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
