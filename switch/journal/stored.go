package journal

import (
	"strings"
	"time"
	"unicode/utf8"
)

// CheckMessage reports whether AppendMessage would refuse m before it
// reaches the database (direction, MTI, field lengths). A caller that wants
// a message logged in the same Write as a money record checks it first, so
// that a malformed log entry can never block the record itself.
func CheckMessage(m *Message) error {
	if m == nil {
		return invalid("nil message")
	}
	if m.Direction != DirIn && m.Direction != DirOut {
		return invalid("message direction %q", m.Direction)
	}
	if len(m.MTI) != 4 || !isDigits(m.MTI) {
		return invalid("message MTI %q", cleanText(m.MTI))
	}
	return checkLengths("message", m.PaymentID, m.OperationID, m.Bank, m.STAN)
}

// StoredPayment returns a copy of p as reading it back from the journal
// would after it was written: free text masked and bounded as stored, text
// made valid UTF-8 without NUL, times at microsecond precision in UTC. The
// engine answers from it instead of re-reading the payment after a write.
func StoredPayment(p *Payment) *Payment {
	c := *p
	c.OrderID, c.Description, c.Reason = cleanText(p.OrderID), cleanText(p.Description), cleanText(p.Reason)
	for _, s := range []*string{
		&c.OrderID, &c.Description, &c.Reason, &c.Client, &c.RequestID, &c.Currency,
		&c.Merchant.ID, &c.Merchant.TerminalID, &c.Merchant.MCC, &c.Merchant.Name, &c.Merchant.City,
		&c.Merchant.Country, &c.Merchant.SubMerchantID,
		&c.Card.MaskedPAN, &c.Card.Brand, &c.Card.PANHash, &c.Card.Source, &c.Card.Wallet,
		&c.Bank, &c.Route, &c.AcquirerID, &c.STAN, &c.RRN, &c.AuthCode, &c.ResponseCode,
		&c.BankResponseCode, &c.NetworkTransactionID,
	} {
		*s = storedText(*s)
	}
	c.Card.Ciphertext = append([]byte(nil), p.Card.Ciphertext...)
	c.TransmissionTime, c.LocalTime = storedTime(p.TransmissionTime), storedTime(p.LocalTime)
	c.CreatedAt, c.UpdatedAt = storedTime(p.CreatedAt), storedTime(p.UpdatedAt)
	return &c
}

// StoredOperation is StoredPayment for an operation.
func StoredOperation(op *Operation) *Operation {
	c := *op
	c.Reason, c.LastError = cleanText(op.Reason), cleanText(op.LastError)
	for _, s := range []*string{
		&c.Reason, &c.LastError, &c.ID, &c.PaymentID, &c.RequestID, &c.RefOperationID, &c.Bank, &c.MTI, &c.STAN, &c.RRN,
		&c.Currency, &c.AuthCode, &c.ResponseCode, &c.BankResponseCode,
	} {
		*s = storedText(*s)
	}
	c.TransmissionTime, c.LocalTime = storedTime(op.TransmissionTime), storedTime(op.LocalTime)
	c.NextAttemptAt = storedTime(op.NextAttemptAt)
	c.CreatedAt, c.UpdatedAt = storedTime(op.CreatedAt), storedTime(op.UpdatedAt)
	return &c
}

// storedText is what textArgs makes of a string argument.
func storedText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// storedTime is a time as toUS/fromUS round-trip it.
func storedTime(t time.Time) time.Time { return fromUS(toUS(t)) }
