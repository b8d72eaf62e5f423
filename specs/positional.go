package specs

import (
	"fmt"
	"strings"
)

// Bank B's DE61 and DE126 are fixed-position strings inside an LLLVAR
// field. They are modelled as plain strings in the message spec and built
// and parsed here, so that the mapping reads and writes named parts and the
// fuzz targets exercise exactly the parser the switch uses.

// DE61Len and DE126Len are the fixed contents' lengths.
const (
	DE61Len  = 18
	DE126Len = 91
)

// StoredCredential61 is Bank B's DE61.
type StoredCredential61 struct {
	Initiator            byte   // 'C' cardholder, 'M' merchant
	Type                 byte   // '1' one-click, '2' recurring, '3' unscheduled
	Sequence             byte   // '0' initial, '1' subsequent
	NetworkTransactionID string // up to 15 characters; empty on an initial one
}

// Format returns the 18-character DE61.
func (s StoredCredential61) Format() (string, error) {
	if s.Initiator != 'C' && s.Initiator != 'M' {
		return "", fmt.Errorf("DE61 initiator: want C or M")
	}
	if s.Type < '1' || s.Type > '3' {
		return "", fmt.Errorf("DE61 type: want 1, 2 or 3")
	}
	if s.Sequence != '0' && s.Sequence != '1' {
		return "", fmt.Errorf("DE61 sequence: want 0 or 1")
	}
	if err := checkANS("DE61 network transaction ID", s.NetworkTransactionID, 15); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(DE61Len)
	b.WriteByte(s.Initiator)
	b.WriteByte(s.Type)
	b.WriteByte(s.Sequence)
	b.WriteString(padRight(s.NetworkTransactionID, 15))
	return b.String(), nil
}

// ParseDE61 parses Bank B's DE61.
func ParseDE61(v string) (StoredCredential61, error) {
	if len(v) != DE61Len {
		return StoredCredential61{}, fmt.Errorf("DE61: length %d, want %d", len(v), DE61Len)
	}
	s := StoredCredential61{
		Initiator:            v[0],
		Type:                 v[1],
		Sequence:             v[2],
		NetworkTransactionID: strings.TrimRight(v[3:], " "),
	}
	if _, err := s.Format(); err != nil {
		return StoredCredential61{}, err
	}
	return s, nil
}

// ECommerce126 is Bank B's DE126.
type ECommerce126 struct {
	Wallet byte // 'A' Apple Pay, 'G' Google Pay, 0 or ' ' for none
	ECI    string
	// AuthValue is the 3DS CAVV/AAV or, with a wallet, the token cryptogram.
	AuthValue       string
	DSTransactionID string
	Version         string
	CVV             string
}

// IsZero reports whether no part is present, in which case DE126 is not
// sent.
func (e ECommerce126) IsZero() bool {
	return (e.Wallet == 0 || e.Wallet == ' ') && e.ECI == "" && e.AuthValue == "" &&
		e.DSTransactionID == "" && e.Version == "" && e.CVV == ""
}

// Format returns the 91-character DE126. Error messages never include the
// authentication value, cryptogram or CVV.
func (e ECommerce126) Format() (string, error) {
	w := e.Wallet
	if w == 0 {
		w = ' '
	}
	if w != ' ' && w != 'A' && w != 'G' {
		return "", fmt.Errorf("DE126 wallet: want A, G or space")
	}
	if e.ECI != "" && (len(e.ECI) != 2 || !isDigits(e.ECI)) {
		return "", fmt.Errorf("DE126 ECI: want 2 digits")
	}
	if err := checkANS("DE126 authentication value", e.AuthValue, 40); err != nil {
		return "", err
	}
	if err := checkANS("DE126 DS transaction ID", e.DSTransactionID, 36); err != nil {
		return "", err
	}
	if err := checkANS("DE126 3DS version", e.Version, 8); err != nil {
		return "", err
	}
	if e.CVV != "" && (len(e.CVV) < 3 || len(e.CVV) > 4 || !isDigits(e.CVV)) {
		return "", fmt.Errorf("DE126 CVV2: want 3 or 4 digits")
	}
	var b strings.Builder
	b.Grow(DE126Len)
	b.WriteByte(w)
	b.WriteString(padRight(e.ECI, 2))
	b.WriteString(padRight(e.AuthValue, 40))
	b.WriteString(padRight(e.DSTransactionID, 36))
	b.WriteString(padRight(e.Version, 8))
	b.WriteString(padRight(e.CVV, 4))
	return b.String(), nil
}

// ParseDE126 parses Bank B's DE126. A blank wallet position gives Wallet 0.
func ParseDE126(v string) (ECommerce126, error) {
	if len(v) != DE126Len {
		return ECommerce126{}, fmt.Errorf("DE126: length %d, want %d", len(v), DE126Len)
	}
	// Position 1 is A, G or a space on the wire; Format's 0-for-none is
	// the model's convenience, not a byte the bank may send.
	if v[0] != 'A' && v[0] != 'G' && v[0] != ' ' {
		return ECommerce126{}, fmt.Errorf("DE126 wallet: want A, G or space")
	}
	e := ECommerce126{
		Wallet:          v[0],
		ECI:             strings.TrimRight(v[1:3], " "),
		AuthValue:       strings.TrimRight(v[3:43], " "),
		DSTransactionID: strings.TrimRight(v[43:79], " "),
		Version:         strings.TrimRight(v[79:87], " "),
		CVV:             strings.TrimRight(v[87:91], " "),
	}
	if e.Wallet == ' ' {
		e.Wallet = 0
	}
	if _, err := e.Format(); err != nil {
		return ECommerce126{}, err
	}
	return e, nil
}

// checkANS checks an ans value of at most max printable ASCII characters.
// The message names the field, never the value.
func checkANS(name, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%s: length %d exceeds %d", name, len(v), max)
	}
	if !IsPrintableASCII(v) {
		return fmt.Errorf("%s: only printable ASCII is allowed", name)
	}
	return nil
}

// IsPrintableASCII reports whether every byte of s is in 0x20-0x7E.
func IsPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// IsDigits reports whether s is non-empty and all ASCII digits.
func IsDigits(s string) bool { return s != "" && isDigits(s) }

func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}
