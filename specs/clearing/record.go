// Package clearing reads and writes the banks' daily clearing files: Bank A's
// CSV (A_CLR_<YYYYMMDD>.csv) and Bank B's fixed-width file (B<YYYYMMDD>.DAT),
// as specified in the "Daily clearing file" sections of the contract.
//
// Both formats map onto one Record model. Writers stream: Write one Record at
// a time, Close writes the trailer computed from what was written. Readers
// stream too and validate as they go: Next returns only well-formed rows, and
// Err, checked after Next returns false, reports every malformed line (up to
// a bound) and any trailer disagreement. A file is accepted only if Err is
// nil once Next has returned false; otherwise the caller must discard every
// row it read from that file, because the bank's rule is that such a file is
// rejected whole. Validate* run that loop without keeping rows.
//
// Errors never quote field contents: a hostile or misaligned file could put a
// full PAN in any column.
package clearing

import (
	"fmt"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// Type is the kind of a clearing row.
type Type uint8

// The clearing row types of both banks.
const (
	Purchase           Type = iota + 1 // A PURCHASE, B 05 sale
	Refund                             // A REFUND, B 06
	Chargeback                         // A CHARGEBACK, B 15
	ChargebackReversal                 // A CHARGEBACK_REVERSAL, B 35
)

// String returns the Bank A spelling of t (PURCHASE, REFUND, ...).
func (t Type) String() string {
	switch t {
	case Purchase:
		return "PURCHASE"
	case Refund:
		return "REFUND"
	case Chargeback:
		return "CHARGEBACK"
	case ChargebackReversal:
		return "CHARGEBACK_REVERSAL"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Valid reports whether t is one of the four row types.
func (t Type) Valid() bool { return t >= Purchase && t <= ChargebackReversal }

// SettleSign returns how a row of type t moves money for the processor:
// +1 when the bank pays (purchase, chargeback reversal), -1 when the
// processor owes (refund, chargeback).
func (t Type) SettleSign() int64 {
	if t == Refund || t == Chargeback {
		return -1
	}
	return 1
}

// ExpectedSettle returns the settlement amount the contract prescribes for a
// row of type t: amount − fee for purchases, −amount for refunds and
// chargebacks, +amount for chargeback reversals (minor units).
func (t Type) ExpectedSettle(amount, fee int64) int64 {
	switch t {
	case Purchase:
		return amount - fee
	case Refund, Chargeback:
		return -amount
	}
	return amount
}

// TimeOfDay is a local clock time with one-second resolution.
type TimeOfDay struct {
	Hour, Minute, Second uint8
}

// TimeOfDayOf returns the clock time of t in t's own location.
func TimeOfDayOf(t time.Time) TimeOfDay {
	return TimeOfDay{Hour: uint8(t.Hour()), Minute: uint8(t.Minute()), Second: uint8(t.Second())}
}

// Valid reports whether c is between 00:00:00 and 23:59:59.
func (c TimeOfDay) Valid() bool { return c.Hour < 24 && c.Minute < 60 && c.Second < 60 }

// String formats c as HH:MM:SS.
func (c TimeOfDay) String() string {
	return string(appendClock(make([]byte, 0, 8), c, ':'))
}

// On returns the instant of c on date d in loc.
func (c TimeOfDay) On(d calendar.Date, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, int(c.Hour), int(c.Minute), int(c.Second), 0, loc)
}

// Record is one clearing row in either bank's file. Amounts are in minor
// units of Currency. Fields a format does not carry are empty: Bank B has no
// RRN and no OrigRRN; Bank A has no OrigAuthCode and no OrigSTAN.
type Record struct {
	Type       Type
	RRN        string // DE37, 12 alphanumerics (A only)
	AuthCode   string // DE38, 6 alphanumerics; empty for refunds
	STAN       string // DE11, 6 digits
	TerminalID string // DE41, 1..8 characters, no padding
	MerchantID string // DE42, 1..15 characters, no padding
	MaskedPAN  string // first 6 + '*'... + last 4, 12..19 characters

	OperDate calendar.Date // local date of the message named by STAN
	OperTime TimeOfDay     // local time of that message

	Amount       int64 // absolute, ≥ 0
	Currency     Currency
	Fee          int64 // ≥ 0
	SettleAmount int64 // signed: > 0 the bank pays the processor
	SettleDate   calendar.Date

	OrigRRN      string // A: RRN of the purchase a refund/chargeback refers to
	OrigAuthCode string // B: auth code of that purchase
	OrigSTAN     string // B: STAN of that purchase
}
