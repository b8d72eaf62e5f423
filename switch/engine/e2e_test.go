package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/journal"
)

var rrnRE = regexp.MustCompile(`^[0-9]{12}$`)

func TestAuthorizeOutcomes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	cases := []struct {
		name       string
		pan        string
		amount     int64
		bank       string
		status     journal.PaymentStatus
		reason     string
		reasonCode int
		code       string
		bankCode   string
	}{
		{"A approved", "4000000000000010", 150000, "alfa", journal.PaymentApproved, "approved", 0, "00", ""},
		{"A insufficient funds", "4000000000000010", 100051, "alfa", journal.PaymentDeclined, "insufficient_funds", 5051, "51", ""},
		{"A expired", "4000000000000028", 100054, "alfa", journal.PaymentDeclined, "expired_card", 5054, "54", ""},
		{"A cvv", "4000000000000010", 100082, "alfa", journal.PaymentDeclined, "incorrect_cvv", 5082, "82", ""},
		{"A decline card", "4000000000000036", 150000, "alfa", journal.PaymentDeclined, "do_not_honor", 5005, "05", ""},
		{"B approved", "5100000000000008", 150000, "sber", journal.PaymentApproved, "approved", 0, "00", ""},
		{"B cvv N7", "5100000000000008", 100082, "sber", journal.PaymentDeclined, "incorrect_cvv", 5082, "82", "N7"},
		{"B 3DS required", "5100000000000008", 100077, "sber", journal.PaymentDeclined, "authentication_required", 5208, "05", "1A"},
		{"B issuer 91", "5100000000000008", 100091, "sber", journal.PaymentDeclined, "issuer_unavailable", 5091, "91", ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := purchaseInput("req-out-"+string(rune('a'+i)), TypePurchase, c.amount, c.pan)
			p := h.authorize(in)
			if p.Status != c.status || p.Reason != c.reason || p.ReasonCode != c.reasonCode || p.ResponseCode != c.code || p.BankResponseCode != c.bankCode {
				t.Fatalf("payment = status %s reason %s/%d code %s bank code %q; want %s %s/%d %s %q",
					p.Status, p.Reason, p.ReasonCode, p.ResponseCode, p.BankResponseCode, c.status, c.reason, c.reasonCode, c.code, c.bankCode)
			}
			if p.Bank != c.bank {
				t.Fatalf("bank = %s, want %s", p.Bank, c.bank)
			}
			if !strings.HasPrefix(p.ID, "pay_") || len(p.ID) != 30 {
				t.Fatalf("id %q is not pay_+ULID", p.ID)
			}
			if !rrnRE.MatchString(p.RRN) || len(p.STAN) != 6 {
				t.Fatalf("rrn %q stan %q", p.RRN, p.STAN)
			}
			local := p.LocalTime.In(mustDialect(t, "h2h87-ascii").Location)
			if want := FormatRRN(local, 0)[:4]; p.RRN[:4] != want {
				t.Fatalf("rrn %s does not start with YDDD %s", p.RRN, want)
			}
			if p.Card.MaskedPAN != c.pan[:6]+"******"+c.pan[12:] {
				t.Fatalf("masked pan %q", p.Card.MaskedPAN)
			}
			if p.Card.Ciphertext != nil || p.Card.PANHash != "" {
				t.Fatal("the engine returned card ciphertext or PAN hash")
			}
			stored, err := h.store.GetPayment(h.ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if gotPAN, gotExp, err := h.vault.Open(p.ID, stored.Card.KeyID, stored.Card.Ciphertext); err != nil || gotPAN != c.pan || gotExp != "2812" {
				t.Fatalf("journaled card does not open to the PAN: %v", err)
			}
			if len(p.Operations) != 1 || p.Operations[0].Kind != journal.OpAuthorization {
				t.Fatalf("operations = %+v", p.Operations)
			}
			op := p.Operations[0]
			wantOp := journal.OpDeclined
			if c.status == journal.PaymentApproved {
				wantOp = journal.OpApproved
				if len(p.AuthCode) != 6 || op.AuthCode != p.AuthCode {
					t.Fatalf("auth code %q / op %q", p.AuthCode, op.AuthCode)
				}
				txn, ok := ledgerOf(h, c.bank).ByRRN(p.RRN)
				if !ok || txn.Amount != c.amount || txn.STAN != p.STAN {
					t.Fatalf("simulator ledger has %+v (found %v)", txn, ok)
				}
			} else if p.AuthCode != "" {
				t.Fatalf("declined payment has auth code %q", p.AuthCode)
			}
			if op.Status != wantOp || op.STAN != p.STAN || op.RRN != p.RRN || op.MTI != "0200" {
				t.Fatalf("operation = %+v", op)
			}
			checkMessageLog(t, h, p.ID, c.pan)
		})
	}
}

func ledgerOf(h *harness, bank string) *ledger.Ledger {
	if bank == "sber" {
		return h.simB.Ledger()
	}
	return h.simA.Ledger()
}

// checkMessageLog asserts that the exchanged messages are journaled,
// masked, and without CVV.
func checkMessageLog(t *testing.T, h *harness, paymentID, pan string) {
	t.Helper()
	msgs, err := h.store.ListMessages(h.ctx, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 2 {
		t.Fatalf("message log has %d messages, want request and response", len(msgs))
	}
	if msgs[0].Direction != journal.DirOut || msgs[1].Direction != journal.DirIn {
		t.Fatalf("message directions %s, %s", msgs[0].Direction, msgs[1].Direction)
	}
	if msgs[0].Sanitized {
		t.Fatalf("the journal had to sanitize what the engine logged: %v", msgs[0].Fields)
	}
	for _, m := range msgs {
		for k, v := range m.Fields {
			if strings.Contains(v, pan) {
				t.Fatalf("message field %s holds the full PAN", k)
			}
			if k == "48.92" || k == "14" {
				t.Fatalf("message log holds field %s", k)
			}
		}
	}
	if got := msgs[0].Fields["2"]; got != pan[:6]+"******"+pan[12:] {
		t.Fatalf("logged DE2 = %q", got)
	}
}

// No full PAN and no CVV ever reaches the journal's files.
func TestNoCardDataAtRest(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond})
	const pan, cvv = "4000000000000028", "9713"
	for i, amount := range []int64{15000, 10099} { // approved, then timeout + reversal
		in := purchaseInput(fmt.Sprintf("rest-%d", i), TypePurchase, amount, pan)
		in.Card.CVV = cvv
		p := h.authorize(in)
		if i == 0 {
			if _, err := h.eng.Refund(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(100)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := h.eng.ProcessSAF(h.ctx, 10); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(h.dbPath + "*")
	if len(files) == 0 {
		t.Fatal("no journal files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(pan)) {
			t.Errorf("%s holds the full PAN", filepath.Base(f))
		}
		if bytes.Contains(b, []byte("092004"+cvv)) || bytes.Contains(b, []byte(cvv)) {
			t.Errorf("%s holds the CVV", filepath.Base(f))
		}
	}
}
