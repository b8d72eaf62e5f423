package api

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxAmount is the largest amount in minor units (12 digits, DE4).
const MaxAmount = 999999999999

var (
	requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	uuidPattern      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	versionPattern   = regexp.MustCompile(`^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}$`)
	paymentIDPattern = regexp.MustCompile(`^pay_[0-9A-HJKMNP-TV-Z]{26}$`)
	safIDPattern     = regexp.MustCompile(`^saf_[0-9A-HJKMNP-TV-Z]{26}$`)
	ntidPattern      = regexp.MustCompile(`^[A-Za-z0-9]{1,15}$`)
)

// maxExpiryYears bounds how far in the future an expiry may lie; cards are
// issued for at most a few years, so a far expiry is a typo or a probe.
const maxExpiryYears = 20

// validator checks a request's fields in document order and keeps the first
// problem: the contract's error body names one field.
type validator struct {
	err *FieldError
	now time.Time // in the banks' time zone (Asia/Almaty)
}

func (v *validator) fail(field, format string, args ...any) {
	if v.err == nil {
		v.err = &FieldError{Field: field, Message: field + " " + fmt.Sprintf(format, args...)}
	}
}

func (v *validator) requestID(s string) {
	if !requestIDPattern.MatchString(s) {
		v.fail("request_id", "must be 1..64 characters of A-Z a-z 0-9 . _ : -")
	}
}

func (v *validator) amount(field string, a int64) {
	if a < 1 || a > MaxAmount {
		v.fail(field, "must be an integer from 1 to 999999999999 (minor units)")
	}
}

// ans checks printable ASCII text of min..max characters: these fields go
// into fixed ISO 8583 fields (DE41, DE42, DE43, DE48) that carry ASCII.
// Lengths are counted in characters (runes), as the contract says, so that
// a non-ASCII name gets the ASCII message, not a misleading length one.
func (v *validator) ans(field, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	switch {
	case s == "" && min > 0:
		v.fail(field, "is required")
	case n < min || n > max:
		if min == max {
			v.fail(field, "must be exactly %d characters", max)
		} else {
			v.fail(field, "must be %d to %d characters", min, max)
		}
	case !printableASCII(s):
		v.fail(field, "must be printable ASCII (%s is ans): transliterate", isoFieldOf(field))
	}
}

// isoFieldOf names the ISO 8583 field an ans request field is sent in.
func isoFieldOf(field string) string {
	switch field {
	case "merchant.name", "merchant.city":
		return "DE43"
	case "merchant.id":
		return "DE42"
	case "merchant.terminal_id":
		return "DE41"
	default:
		return "the ISO 8583 field it goes to"
	}
}

func (v *validator) digits(field, s string, n int) {
	if len(s) != n || !isDigits(s) {
		v.fail(field, "must be %d digits", n)
	}
}

// text checks free text of at most max characters (Unicode allowed).
func (v *validator) text(field, s string, max int) {
	if utf8.RuneCountInString(s) > max {
		v.fail(field, "must be at most %d characters", max)
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			v.fail(field, "must not contain control characters")
			return
		}
	}
}

// pan checks a PAN or network token: 13..19 digits, Luhn-valid. The value is
// never put into the message.
func (v *validator) pan(field, s string) {
	switch {
	case s == "":
		v.fail(field, "is required")
	case len(s) < 13 || len(s) > 19 || !isDigits(s):
		v.fail(field, "must be 13 to 19 digits")
	case !luhnValid(s):
		v.fail(field, "fails the Luhn check")
	}
}

// expiry checks YYMM, not before the current month in the banks' time zone.
func (v *validator) expiry(field, s string) {
	if len(s) != 4 || !isDigits(s) {
		v.fail(field, "must be YYMM")
		return
	}
	yy := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[2]-'0')*10 + int(s[3]-'0')
	if mm < 1 || mm > 12 {
		v.fail(field, "must be YYMM with a month from 01 to 12")
		return
	}
	year := 2000 + yy
	cur := v.now.Year()*12 + int(v.now.Month()) - 1
	exp := year*12 + mm - 1
	switch {
	case exp < cur:
		v.fail(field, "is in the past")
	case exp > cur+maxExpiryYears*12:
		v.fail(field, "is more than %d years ahead", maxExpiryYears)
	}
}

func (v *validator) base64Max(field, s string, max int) {
	switch {
	case s == "":
		v.fail(field, "is required")
	case len(s) > max:
		v.fail(field, "must be at most %d characters", max)
	default:
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			v.fail(field, "must be base64")
		}
	}
}

func (v *validator) oneOf(field, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	if s == "" {
		v.fail(field, "is required")
		return
	}
	v.fail(field, "must be one of %s", strings.Join(allowed, ", "))
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func luhnValid(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
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

// maskPAN masks a PAN as first 6 + last 4.
func maskPAN(pan string) string {
	if len(pan) < 13 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// maskDigitRuns masks every run of 13 or more digits in s as 6+4, so no
// full PAN can pass through text the API echoes or logs.
func maskDigitRuns(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 13 {
			b.WriteString(maskPAN(s[end-run : end]))
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	return b.String()
}

// validateAuthorize checks every field rule of POST /v1/payments in the
// order of the contract and converts the body to the engine's request.
func (s *Server) validateAuthorize(b *authorizeBody, client string) (AuthorizeRequest, *FieldError) {
	v := &validator{now: s.now().In(s.loc)}
	v.requestID(b.RequestID)
	v.oneOf("type", b.Type, "purchase", "preauth")
	v.amount("amount", b.Amount)
	if b.Currency == "" {
		v.fail("currency", "is required")
	} else if !s.currencies.Known(b.Currency) {
		v.fail("currency", "is not a currency the switch knows (ISO 4217 alpha-3, upper case)")
	}
	if m := b.Merchant; m == nil {
		v.fail("merchant", "is required")
	} else {
		v.ans("merchant.id", m.ID, 1, 15)
		v.ans("merchant.terminal_id", m.TerminalID, 8, 8)
		v.digits("merchant.mcc", m.MCC, 4)
		v.ans("merchant.name", m.Name, 1, 22)
		v.ans("merchant.city", m.City, 1, 13)
		if !knownCountry(m.Country) {
			v.fail("merchant.country", "must be an ISO 3166 alpha-2 code in upper case")
		}
		if m.SubMerchantID != "" {
			v.ans("merchant.sub_merchant_id", m.SubMerchantID, 1, 15)
		}
	}
	mit := b.StoredCredential != nil && b.StoredCredential.Initiator == "merchant"
	switch {
	case b.Card == nil && b.NetworkToken == nil:
		v.fail("card", "or network_token is required")
	case b.Card != nil && b.NetworkToken != nil:
		v.fail("card", "and network_token are mutually exclusive; send exactly one")
	case b.Card != nil:
		c := b.Card
		v.pan("card.pan", c.PAN)
		v.expiry("card.expiry", c.Expiry)
		if c.CVV != "" {
			if (len(c.CVV) != 3 && len(c.CVV) != 4) || !isDigits(c.CVV) {
				v.fail("card.cvv", "must be 3 or 4 digits")
			} else if mit {
				v.fail("card.cvv", "must be absent on a merchant-initiated payment")
			}
		}
		if c.Holder != "" {
			v.ans("card.holder", c.Holder, 1, 26)
		}
	default:
		t := b.NetworkToken
		v.pan("network_token.token", t.Token)
		v.expiry("network_token.expiry", t.Expiry)
		v.base64Max("network_token.cryptogram", t.Cryptogram, 40)
		v.oneOf("network_token.wallet", t.Wallet, "apple_pay", "google_pay")
		if t.ECI != "" {
			v.digits("network_token.eci", t.ECI, 2)
		}
	}
	if d := b.ThreeDS; d != nil {
		v.digits("three_ds.eci", d.ECI, 2)
		v.base64Max("three_ds.authentication_value", d.AuthenticationValue, 40)
		if d.DSTransactionID != "" && !uuidPattern.MatchString(d.DSTransactionID) {
			v.fail("three_ds.ds_transaction_id", "must be a UUID")
		}
		if d.Version != "" && !versionPattern.MatchString(d.Version) {
			v.fail("three_ds.version", "must look like 2.2.0")
		}
	}
	if sc := b.StoredCredential; sc != nil {
		v.oneOf("stored_credential.initiator", sc.Initiator, "cardholder", "merchant")
		v.oneOf("stored_credential.type", sc.Type, "one_click", "recurring", "unscheduled")
		v.oneOf("stored_credential.sequence", sc.Sequence, "initial", "subsequent")
		switch {
		case sc.NetworkTransactionID != "" && !ntidPattern.MatchString(sc.NetworkTransactionID):
			v.fail("stored_credential.network_transaction_id", "must be 1 to 15 letters or digits")
		case sc.NetworkTransactionID == "" && sc.Initiator == "merchant" && sc.Sequence == "subsequent":
			v.fail("stored_credential.network_transaction_id", "is required on a merchant-initiated subsequent payment")
		}
	}
	v.text("order_id", b.OrderID, 64)
	v.text("description", b.Description, 256)
	if v.err != nil {
		return AuthorizeRequest{}, v.err
	}
	req := AuthorizeRequest{
		Client:           client,
		RequestID:        b.RequestID,
		Type:             b.Type,
		Amount:           b.Amount,
		Currency:         b.Currency,
		Merchant:         *b.Merchant,
		Card:             b.Card,
		NetworkToken:     b.NetworkToken,
		ThreeDS:          b.ThreeDS,
		StoredCredential: b.StoredCredential,
		OrderID:          b.OrderID,
		Description:      b.Description,
	}
	return req, nil
}

// validateOperation checks capture, void and refund bodies.
func validateOperation(b *operationBody, amountRequired bool) *FieldError {
	v := &validator{}
	v.requestID(b.RequestID)
	switch {
	case b.Amount != nil:
		v.amount("amount", *b.Amount)
	case amountRequired:
		v.fail("amount", "is required")
	}
	return v.err
}
