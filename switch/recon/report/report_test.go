package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/switch/recon"
)

func TestMajor(t *testing.T) {
	for _, c := range []struct {
		v    int64
		ccy  string
		want string
	}{
		{150000, "KZT", "1500.00"}, {-50000, "KZT", "-500.00"}, {5, "KZT", "0.05"}, {0, "USD", "0.00"},
		{1500, "JPY", "1500"}, {-7, "XXX", "-0.07"},
	} {
		if got := Major(c.v, c.ccy); got != c.want {
			t.Fatalf("Major(%d, %s) = %q, want %q", c.v, c.ccy, got, c.want)
		}
	}
}

func TestSettlementCSVDefusesFormulas(t *testing.T) {
	st := &recon.Settlement{Date: calendar.NewDate(2026, 11, 30), PayoutDate: calendar.NewDate(2026, 12, 1), Merchants: []recon.MerchantSettlement{
		{MerchantID: "=HYPERLINK(1)", Currency: "KZT", SalesCount: 1, Sales: 150000, Rate: "2.5%", Commission: 3750, Net: 146250},
	}}
	var b bytes.Buffer
	if err := SettlementCSV(&b, st); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %v %v", rows, err)
	}
	r := rows[1]
	if r[2] != "'=HYPERLINK(1)" || r[6] != "1500.00" || r[15] != "37.50" || r[18] != "1462.50" || r[1] != "2026-12-01" {
		t.Fatalf("row %v", r)
	}
	if len(r) != len(SettlementHeader()) {
		t.Fatalf("%d columns, header has %d", len(r), len(SettlementHeader()))
	}
}

func TestHTMLEscapesEverything(t *testing.T) {
	res := &recon.Result{Run: recon.Run{ID: "rcn_1", Bank: "alfa", SettleDate: calendar.NewDate(2026, 11, 30), FileName: `"><script>x</script>`,
		Summary: recon.Summary{Breaks: 1, Counts: map[recon.Category]int64{recon.UnknownInJournal: 1},
			ByCcy: map[string]map[recon.Category]recon.CA{"KZT": {recon.UnknownInJournal: {Count: 1, Amount: 100}}}}},
		Breaks: []recon.Item{{Category: recon.UnknownInJournal, Kind: recon.KindSale, Line: 2, MerchantID: "<b>M</b>", Currency: "KZT",
			Note: `it's "quoted" & <tagged>`}}}
	var b bytes.Buffer
	if err := HTML(&b, res, nil); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, bad := range []string{"<script>", "<b>M</b>", "<tagged>"} {
		if strings.Contains(h, bad) {
			t.Fatalf("HTML contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;b&gt;M&lt;/b&gt;", "&lt;tagged&gt;", "unknown_in_journal", "1 break(s)"} {
		if !strings.Contains(h, want) {
			t.Fatalf("HTML lacks %q", want)
		}
	}
}
