// Package settlement turns the simulator's ledger into a bank's clearing file
// for one settlement day: which transactions appear, at what amount, with
// what fee and on which day (cut-off and business-day calendar), plus the
// chargebacks and deliberate breaks a reconciliation test asks for. The file
// formats themselves are package specs/clearing's writers.
package settlement

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
)

// Fees are a bank's per-sale fees: a percentage of the amount rounded half
// up to the minor unit, plus a fixed amount per sale by currency.
type Fees struct {
	// Percent is a decimal percentage with at most 4 decimals, e.g. "2.0".
	Percent string `yaml:"percent" json:"percent"`
	// FixedPerSale maps a currency's alpha code to a fixed fee in minor
	// units per sale, e.g. KZT: 2500 (25.00 KZT).
	FixedPerSale map[string]int64 `yaml:"fixed_per_sale" json:"fixed_per_sale"`
}

// WithDefaults fills the contract's defaults: 2.0% for Bank A; 1.8% and
// 25.00 KZT per KZT sale for Bank B.
func (f Fees) WithDefaults(bankB bool) Fees {
	if f.Percent == "" {
		if bankB {
			f.Percent = "1.8"
		} else {
			f.Percent = "2.0"
		}
	}
	if f.FixedPerSale == nil && bankB {
		f.FixedPerSale = map[string]int64{"KZT": 2500}
	}
	return f
}

// Validate checks the fee configuration.
func (f Fees) Validate() error {
	if _, err := f.ppm(); err != nil {
		return err
	}
	for cur, v := range f.FixedPerSale {
		if _, ok := clearing.CurrencyByAlpha(cur); !ok {
			return fmt.Errorf("fixed_per_sale: unsupported currency %q", cur)
		}
		if v < 0 {
			return fmt.Errorf("fixed_per_sale: %s: must not be negative", cur)
		}
	}
	return nil
}

// ppm returns Percent in parts per million (2.0% = 20000).
func (f Fees) ppm() (int64, error) {
	s := f.Percent
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 4 || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("percent: want a decimal like 2.0 with at most 4 decimals, got %q", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 100 {
		return 0, fmt.Errorf("percent: want 0..100, got %q", s)
	}
	frac += strings.Repeat("0", 4-len(frac))
	fr, _ := strconv.ParseInt(frac, 10, 64)
	v := w*10000 + fr
	if v > 1000000 {
		return 0, fmt.Errorf("percent: want 0..100, got %q", s)
	}
	return v, nil
}

// Fee is the fee on a sale of amount minor units in currency cur.
func (f Fees) Fee(amount int64, cur clearing.Currency) (int64, error) {
	p, err := f.ppm()
	if err != nil {
		return 0, err
	}
	// Half up: floor(amount*p/1e6 + 1/2). amount < 1e12 and p <= 1e6 keep
	// the product inside int64.
	return (amount*p+500000)/1000000 + f.FixedPerSale[cur.Alpha], nil
}

// Bank is what the builder needs to know about the simulated bank.
type Bank struct {
	BankB      bool
	Fees       Fees
	Calendar   *calendar.Calendar
	AcquirerID string // Bank B header; "0" when empty
}

// Request asks for one settlement day's file.
type Request struct {
	Date        calendar.Date `json:"date"`
	Sequence    int           `json:"sequence,omitempty"` // Bank B header; default 1
	Chargebacks []Chargeback  `json:"chargebacks,omitempty"`
	Breaks      []Break       `json:"breaks,omitempty"`
}

// Chargeback injects a CHARGEBACK (B: 15) or CHARGEBACK_REVERSAL (B: 35)
// row for the sale with this RRN.
type Chargeback struct {
	RRN      string `json:"rrn"`
	Amount   int64  `json:"amount,omitempty"` // minor units; 0 = the cleared amount
	Reversal bool   `json:"reversal,omitempty"`
}

// Break types.
const (
	BreakMissing   = "missing"   // drop the row
	BreakAmount    = "amount"    // change the row's amount (fee and settlement follow)
	BreakDuplicate = "duplicate" // write the row twice
	BreakUnknown   = "unknown"   // add a sale the switch never sent
	BreakTrailer   = "trailer"   // trailer disagrees with the rows (file must be rejected)
)

// Break is a deliberate error for reconciliation tests. missing, amount and
// duplicate name a row by RRN (a refund by its own RRN; a sale by its
// RRN, also for Bank B, whose file does not carry it).
type Break struct {
	Type   string `json:"type"`
	RRN    string `json:"rrn,omitempty"`
	Amount int64  `json:"amount,omitempty"` // amount: new amount; unknown: amount (default 100000)
	// Optional fields of an unknown row; defaults are generated.
	STAN       string `json:"stan,omitempty"`
	AuthCode   string `json:"auth_code,omitempty"`
	TerminalID string `json:"terminal_id,omitempty"`
	MerchantID string `json:"merchant_id,omitempty"`
	Card       string `json:"card,omitempty"` // masked, 6+4
	Currency   string `json:"currency,omitempty"`
}

// FileName is the bank's clearing file name for a settlement date.
func FileName(bankB bool, d calendar.Date) string {
	if bankB {
		return clearing.BFileName(d)
	}
	return clearing.AFileName(d)
}

// ErrUnknownRRN is returned when a chargeback or break names an RRN that is
// not in the file or the ledger.
var ErrUnknownRRN = errors.New("no such transaction")

type row struct {
	rec clearing.Record
	rrn string // for break matching, also for Bank B
}

// Records returns the rows of req.Date's file from the ledger's
// transactions, with chargebacks and breaks (except the trailer break)
// applied, in file order.
func Records(b Bank, txns []ledger.Txn, req Request) ([]clearing.Record, error) {
	if !req.Date.Valid() {
		return nil, errors.New("date: want a valid settlement date")
	}
	if !b.Calendar.IsBusinessDay(req.Date) {
		return nil, fmt.Errorf("date: %s is not a business day of the bank", req.Date)
	}
	var rows []row
	byRRN := make(map[string]*ledger.Txn, len(txns))
	for i := range txns {
		t := &txns[i]
		if t.RRN != "" {
			byRRN[t.RRN] = t
		}
		if t.State == ledger.StateReversed {
			continue
		}
		if r, ok, err := saleRow(b, t, req.Date); err != nil {
			return nil, err
		} else if ok {
			rows = append(rows, r)
		}
		for _, f := range t.Refunds {
			if f.Reversed || b.Calendar.SettlementDay(f.LocalTime) != req.Date {
				continue
			}
			cur, err := currency(f.Currency, t.RRN)
			if err != nil {
				return nil, err
			}
			stan, _, _ := saleKey(b, t)
			rec := clearing.Record{
				Type: clearing.Refund, RRN: f.RRN, STAN: f.STAN,
				TerminalID: t.TerminalID, MerchantID: t.MerchantID, MaskedPAN: t.MaskedPAN,
				OperDate: calendar.DateOf(f.LocalTime.In(b.Calendar.Location())), OperTime: clearing.TimeOfDayOf(f.LocalTime.In(b.Calendar.Location())),
				Amount: f.Amount, Currency: cur, SettleAmount: -f.Amount, SettleDate: req.Date,
			}
			linkOriginal(b, &rec, t, stan)
			rows = append(rows, row{rec: rec, rrn: f.RRN})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rowLess(rows[i].rec, rows[j].rec) })

	for _, cb := range req.Chargebacks {
		t, ok := byRRN[cb.RRN]
		if !ok || t.State == ledger.StateReversed || t.Cleared() == 0 {
			return nil, fmt.Errorf("chargeback rrn %q: %w (or never cleared)", cb.RRN, ErrUnknownRRN)
		}
		amt := cb.Amount
		if amt == 0 {
			amt = t.Cleared()
		}
		if amt < 0 || amt > t.Cleared() {
			return nil, fmt.Errorf("chargeback rrn %q: amount %d outside 1..%d", cb.RRN, amt, t.Cleared())
		}
		cur, err := currency(t.Currency, t.RRN)
		if err != nil {
			return nil, err
		}
		stan, lt, _ := saleKey(b, t)
		lt = lt.In(b.Calendar.Location())
		rec := clearing.Record{
			Type: clearing.Chargeback, RRN: t.RRN, AuthCode: t.AuthCode, STAN: stan,
			TerminalID: t.TerminalID, MerchantID: t.MerchantID, MaskedPAN: t.MaskedPAN,
			OperDate: calendar.DateOf(lt), OperTime: clearing.TimeOfDayOf(lt),
			Amount: amt, Currency: cur, SettleAmount: -amt, SettleDate: req.Date,
		}
		if cb.Reversal {
			rec.Type, rec.SettleAmount = clearing.ChargebackReversal, amt
		}
		linkOriginal(b, &rec, t, stan)
		rows = append(rows, row{rec: rec, rrn: t.RRN})
	}

	var err error
	for i, br := range req.Breaks {
		if rows, err = applyBreak(b, rows, br, i, req.Date); err != nil {
			return nil, fmt.Errorf("breaks[%d]: %w", i, err)
		}
	}
	out := make([]clearing.Record, len(rows))
	for i := range rows {
		out[i] = rows[i].rec
	}
	return out, nil
}

// saleKey returns the STAN and local time under which a sale clears, and
// the instant that decides its settlement day. Bank B clears a completed
// pre-authorization under the completion's STAN, date and time. Bank A
// clears it under the pre-authorization's STAN and DE12/DE13 ("the
// originating request") with the completion's RRN. Both settle it on the
// day of the completion: that is when it became a sale.
func saleKey(b Bank, t *ledger.Txn) (stan string, local, settleAt time.Time) {
	if t.Kind == ledger.KindPreauth && t.Completion != nil {
		if b.BankB {
			return t.Completion.STAN, t.Completion.LocalTime, t.Completion.LocalTime
		}
		return t.STAN, t.LocalTime, t.Completion.LocalTime
	}
	return t.STAN, t.LocalTime, t.LocalTime
}

func saleRow(b Bank, t *ledger.Txn, date calendar.Date) (row, bool, error) {
	amt := t.Cleared()
	if amt <= 0 {
		return row{}, false, nil
	}
	stan, lt, at := saleKey(b, t)
	if b.Calendar.SettlementDay(at) != date {
		return row{}, false, nil
	}
	cur, err := currency(t.Currency, t.RRN)
	if err != nil {
		return row{}, false, err
	}
	fee, err := b.Fees.Fee(amt, cur)
	if err != nil {
		return row{}, false, err
	}
	lt = lt.In(b.Calendar.Location())
	rrn := t.RRN
	if t.Completion != nil && t.Completion.RRN != "" {
		rrn = t.Completion.RRN
	}
	rec := clearing.Record{
		Type: clearing.Purchase, RRN: rrn, AuthCode: t.AuthCode, STAN: stan,
		TerminalID: t.TerminalID, MerchantID: t.MerchantID, MaskedPAN: t.MaskedPAN,
		OperDate: calendar.DateOf(lt), OperTime: clearing.TimeOfDayOf(lt),
		Amount: amt, Currency: cur, Fee: fee, SettleAmount: amt - fee, SettleDate: date,
	}
	return row{rec: rec, rrn: rrn}, true, nil
}

// linkOriginal fills the reference to the original sale: ORIG_RRN (A) or
// original auth code + sale STAN (B).
func linkOriginal(b Bank, rec *clearing.Record, t *ledger.Txn, saleSTAN string) {
	if b.BankB {
		rec.OrigAuthCode, rec.OrigSTAN = t.AuthCode, saleSTAN
		return
	}
	rec.OrigRRN = t.RRN
}

func currency(numeric, rrn string) (clearing.Currency, error) {
	c, ok := clearing.CurrencyByNumeric(numeric)
	if !ok {
		return c, fmt.Errorf("transaction rrn %q: unsupported currency %q", rrn, numeric)
	}
	return c, nil
}

func rowLess(a, b clearing.Record) bool {
	if c := a.OperDate.Compare(b.OperDate); c != 0 {
		return c < 0
	}
	if a.OperTime != b.OperTime {
		return a.OperTime.String() < b.OperTime.String()
	}
	return a.STAN < b.STAN
}

func findRow(rows []row, rrn string) int {
	// Prefer the sale or refund over a chargeback row with the same RRN.
	for i, r := range rows {
		if r.rrn == rrn && (r.rec.Type == clearing.Purchase || r.rec.Type == clearing.Refund) {
			return i
		}
	}
	for i, r := range rows {
		if r.rrn == rrn {
			return i
		}
	}
	return -1
}

func applyBreak(b Bank, rows []row, br Break, idx int, date calendar.Date) ([]row, error) {
	switch br.Type {
	case BreakMissing, BreakAmount, BreakDuplicate:
		i := findRow(rows, br.RRN)
		if i < 0 {
			return nil, fmt.Errorf("%s: rrn %q: %w in this file", br.Type, br.RRN, ErrUnknownRRN)
		}
		switch br.Type {
		case BreakMissing:
			return append(rows[:i], rows[i+1:]...), nil
		case BreakDuplicate:
			rows = append(rows[:i+1], rows[i:]...)
			return rows, nil
		}
		if br.Amount <= 0 || br.Amount > clearing.MaxAmount {
			return nil, fmt.Errorf("amount: want 1..%d minor units", clearing.MaxAmount)
		}
		r := &rows[i].rec
		r.Amount = br.Amount
		if r.Type == clearing.Purchase {
			fee, err := b.Fees.Fee(br.Amount, r.Currency)
			if err != nil {
				return nil, err
			}
			r.Fee = fee
		}
		r.SettleAmount = r.Type.ExpectedSettle(r.Amount, r.Fee)
		return rows, nil
	case BreakUnknown:
		r, err := unknownRow(b, rows, br, idx, date)
		if err != nil {
			return nil, err
		}
		return append(rows, r), nil
	case BreakTrailer:
		return rows, nil // applied by Write
	}
	return nil, fmt.Errorf("type %q: want missing, amount, duplicate, unknown or trailer", br.Type)
}

func unknownRow(b Bank, rows []row, br Break, idx int, date calendar.Date) (row, error) {
	cur := clearing.KZT
	if br.Currency != "" {
		c, ok := clearing.CurrencyByAlpha(br.Currency)
		if !ok {
			return row{}, fmt.Errorf("unknown: currency %q unsupported", br.Currency)
		}
		cur = c
	}
	amt := br.Amount
	if amt == 0 {
		amt = 100000
	}
	if amt < 0 || amt > clearing.MaxAmount {
		return row{}, fmt.Errorf("unknown: amount outside 1..%d", clearing.MaxAmount)
	}
	fee, err := b.Fees.Fee(amt, cur)
	if err != nil {
		return row{}, err
	}
	dflt := func(v, d string) string {
		if v != "" {
			return v
		}
		return d
	}
	term, merch := "T9999999", "M99999999999999"
	if len(rows) > 0 {
		term, merch = rows[0].rec.TerminalID, rows[0].rec.MerchantID
	}
	rrn := dflt(br.RRN, fmt.Sprintf("99%s%02d", date.YYYYMMDD(), idx%100))
	op := b.Calendar.CutOffAt(date.AddDays(-1)).Add(-time.Hour) // the evening before the settlement day
	op = op.In(b.Calendar.Location())
	rec := clearing.Record{
		Type: clearing.Purchase, RRN: rrn,
		AuthCode:   dflt(br.AuthCode, fmt.Sprintf("ZZ%04d", idx%10000)),
		STAN:       dflt(br.STAN, fmt.Sprintf("99%04d", idx%10000)),
		TerminalID: dflt(br.TerminalID, term), MerchantID: dflt(br.MerchantID, merch),
		MaskedPAN: dflt(br.Card, "400000******0028"),
		OperDate:  calendar.DateOf(op), OperTime: clearing.TimeOfDayOf(op),
		Amount: amt, Currency: cur, Fee: fee, SettleAmount: amt - fee, SettleDate: date,
	}
	return row{rec: rec, rrn: rrn}, nil
}

// Write writes the file of req.Date with recs (from Records) to w. A
// trailer break makes the trailer disagree with the rows by one row.
func Write(w io.Writer, b Bank, recs []clearing.Record, req Request) error {
	badTrailer := false
	for _, br := range req.Breaks {
		if br.Type == BreakTrailer {
			badTrailer = true
		}
	}
	if b.BankB {
		acq := b.AcquirerID
		if acq == "" {
			acq = "0"
		}
		seq := req.Sequence
		if seq == 0 {
			seq = 1
		}
		bw, err := clearing.NewBWriter(w, clearing.BHeader{SettleDate: req.Date, AcquirerID: acq, Sequence: seq})
		if err != nil {
			return err
		}
		for i, r := range recs {
			if err := bw.Write(r); err != nil {
				return fmt.Errorf("writing row %d: %w", i+1, err)
			}
		}
		if badTrailer {
			t := bw.Totals()
			t.Count++
			return bw.CloseWithTrailer(t)
		}
		return bw.Close()
	}
	aw, err := clearing.NewAWriter(w, req.Date)
	if err != nil {
		return err
	}
	for i, r := range recs {
		if err := aw.Write(r); err != nil {
			return fmt.Errorf("writing row %d: %w", i+1, err)
		}
	}
	if badTrailer {
		t := aw.Totals()
		t.Rows++
		return aw.CloseWithTrailer(t)
	}
	return aw.Close()
}
