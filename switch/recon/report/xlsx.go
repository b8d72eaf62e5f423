package report

import (
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"

	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/recon"
)

// money converts minor units to a major-unit number for a spreadsheet cell
// (exact for every amount the clearing formats allow: < 2^53 minor units).
func money(v int64, ccy string) float64 {
	exp := 2
	if c, ok := clearing.CurrencyByAlpha(ccy); ok {
		exp = c.Exponent
	}
	f := float64(v)
	for range exp {
		f /= 10
	}
	return f
}

// SettlementXLSX writes the payouts as an Excel workbook: sheet "Payouts"
// (one row per merchant and currency, then the totals) and sheet "Runs"
// (the clearing files it was built from). Cells holding text are stored as
// text, never as formulas.
func SettlementXLSX(w io.Writer, st *recon.Settlement) error {
	x := excelize.NewFile()
	defer func() { _ = x.Close() }()
	const sheet = "Payouts"
	if err := x.SetSheetName("Sheet1", sheet); err != nil {
		return fmt.Errorf("building workbook: %w", err)
	}
	head := []any{"Settlement date", "Payout date", "Merchant", "Currency", "Settlement currency", "Sales", "Gross sales",
		"Refunds", "Refunded", "Chargebacks", "Charged back", "Chargeback reversals", "Reversed", "Bank fees",
		"Commission rate", "Commission", "Held rows", "Held", "Net payout"}
	if err := x.SetSheetRow(sheet, "A1", &head); err != nil {
		return fmt.Errorf("building workbook: %w", err)
	}
	bold, err := x.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fmt.Errorf("building workbook: %w", err)
	}
	num, err := x.NewStyle(&excelize.Style{NumFmt: 4}) // #,##0.00
	if err != nil {
		return fmt.Errorf("building workbook: %w", err)
	}
	_ = x.SetCellStyle(sheet, "A1", "S1", bold)
	row := 2
	put := func(m *recon.MerchantSettlement) error {
		c := m.Currency
		vals := []any{st.Date.String(), st.PayoutDate.String(), m.MerchantID, c, m.SettlementCurrency,
			m.SalesCount, money(m.Sales, c), m.RefundsCount, money(m.Refunds, c), m.ChargebacksCount, money(m.Chargebacks, c),
			m.CBReversalsCount, money(m.ChargebackReversals, c), money(m.BankFees, c), m.Rate, money(m.Commission, c),
			m.HeldCount, money(m.Held, c), money(m.Net, c)}
		cell, _ := excelize.CoordinatesToCellName(1, row)
		if err := x.SetSheetRow(sheet, cell, &vals); err != nil {
			return fmt.Errorf("building workbook: row %d: %w", row, err)
		}
		for _, col := range []string{"G", "I", "K", "M", "N", "P", "R", "S"} {
			_ = x.SetCellStyle(sheet, fmt.Sprintf("%s%d", col, row), fmt.Sprintf("%s%d", col, row), num)
		}
		row++
		return nil
	}
	for i := range st.Merchants {
		if err := put(&st.Merchants[i]); err != nil {
			return err
		}
	}
	for i := range st.Totals {
		first := row
		if err := put(&st.Totals[i]); err != nil {
			return err
		}
		_ = x.SetCellStyle(sheet, fmt.Sprintf("A%d", first), fmt.Sprintf("F%d", first), bold)
	}
	_ = x.SetColWidth(sheet, "A", "S", 16)
	_ = x.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})

	if _, err := x.NewSheet("Runs"); err != nil {
		return fmt.Errorf("building workbook: %w", err)
	}
	rh := []any{"Bank", "Run", "File", "Breaks"}
	_ = x.SetSheetRow("Runs", "A1", &rh)
	_ = x.SetCellStyle("Runs", "A1", "D1", bold)
	for i, r := range st.Runs {
		v := []any{r.Bank, r.RunID, r.FileName, r.Breaks}
		_ = x.SetSheetRow("Runs", fmt.Sprintf("A%d", i+2), &v)
	}
	for i, b := range st.Missing {
		v := []any{b, "", "no clearing file reconciled", ""}
		_ = x.SetSheetRow("Runs", fmt.Sprintf("A%d", len(st.Runs)+i+2), &v)
	}
	_ = x.SetColWidth("Runs", "A", "D", 32)
	if err := x.Write(w); err != nil {
		return fmt.Errorf("writing workbook: %w", err)
	}
	return nil
}
