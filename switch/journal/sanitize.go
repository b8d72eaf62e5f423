package journal

import (
	"strings"
	"unicode/utf8"

	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// Limits on what one message log entry may hold, so that a hostile or buggy
// peer cannot bloat the journal.
const (
	maxLogFields     = 192
	maxLogKeyLen     = 16
	maxLogValueLen   = 1024
	maxFreeTextLen   = 512
	maxPayloadLen    = 16 << 10
	maxResponseLen   = 64 << 10
	de126Len         = 91
	de48TagLen       = 2
	de48LenLen       = 3
	droppedFieldMark = "[removed]"
)

// neverLogged names whole data elements that are never journaled: the
// expiry date (it travels with the PAN only inside the sealed card), track 2,
// track 3 and track 1 data, PIN block, ICC (EMV) data holding cryptograms.
func neverLogged(de string) bool {
	switch de {
	case "14", "35", "36", "45", "52", "55":
		return true
	}
	return false
}

// secretDE48Tag names Bank A DE48 subelements that are never journaled: 02
// authentication value (CAVV), 11 token cryptogram, 92 CVV2.
func secretDE48Tag(tag string) bool {
	switch tag {
	case "02", "11", "92":
		return true
	}
	return false
}

// Sanitize returns a copy of an ISO 8583 field map that is safe to store:
//   - DE35/36/45 (track data), DE52 (PIN block), DE55 (ICC data) are dropped;
//   - DE48 (Bank A TLV) loses subelements 02, 11 and 92; a DE48 that does
//     not parse is dropped whole, since its secrets cannot be located;
//   - DE126 (Bank B, 91 positions) has positions 4-43 (CAVV / cryptogram)
//     and 88-91 (CVV2) blanked; any other length is dropped whole;
//   - subfields such as "48.92" or names like "cvv" are dropped;
//   - any 13-19 digit Luhn-valid run left in any value is masked 6+4;
//   - keys and values are length-bounded.
//
// It reports whether it changed anything (a caller that passed clean data
// gets false).
func Sanitize(fields map[string]string) (map[string]string, bool) {
	out := make(map[string]string, len(fields))
	changed := false
	n := 0
	for k, v := range fields {
		if n >= maxLogFields || len(k) > maxLogKeyLen || k == "" {
			changed = true
			continue
		}
		n++
		base, sub, hasSub := strings.Cut(k, ".")
		if neverLogged(base) || secretName(k) || (hasSub && base == "48" && secretDE48Tag(sub)) || (hasSub && base == "126") {
			changed = true
			continue
		}
		switch {
		case base == "48" && !hasSub:
			nv, ok, ch := scrubDE48(v)
			if !ok {
				out[k] = droppedFieldMark
				changed = true
				continue
			}
			v, changed = nv, changed || ch
		case base == "126" && !hasSub:
			if len(v) != de126Len {
				out[k] = droppedFieldMark
				changed = true
				continue
			}
			nv := scrubDE126(v)
			if nv != v {
				changed = true
			}
			v = nv
		}
		if base == "2" && !hasSub {
			// DE2 is masked whether or not it passes Luhn: a mistyped PAN
			// is still a cardholder's number.
			if mv := maskDE2(v); mv != v {
				v = mv
				changed = true
			}
		}
		// Mask before truncating: a cut could leave a PAN's head unmasked.
		if mv, masked := cardvault.MaskPANsIn(v); masked {
			v = mv
			changed = true
		}
		if len(v) > maxLogValueLen {
			v = truncateUTF8(v, maxLogValueLen)
			changed = true
		}
		out[k] = v
	}
	return out, changed
}

// maskDE2 keeps at most the first 6 and last 4 digits of a DE2 value and
// stars the rest; a value too short to keep anything is starred whole.
// Values already masked (holding '*') are left as they are.
func maskDE2(v string) string {
	if strings.ContainsRune(v, '*') {
		return v
	}
	if len(v) < 11 {
		return strings.Repeat("*", len(v))
	}
	return v[:6] + strings.Repeat("*", len(v)-10) + v[len(v)-4:]
}

func secretName(k string) bool {
	lk := strings.ToLower(k)
	// Substrings of field names that mark secrets whatever the dialect.
	for _, p := range [...]string{"cvv", "cvc", "cryptogram", "cavv", "authentication", "pin", "track"} {
		if strings.Contains(lk, p) {
			return true
		}
	}
	return false
}

// scrubDE48 removes secret subelements from Bank A's DE48 TLV
// (TT + LLL + value). ok is false when v is not well-formed TLV.
func scrubDE48(v string) (out string, ok, changed bool) {
	var b strings.Builder
	for i := 0; i < len(v); {
		if i+de48TagLen+de48LenLen > len(v) {
			return "", false, false
		}
		tag := v[i : i+de48TagLen]
		ls := v[i+de48TagLen : i+de48TagLen+de48LenLen]
		if !isDigits(tag) || !isDigits(ls) {
			return "", false, false
		}
		l := int(ls[0]-'0')*100 + int(ls[1]-'0')*10 + int(ls[2]-'0')
		end := i + de48TagLen + de48LenLen + l
		if end > len(v) {
			return "", false, false
		}
		if secretDE48Tag(tag) {
			changed = true
		} else {
			b.WriteString(v[i:end])
		}
		i = end
	}
	return b.String(), true, changed
}

// scrubDE126 blanks the CAVV/cryptogram (4-43) and CVV2 (88-91) positions.
func scrubDE126(v string) string {
	b := []byte(v)
	for i := 3; i < 43; i++ {
		b[i] = ' '
	}
	for i := 87; i < 91; i++ {
		b[i] = ' '
	}
	return string(b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cleanText bounds free text, makes it valid UTF-8 (PostgreSQL refuses
// anything else) and masks PAN-like runs in it.
func cleanText(s string) string {
	// A cheap first bound keeps the masking scan short; masking comes
	// before the final cut so that a PAN straddling it is still masked
	// (anything past 4×max is gone after the final cut anyway).
	s = truncateUTF8(s, 4*maxFreeTextLen)
	s = strings.ToValidUTF8(s, "\uFFFD")
	s, _ = cardvault.MaskPANsIn(s)
	return truncateUTF8(s, maxFreeTextLen)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
