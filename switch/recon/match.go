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
	expClear       uint8 = iota // expected as a sale row
	expUncaptured               // pre-authorization never captured: informational
	expVoided                   // voided in full: informational
	expNotInScope               // declined or pending: never expected
	statusApproved uint8 = 1
	statusVoided   uint8 = 2
	statusOther    uint8 = 3 // declined, pending
)

// entry is one journal payment in the index (pointer-free, see index.go).
type entry struct {
	pay, rrn, pan, compID ref
	expAmount             int64
	merch, term           uint32
	ccy                   uint32
	stan, clearSTAN, auth code6
	status, exp           uint8
	preauth, partial      bool
	reversed, opsLoaded   bool
	inScope               bool
	matched               int32
	expDay, clearDate     day
	clearTime             clock
	next                  int32 // next entry with the same key hash, -1 at the end
}

// refEntry is one refund in the index.
type refEntry struct {
	e            int32
	id, rrn      ref
	stan         code6
	amount       int64
	expDay, date day
	time         clock
	inScope      bool
	matched      int32
	next         int32
}

// priorChecker answers what accepted runs of other settlement days of the
// same bank already hold for a payment.
type priorChecker interface {
	// clearedElsewhere: whether the sale (operationID "") or the refund was
	// already cleared by such a run.
	clearedElsewhere(ctx context.Context, paymentID, operationID string) (bool, error)
	// chargebacksElsewhere: the chargeback and chargeback-reversal rows of
	// such runs linked to the payment (duplicates excluded).
	chargebacksElsewhere(ctx context.Context, paymentID string) ([]cbRow, error)
}

// cbRow identifies one chargeback or chargeback-reversal row: the bank
// repeating a row repeats all of these; two genuine partial chargebacks
// differ in at least one.
type cbRow struct {
	kind     Kind
	rrn      string
	stan     string
	operDate calendar.Date
	operTime string
	amount   int64
	currency string
	counted  bool // it was accepted (chargeback or chargeback_reversal)
}

// cbState is what is known of one sale's chargebacks during a run.
type cbState struct {
	rows            []cbRow // other days' and this file's
	charged, undone int64   // accepted chargebacks and reversals
}

// matcher holds the index of one run.
type matcher struct {
	format  Format
	cal     *calendar.Calendar
	settle  calendar.Date
	sday    day
	src     Source
	prior   priorChecker
	ar      arena
	strs    interner
	es      entries
	sales   map[uint64]int32
	refs    []refEntry
	refKeys map[uint64]int32
	cbs     map[int32]*cbState // per entry with a chargeback row
	journal int64
	err     error // first indexing error (arena full, malformed key)
}

func newMatcher(f Format, cal *calendar.Calendar, settle calendar.Date, src Source) *matcher {
	return &matcher{
		format: f, cal: cal, settle: settle, sday: dayOf(settle), src: src,
		sales: map[uint64]int32{}, refKeys: map[uint64]int32{}, cbs: map[int32]*cbState{},
	}
}

func (m *matcher) localOf(t time.Time) (day, clock) {
	lt := t.In(m.cal.Location())
	return dayOf(calendar.DateOf(lt)), clock(lt.Hour()*3600 + lt.Minute()*60 + lt.Second())
}

func (m *matcher) saleKey(terminal, stan, auth, rrn string) uint64 {
	if m.format == FormatA {
		return fnv64(rrn)
	}
	return fnv64(terminal, stan, auth)
}

func (m *matcher) refundKey(terminal string, d day, stan, rrn string) uint64 {
	if m.format == FormatA {
		return fnv64(rrn)
	}
	return fnv64(terminal, d.date().YYYYMMDD(), stan)
}

func (m *matcher) put(s string) ref {
	r, err := m.ar.put(s)
	if err != nil && m.err == nil {
		m.err = err
	}
	return r
}

// add indexes one journal payment.
func (m *matcher) add(t *Txn) {
	stan, ok1 := mk6(t.STAN)
	auth, ok2 := mk6(t.AuthCode)
	if !ok1 || !ok2 {
		if m.err == nil {
			m.err = fmt.Errorf("recon: payment %s: STAN or auth code longer than 6 characters", t.PaymentID)
		}
		return
	}
	e := entry{
		pay: m.put(t.PaymentID), rrn: m.put(t.RRN), pan: m.put(t.MaskedPAN),
		merch: m.strs.id(t.MerchantID), term: m.strs.id(t.TerminalID), ccy: m.strs.id(t.Currency),
		stan: stan, clearSTAN: stan, auth: auth, preauth: t.Type == journal.TypePreauth, partial: t.Voided > 0,
		reversed: t.Reversed, opsLoaded: t.OpsLoaded, next: -1,
	}
	clearAt := t.LocalTime
	switch t.Status {
	case journal.PaymentApproved:
		e.status = statusApproved
		switch {
		case e.preauth && t.Completion != nil:
			c, ok := mk6(t.Completion.STAN)
			if !ok {
				if m.err == nil {
					m.err = fmt.Errorf("recon: payment %s: completion STAN longer than 6 characters", t.PaymentID)
				}
				return
			}
			e.expAmount, e.clearSTAN, e.compID = t.Completion.Amount, c, m.put(t.Completion.ID)
			clearAt = t.Completion.LocalTime
		case e.preauth:
			e.exp, e.expAmount = expUncaptured, t.Amount-t.Voided
		default:
			e.expAmount = t.Amount - t.Voided
			if e.expAmount <= 0 {
				e.exp = expVoided
			}
		}
	case journal.PaymentVoided:
		e.status, e.exp, e.expAmount = statusVoided, expVoided, t.Amount
	default:
		e.status, e.exp = statusOther, expNotInScope
	}
	e.clearDate, e.clearTime = m.localOf(clearAt)
	e.expDay = dayOf(m.cal.SettlementDay(clearAt))
	e.inScope = e.exp != expNotInScope && e.expDay == m.sday
	if e.inScope {
		m.journal++
	}
	k := m.saleKey(t.TerminalID, e.clearSTAN.String(), t.AuthCode, t.RRN)
	if head, ok := m.sales[k]; ok {
		e.next = head
	}
	idx := m.es.add(e)
	if m.format == FormatB || t.RRN != "" {
		m.sales[k] = idx
	}
	for i := range t.Refunds {
		op := &t.Refunds[i]
		rs, ok := mk6(op.STAN)
		if !ok {
			continue
		}
		r := refEntry{e: idx, id: m.put(op.ID), rrn: m.put(op.RRN), stan: rs, amount: op.Amount, next: -1,
			expDay: dayOf(m.cal.SettlementDay(op.LocalTime))}
		r.date, r.time = m.localOf(op.LocalTime)
		r.inScope = r.expDay == m.sday
		if r.inScope {
			m.journal++
		}
		rk := m.refundKey(t.TerminalID, r.date, op.STAN, op.RRN)
		if head, ok := m.refKeys[rk]; ok {
			r.next = head
		}
		m.refs = append(m.refs, r)
		m.refKeys[rk] = int32(len(m.refs) - 1)
	}
}

// findSale returns the index of the entry a sale row refers to, or -1.
func (m *matcher) findSale(rec *clearing.Record) int32 {
	for i := m.chain(m.saleKey(rec.TerminalID, rec.STAN, rec.AuthCode, rec.RRN)); i >= 0; i = m.es.at(i).next {
		e := m.es.at(i)
		if m.format == FormatA {
			if m.ar.eq(e.rrn, rec.RRN) {
				return i
			}
			continue
		}
		if m.strs.get(e.term) == rec.TerminalID && e.clearSTAN.String() == rec.STAN && e.auth.String() == rec.AuthCode &&
			e.clearDate == dayOf(rec.OperDate) {
			return i
		}
	}
	return -1
}

func (m *matcher) chain(k uint64) int32 {
	if i, ok := m.sales[k]; ok {
		return i
	}
	return -1
}

// findOriginal returns the sale a refund or chargeback row refers to, or
// -1. Bank B names it by auth code + STAN without a date, so several
// payments of the lookback window may share the key: the most recent one
// (by local clearing date and time, then payment id) not later than the
// row's own date, or the most recent of all when every candidate is later.
// The choice depends on neither the journal's scan order nor the index.
func (m *matcher) findOriginal(rec *clearing.Record) int32 {
	best, bestLate := int32(-1), int32(-1)
	rowDay := dayOf(rec.OperDate)
	for i := m.chain(m.saleKey(rec.TerminalID, rec.OrigSTAN, rec.OrigAuthCode, rec.OrigRRN)); i >= 0; i = m.es.at(i).next {
		e := m.es.at(i)
		if m.format == FormatA {
			if m.ar.eq(e.rrn, rec.OrigRRN) && (best < 0 || m.later(e, m.es.at(best))) {
				best = i
			}
			continue
		}
		if m.strs.get(e.term) != rec.TerminalID || e.clearSTAN.String() != rec.OrigSTAN || e.auth.String() != rec.OrigAuthCode {
			continue
		}
		switch {
		case rowDay != 0 && e.clearDate > rowDay:
			if bestLate < 0 || m.later(e, m.es.at(bestLate)) {
				bestLate = i
			}
		case best < 0 || m.later(e, m.es.at(best)):
			best = i
		}
	}
	if best < 0 {
		return bestLate
	}
	return best
}

// later reports whether a was cleared after b (ties: the larger payment id).
func (m *matcher) later(a, b *entry) bool {
	if a.clearDate != b.clearDate {
		return a.clearDate > b.clearDate
	}
	if a.clearTime != b.clearTime {
		return a.clearTime > b.clearTime
	}
	return string(m.ar.bytes(a.pay)) > string(m.ar.bytes(b.pay))
}

func (m *matcher) findRefund(rec *clearing.Record) int32 {
	d := dayOf(rec.OperDate)
	i, ok := m.refKeys[m.refundKey(rec.TerminalID, d, rec.STAN, rec.RRN)]
	for ; ok && i >= 0; i = m.refs[i].next {
		r := &m.refs[i]
		if m.format == FormatA {
			if m.ar.eq(r.rrn, rec.RRN) {
				return i
			}
			continue
		}
		if m.strs.get(m.es.at(r.e).term) == rec.TerminalID && r.stan.String() == rec.STAN && r.date == d {
			return i
		}
	}
	return -1
}

// itemOfRow fills an Item from a clearing row.
func itemOfRow(rec *clearing.Record, line int64) Item {
	return Item{
		Line: line, MerchantID: rec.MerchantID, TerminalID: rec.TerminalID, MaskedPAN: rec.MaskedPAN,
		RRN: rec.RRN, STAN: rec.STAN, AuthCode: rec.AuthCode, OperDate: rec.OperDate, OperTime: rec.OperTime.String(),
		Currency: rec.Currency.Alpha, Amount: rec.Amount, Fee: rec.Fee, SettleAmount: rec.SettleAmount,
	}
}

// link ties a row's item to its journal payment: settlement then groups it
// under the journal's merchant and terminal.
func (m *matcher) link(it *Item, e *entry) {
	it.PaymentID = m.ar.get(e.pay)
	it.ExpectedDate = e.expDay.date()
	it.MerchantID, it.TerminalID = m.strs.get(e.merch), m.strs.get(e.term)
}

// merchantDiffers returns a note when rec names another merchant or
// terminal than the journal payment e, "" when they agree.
func (m *matcher) merchantDiffers(rec *clearing.Record, e *entry) string {
	jm, jt := m.strs.get(e.merch), m.strs.get(e.term)
	if rec.MerchantID == jm && rec.TerminalID == jt {
		return ""
	}
	return fmt.Sprintf("clearing row names merchant %s terminal %s; the journal has merchant %s terminal %s",
		rec.MerchantID, rec.TerminalID, jm, jt)
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
		return it, m.matchChargeback(ctx, rec, &it)
	}
	return it, fmt.Errorf("line %d: unknown clearing row type %d", line, rec.Type)
}

func (m *matcher) matchSale(ctx context.Context, rec *clearing.Record, it *Item) error {
	i := m.findSale(rec)
	if i < 0 {
		it.Category = UnknownInJournal
		return nil
	}
	e := m.es.at(i)
	m.link(it, e)
	it.ExpectedAmount = e.expAmount
	it.OperationID = m.ar.get(e.compID)
	e.matched++
	if e.matched > 1 {
		it.Category, it.Note = DuplicateInClearing, "already matched earlier in this file"
		return nil
	}
	// A sale cleared early (or late) by another day's file must not be
	// paid again when the bank repeats it, whichever file comes first.
	if m.prior != nil {
		dup, err := m.prior.clearedElsewhere(ctx, it.PaymentID, "")
		if err != nil {
			return err
		}
		if dup {
			it.Category, it.Note = DuplicateInClearing, "already cleared in another settlement day's file"
			return nil
		}
	}
	if e.status == statusOther && !e.opsLoaded {
		t := &Txn{PaymentID: it.PaymentID, Status: journal.PaymentDeclined}
		if err := m.src.LoadOperations(ctx, t); err != nil {
			return err
		}
		e = m.es.at(i)
		e.reversed, e.opsLoaded = t.Reversed, true
	}
	switch {
	case e.status == statusVoided || (e.status == statusApproved && e.exp == expVoided):
		it.Category, it.Note, it.ExpectedAmount = ReversedButCleared, "voided in the journal", 0
	case e.status == statusOther && e.reversed:
		it.Category, it.Note, it.ExpectedAmount = ReversedButCleared, "reversed by the switch (timeout or late response)", 0
	case e.status == statusOther:
		it.Category, it.Note, it.ExpectedAmount = ReversedButCleared, "declined or unanswered in the journal", 0
	case m.merchantDiffers(rec, e) != "":
		it.Category, it.Note = MerchantMismatch, m.merchantDiffers(rec, e)
	case m.format == FormatA && rec.AuthCode != e.auth.String():
		it.Category, it.Note = AuthCodeMismatch, "RRN matches a payment approved under another authorization code"
	case e.exp == expUncaptured:
		it.Category, it.Note, it.ExpectedAmount = AmountMismatch, "pre-authorization cleared but never captured in the journal", 0
	case rec.Currency.Alpha != m.strs.get(e.ccy):
		it.Category, it.Note = AmountMismatch, "currency differs: journal "+m.strs.get(e.ccy)
	case rec.Amount != e.expAmount:
		it.Category = AmountMismatch
		switch {
		case e.partial:
			it.Note = "partially voided: expected the remaining amount"
		case e.compID.n > 0:
			it.Note = "expected the captured amount"
		}
	case e.expDay != m.sday:
		it.Category, it.Payable = SettledOnOtherDay, true
		it.Note = "expected on " + e.expDay.date().String()
	default:
		it.Category, it.Payable = Matched, true
	}
	return nil
}

func (m *matcher) matchRefund(ctx context.Context, rec *clearing.Record, it *Item) error {
	ri := m.findRefund(rec)
	if ri < 0 {
		it.Category = RefundUnknown
		if i := m.findOriginal(rec); i >= 0 {
			it.PaymentID = m.ar.get(m.es.at(i).pay)
			it.Note = "the original sale is known, the refund is not"
		}
		return nil
	}
	r := &m.refs[ri]
	e := m.es.at(r.e)
	m.link(it, e)
	it.OperationID, it.ExpectedAmount, it.ExpectedDate = m.ar.get(r.id), r.amount, r.expDay.date()
	if m.format == FormatA && !m.ar.eq(e.rrn, rec.OrigRRN) {
		it.Note = "ORIG_RRN differs from the refunded payment's RRN"
	}
	r.matched++
	if r.matched > 1 {
		it.Category, it.Note = DuplicateInClearing, "refund already matched earlier in this file"
		return nil
	}
	if m.prior != nil {
		dup, err := m.prior.clearedElsewhere(ctx, it.PaymentID, it.OperationID)
		if err != nil {
			return err
		}
		if dup {
			it.Category, it.Note = DuplicateInClearing, "refund already cleared in another settlement day's file"
			return nil
		}
	}
	switch {
	case m.merchantDiffers(rec, e) != "":
		it.Category, it.Note = MerchantMismatch, m.merchantDiffers(rec, e)
	case rec.Currency.Alpha != m.strs.get(e.ccy) || rec.Amount != r.amount:
		it.Category = AmountMismatch
		if it.Note == "" {
			it.Note = "refund amount or currency differs from the journal"
		}
	default:
		it.Category, it.Payable = RefundMatched, true
		if r.expDay != m.sday && it.Note == "" {
			it.Note = "refund expected on " + r.expDay.date().String()
		}
	}
	return nil
}

// matchChargeback classifies a chargeback or chargeback-reversal row. Linked
// to its sale, it is held (not payable) when it repeats a row already
// accepted (in this file or another day's), names another merchant, or
// would take the chargebacks net of reversals above the sale's amount (a
// reversal: the reversals above the chargebacks).
func (m *matcher) matchChargeback(ctx context.Context, rec *clearing.Record, it *Item) error {
	it.Kind, it.Category = KindChargeback, Chargeback
	if rec.Type == clearing.ChargebackReversal {
		it.Kind, it.Category = KindChargebackReversal, ChargebackReversal
	}
	i := m.findOriginal(rec)
	if i < 0 {
		// Unknown original: the bank has debited (or credited) the
		// processor regardless; pass it on and let the note say why.
		it.Payable, it.Note = true, "original sale not found in the journal window"
		return nil
	}
	e := m.es.at(i)
	m.link(it, e)
	it.ExpectedAmount = e.expAmount
	st, err := m.chargebacks(ctx, i, it.PaymentID)
	if err != nil {
		return err
	}
	row := cbRow{kind: it.Kind, rrn: rec.RRN, stan: rec.STAN, operDate: rec.OperDate, operTime: rec.OperTime.String(),
		amount: rec.Amount, currency: rec.Currency.Alpha}
	for _, r := range st.rows {
		if r.kind == row.kind && r.rrn == row.rrn && r.stan == row.stan && r.operDate == row.operDate &&
			r.operTime == row.operTime && r.amount == row.amount && r.currency == row.currency {
			it.Category, it.Note = DuplicateInClearing, "the same "+string(it.Kind)+" row was already cleared"
			return nil
		}
	}
	m.judgeChargeback(rec, e, st, &row, it)
	st.rows = append(st.rows, row)
	return nil
}

// judgeChargeback classifies a linked, non-duplicate chargeback row and
// counts it in st when accepted.
func (m *matcher) judgeChargeback(rec *clearing.Record, e *entry, st *cbState, row *cbRow, it *Item) {
	if note := m.merchantDiffers(rec, e); note != "" {
		it.Category, it.Note = MerchantMismatch, note
		return
	}
	if it.Kind == KindChargeback {
		if net := st.charged - st.undone + rec.Amount; net > e.expAmount {
			it.Category = ChargebackOverAmount
			it.Note = fmt.Sprintf("chargebacks net of reversals would reach %d, the sale is %d", net, e.expAmount)
			return
		}
		st.charged += rec.Amount
	} else {
		if undone := st.undone + rec.Amount; undone > st.charged {
			it.Category = ChargebackOverAmount
			it.Note = fmt.Sprintf("chargeback reversals would reach %d, the chargebacks are %d", undone, st.charged)
			return
		}
		st.undone += rec.Amount
	}
	row.counted, it.Payable = true, true
}

// chargebacks returns the chargeback state of entry i, loading other days'
// rows on first use.
func (m *matcher) chargebacks(ctx context.Context, i int32, paymentID string) (*cbState, error) {
	if st, ok := m.cbs[i]; ok {
		return st, nil
	}
	st := &cbState{}
	if m.prior != nil {
		rows, err := m.prior.chargebacksElsewhere(ctx, paymentID)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			switch {
			case !r.counted:
			case r.kind == KindChargeback:
				st.charged += r.amount
			case r.kind == KindChargebackReversal:
				st.undone += r.amount
			}
		}
		st.rows = rows
	}
	m.cbs[i] = st
	return st, nil
}

// missing calls fn for every in-scope journal transaction no row matched:
// breaks (missing_in_clearing) and informational items; sales first, then
// refunds, each in order of local time (then payment id).
func (m *matcher) missing(ctx context.Context, fn func(Item) error) error {
	var sales []int32
	m.es.each(func(i int32, e *entry) {
		if e.inScope && e.matched == 0 {
			sales = append(sales, i)
		}
	})
	sort.Slice(sales, func(i, j int) bool {
		a, b := m.es.at(sales[i]), m.es.at(sales[j])
		if a.clearDate != b.clearDate {
			return a.clearDate < b.clearDate
		}
		if a.clearTime != b.clearTime {
			return a.clearTime < b.clearTime
		}
		return string(m.ar.bytes(a.pay)) < string(m.ar.bytes(b.pay))
	})
	var refs []int32
	for i := range m.refs {
		if r := &m.refs[i]; r.inScope && r.matched == 0 {
			refs = append(refs, int32(i))
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		a, b := &m.refs[refs[i]], &m.refs[refs[j]]
		if a.date != b.date {
			return a.date < b.date
		}
		if a.time != b.time {
			return a.time < b.time
		}
		return string(m.ar.bytes(a.id)) < string(m.ar.bytes(b.id))
	})
	for _, i := range sales {
		e := m.es.at(i)
		it := m.journalItem(e)
		it.STAN, it.OperDate, it.OperTime = e.clearSTAN.String(), e.clearDate.date(), clockString(e.clearTime)
		it.ExpectedAmount = e.expAmount
		switch e.exp {
		case expUncaptured:
			it.Category = PreauthUncaptured
		case expVoided:
			it.Category = VoidedNotCleared
		default:
			it.OperationID = m.ar.get(e.compID)
			if m.prior != nil {
				done, err := m.prior.clearedElsewhere(ctx, it.PaymentID, "")
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
	for _, ri := range refs {
		r := &m.refs[ri]
		it := m.journalItem(m.es.at(r.e))
		it.Category, it.Kind, it.OperationID = MissingInClearing, KindRefund, m.ar.get(r.id)
		it.RRN, it.STAN, it.AuthCode = m.ar.get(r.rrn), r.stan.String(), ""
		it.OperDate, it.OperTime, it.ExpectedAmount, it.ExpectedDate = r.date.date(), clockString(r.time), r.amount, r.expDay.date()
		if m.prior != nil {
			done, err := m.prior.clearedElsewhere(ctx, it.PaymentID, it.OperationID)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// journalItem is the item of a journal payment absent from the file.
func (m *matcher) journalItem(e *entry) Item {
	return Item{
		Kind: KindSale, PaymentID: m.ar.get(e.pay), MerchantID: m.strs.get(e.merch), TerminalID: m.strs.get(e.term),
		MaskedPAN: m.ar.get(e.pan), RRN: m.ar.get(e.rrn), AuthCode: e.auth.String(), Currency: m.strs.get(e.ccy),
		ExpectedDate: e.expDay.date(),
	}
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
