package clearing

import "github.com/acquirer/h2hswitch/specs/calendar"

// MaxAmount is the largest amount, fee or settlement amount of one row, in
// minor units: Bank B's 12-digit field. Bank A rows are held to the same
// bound so that running totals cannot overflow.
const MaxAmount = 999_999_999_999

// maxFee is Bank B's 10-digit fee field.
const maxFee = 9_999_999_999

// maxTotal bounds every running total a reader or writer keeps: Bank B's
// 15-digit trailer fields. Far below the int64 limit, so one more row
// (≤ MaxAmount) can be added before the check without overflowing.
const maxTotal = 999_999_999_999_999

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// isID reports whether s is 1..max printable ASCII characters without spaces
// or the CSV separator.
func isID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == ';' {
			return false
		}
	}
	return true
}

// isMaskedPAN reports whether s is a masked PAN: 6 digits, at least two '*',
// 4 digits, 12..19 characters in all. Anything else, a full PAN included, is
// refused.
func isMaskedPAN(s string) bool {
	if len(s) < 12 || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i < 6 || i >= len(s)-4 {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != '*' {
			return false
		}
	}
	return true
}

const (
	msgRRN        = "want 12 letters or digits"
	msgAuth       = "want 6 letters or digits"
	msgAuthEmpty  = "must be empty for a refund"
	msgAuthNeeded = "want 6 letters or digits for a purchase"
	msgSTAN       = "want 6 digits"
	msgTID        = "want 1-8 printable characters without spaces"
	msgMID        = "want 1-15 printable characters without spaces"
	msgPAN        = "want a masked PAN: 6 digits, '*' fill, 4 digits, 12-19 characters"
	msgTime       = "want a valid time of day"
)

// checkCommon validates what both formats require of a Record before it is
// written. Format-specific fields are checked by each writer.
func checkCommon(r *Record, settleDate calendar.Date) error {
	switch {
	case !r.Type.Valid():
		return fieldError("Type", "unknown row type")
	case r.Type == Purchase && !isAlnum(r.AuthCode, 6):
		return fieldError("AuthCode", msgAuthNeeded)
	case r.Type == Refund && r.AuthCode != "":
		return fieldError("AuthCode", msgAuthEmpty)
	case r.AuthCode != "" && !isAlnum(r.AuthCode, 6):
		return fieldError("AuthCode", msgAuth)
	case !isDigits(r.STAN, 6):
		return fieldError("STAN", msgSTAN)
	case !isID(r.TerminalID, 8):
		return fieldError("TerminalID", msgTID)
	case !isID(r.MerchantID, 15):
		return fieldError("MerchantID", msgMID)
	case !isMaskedPAN(r.MaskedPAN):
		return fieldError("MaskedPAN", msgPAN)
	case !r.OperDate.Valid():
		return fieldError("OperDate", "want a valid date")
	case !r.OperTime.Valid():
		return fieldError("OperTime", msgTime)
	case r.Amount < 0 || r.Amount > MaxAmount:
		return fieldError("Amount", "want 0..999999999999 minor units")
	case !r.Currency.supported():
		return fieldError("Currency", "unsupported currency")
	case r.Fee < 0 || r.Fee > maxFee:
		return fieldError("Fee", "want 0..9999999999 minor units")
	case r.SettleAmount != r.Type.ExpectedSettle(r.Amount, r.Fee):
		return fieldError("SettleAmount", settleRule(r.Type))
	case r.SettleAmount < -MaxAmount || r.SettleAmount > MaxAmount:
		return fieldError("SettleAmount", "magnitude above 999999999999 minor units")
	case r.SettleDate != settleDate:
		return fieldError("SettleDate", "differs from the file's settlement date")
	}
	return nil
}

func settleRule(t Type) string {
	switch t {
	case Purchase:
		return "want amount minus fee for a purchase"
	case Refund, Chargeback:
		return "want minus amount for a refund or chargeback"
	}
	return "want plus amount for a chargeback reversal"
}

func appendClock(b []byte, c TimeOfDay, sep byte) []byte {
	b = append(b, '0'+c.Hour/10, '0'+c.Hour%10)
	if sep != 0 {
		b = append(b, sep)
	}
	b = append(b, '0'+c.Minute/10, '0'+c.Minute%10)
	if sep != 0 {
		b = append(b, sep)
	}
	return append(b, '0'+c.Second/10, '0'+c.Second%10)
}

// parseClock parses HHMMSS (sep 0) or HH:MM:SS.
func parseClock(s string, sep byte) (TimeOfDay, bool) {
	var h, m, sec string
	if sep == 0 {
		if len(s) != 6 {
			return TimeOfDay{}, false
		}
		h, m, sec = s[0:2], s[2:4], s[4:6]
	} else {
		if len(s) != 8 || s[2] != sep || s[5] != sep {
			return TimeOfDay{}, false
		}
		h, m, sec = s[0:2], s[3:5], s[6:8]
	}
	if !isDigits(h, 2) || !isDigits(m, 2) || !isDigits(sec, 2) {
		return TimeOfDay{}, false
	}
	c := TimeOfDay{
		Hour:   (h[0]-'0')*10 + h[1] - '0',
		Minute: (m[0]-'0')*10 + m[1] - '0',
		Second: (sec[0]-'0')*10 + sec[1] - '0',
	}
	return c, c.Valid()
}
