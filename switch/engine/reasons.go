package engine

// Reason is a bank's DE39 mapped onto the normalized reasons of
// reason-codes.md.
type Reason struct {
	Reason       string // e.g. "insufficient_funds"
	ReasonCode   int    // e.g. 5051
	ResponseCode string // normalized ISO code, e.g. "51"
	// BankResponseCode is the bank's own code when it differs from
	// ResponseCode ("N7" for incorrect_cvv at Bank B), else "".
	BankResponseCode string
}

// Approved reports whether the reason is an approval.
func (r Reason) Approved() bool { return r.ResponseCode == "00" }

// ReasonMapper maps a bank's DE39 in a dialect onto a Reason (specs/reasons
// holds the tables; cmd/switchd passes an adapter).
type ReasonMapper interface {
	Map(dialect, bankCode string) Reason
}

// ReasonFunc adapts a function to ReasonMapper.
type ReasonFunc func(dialect, bankCode string) Reason

// Map calls f.
func (f ReasonFunc) Map(dialect, bankCode string) Reason { return f(dialect, bankCode) }

// issuerUnavailable is the switch's own decline when no bank answered or
// none was available (reason-codes.md: 91 / 5091).
func issuerUnavailable(bankCode string) Reason {
	return Reason{Reason: "issuer_unavailable", ReasonCode: 5091, ResponseCode: "91", BankResponseCode: bankCode}
}

// systemError is the switch's own decline when it cannot build a message
// or read an answer (96 / 5096).
func systemError() Reason {
	return Reason{Reason: "system_error", ReasonCode: 5096, ResponseCode: "96"}
}

func (e *Engine) reason(b *Bank, bankCode string) Reason {
	r := e.reasons.Map(b.Dialect.Name, bankCode)
	if r.ResponseCode == "" {
		// A mapper that does not know the code: reason-codes.md says any
		// unlisted code is do_not_honor.
		r = Reason{Reason: "do_not_honor", ReasonCode: 5005, ResponseCode: "05"}
	}
	if r.ResponseCode != bankCode {
		r.BankResponseCode = bankCode
	} else {
		r.BankResponseCode = ""
	}
	return r
}
