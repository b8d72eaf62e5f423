// Package bankmsg is the switch's typed model of what it says to a bank and
// what a bank answers, and the per-dialect mapping between that model and
// ISO 8583 messages. Which MTI, processing code and fields an operation uses
// comes from the dialect's data in package specs.
package bankmsg

import (
	"fmt"
	"strings"
	"time"

	"github.com/acquirer/h2hswitch/specs"
)

// CardSource is how the card data was captured; the dialect maps it to its
// DE22 value (Bank A 810/812/102, Bank B 812/817/100).
type CardSource string

const (
	SourceKeyed            CardSource = "keyed"              // e-commerce, PAN keyed by the cardholder
	SourceNetworkToken     CardSource = "network_token"      // network token with cryptogram (wallets)
	SourceCredentialOnFile CardSource = "credential_on_file" // stored card, any initiator
)

// Request is one message the switch originates towards a bank.
type Request struct {
	Op     specs.Op
	Repeat bool // 0401 / 0121 / 0221 / 0421: same STAN and content, new DE7

	STAN             string    // DE11, 6 digits, allocated by the bank link
	RRN              string    // DE37, 12 digits
	TransmissionTime time.Time // DE7, sent as UTC MMDDhhmmss
	LocalTime        time.Time // DE12/DE13, sent in the bank's time zone (Asia/Almaty)

	PAN        string // DE2; never logged
	Expiry     string // DE14, YYMM
	CardSource CardSource
	// MerchantInitiated selects DE25 08 instead of 59.
	MerchantInitiated bool

	Amount          int64  // DE4, minor units
	CurrencyNumeric string // DE49, ISO 4217 numeric, e.g. "398"

	MCC        string // DE18
	AcquirerID string // DE32
	TerminalID string // DE41
	MerchantID string // DE42
	// DE43: name (<=25), city (<=13), country alpha-2.
	MerchantName    string
	MerchantCity    string
	MerchantCountry string
	SubMerchantID   string // A: DE48 tag 30; B: DE63

	AuthCode     string // DE38 on completions and stand-in advices
	ResponseCode string // DE39 on stand-in advices ("00")

	Original *Original // DE90 on completions, refunds, reversals, advices
	// Replacement is DE95: the amount that stays authorized after a partial
	// reversal. Nil for a full reversal.
	Replacement *int64

	ThreeDS          *ThreeDS
	Wallet           *Wallet
	StoredCredential *StoredCredential
	// CVV is sent once (A: DE48 tag 92, B: DE126 pos 88-91) and never
	// journaled. Empty when absent.
	CVV string

	NetworkCode string // DE70 for network management; set by the mapping from Op
}

// Original identifies the message a completion, refund, reversal or advice
// refers to (DE90).
type Original struct {
	MTI              string
	STAN             string
	TransmissionTime time.Time
	AcquirerID       string // empty: the request's own AcquirerID
	// ProcessingCode is the original's DE3, which a reversal repeats
	// (e.g. 200000 when reversing a Bank A online refund). Empty means
	// 000000. Not part of DE90.
	ProcessingCode string
}

// ThreeDS is 3-D Secure authentication data.
type ThreeDS struct {
	ECI                 string // 2 digits
	AuthenticationValue string // CAVV/AAV, never logged
	DSTransactionID     string // UUID, 36 chars
	Version             string // e.g. "2.2.0"
}

// Wallet is network-token payment data from Apple Pay / Google Pay.
type Wallet struct {
	Kind       string // "apple_pay" or "google_pay"
	Cryptogram string // never logged or journaled
	ECI        string
}

// StoredCredential describes a credential-on-file payment.
type StoredCredential struct {
	Initiator            string // "cardholder" or "merchant"
	Type                 string // "one_click", "recurring", "unscheduled"
	Sequence             string // "initial" or "subsequent"
	NetworkTransactionID string // required on merchant-initiated subsequent
}

// Response is a bank's answer, decoded from its ISO message.
type Response struct {
	MTI                  string
	STAN                 string // DE11
	RRN                  string // DE37
	ProcessingCode       string // DE3
	Amount               int64  // DE4
	CurrencyNumeric      string // DE49
	TransmissionTime     time.Time
	TerminalID           string
	MerchantID           string
	ResponseCode         string // DE39, the bank's own code
	AuthCode             string // DE38
	NetworkTransactionID string // A: DE48 tag 22; B: DE62
	NetworkCode          string // DE70
}

// String describes r for logs and error messages: operation, STAN, RRN,
// amount and the card masked 6+4. The CVV, the 3-D Secure authentication
// value and the wallet cryptogram are never included, so that a Request
// that ends up in a log line through %v or %+v leaks no card data.
func (r Request) String() string {
	return fmt.Sprintf("bankmsg.Request{op=%s repeat=%t stan=%s rrn=%s card=%s amount=%d currency=%s}",
		r.Op, r.Repeat, r.STAN, r.RRN, maskPAN(r.PAN), r.Amount, r.CurrencyNumeric)
}

// GoString makes %#v as safe as %v.
func (r Request) GoString() string { return r.String() }

// String hides the authentication value.
func (t ThreeDS) String() string {
	return fmt.Sprintf("bankmsg.ThreeDS{eci=%s version=%s}", t.ECI, t.Version)
}

// GoString makes %#v as safe as %v.
func (t ThreeDS) GoString() string { return t.String() }

// String hides the token cryptogram.
func (w Wallet) String() string { return fmt.Sprintf("bankmsg.Wallet{kind=%s eci=%s}", w.Kind, w.ECI) }

// GoString makes %#v as safe as %v.
func (w Wallet) GoString() string { return w.String() }

// maskPAN returns a PAN as its first 6 and last 4 digits with the rest
// starred; anything shorter than 13 characters is starred whole.
func maskPAN(pan string) string {
	if len(pan) < 13 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}
