// Package recon reconciles the switch's journal against the banks' daily
// clearing files and computes what the processor owes each merchant.
//
// A run takes one clearing file of one bank (Bank A CSV or Bank B fixed
// width, read with specs/clearing), matches every row to the journal by the
// keys that bank's file offers, classifies it (matched, amount_mismatch,
// unknown_in_journal, duplicate_in_clearing, ...), then classifies every
// journal transaction that was due on that settlement day but did not
// appear (missing_in_clearing). Results are stored per run in a small store
// of this package (recon_runs, recon_items) so that a re-run of the same file
// changes nothing and a second, different file for the same bank and day is
// refused unless forced. Settlement aggregates the stored items of a
// settlement day per merchant and currency. docs/recon.md is the rule book.
package recon

import (
	"errors"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// Category is the reconciliation outcome of one clearing row or one journal
// transaction.
type Category string

// Categories. Breaks need an operator; the others do not.
const (
	// Matched: the row matches a journal transaction by key, amount and
	// currency, on the settlement day the calendar predicts.
	Matched Category = "matched"
	// SettledOnOtherDay: matched, but cleared on another settlement day than
	// the cut-off and calendar predict.
	SettledOnOtherDay Category = "settled_on_other_day"
	// AmountMismatch: matched by key, but the amount or currency differs
	// from what the journal expects (remaining amount after partial voids,
	// captured amount of a completion, a refund's amount).
	AmountMismatch Category = "amount_mismatch"
	// AuthCodeMismatch: Bank A row whose RRN matches a payment approved
	// under another authorization code.
	AuthCodeMismatch Category = "auth_code_mismatch"
	// MissingInClearing: approved, not reversed, due on this settlement day
	// and absent from the file (sales and refunds).
	MissingInClearing Category = "missing_in_clearing"
	// UnknownInJournal: a sale row no journal transaction matches.
	UnknownInJournal Category = "unknown_in_journal"
	// DuplicateInClearing: a second row for a transaction already matched
	// (in this file or in an earlier day's file).
	DuplicateInClearing Category = "duplicate_in_clearing"
	// ReversedButCleared: the journal says the transaction was voided or
	// reversed (or declined), yet the bank cleared it.
	ReversedButCleared Category = "reversed_but_cleared"
	// RefundMatched: a refund row matched to the journal's refund and its
	// original payment.
	RefundMatched Category = "refund_matched"
	// RefundUnknown: a refund row the journal has no refund for.
	RefundUnknown Category = "refund_unknown"
	// Chargeback: the issuer disputed a sale; linked to its original when
	// the journal knows it.
	Chargeback Category = "chargeback"
	// ChargebackReversal: a chargeback undone in the merchant's favour.
	ChargebackReversal Category = "chargeback_reversal"
	// MerchantMismatch: a row that matches a journal transaction by its
	// keys but names another merchant or terminal than the journal. The
	// money is held: paying the merchant the bank names would pay the wrong
	// merchant.
	MerchantMismatch Category = "merchant_mismatch"
	// ChargebackOverAmount: a chargeback that would take the chargebacks of
	// a sale (net of their reversals) above the sale's amount, or a
	// chargeback reversal that would take the reversals above the
	// chargebacks. Held.
	ChargebackOverAmount Category = "chargeback_over_amount"
	// PreauthUncaptured: a pre-authorization never captured. Informational:
	// it is not expected in clearing.
	PreauthUncaptured Category = "preauth_uncaptured"
	// VoidedNotCleared: a fully voided payment, correctly absent.
	// Informational.
	VoidedNotCleared Category = "voided_not_cleared"
)

// Categories returns every category in report order (a fresh slice).
func Categories() []Category {
	return []Category{
		Matched, SettledOnOtherDay, RefundMatched, Chargeback, ChargebackReversal,
		AmountMismatch, AuthCodeMismatch, MerchantMismatch, MissingInClearing, UnknownInJournal,
		DuplicateInClearing, ReversedButCleared, RefundUnknown, ChargebackOverAmount,
		PreauthUncaptured, VoidedNotCleared,
	}
}

// IsBreak reports whether c needs an operator's attention.
func (c Category) IsBreak() bool {
	switch c {
	case AmountMismatch, AuthCodeMismatch, MerchantMismatch, MissingInClearing, UnknownInJournal,
		DuplicateInClearing, ReversedButCleared, RefundUnknown, ChargebackOverAmount:
		return true
	}
	return false
}

// Informational reports whether c describes a journal transaction that is
// correctly absent from the file.
func (c Category) Informational() bool { return c == PreauthUncaptured || c == VoidedNotCleared }

// Kind is what a row or transaction is, in money terms.
type Kind string

// Kinds.
const (
	KindSale               Kind = "sale"
	KindRefund             Kind = "refund"
	KindChargeback         Kind = "chargeback"
	KindChargebackReversal Kind = "chargeback_reversal"
)

// Item is one reconciliation outcome: a clearing row with what it matched,
// or a journal transaction the file lacks. Card numbers are masked (6+4).
type Item struct {
	Seq      int64    // order within the run
	Category Category //
	Kind     Kind
	// Line is the clearing file line of the row (1-based), 0 for a journal
	// transaction absent from the file.
	Line int64
	// PaymentID and OperationID are the journal payment and, for refunds
	// and completions, the operation that matched ("" when unknown).
	PaymentID   string
	OperationID string

	// MerchantID and TerminalID are the journal's for a row linked to a
	// journal payment (settlement pays the merchant the switch authorized
	// for, never the one a row names; a row naming another is a
	// merchant_mismatch whose note records the row's values), the row's
	// otherwise.
	MerchantID string
	TerminalID string
	MaskedPAN  string
	RRN        string // A: row RRN; B and missing items: the journal's
	STAN       string
	AuthCode   string
	OperDate   calendar.Date
	OperTime   string // HH:MM:SS, bank time
	Currency   string // alpha-3

	Amount       int64 // cleared amount, minor units (0 for missing items)
	Fee          int64 // bank fee
	SettleAmount int64 // what the bank pays (signed)
	// ExpectedAmount is what the journal expects to clear (0 when the row
	// is unknown to the journal).
	ExpectedAmount int64
	// ExpectedDate is the settlement day the calendar predicts for the
	// journal transaction (zero when unknown).
	ExpectedDate calendar.Date
	// Payable marks rows whose money flows to the merchant's settlement:
	// confirmed sales, every debit (refund, chargeback) and chargeback
	// reversals. A sale with a break is held (not payable) until resolved.
	Payable bool
	Note    string
}

// Summary counts a run's items per category.
type Summary struct {
	Rows    int64                      // clearing rows read
	Journal int64                      // journal transactions in scope
	Counts  map[Category]int64         // items per category
	Amounts map[Category]int64         // cleared (or expected, for missing) amounts per category, all currencies summed in minor units
	ByCcy   map[string]map[Category]CA // per currency
	Breaks  int64                      // items whose category IsBreak
}

// CA is a count and an amount.
type CA struct {
	Count  int64 `json:"count"`
	Amount int64 `json:"amount"`
}

func newSummary() Summary {
	return Summary{Counts: map[Category]int64{}, Amounts: map[Category]int64{}, ByCcy: map[string]map[Category]CA{}}
}

func (s *Summary) add(it *Item) {
	amt := it.Amount
	if it.Line == 0 {
		amt = it.ExpectedAmount
	}
	s.Counts[it.Category]++
	s.Amounts[it.Category] += amt
	m := s.ByCcy[it.Currency]
	if m == nil {
		m = map[Category]CA{}
		s.ByCcy[it.Currency] = m
	}
	ca := m[it.Category]
	ca.Count++
	ca.Amount += amt
	m[it.Category] = ca
	if it.Category.IsBreak() {
		s.Breaks++
	}
}

// Run describes one accepted clearing file.
type Run struct {
	ID         string
	Bank       string
	SettleDate calendar.Date
	FileName   string
	FileHash   string // hex SHA-256 of the file's bytes
	Rows       int64
	Forced     bool // it replaced an earlier file of the same bank and day
	StartedAt  time.Time
	FinishedAt time.Time
	Summary    Summary
}

// Result is what Service.Run returns.
type Result struct {
	Run Run
	// Replayed is set when the same file had already been reconciled: the
	// stored result is returned and nothing was written.
	Replayed bool
	// Breaks are the run's break items, at most Options.MaxBreaks of them
	// (all of them are in the store and in the reports).
	Breaks []Item
	// BreaksTruncated is set when Breaks was cut at the bound.
	BreaksTruncated bool
}

// Errors of Service.Run; test with errors.Is.
var (
	// ErrAlreadyReconciled: another file was already accepted for this bank
	// and settlement day; pass Force to replace it.
	ErrAlreadyReconciled = errors.New("recon: a different clearing file was already reconciled for this bank and settlement day")
	// ErrUnknownBank: the bank is not configured.
	ErrUnknownBank = errors.New("recon: unknown bank")
	// ErrFileTooLarge: the file exceeds Config.MaxFileBytes.
	ErrFileTooLarge = errors.New("recon: clearing file too large")
	// ErrBadRequest: invalid run options (e.g. a file name that contradicts
	// the file's settlement date).
	ErrBadRequest = errors.New("recon: invalid request")
)
