package wire

import (
	"errors"
	"fmt"
	"strings"
)

// TLV is one Bank A DE48 subelement.
type TLV struct {
	Tag   string // 2 digits
	Value string
}

// ParseDE48 splits Bank A's DE48 (TT + LLL + value, ascending tags) into its
// subelements. Tags out of ascending order are a format error.
func ParseDE48(v []byte) ([]TLV, error) {
	var out []TLV
	prev := -1
	for p := 0; p < len(v); {
		if p+5 > len(v) {
			return nil, fmt.Errorf("DE48 subelement at offset %d: header truncated", p)
		}
		tag, ok1 := asciiNum(v, p, 2)
		n, ok2 := asciiNum(v, p+2, 3)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("DE48 subelement at offset %d: non-numeric tag or length", p)
		}
		if tag <= prev {
			return nil, fmt.Errorf("DE48 tag %02d after %02d: tags must ascend", tag, prev)
		}
		prev = tag
		p += 5
		if p+n > len(v) {
			return nil, fmt.Errorf("DE48 tag %02d: value of %d bytes truncated", tag, n)
		}
		out = append(out, TLV{Tag: string(v[p-5 : p-3]), Value: string(v[p : p+n])})
		p += n
	}
	return out, nil
}

// FindDE48 returns the value of one tag, if present.
func FindDE48(tlvs []TLV, tag string) (string, bool) {
	for _, t := range tlvs {
		if t.Tag == tag {
			return t.Value, true
		}
	}
	return "", false
}

// BuildDE48 encodes subelements (sorted by the caller) as TT LLL value.
func BuildDE48(tlvs ...TLV) (string, error) {
	var sb strings.Builder
	for _, t := range tlvs {
		if len(t.Tag) != 2 || len(t.Value) > 999 {
			return "", fmt.Errorf("DE48 tag %q: bad tag or value longer than 999", t.Tag)
		}
		fmt.Fprintf(&sb, "%s%03d%s", t.Tag, len(t.Value), t.Value)
	}
	return sb.String(), nil
}

// StoredCredential is the stored-credential indicator of a request in a
// dialect-neutral form.
type StoredCredential struct {
	Initiator            byte   // 'C' cardholder or 'M' merchant
	Type                 byte   // A: 'O','R','U'; B: '1','2','3'
	Subsequent           bool   // false for the initial payment
	NetworkTransactionID string // subsequent payments
}

// ParseDE61 reads Bank B's 18-character stored credential data.
func ParseDE61(v []byte) (*StoredCredential, error) {
	if len(v) != 18 {
		return nil, fmt.Errorf("DE61: length %d, want 18", len(v))
	}
	sc := &StoredCredential{Initiator: v[0], Type: v[1]}
	if sc.Initiator != 'C' && sc.Initiator != 'M' {
		return nil, fmt.Errorf("DE61 position 1: initiator %q, want C or M", v[0])
	}
	if sc.Type < '1' || sc.Type > '3' {
		return nil, fmt.Errorf("DE61 position 2: type %q, want 1, 2 or 3", v[1])
	}
	switch v[2] {
	case '0':
	case '1':
		sc.Subsequent = true
	default:
		return nil, fmt.Errorf("DE61 position 3: sequence %q, want 0 or 1", v[2])
	}
	sc.NetworkTransactionID = strings.TrimRight(string(v[3:18]), " ")
	return sc, nil
}

// StoredCredentialA reads Bank A's DE48 tags 20/21/22; nil when tag 20 is
// absent.
func StoredCredentialA(tlvs []TLV) (*StoredCredential, error) {
	t20, ok := FindDE48(tlvs, "20")
	if !ok {
		return nil, nil
	}
	if len(t20) != 2 || (t20[0] != 'C' && t20[0] != 'M') || !strings.ContainsRune("ORU", rune(t20[1])) {
		return nil, fmt.Errorf("DE48 tag 20: %q, want C|M + O|R|U", t20)
	}
	sc := &StoredCredential{Initiator: t20[0], Type: t20[1]}
	t21, _ := FindDE48(tlvs, "21")
	switch t21 {
	case "I":
	case "S":
		sc.Subsequent = true
	default:
		return nil, fmt.Errorf("DE48 tag 21: %q, want I or S", t21)
	}
	sc.NetworkTransactionID, _ = FindDE48(tlvs, "22")
	return sc, nil
}

// CVVFromDE126 returns positions 88-91 of Bank B's DE126, trimmed.
func CVVFromDE126(v []byte) (string, error) {
	if len(v) != 91 {
		return "", fmt.Errorf("DE126: length %d, want 91", len(v))
	}
	return strings.TrimRight(string(v[87:91]), " "), nil
}

// Original is DE90 split into its parts.
type Original struct {
	MTI        string
	STAN       string
	DE7        string
	AcquirerID string // leading zeros removed
}

// ParseDE90 splits the 42-digit original data elements.
func ParseDE90(v []byte) (Original, error) {
	if len(v) != 42 {
		return Original{}, fmt.Errorf("DE90: length %d, want 42", len(v))
	}
	if err := checkDigits(v); err != nil {
		return Original{}, fmt.Errorf("DE90: %w", err)
	}
	// bank-a-h2h.md: "... + 00000000000 (11)".
	if string(v[31:42]) != "00000000000" {
		return Original{}, errors.New("DE90 positions 32-42: want 11 zeros")
	}
	return Original{
		MTI:        string(v[0:4]),
		STAN:       string(v[4:10]),
		DE7:        string(v[10:20]),
		AcquirerID: TrimZeros(string(v[20:31])),
	}, nil
}

// BuildDE90 is the inverse of ParseDE90.
func BuildDE90(o Original) string {
	acq := o.AcquirerID
	if len(acq) < 11 {
		acq = strings.Repeat("0", 11-len(acq)) + acq
	}
	return o.MTI + o.STAN + o.DE7 + acq + "00000000000"
}

// ParseDE95 returns the remaining amount of a partial reversal (positions
// 1-12).
func ParseDE95(v []byte) (int64, error) {
	if len(v) != 42 {
		return 0, fmt.Errorf("DE95: length %d, want 42", len(v))
	}
	n, err := ParseAmount(v[:12])
	if err != nil {
		return 0, fmt.Errorf("DE95 positions 1-12: %w", err)
	}
	// bank-a-h2h.md: "positions 13-42 zeros".
	for _, ch := range v[12:] {
		if ch != '0' {
			return 0, errors.New("DE95 positions 13-42: want zeros")
		}
	}
	return n, nil
}

// ParseAmount parses up to 18 ASCII digits.
func ParseAmount(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 18 {
		return 0, errors.New("amount must be 1 to 18 digits")
	}
	var n int64
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return 0, errDigits
		}
		n = n*10 + int64(ch-'0')
	}
	return n, nil
}

// TrimZeros removes leading zeros, keeping "0" for an all-zero value.
func TrimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" && s != "" {
		return "0"
	}
	return t
}

// MaskPAN returns the 6+4 masked form of a PAN; shorter inputs are fully
// masked so that nothing of a malformed PAN leaks.
func MaskPAN(pan []byte) string {
	if len(pan) < 13 {
		return strings.Repeat("*", len(pan))
	}
	return string(pan[:6]) + strings.Repeat("*", len(pan)-10) + string(pan[len(pan)-4:])
}

// Luhn reports whether the digits pass the Luhn check.
func Luhn(pan []byte) bool {
	if len(pan) < 2 {
		return false
	}
	sum := 0
	dbl := false
	for i := len(pan) - 1; i >= 0; i-- {
		d := int(pan[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if dbl {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		dbl = !dbl
	}
	return sum%10 == 0
}
