package recon

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// Format is a bank's clearing file format.
type Format int

// Formats.
const (
	FormatA Format = iota + 1 // Bank A CSV, matched by RRN (+ auth code)
	FormatB                   // Bank B fixed width, matched by terminal + local date + STAN + auth code
)

// expectation of a journal payment in a clearing file.
const (
	expClear   = ""         // expected as a sale row
	expNotInSc = "declined" // declined or pending: never expected, never in scope
)

// entry is one journal payment in the index.
type entry struct {
	t         *Txn
	exp       Category // expClear, PreauthUncaptured, VoidedNotCleared or expNotInSc
	expDay    calendar.Date
	expAmount int64
	// clearSTAN / clearDate are the key of the sale row: the purchase's, or
	// the completion's for a completed pre-authorization.
	clearSTAN string
	clearDate calendar.Date
	clearTime string
	inScope   bool
	matched   int32
	next      *entry // Bank B: other payments with the same terminal+STAN+auth code
}

// refEntry is one refund in the index.
type refEntry struct {
	e       *entry
	op      *TxnOp
	expDay  calendar.Date
	date    calendar.Date
	time    string
	inScope bool
	matched int32
	next    *refEntry
}

// priorChecker answers whether a payment (sale) or refund operation was
// already matched by a run of another settlement day of the same bank.
type priorChecker interface {
	clearedElsewhere(ctx context.Context, paymentID, operationID string) (bool, error)
}

// matcher holds the index of one run.
type matcher struct {
	format  Format
	cal     *calendar.Calendar
	settle  calendar.Date
	src     Source
	prior   priorChecker
	sales   map[string]*entry
	refunds map[string]*refEntry
	all     []*entry
	allRef  []*refEntry
	intern  map[string]string
	journal int64
}

func newMatcher(f Format, cal *calendar.Calendar, settle calendar.Date, src Source) *matcher {
	return &matcher{
		format: f, cal: cal, settle: settle, src: src,
		sales: map[string]*entry{}, refunds: map[string]*refEntry{}, intern: map[string]string{},
	}
}

func (m *matcher) in(s string) string {
	if v, ok := m.intern[s]; ok {
		return v
	}
	if len(m.intern) < 1<<16 { // bound: hostile data cannot grow it without limit
		m.intern[s] = s
	}
	return s
}

func (m *matcher) localOf(t time.Time) (calendar.Date, string) {
	lt := t.In(m.cal.Location())
	return calendar.DateOf(lt), clearing.TimeOfDayOf(lt).String()
}

func saleKeyB(terminal, stan, auth string) string {
	return terminal + "|" + stan + "|" + auth
}

func refundKeyB(terminal string, d calendar.Date, stan string) string {
	return terminal + "|" + d.YYYYMMDD() + "|" + stan
}

// add indexes one journal payment.
func (m *matcher) add(t *Txn) {
	t.MerchantID, t.TerminalID, t.Currency = m.in(t.MerchantID), m.in(t.TerminalID), m.in(t.Currency)
	e := &entry{t: t, clearSTAN: t.STAN}
	clearAt := t.LocalTime
	switch t.Status {
	case journal.PaymentApproved:
		switch {
		case t.Type == journal.TypePreauth && t.Completion != nil:
			e.expAmount = t.Completion.Amount
			e.clearSTAN = t.Completion.STAN
			clearAt = t.Completion.LocalTime
		case t.Type == journal.TypePreauth:
			e.exp = PreauthUncaptured
			e.expAmount = t.Amount - t.Voided
		default:
			e.expAmount = t.Amount - t.Voided
			if e.expAmount <= 0 {
				e.exp = VoidedNotCleared
			}
		}
	case journal.PaymentVoided:
		e.exp = VoidedNotCleared
		e.expAmount = t.Amount
	default:
		e.exp = expNotInSc
	}
	e.clearDate, e.clearTime = m.localOf(clearAt)
	e.expDay = m.cal.SettlementDay(clearAt)
	e.inScope = e.exp != expNotInSc && e.expDay == m.settle
	if e.inScope {
		m.journal++
	}
	m.all = append(m.all, e)
	switch m.format {
	case FormatA:
		if t.RRN != "" {
			m.sales[t.RRN] = e
		}
	case FormatB:
		k := saleKeyB(t.TerminalID, e.clearSTAN, t.AuthCode)
		e.next = m.sales[k]
		m.sales[k] = e
	}
	for i := range t.Refunds {
		op := &t.Refunds[i]
		r := &refEntry{e: e, op: op, expDay: m.cal.SettlementDay(op.LocalTime)}
		r.date, r.time = m.localOf(op.LocalTime)
		r.inScope = r.expDay == m.settle
		if r.inScope {
			m.journal++
		}
		m.allRef = append(m.allRef, r)
		var k string
		if m.format == FormatA {
			k = op.RRN
		} else {
			k = refundKeyB(t.TerminalID, r.date, op.STAN)
		}
		if k != "" {
			r.next = m.refunds[k]
			m.refunds[k] = r
		}
	}
}

// findSale returns the entry a sale row refers to, or nil.
func (m *matcher) findSale(rec *clearing.Record) *entry {
	if m.format == FormatA {
		return m.sales[rec.RRN]
	}
	var fallback *entry
	for e := m.sales[saleKeyB(rec.TerminalID, rec.STAN, rec.AuthCode)]; e != nil; e = e.next {
		if e.clearDate == rec.OperDate {
			return e
		}
		fallback = e
	}
	_ = fallback // a different local date is a different transaction (STANs wrap)
	return nil
}

// findOriginal returns the sale a refund or chargeback row refers to.
func (m *matcher) findOriginal(rec *clearing.Record) *entry {
	if m.format == FormatA {
		return m.sales[rec.OrigRRN]
	}
	// Bank B names the original by auth code + STAN (no date): the most
	// recent payment with that key on the terminal.
	return m.sales[saleKeyB(rec.TerminalID, rec.OrigSTAN, rec.OrigAuthCode)]
}

func (m *matcher) findRefund(rec *clearing.Record) *refEntry {
	if m.format == FormatA {
		return m.refunds[rec.RRN]
	}
	return m.refunds[refundKeyB(rec.TerminalID, rec.OperDate, rec.STAN)]
}

// itemOfRow fills an Item from a clearing row.
func itemOfRow(rec *clearing.Record, line int64) Item {
	return Item{
		Line: line, MerchantID: rec.MerchantID, TerminalID: rec.TerminalID, MaskedPAN: rec.MaskedPAN,
		RRN: rec.RRN, STAN: rec.STAN, AuthCode: rec.AuthCode, OperDate: rec.OperDate, OperTime: rec.OperTime.String(),
		Currency: rec.Currency.Alpha, Amount: rec.Amount, Fee: rec.Fee, SettleAmount: rec.SettleAmount,
	}
}

func (m *matcher) link(it *Item, e *entry) {
	it.PaymentID = e.t.PaymentID
	it.ExpectedDate = e.expDay
	if it.MerchantID == "" {
		it.MerchantID = e.t.MerchantID
	}
}

// matchRow classifies one clearing row.
func (m *matcher) matchRow(ctx context.Context, rec *clearing.Record, line int64) (Item, error) {
	it := itemOfRow(rec, line)
	switch rec.Type {
	case clearing.Purchase:
		it.Kind = KindSale
		return it, m.matchSale(ctx, rec, &it)
	case clearing.Refund:
		it.Kind = KindRefund
		return it, m.matchRefund(ctx, rec, &it)
	case clearing.Chargeback, clearing.ChargebackReversal:
		it.Kind, it.Category = KindChargeback, Chargeback
		if rec.Type == clearing.ChargebackReversal {
			it.Kind, it.Category = KindChargebackReversal, ChargebackReversal
		}
		it.Payable = true
		if e := m.findOriginal(rec); e != nil {
			m.link(&it, e)
			it.ExpectedAmount = e.expAmount
		} else {
			it.Note = "original sale not found in the journal window"
		}
		return it, nil
	}
	return it, fmt.Errorf("line %d: unknown clearing row type %d", line, rec.Type)
}

func (m *matcher) matchSale(ctx context.Context, rec *clearing.Record, it *Item) error {
	e := m.findSale(rec)
	if e == nil {
		it.Category = UnknownInJournal
		return nil
	}
	m.link(it, e)
	it.ExpectedAmount = e.expAmount
	t := e.t
	if t.Completion != nil && t.Type == journal.TypePreauth {
		it.OperationID = t.Completion.ID
	}
	e.matched++
	if e.matched > 1 {
		it.Category, it.Note = DuplicateInClearing, "already matched earlier in this file"
		return nil
	}
	if e.expDay != m.settle && m.prior != nil {
		dup, err := m.prior.clearedElsewhere(ctx, t.PaymentID, "")
		if err != nil {
			return err
		}
		if dup {
			it.Category, it.Note = DuplicateInClearing, "already cleared in another settlement day's file"
			return nil
		}
	}
	if t.Status != journal.PaymentApproved && !t.OpsLoaded {
		if err := m.src.LoadOperations(ctx, t); err != nil {
			return err
		}
	}
	switch {
	case t.Status == journal.PaymentVoided || (t.Status == journal.PaymentApproved && e.exp == VoidedNotCleared):
		it.Category, it.Note, it.ExpectedAmount = ReversedButCleared, "voided in the journal", 0
	case t.Status != journal.PaymentApproved && t.Reversed:
		it.Category, it.Note, it.ExpectedAmount = ReversedButCleared, "reversed by the switch (timeout or late response)", 0
	case t.Status != journal.PaymentApproved:
		it.Category, it.Note, it.ExpectedAmount = ReversedButCleared, "declined or unanswered in the journal", 0
	case m.format == FormatA && rec.AuthCode != t.AuthCode:
		it.Category, it.Note = AuthCodeMismatch, "RRN matches a payment approved under another authorization code"
	case e.exp == PreauthUncaptured:
		it.Category, it.Note = AmountMismatch, "pre-authorization cleared but never captured in the journal"
		it.ExpectedAmount = 0
	case rec.Currency.Alpha != t.Currency:
		it.Category, it.Note = AmountMismatch, "currency differs: journal "+t.Currency
	case rec.Amount != e.expAmount:
		it.Category = AmountMismatch
		if t.Voided > 0 {
			it.Note = "partially voided: expected the remaining amount"
		} else if t.Completion != nil {
			it.Note = "expected the captured amount"
		}
	case e.expDay != m.settle:
		it.Category, it.Payable = SettledOnOtherDay, true
		it.Note = "expected on " + e.expDay.String()
	default:
		it.Category, it.Payable = Matched, true
	}
	return nil
}

func (m *matcher) matchRefund(ctx context.Context, rec *clearing.Record, it *Item) error {
	r := m.findRefund(rec)
	if r == nil {
		it.Category = RefundUnknown
		if e := m.findOriginal(rec); e != nil {
			m.link(it, e)
			it.ExpectedDate = calendar.Date{}
			it.Note = "the original sale is known, the refund is not"
		}
		return nil
	}
	m.link(it, r.e)
	it.OperationID, it.ExpectedAmount, it.ExpectedDate = r.op.ID, r.op.Amount, r.expDay
	if m.format == FormatA && rec.OrigRRN != r.e.t.RRN {
		it.Note = "ORIG_RRN differs from the refunded payment's RRN"
	}
	r.matched++
	if r.matched > 1 {
		it.Category, it.Note = DuplicateInClearing, "refund already matched earlier in this file"
		return nil
	}
	if r.expDay != m.settle && m.prior != nil {
		dup, err := m.prior.clearedElsewhere(ctx, r.e.t.PaymentID, r.op.ID)
		if err != nil {
			return err
		}
		if dup {
			it.Category, it.Note = DuplicateInClearing, "refund already cleared in another settlement day's file"
			return nil
		}
	}
	switch {
	case rec.Currency.Alpha != r.e.t.Currency || rec.Amount != r.op.Amount:
		it.Category = AmountMismatch
		if it.Note == "" {
			it.Note = "refund amount or currency differs from the journal"
		}
	default:
		it.Category, it.Payable = RefundMatched, true
		if r.expDay != m.settle && it.Note == "" {
			it.Note = "refund expected on " + r.expDay.String()
		}
	}
	return nil
}

// missing calls fn for every in-scope journal transaction no row matched:
// breaks (missing_in_clearing) and informational items; sales first, then
// refunds, each in order of local time (then payment id).
func (m *matcher) missing(ctx context.Context, fn func(Item) error) error {
	var sales []*entry
	for _, e := range m.all {
		if e.inScope && e.matched == 0 {
			sales = append(sales, e)
		}
	}
	sort.Slice(sales, func(i, j int) bool {
		a, b := sales[i], sales[j]
		if c := a.clearDate.Compare(b.clearDate); c != 0 {
			return c < 0
		}
		if a.clearTime != b.clearTime {
			return a.clearTime < b.clearTime
		}
		return a.t.PaymentID < b.t.PaymentID
	})
	var refs []*refEntry
	for _, r := range m.allRef {
		if r.inScope && r.matched == 0 {
			refs = append(refs, r)
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if c := a.date.Compare(b.date); c != 0 {
			return c < 0
		}
		if a.time != b.time {
			return a.time < b.time
		}
		return a.op.ID < b.op.ID
	})
	for _, e := range sales {
		t := e.t
		it := Item{
			Kind: KindSale, PaymentID: t.PaymentID, MerchantID: t.MerchantID, TerminalID: t.TerminalID,
			MaskedPAN: t.MaskedPAN, RRN: t.RRN, STAN: e.clearSTAN, AuthCode: t.AuthCode,
			OperDate: e.clearDate, OperTime: e.clearTime, Currency: t.Currency,
			ExpectedAmount: e.expAmount, ExpectedDate: e.expDay,
		}
		switch e.exp {
		case PreauthUncaptured, VoidedNotCleared:
			it.Category = e.exp
		default:
			if t.Completion != nil {
				it.OperationID = t.Completion.ID
			}
			if m.prior != nil {
				done, err := m.prior.clearedElsewhere(ctx, t.PaymentID, "")
				if err != nil {
					return err
				}
				if done {
					continue // cleared early, recorded by that day's run
				}
			}
			it.Category = MissingInClearing
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	for _, r := range refs {
		if m.prior != nil {
			done, err := m.prior.clearedElsewhere(ctx, r.e.t.PaymentID, r.op.ID)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		t := r.e.t
		it := Item{
			Category: MissingInClearing, Kind: KindRefund, PaymentID: t.PaymentID, OperationID: r.op.ID,
			MerchantID: t.MerchantID, TerminalID: t.TerminalID, MaskedPAN: t.MaskedPAN, RRN: r.op.RRN,
			STAN: r.op.STAN, OperDate: r.date, OperTime: r.time, Currency: t.Currency,
			ExpectedAmount: r.op.Amount, ExpectedDate: r.expDay,
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// clean guards free text against card numbers; the clearing reader already
// refuses full PANs, this is defence in depth for anything stored.
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) < 0 {
		return s
	}
	masked, _ := cardvault.MaskPANsIn(s)
	return masked
}
