package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"

	"github.com/acquirer/h2hswitch/switch/recon"
)

// page is html/template: every value is escaped for its context. The page
// has inline CSS only and loads nothing from anywhere.
var page = template.Must(template.New("recon").Funcs(template.FuncMap{
	"major":   Major,
	"isBreak": func(c recon.Category) bool { return c.IsBreak() },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reconciliation {{.Run.Bank}} {{.Run.SettleDate}}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #ccd2dc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.break td{background:#fff3f0}.ok{color:#17703a}.bad{color:#b42318;font-weight:600}
.muted{color:#667085}
</style></head><body>
<h1>Reconciliation of {{.Run.Bank}} for settlement day {{.Run.SettleDate}}</h1>
<p>File <code>{{.Run.FileName}}</code> (SHA-256 <code>{{.Run.FileHash}}</code>), {{.Run.Rows}} rows; {{.Run.Summary.Journal}} journal transactions in scope.
Run <code>{{.Run.ID}}</code>{{if .Run.Forced}}, <span class="bad">forced: replaced an earlier file</span>{{end}}{{if .Replayed}}, <span class="muted">same file as an earlier run: stored result</span>{{end}}.</p>
<p>{{if .Run.Summary.Breaks}}<span class="bad">{{.Run.Summary.Breaks}} break(s) need an operator.</span>{{else}}<span class="ok">No breaks.</span>{{end}}</p>
<h2>Summary</h2>
<table><tr><th>Category</th><th>Currency</th><th>Count</th><th>Amount</th></tr>
{{range .Summary}}<tr{{if isBreak .Category}} class="break"{{end}}><td>{{.Category}}</td><td>{{.Currency}}</td><td class="n">{{.Count}}</td><td class="n">{{major .Amount .Currency}}</td></tr>
{{end}}</table>
<h2>Breaks{{if .Truncated}} (first {{len .Breaks}}; the CSV report has all){{end}}</h2>
{{if .Breaks}}<table><tr><th>#</th><th>Category</th><th>Kind</th><th>Line</th><th>Payment</th><th>Merchant</th><th>Terminal</th><th>Card</th><th>RRN</th><th>STAN</th><th>Auth</th><th>Date</th><th>Time</th><th>Cur</th><th>Cleared</th><th>Expected</th><th>Note</th></tr>
{{range .Breaks}}<tr class="break"><td class="n">{{.Seq}}</td><td>{{.Category}}</td><td>{{.Kind}}</td><td class="n">{{if .Line}}{{.Line}}{{end}}</td><td>{{.PaymentID}}</td><td>{{.MerchantID}}</td><td>{{.TerminalID}}</td><td>{{.MaskedPAN}}</td><td>{{.RRN}}</td><td>{{.STAN}}</td><td>{{.AuthCode}}</td><td>{{if not .OperDate.IsZero}}{{.OperDate}}{{end}}</td><td>{{.OperTime}}</td><td>{{.Currency}}</td><td class="n">{{major .Amount .Currency}}</td><td class="n">{{major .ExpectedAmount .Currency}}</td><td>{{.Note}}</td></tr>
{{end}}</table>{{else}}<p class="ok">None.</p>{{end}}
{{with .Settlement}}<h2>Settlement per merchant — bank settlement day {{.Date}}, payout {{.PayoutDate}}</h2>
<p class="muted">Net = gross sales − refunds − chargebacks + chargeback reversals − commission. Held rows are neither paid nor deducted until resolved.
{{if .Missing}}Banks without a reconciled file for this day: {{range $i, $b := .Missing}}{{if $i}}, {{end}}{{$b}}{{end}}.{{end}}</p>
<table><tr><th>Merchant</th><th>Cur</th><th>Sales</th><th>Gross sales</th><th>Refunds</th><th>Chargebacks</th><th>CB reversals</th><th>Bank fees</th><th>Rate</th><th>Commission</th><th>Held</th><th>Net payout</th></tr>
{{range .Merchants}}<tr><td>{{.MerchantID}}</td><td>{{.Currency}}{{if not .SettlementCurrency}} <span class="muted">(not converted)</span>{{end}}</td><td class="n">{{.SalesCount}}</td><td class="n">{{major .Sales .Currency}}</td><td class="n">{{major .Refunds .Currency}}</td><td class="n">{{major .Chargebacks .Currency}}</td><td class="n">{{major .ChargebackReversals .Currency}}</td><td class="n">{{major .BankFees .Currency}}</td><td class="n">{{.Rate}}</td><td class="n">{{major .Commission .Currency}}</td><td class="n">{{major .Held .Currency}}</td><td class="n"><b>{{major .Net .Currency}}</b></td></tr>
{{end}}{{range .Totals}}<tr><th>Total</th><th>{{.Currency}}</th><th class="n">{{.SalesCount}}</th><th class="n">{{major .Sales .Currency}}</th><th class="n">{{major .Refunds .Currency}}</th><th class="n">{{major .Chargebacks .Currency}}</th><th class="n">{{major .ChargebackReversals .Currency}}</th><th class="n">{{major .BankFees .Currency}}</th><th></th><th class="n">{{major .Commission .Currency}}</th><th class="n">{{major .Held .Currency}}</th><th class="n">{{major .Net .Currency}}</th></tr>
{{end}}</table>{{end}}
</body></html>
`))

// SummaryRow is one line of a run summary.
type SummaryRow struct {
	Category recon.Category
	Currency string
	Count    int64
	Amount   int64
}

type pageData struct {
	Run        recon.Run
	Replayed   bool
	Summary    []SummaryRow
	Breaks     []recon.Item
	Truncated  bool
	Settlement *recon.Settlement
}

// HTML writes the self-contained HTML page of a run: summary, breaks and
// the settlement of its day (when st is not nil).
func HTML(w io.Writer, res *recon.Result, st *recon.Settlement) error {
	d := pageData{Run: res.Run, Replayed: res.Replayed, Breaks: res.Breaks, Truncated: res.BreaksTruncated, Settlement: st}
	d.Summary = SummaryRows(&res.Run.Summary)
	if err := page.Execute(w, d); err != nil {
		return fmt.Errorf("writing HTML report: %w", err)
	}
	return nil
}

// SummaryRows flattens a summary in category order, then currency.
func SummaryRows(s *recon.Summary) []SummaryRow {
	var out []SummaryRow
	ccys := make([]string, 0, len(s.ByCcy))
	for c := range s.ByCcy {
		ccys = append(ccys, c)
	}
	sort.Strings(ccys)
	for _, cat := range recon.Categories() {
		for _, ccy := range ccys {
			if ca, ok := s.ByCcy[ccy][cat]; ok {
				out = append(out, SummaryRow{cat, ccy, ca.Count, ca.Amount})
			}
		}
	}
	return out
}
