// Package report renders reconciliation runs and merchant settlements for
// operators: CSV (every item), JSON (summary, breaks, settlement), a
// self-contained HTML page (inline CSS, no external assets, everything
// escaped by html/template) and an Excel workbook of the payouts. Card
// numbers only ever appear masked, as the store holds them.
package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/recon"
)

// Major formats minor units of currency ccy as a decimal with a point:
// 150000 KZT → "1500.00", -500 → "-5.00"; JPY has no decimals. An unknown
// currency is shown with two decimals.
func Major(v int64, ccy string) string {
	exp := 2
	if c, ok := clearing.CurrencyByAlpha(ccy); ok {
		exp = c.Exponent
	}
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		for len(s) <= exp {
			s = "0" + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// safeCell defuses spreadsheet formula injection in text cells: a value a
// clearing file or journal put there must never run as a formula.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ItemHeader returns the CSV header of items.
func ItemHeader() []string {
	return []string{"seq", "category", "break", "kind", "line", "payment_id", "operation_id", "merchant_id", "terminal_id",
		"masked_pan", "rrn", "stan", "auth_code", "oper_date", "oper_time", "currency", "amount", "fee", "settle_amount",
		"expected_amount", "expected_date", "payable", "note"}
}

func itemRecord(it *recon.Item) []string {
	date := func(d interface{ IsZero() bool }, s string) string {
		if d.IsZero() {
			return ""
		}
		return s
	}
	return []string{
		strconv.FormatInt(it.Seq, 10), string(it.Category), strconv.FormatBool(it.Category.IsBreak()), string(it.Kind),
		strconv.FormatInt(it.Line, 10), safeCell(it.PaymentID), safeCell(it.OperationID), safeCell(it.MerchantID),
		safeCell(it.TerminalID), safeCell(it.MaskedPAN), safeCell(it.RRN), safeCell(it.STAN), safeCell(it.AuthCode),
		date(it.OperDate, it.OperDate.String()), it.OperTime, safeCell(it.Currency),
		Major(it.Amount, it.Currency), Major(it.Fee, it.Currency), Major(it.SettleAmount, it.Currency),
		Major(it.ExpectedAmount, it.Currency), date(it.ExpectedDate, it.ExpectedDate.String()),
		strconv.FormatBool(it.Payable), safeCell(it.Note),
	}
}

// ItemsCSV writes every item of a run, in order, streaming from the store.
func ItemsCSV(ctx context.Context, w io.Writer, st *recon.Store, runID string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ItemHeader()); err != nil {
		return fmt.Errorf("writing items CSV: %w", err)
	}
	err := st.Items(ctx, runID, recon.ItemFilter{}, func(it recon.Item) error {
		return cw.Write(itemRecord(&it))
	})
	if err != nil {
		return fmt.Errorf("writing items CSV: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing items CSV: %w", err)
	}
	return nil
}

// SettlementHeader returns the CSV header of a settlement.
func SettlementHeader() []string {
	return []string{"settlement_date", "payout_date", "merchant_id", "currency", "settlement_currency",
		"sales_count", "gross_sales", "refunds_count", "refunds", "chargebacks_count", "chargebacks",
		"chargeback_reversals_count", "chargeback_reversals", "bank_fees", "commission_rate", "commission",
		"held_count", "held", "net_payout"}
}

func settlementRecord(st *recon.Settlement, m *recon.MerchantSettlement) []string {
	c := m.Currency
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{st.Date.String(), st.PayoutDate.String(), safeCell(m.MerchantID), safeCell(c), strconv.FormatBool(m.SettlementCurrency),
		i(m.SalesCount), Major(m.Sales, c), i(m.RefundsCount), Major(m.Refunds, c), i(m.ChargebacksCount), Major(m.Chargebacks, c),
		i(m.CBReversalsCount), Major(m.ChargebackReversals, c), Major(m.BankFees, c), m.Rate, Major(m.Commission, c),
		i(m.HeldCount), Major(m.Held, c), Major(m.Net, c)}
}

// SettlementCSV writes one line per merchant and currency, then the totals.
func SettlementCSV(w io.Writer, st *recon.Settlement) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(SettlementHeader())
	for i := range st.Merchants {
		_ = cw.Write(settlementRecord(st, &st.Merchants[i]))
	}
	for i := range st.Totals {
		_ = cw.Write(settlementRecord(st, &st.Totals[i]))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing settlement CSV: %w", err)
	}
	return nil
}

// Document is the JSON report of a run.
type Document struct {
	Run             RunJSON           `json:"run"`
	Replayed        bool              `json:"replayed"`
	Breaks          []ItemJSON        `json:"breaks"`
	BreaksTruncated bool              `json:"breaks_truncated"`
	Settlement      *recon.Settlement `json:"settlement,omitempty"`
}

// RunJSON is a run in JSON.
type RunJSON struct {
	ID         string                    `json:"id"`
	Bank       string                    `json:"bank"`
	SettleDate string                    `json:"settlement_date"`
	FileName   string                    `json:"file_name"`
	FileSHA256 string                    `json:"file_sha256"`
	Rows       int64                     `json:"rows"`
	Journal    int64                     `json:"journal_in_scope"`
	Forced     bool                      `json:"forced"`
	StartedAt  string                    `json:"started_at"`
	FinishedAt string                    `json:"finished_at"`
	Breaks     int64                     `json:"breaks"`
	Counts     map[recon.Category]int64  `json:"counts"`
	ByCurrency map[string]map[string]any `json:"by_currency"`
}

// ItemJSON is an item in JSON; amounts in minor units.
type ItemJSON struct {
	Seq            int64  `json:"seq"`
	Category       string `json:"category"`
	Kind           string `json:"kind"`
	Line           int64  `json:"line,omitempty"`
	PaymentID      string `json:"payment_id,omitempty"`
	OperationID    string `json:"operation_id,omitempty"`
	MerchantID     string `json:"merchant_id"`
	TerminalID     string `json:"terminal_id"`
	MaskedPAN      string `json:"masked_pan"`
	RRN            string `json:"rrn,omitempty"`
	STAN           string `json:"stan"`
	AuthCode       string `json:"auth_code,omitempty"`
	OperDate       string `json:"oper_date"`
	OperTime       string `json:"oper_time"`
	Currency       string `json:"currency"`
	Amount         int64  `json:"amount"`
	Fee            int64  `json:"fee"`
	SettleAmount   int64  `json:"settle_amount"`
	ExpectedAmount int64  `json:"expected_amount"`
	ExpectedDate   string `json:"expected_date,omitempty"`
	Payable        bool   `json:"payable"`
	Note           string `json:"note,omitempty"`
}

// ItemOf converts an item for JSON.
func ItemOf(it *recon.Item) ItemJSON {
	j := ItemJSON{Seq: it.Seq, Category: string(it.Category), Kind: string(it.Kind), Line: it.Line, PaymentID: it.PaymentID,
		OperationID: it.OperationID, MerchantID: it.MerchantID, TerminalID: it.TerminalID, MaskedPAN: it.MaskedPAN, RRN: it.RRN,
		STAN: it.STAN, AuthCode: it.AuthCode, OperTime: it.OperTime, Currency: it.Currency, Amount: it.Amount, Fee: it.Fee,
		SettleAmount: it.SettleAmount, ExpectedAmount: it.ExpectedAmount, Payable: it.Payable, Note: it.Note}
	if !it.OperDate.IsZero() {
		j.OperDate = it.OperDate.String()
	}
	if !it.ExpectedDate.IsZero() {
		j.ExpectedDate = it.ExpectedDate.String()
	}
	return j
}

// RunOf converts a run for JSON.
func RunOf(r *recon.Run) RunJSON {
	j := RunJSON{ID: r.ID, Bank: r.Bank, SettleDate: r.SettleDate.String(), FileName: r.FileName, FileSHA256: r.FileHash,
		Rows: r.Rows, Journal: r.Summary.Journal, Forced: r.Forced, StartedAt: r.StartedAt.Format("2006-01-02T15:04:05Z07:00"),
		FinishedAt: r.FinishedAt.Format("2006-01-02T15:04:05Z07:00"), Breaks: r.Summary.Breaks, Counts: r.Summary.Counts,
		ByCurrency: map[string]map[string]any{}}
	for ccy, m := range r.Summary.ByCcy {
		cm := map[string]any{}
		for c, ca := range m {
			cm[string(c)] = ca
		}
		j.ByCurrency[ccy] = cm
	}
	return j
}

// DocumentOf builds the JSON document of a result.
func DocumentOf(res *recon.Result, st *recon.Settlement) Document {
	d := Document{Run: RunOf(&res.Run), Replayed: res.Replayed, BreaksTruncated: res.BreaksTruncated, Settlement: st,
		Breaks: make([]ItemJSON, 0, len(res.Breaks))}
	for i := range res.Breaks {
		d.Breaks = append(d.Breaks, ItemOf(&res.Breaks[i]))
	}
	return d
}

// JSON writes the JSON document of a result.
func JSON(w io.Writer, res *recon.Result, st *recon.Settlement) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(DocumentOf(res, st)); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}

// Files are the paths WriteRun produced.
type Files struct {
	ItemsCSV, JSON, HTML string
}

// WriteRun writes a run's reports into dir: recon_<bank>_<YYYYMMDD>.csv
// (every item), .json and .html (summary, breaks, settlement of the day).
func WriteRun(ctx context.Context, dir string, st *recon.Store, res *recon.Result, settle *recon.Settlement) (Files, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Files{}, fmt.Errorf("creating report directory: %w", err)
	}
	base := filepath.Join(dir, "recon_"+res.Run.Bank+"_"+res.Run.SettleDate.YYYYMMDD())
	f := Files{ItemsCSV: base + ".csv", JSON: base + ".json", HTML: base + ".html"}
	if err := writeFile(f.ItemsCSV, func(w io.Writer) error { return ItemsCSV(ctx, w, st, res.Run.ID) }); err != nil {
		return f, err
	}
	if err := writeFile(f.JSON, func(w io.Writer) error { return JSON(w, res, settle) }); err != nil {
		return f, err
	}
	if err := writeFile(f.HTML, func(w io.Writer) error { return HTML(w, res, settle) }); err != nil {
		return f, err
	}
	return f, nil
}

// writeFile writes path atomically (temp file + rename).
func writeFile(path string, fn func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := fn(tmp); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteSettlement writes settlement_<YYYYMMDD>.csv, .json and .xlsx into dir.
func WriteSettlement(dir string, st *recon.Settlement) ([]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating report directory: %w", err)
	}
	base := filepath.Join(dir, "settlement_"+st.Date.YYYYMMDD())
	paths := []string{base + ".csv", base + ".json", base + ".xlsx"}
	if err := writeFile(paths[0], func(w io.Writer) error { return SettlementCSV(w, st) }); err != nil {
		return nil, err
	}
	if err := writeFile(paths[1], func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}); err != nil {
		return nil, err
	}
	if err := writeFile(paths[2], func(w io.Writer) error { return SettlementXLSX(w, st) }); err != nil {
		return nil, err
	}
	return paths, nil
}
