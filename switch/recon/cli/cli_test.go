package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

var almaty = time.FixedZone("+05", 5*3600)

// setup writes a configuration, a SQLite journal with two approved Bank A
// payments of Friday 27.11.2026, and the 30.11 clearing file that clears
// the first, leaves the second out and adds a row unknown to the journal
// whose merchant id is markup (the HTML report must escape it).
func setup(t *testing.T) (cfgPath, filePath, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir = t.TempDir()
	jpath := filepath.Join(dir, "data", "journal.db")
	cfg := `journal:
  driver: sqlite
  dsn: ` + jpath + `
banks:
  alfa:
    dialect: h2h87-ascii
  sber:
    dialect: h2h87-binary
recon:
  calendars:
    alfa:
      holidays: ["2026-12-16"]
settlement:
  default_rate: "2.5%"
  merchant_rates:
    M00000000000123: "2.0%"
`
	cfgPath = filepath.Join(dir, "switch.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	js, err := journal.Open(ctx, journal.Config{DSN: jpath})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = js.Close() }()
	k := func() []byte { b := make([]byte, 32); _, _ = rand.Read(b); return b }
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: k()}, HashKey: k()})
	if err != nil {
		t.Fatal(err)
	}
	local := time.Date(2026, 11, 27, 10, 15, 0, 0, almaty)
	for i, rrn := range []string{"633100000123", "633100000124"} {
		id := journal.NewPaymentID()
		card, err := journal.SealCard(v, id, "4000000000000010", "2812", "")
		if err != nil {
			t.Fatal(err)
		}
		p := &journal.Payment{ID: id, Client: "gw", RequestID: "r" + rrn, Type: journal.TypePurchase, Status: journal.PaymentApproved,
			Amount: 150000, Currency: "KZT", Card: card, Merchant: journal.Merchant{ID: "M00000000000123", TerminalID: "T0000123"},
			Bank: "alfa", STAN: "00012" + string(rune('3'+i)), RRN: rrn, AuthCode: "A1B2C3", LocalTime: local, TransmissionTime: local.UTC(),
			CreatedAt: local}
		if err := js.CreatePayment(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	S := calendar.NewDate(2026, 11, 30)
	var b bytes.Buffer
	w, err := clearing.NewAWriter(&b, S)
	if err != nil {
		t.Fatal(err)
	}
	row := func(rrn, merchant string, amount, fee int64) {
		r := clearing.Record{Type: clearing.Purchase, RRN: rrn, AuthCode: "A1B2C3", STAN: "000123", TerminalID: "T0000123",
			MerchantID: merchant, MaskedPAN: "400000******0010", OperDate: calendar.NewDate(2026, 11, 27),
			OperTime: clearing.TimeOfDay{Hour: 10, Minute: 15}, Amount: amount, Currency: clearing.KZT, Fee: fee,
			SettleAmount: amount - fee, SettleDate: S}
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	row("633100000123", "M00000000000123", 150000, 3000)
	row("633100000999", "<i>x</i>", 5000, 100)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	filePath = filepath.Join(dir, "A_CLR_20261130.csv")
	if err := os.WriteFile(filePath, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, filePath, dir
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Execute(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

var fullPAN = regexp.MustCompile(`4000000000000010`)

func TestReconAndSettlementCommands(t *testing.T) {
	cfg, file, dir := setup(t)
	out := filepath.Join(dir, "reports")
	code, stdout, stderr := run(t, "recon", "--config", cfg, "--bank", "alfa", "--file", file, "--out", out)
	if code != ExitBreaks {
		t.Fatalf("recon exit %d (want %d: breaks)\nstdout:\n%s\nstderr:\n%s", code, ExitBreaks, stdout, stderr)
	}
	for _, want := range []string{"settlement day 2026-11-30", "matched", "missing_in_clearing", "unknown_in_journal", "breaks: 2", "1500.00"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stderr, "reconciling") {
		t.Fatalf("progress bar drawn on a non-terminal without --progress: %q", stderr)
	}
	html, err := os.ReadFile(filepath.Join(out, "recon_alfa_20261130.html"))
	if err != nil {
		t.Fatal(err)
	}
	h := string(html)
	if strings.Contains(h, "<i>x</i>") || !strings.Contains(h, "&lt;i&gt;x&lt;/i&gt;") {
		t.Fatal("HTML report does not escape a merchant id from the clearing file")
	}
	if strings.Contains(h, "http://") || strings.Contains(h, "https://") || strings.Contains(h, "<script") || strings.Contains(h, "<link") {
		t.Fatal("HTML report is not self-contained")
	}
	csvb, err := os.ReadFile(filepath.Join(out, "recon_alfa_20261130.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// header + matched + unknown + missing
	if n := strings.Count(string(csvb), "\n"); n != 4 {
		t.Fatalf("items CSV has %d lines, want 4:\n%s", n, csvb)
	}
	jsonb, err := os.ReadFile(filepath.Join(out, "recon_alfa_20261130.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"html": html, "csv": csvb, "json": jsonb, "stdout": []byte(stdout)} {
		if fullPAN.Match(b) {
			t.Fatalf("%s contains a full PAN", name)
		}
	}

	// Same file again: stored result.
	code, stdout, _ = run(t, "recon", "--config", cfg, "--bank", "alfa", "--file", file, "--out", out, "--progress")
	if code != ExitBreaks || !strings.Contains(stdout, "stored result") {
		t.Fatalf("re-run exit %d:\n%s", code, stdout)
	}
	// A different file for the day: refused without --force.
	other := filepath.Join(dir, "other", "A_CLR_20261130.csv")
	_ = os.MkdirAll(filepath.Dir(other), 0o750)
	raw, _ := os.ReadFile(file)
	lines := strings.SplitAfter(string(raw), "\r\n")
	// Keep the header, the first row and a trailer recomputed for it.
	alt := lines[0] + lines[1] + "TOTAL;1;1500,00;30,00;1470,00\r\n"
	if err := os.WriteFile(other, []byte(alt), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "recon", "--config", cfg, "--bank", "alfa", "--file", other, "--out", out)
	if code != ExitFail || !strings.Contains(stderr, "already reconciled") {
		t.Fatalf("second file: exit %d, stderr %q", code, stderr)
	}
	// A trailer that disagrees: rejected whole, line errors printed.
	bad := filepath.Join(dir, "bad", "A_CLR_20261130.csv")
	_ = os.MkdirAll(filepath.Dir(bad), 0o750)
	if err := os.WriteFile(bad, []byte(lines[0]+lines[1]+"TOTAL;1;1500,01;30,00;1470,00\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "recon", "--config", cfg, "--bank", "alfa", "--file", bad, "--out", out, "--force")
	if code != ExitFail || !strings.Contains(stderr, "rejected whole") {
		t.Fatalf("bad trailer: exit %d, stderr %q", code, stderr)
	}

	code, stdout, stderr = run(t, "settlement", "--config", cfg, "--date", "2026-11-30", "--out", out)
	if code != ExitOK {
		t.Fatalf("settlement exit %d: %s", code, stderr)
	}
	// M00000000000123 at 2.0%: sale 1500.00, commission 30.00, net 1470.00;
	// the unknown row (50.00) is held. Payout on Tuesday 01.12.
	if !strings.Contains(stdout, "payout 2026-12-01") || !strings.Contains(stdout, "1470.00") || !strings.Contains(stdout, "no reconciled file yet for: sber") {
		t.Fatalf("settlement output:\n%s", stdout)
	}
	x, err := excelize.OpenFile(filepath.Join(out, "settlement_20261130.xlsx"))
	if err != nil {
		t.Fatalf("opening workbook: %v", err)
	}
	defer func() { _ = x.Close() }()
	rows, err := x.GetRows("Payouts")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range rows {
		if len(r) >= 19 && r[2] == "M00000000000123" {
			found = true
			if r[6] != "1,500.00" || r[15] != "30.00" || r[18] != "1,470.00" || r[14] != "2%" {
				t.Fatalf("workbook row %v", r)
			}
		}
	}
	if !found {
		t.Fatalf("workbook rows %v", rows)
	}
	if _, err := os.Stat(filepath.Join(out, "settlement_20261130.csv")); err != nil {
		t.Fatal(err)
	}
}

func TestBenchCommandSmall(t *testing.T) {
	code, stdout, stderr := run(t, "bench-recon", "--rows", "2000", "--dir", t.TempDir())
	if code != ExitOK || !regexp.MustCompile(`recon 2000 rows: [0-9.]+s, [0-9]+ rows/s, peak RSS [0-9]+ MiB, 3 breaks`).MatchString(stdout) {
		t.Fatalf("bench-recon exit %d:\n%s\n%s", code, stdout, stderr)
	}
}
