// Package reconbench measures reconciliation at scale: it bulk-loads a real
// SQLite journal with n payments of one bank, writes that bank's clearing
// file for them (with a few deliberate breaks), reconciles it through
// recon.Service and reports rows per second, elapsed time and the process's
// peak resident memory (VmHWM). `switchctl bench-recon` and
// BenchmarkRecon1M call it.
package reconbench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
	"github.com/acquirer/h2hswitch/switch/recon"
)

// Params of one benchmark.
type Params struct {
	Rows int    // payments and clearing rows (default 1 000 000)
	Bank string // "alfa" (Bank A CSV) or "sber" (Bank B fixed width)
	Dir  string // working directory for the journal, store and file
	// Log receives progress lines (optional).
	Log func(format string, args ...any)
}

// Report is the outcome.
type Report struct {
	Rows          int64
	LoadElapsed   time.Duration // bulk load of the journal
	FileElapsed   time.Duration // writing the clearing file
	ReconElapsed  time.Duration // recon.Service.Run
	RowsPerSecond float64
	PeakRSSKiB    int64 // VmHWM during the run (reset before it where Linux allows)
	// SetupPeakRSSKiB is VmHWM after loading the journal and writing the
	// file, before the run.
	SetupPeakRSSKiB int64
	Breaks          int64
	Counts          map[recon.Category]int64
}

// String formats the report for a terminal or `make bench`.
func (r Report) String() string {
	return fmt.Sprintf("recon %d rows: %.2fs, %.0f rows/s, peak RSS %d MiB, %d breaks (journal load %.1fs, file %.1fs, set-up peak RSS %d MiB)",
		r.Rows, r.ReconElapsed.Seconds(), r.RowsPerSecond, r.PeakRSSKiB/1024, r.Breaks, r.LoadElapsed.Seconds(), r.FileElapsed.Seconds(),
		r.SetupPeakRSSKiB/1024)
}

// PeakRSSKiB reads VmHWM from /proc/self/status (0 where unavailable).
func PeakRSSKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}

var almaty = time.FixedZone("+05", 5*3600)

// Settlement day of every generated payment: Monday 30.11.2026; payments
// are spread over Friday 27.11 before both banks' cut-offs.
var settleDay = calendar.NewDate(2026, 11, 30)

const merchants, terminals = 200, 2000

func key() ([]byte, error) {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	return k, err
}

type gen struct {
	i     int
	local time.Time
}

func (g gen) rrn() string  { return fmt.Sprintf("6331%08d", g.i) }
func (g gen) stan() string { return fmt.Sprintf("%06d", g.i%999999+1) }
func (g gen) auth() string { return fmt.Sprintf("A%05d", g.i%100000) }
func (g gen) merchant() string {
	return fmt.Sprintf("M%014d", g.i%merchants)
}
func (g gen) terminal() string { return fmt.Sprintf("T%07d", g.i%terminals) }

// preauth: every 10th payment is a pre-authorization captured at 90%
// under its own completion STAN; every 50th purchase has a refund.
func (g gen) preauth() bool { return g.i%10 == 3 }
func (g gen) refund() bool  { return g.i%50 == 7 }

func genAt(i, n int, b recon.Format) gen {
	span := 20 * time.Hour // 00:00 to 20:00, before both cut-offs
	_ = b
	off := time.Duration(int64(span) / int64(n) * int64(i))
	return gen{i: i, local: time.Date(2026, 11, 27, 0, 0, 0, 0, almaty).Add(off)}
}

// Run executes the benchmark.
func Run(ctx context.Context, p Params) (*Report, error) {
	if p.Rows <= 0 {
		p.Rows = 1_000_000
	}
	if p.Rows > 90_000_000 {
		return nil, errors.New("reconbench: at most 90 000 000 rows (RRN space of the generator)")
	}
	if p.Bank == "" {
		p.Bank = "alfa"
	}
	logf := p.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	format := recon.FormatA
	calCfg := calendar.BankA()
	switch p.Bank {
	case "alfa":
	case "sber":
		format, calCfg = recon.FormatB, calendar.BankB()
	default:
		return nil, fmt.Errorf("reconbench: bank %q: want alfa or sber", p.Bank)
	}
	cal, err := calendar.New(calCfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(p.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("reconbench: %w", err)
	}
	// journal.Open creates the schema (its migrations); the bulk load then
	// writes the tables directly (see bulkload.go).
	jpath := filepath.Join(p.Dir, "journal.db")
	js, err := journal.Open(ctx, journal.Config{Driver: journal.DriverSQLite, DSN: jpath})
	if err != nil {
		return nil, fmt.Errorf("reconbench: opening journal: %w", err)
	}
	if err := js.Close(); err != nil {
		return nil, fmt.Errorf("reconbench: closing journal: %w", err)
	}
	k1, err := key()
	if err != nil {
		return nil, err
	}
	hk, err := key()
	if err != nil {
		return nil, err
	}
	vault, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: k1}, HashKey: hk})
	if err != nil {
		return nil, err
	}
	rep := &Report{Rows: int64(p.Rows)}

	start := time.Now()
	bl, err := openBulk(ctx, jpath)
	if err != nil {
		return nil, err
	}
	for i := 0; i < p.Rows; i++ {
		pm, ops, err := payment(vault, genAt(i, p.Rows, format), p.Bank)
		if err == nil {
			err = bl.add(ctx, pm, ops)
		}
		if err != nil {
			_ = bl.close(ctx)
			return nil, err
		}
		if (i+1)%100_000 == 0 {
			logf("journal: %d payments loaded", i+1)
		}
	}
	if err := bl.close(ctx); err != nil {
		return nil, err
	}
	rep.LoadElapsed = time.Since(start)
	logf("journal loaded: %d payments in %.1fs", p.Rows, rep.LoadElapsed.Seconds())

	// The clearing file: every payment cleared, except a few breaks.
	start = time.Now()
	var fileName string
	if format == recon.FormatA {
		fileName = clearing.AFileName(settleDay)
	} else {
		fileName = clearing.BFileName(settleDay)
	}
	path := filepath.Join(p.Dir, fileName)
	if err := writeFile(path, format, p.Rows); err != nil {
		return nil, err
	}
	rep.FileElapsed = time.Since(start)
	logf("clearing file written in %.1fs", rep.FileElapsed.Seconds())

	st, err := recon.OpenStore(ctx, recon.StoreConfig{DSN: filepath.Join(p.Dir, "recon.db")})
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.Close() }()
	src, err := recon.OpenSQLSource(ctx, journal.Config{DSN: jpath})
	if err != nil {
		return nil, err
	}
	defer func() { _ = src.Close() }()
	// The run writes every payment's state back to the journal, as in
	// production: that is part of what is measured.
	states, err := journal.Open(ctx, journal.Config{Driver: journal.DriverSQLite, DSN: jpath})
	if err != nil {
		return nil, fmt.Errorf("reconbench: opening the journal: %w", err)
	}
	defer func() { _ = states.Close() }()
	svc, err := recon.NewService(recon.Config{Banks: map[string]recon.BankConfig{p.Bank: {Name: p.Bank, Format: format, Calendar: cal}},
		TempDir: p.Dir, States: states}, src, st)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reconbench: %w", err)
	}
	defer func() { _ = f.Close() }()
	// Measure the run alone: return the set-up's garbage to the OS and
	// reset the peak (Linux: writing 5 to clear_refs resets VmHWM).
	runtime.GC()
	debug.FreeOSMemory()
	rep.SetupPeakRSSKiB = PeakRSSKiB()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	start = time.Now()
	res, err := svc.Run(ctx, p.Bank, f, recon.Options{FileName: fileName, Force: true})
	if err != nil {
		return nil, fmt.Errorf("reconbench: reconciling: %w", err)
	}
	rep.ReconElapsed = time.Since(start)
	rep.RowsPerSecond = float64(res.Run.Rows) / rep.ReconElapsed.Seconds()
	rep.PeakRSSKiB = PeakRSSKiB()
	rep.Breaks = res.Run.Summary.Breaks
	rep.Counts = res.Run.Summary.Counts
	return rep, nil
}

func payment(v *cardvault.Vault, g gen, bank string) (*journal.Payment, []*journal.Operation, error) {
	id := journal.NewPaymentID()
	card, err := journal.SealCard(v, id, "4000000000000010", "2812", "visa")
	if err != nil {
		return nil, nil, err
	}
	card.Source = "keyed"
	amount := int64(1000 + g.i%500000)
	p := &journal.Payment{
		ID: id, Client: "bench", RequestID: "b-" + strconv.Itoa(g.i), Type: journal.TypePurchase, Status: journal.PaymentApproved,
		Amount: amount, Currency: "KZT", Card: card,
		Merchant: journal.Merchant{ID: g.merchant(), TerminalID: g.terminal(), MCC: "5411", Name: "BENCH SHOP", City: "ALMATY", Country: "KZ"},
		Bank:     bank, Route: "bench", AcquirerID: "400001", STAN: g.stan(), RRN: g.rrn(),
		TransmissionTime: g.local.UTC(), LocalTime: g.local, AuthCode: g.auth(), ResponseCode: "00",
		CreatedAt: g.local, UpdatedAt: g.local,
	}
	auth := &journal.Operation{ID: journal.NewID(journal.PrefixOperation), PaymentID: id, Kind: journal.OpAuthorization, Bank: bank,
		MTI: "0200", STAN: p.STAN, RRN: p.RRN, LocalTime: g.local, TransmissionTime: g.local.UTC(), Amount: amount,
		Currency: "KZT", Status: journal.OpApproved, AuthCode: p.AuthCode, CreatedAt: g.local}
	ops := []*journal.Operation{auth}
	if g.preauth() {
		p.Type, auth.MTI = journal.TypePreauth, "0100"
		p.CapturedAmount = amount * 9 / 10
		lt := g.local.Add(time.Minute)
		ops = append(ops, &journal.Operation{ID: journal.NewID(journal.PrefixOperation), PaymentID: id, Kind: journal.OpCapture,
			RefOperationID: auth.ID, Bank: bank, MTI: "0220", STAN: captureSTAN(g), RRN: p.RRN, LocalTime: lt,
			TransmissionTime: lt.UTC(), Amount: p.CapturedAmount, Currency: "KZT", Status: journal.OpAcknowledged, CreatedAt: lt})
	} else if g.refund() {
		p.RefundedAmount = amount / 2
		lt := g.local.Add(2 * time.Minute)
		ops = append(ops, &journal.Operation{ID: journal.NewID(journal.PrefixRefund), PaymentID: id, Kind: journal.OpRefund,
			RefOperationID: auth.ID, Bank: bank, MTI: "0220", STAN: refundSTAN(g), RRN: refundRRN(g), LocalTime: lt,
			TransmissionTime: lt.UTC(), Amount: p.RefundedAmount, Currency: "KZT", Status: journal.OpApproved, CreatedAt: lt})
	}
	return p, ops, nil
}

func captureSTAN(g gen) string { return fmt.Sprintf("%06d", (g.i+500000)%999999+1) }
func refundSTAN(g gen) string  { return fmt.Sprintf("%06d", (g.i+700000)%999999+1) }
func refundRRN(g gen) string   { return fmt.Sprintf("6339%08d", g.i) }

// writeFile writes the clearing file of all n payments: every 100 000th
// payment is left out (missing_in_clearing) and cleared at 1 tiyn more
// every 100 000th + 1 (amount_mismatch); one unknown row is added.
func writeFile(path string, format recon.Format, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("reconbench: %w", err)
	}
	defer func() { _ = f.Close() }()
	var write func(clearing.Record) error
	var closeW func() error
	if format == recon.FormatA {
		w, err := clearing.NewAWriter(f, settleDay)
		if err != nil {
			return err
		}
		write, closeW = w.Write, w.Close
	} else {
		w, err := clearing.NewBWriter(f, clearing.BHeader{SettleDate: settleDay, AcquirerID: "500002", Sequence: 1})
		if err != nil {
			return err
		}
		write, closeW = w.Write, w.Close
	}
	row := func(g gen, typ clearing.Type, rrn, auth, stan string, lt time.Time, amount int64, orig string, origSTAN string, origAuth string) error {
		fee := int64(0)
		if typ == clearing.Purchase {
			fee = (amount*18 + 500) / 1000
		}
		r := clearing.Record{Type: typ, RRN: rrn, AuthCode: auth, STAN: stan, TerminalID: g.terminal(), MerchantID: g.merchant(),
			MaskedPAN: "400000******0010", OperDate: calendar.DateOf(lt), OperTime: clearing.TimeOfDayOf(lt),
			Amount: amount, Currency: clearing.KZT, Fee: fee, SettleDate: settleDay, OrigRRN: orig, OrigSTAN: origSTAN, OrigAuthCode: origAuth}
		r.SettleAmount = typ.ExpectedSettle(amount, fee)
		return write(r)
	}
	for i := 0; i < n; i++ {
		g := genAt(i, n, format)
		if i%100000 == 50 {
			continue
		}
		amount := int64(1000 + i%500000)
		stan, lt := g.stan(), g.local
		if g.preauth() {
			amount = amount * 9 / 10
			stan, lt = captureSTAN(g), g.local.Add(time.Minute)
		}
		if i%100000 == 51 {
			amount++
		}
		if err := row(g, clearing.Purchase, g.rrn(), g.auth(), stan, lt, amount, "", "", ""); err != nil {
			return fmt.Errorf("reconbench: row %d: %w", i, err)
		}
		if g.refund() && !g.preauth() {
			if err := row(g, clearing.Refund, refundRRN(g), "", refundSTAN(g), g.local.Add(2*time.Minute), int64(1000+i%500000)/2,
				g.rrn(), g.stan(), g.auth()); err != nil {
				return fmt.Errorf("reconbench: refund row %d: %w", i, err)
			}
		}
	}
	g := genAt(0, n, format)
	if err := row(g, clearing.Purchase, "633999999999", "ZZZZZZ", "999999", g.local, 777, "", "", ""); err != nil {
		return err
	}
	if err := closeW(); err != nil {
		return err
	}
	return f.Close()
}
