package banksim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/settlement"
	"github.com/acquirer/h2hswitch/simulators/wire"
	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
)

// TestClearingFromTraffic runs traffic over TCP and checks that the
// clearing file of the settlement day carries exactly what the bank
// approved and still stands.
func TestClearingFromTraffic(t *testing.T) {
	monday := calendar.NewDate(2026, time.November, 30)
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, func(c *Config) { c.AcquirerID = testAcq })
			c := dialSignedOn(t, s)
			buy := c.auth(authOpts{amount: 150000, local: "1127101500"})
			code(t, c, buy, "00")
			rf := c.refund(buy, 50000)
			code(t, c, rf, "00")
			voided := c.auth(authOpts{amount: 9900})
			code(t, c, voided, "00")
			code(t, c, c.reversal(voided, false, "", nil), "00")
			code(t, c, c.auth(authOpts{amount: 7751}), "51")
			pre := c.auth(authOpts{mti: "0100", amount: 40000, local: "1127090000"})
			auth := code(t, c, pre, "00").Get(38)
			comp := c.follow("0220", "000000", pre, 30000, "")
			comp.Set(38, auth)
			code(t, c, comp, "00")
			open := c.auth(authOpts{mti: "0100", amount: 5000})
			code(t, c, open, "00")

			name, body, err := s.Clearing(settlement.Request{Date: monday})
			if err != nil {
				t.Fatal(err)
			}
			file := string(body)
			if d == wire.DialectBinary {
				if name != "B20261130.DAT" {
					t.Fatalf("name %s", name)
				}
				h, tr, err := clearing.ValidateB(context.Background(), strings.NewReader(file), clearing.ReaderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				// Sales 1500,00 (fee 27,00+25,00) and 300,00 (5,40+25,00); refund 500,00.
				// Net: 144800 + 26960 - 50000.
				if h.AcquirerID != "00000012345" || tr.Count != 3 || tr.AmountSum != 230000 || tr.Net != 121760 {
					t.Fatalf("header %+v trailer %+v\n%s", h, tr, file)
				}
				if !strings.Contains(file, "D05"+comp.Get(11)) || !strings.Contains(file, "D06"+rf.Get(11)) {
					t.Fatalf("completion or refund row missing:\n%s", file)
				}
				return
			}
			if name != "A_CLR_20261130.csv" {
				t.Fatalf("name %s", name)
			}
			tr, err := clearing.ValidateA(context.Background(), strings.NewReader(file), clearing.ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Rows != 3 || tr.Amount != 230000 || tr.Fee != 3600 || tr.Settle != 126400 {
				t.Fatalf("trailer %+v\n%s", tr, file)
			}
			for _, want := range []string{
				buy.Get(37) + ";" + s.mustTxnAuth(t, buy.Get(37)) + ";" + buy.Get(11) + ";T0000123;M00000000000123;400000******0010;27.11.2026;10:15:00;PURCHASE;1500,00;KZT;30,00;1470,00;30.11.2026;\r\n",
				rf.Get(37) + ";;" + rf.Get(11) + ";T0000123;M00000000000123;400000******0010;27.11.2026;11:00:00;REFUND;500,00;KZT;0,00;-500,00;30.11.2026;" + buy.Get(37) + "\r\n",
				pre.Get(37) + ";" + auth + ";" + pre.Get(11) + ";T0000123;M00000000000123;400000******0010;27.11.2026;09:00:00;PURCHASE;300,00;KZT;6,00;294,00;30.11.2026;\r\n",
			} {
				if !strings.Contains(file, want) {
					t.Fatalf("row %q missing from\n%s", want, file)
				}
			}
		})
	}
}

func (s *Sim) mustTxnAuth(t *testing.T, rrn string) string {
	t.Helper()
	tx, ok := s.Ledger().ByRRN(rrn)
	if !ok {
		t.Fatalf("rrn %s not in ledger", rrn)
	}
	return tx.AuthCode
}
