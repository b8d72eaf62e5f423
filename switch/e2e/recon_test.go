package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/simulators/settlement"
	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/switch/app"
	"github.com/acquirer/h2hswitch/switch/config"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/recon"
	"github.com/acquirer/h2hswitch/switch/recon/cli"
)

// Reconciliation end to end: the real switch processes a day of payments on
// both banks, each simulator produces its clearing file from its own ledger,
// and switchctl reconciles the files against the switch's journal.

// Merchants of the reconciliation tests: mA1 has its own commission rate.
const (
	mA1 = "M0000000000A001" // Bank A, 2.0 %
	mA2 = "M0000000000A002" // Bank A, default 2.5 %
	mB1 = "M0000000000B001" // Bank B, default 2.5 %
)

var terminalOf = map[string]string{mA1: "TA000001", mA2: "TA000002", mB1: "TB000001"}

// routesByMerchant sends mB1 to Bank B only (so that it stands in when
// Bank B is down) and everything else to Bank A only.
const routesByMerchant = `version: 1
rules:
  - name: sber-merchants
    match: {merchants: [M0000000000B001]}
    banks: [sber]
  - name: alfa-default
    banks: [alfa]
`

// standInSber lets the switch stand in for Bank B's KZT purchases.
const standInSber = `standin:
  banks:
    sber:
      enabled: true
      max_amount: {KZT: 5000000}
      daily_count: 5
      daily_amount: {KZT: 10000000}
`

// settlementYAML is the switch's settlement section: mA1's own rate.
const settlementYAML = `settlement:
  default_rate: "2.5%"
  merchant_rates: {M0000000000A001: "2.0%"}
`

// reconYAML is switchctl's configuration: the switch's journal and banks,
// the reconciliation store and the commission rates.
func reconYAML(dir string) string {
	return fmt.Sprintf(`journal: {driver: sqlite, dsn: %q}
banks:
  alfa: {dialect: h2h87-ascii}
  sber: {dialect: h2h87-binary}
recon:
  store: {driver: sqlite, dsn: %q}
settlement:
  default_rate: "2.5%%"
  merchant_rates: {%s: "2.0%%"}
  currency: KZT
`, filepath.Join(dir, "journal.db"), filepath.Join(dir, "recon.db"), mA1)
}

// startSwitchWith is startSwitch with extra top-level YAML sections.
func (e *env) startSwitchWith(extra string) *sw {
	e.t.Helper()
	path := filepath.Join(e.dir, fmt.Sprintf("switch-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(e.configYAML(journalOpts{})+extra), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		e.t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	a, err := app.Build(ctx, cfg, zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger())
	if err != nil {
		stop()
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		a.Close(context.Background())
		e.t.Fatal(err)
	}
	s := &sw{e: e, logs: logs, base: "http://" + ln.Addr().String(), app: a, hup: make(chan struct{}, 1), stop: stop, done: make(chan error, 1)}
	e.switches = append(e.switches, s)
	go func() { s.done <- a.Serve(ctx, ln, nil, s.hup) }()
	e.t.Cleanup(func() { s.shutdown() })
	s.waitBanks(2)
	return s
}

// payment is what a test keeps of an authorization.
type payment struct {
	id, rrn, stan, auth, maskedPAN string
	merchant                       string
	amount                         int64
	status                         string
}

// payAt authorizes amount for merchant and returns the answer whatever its
// status (the API answers 200 for approvals and declines alike).
func (s *sw) payAt(typ, merchant string, amount int64, pan string) payment {
	s.e.t.Helper()
	body := fmt.Sprintf(`{"request_id":%q,"type":%q,"amount":%d,"currency":"KZT",`+
		`"merchant":{"id":%q,"terminal_id":%q,"mcc":"5411","name":"RECON SHOP","city":"ALMATY","country":"KZ"},`+
		`"card":{"pan":%q,"expiry":"2812","cvv":"7351"}}`, uniq("rc"), typ, amount, merchant, terminalOf[merchant], pan)
	p := s.pay(body)
	card, _ := p["card"].(map[string]any)
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	return payment{id: str(p, "id"), rrn: str(p, "rrn"), stan: str(p, "stan"), auth: str(p, "auth_code"),
		maskedPAN: str(card, "masked_pan"), merchant: merchant, amount: amount, status: str(p, "status")}
}

// op posts a capture, void or refund and fails the test unless it is 200.
func (s *sw) op(id, kind string, amount int64) map[string]any {
	s.e.t.Helper()
	body := fmt.Sprintf(`{"request_id":%q}`, uniq(kind))
	if amount > 0 {
		body = fmt.Sprintf(`{"request_id":%q,"amount":%d}`, uniq(kind), amount)
	}
	st, m := s.call("POST", "/v1/payments/"+id+"/"+kind, gatewayToken, body)
	if st != 200 {
		s.e.t.Fatalf("%s of %s: %d %v", kind, id, st, m)
	}
	return m
}

// hostTxn waits until the bank's ledger holds the transaction with rrn in a
// state cond accepts.
func hostTxn(t *testing.T, b *bank, rrn, what string, cond func(ledger.Txn) bool) {
	t.Helper()
	waitFor(t, b.name+": "+what, func() bool {
		tx, ok := b.sim.Ledger().ByRRN(rrn)
		return ok && cond(tx)
	})
}

// settlementDays returns the bank's settlement days of the instants from
// and to (one day, or two when a cut-off fell in between).
func settlementDays(cal *calendar.Calendar, from, to time.Time) []calendar.Date {
	a, b := cal.SettlementDay(from), cal.SettlementDay(to)
	if a == b {
		return []calendar.Date{a}
	}
	return []calendar.Date{a, b}
}

// clearingFile asks the bank's simulator for its clearing file of day d and
// writes it into dir under the bank's file name.
func clearingFile(t *testing.T, b *bank, dir string, req settlement.Request) string {
	t.Helper()
	name, data, err := b.sim.Clearing(req)
	if err != nil {
		t.Fatalf("%s clearing of %s: %v", b.name, req.Date, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// switchctl runs the command line in-process and returns its exit code and
// output.
func switchctl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := cli.Execute(ctx, args, &out, &errOut)
	return code, out.String() + errOut.String()
}

// openRecon opens the reconciliation service switchctl used, to read its
// stored results.
func openRecon(t *testing.T, cfgPath string) *recon.Service {
	t.Helper()
	fc, err := recon.LoadFileConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	o, err := recon.Open(context.Background(), fc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o.Svc
}

// itemsOf returns every item of the accepted run of bank and day.
func itemsOf(t *testing.T, svc *recon.Service, bank string, d calendar.Date) []recon.Item {
	t.Helper()
	res, err := svc.Result(context.Background(), bank, d)
	if err != nil || res == nil {
		t.Fatalf("%s %s: no accepted run (%v)", bank, d, err)
	}
	var out []recon.Item
	if err := svc.Store().Items(context.Background(), res.Run.ID, recon.ItemFilter{}, func(it recon.Item) error {
		out = append(out, it)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// merchantTotals sums the settlement of days per merchant (KZT).
func merchantTotals(t *testing.T, svc *recon.Service, days []calendar.Date) map[string]recon.MerchantSettlement {
	t.Helper()
	out := map[string]recon.MerchantSettlement{}
	for _, d := range days {
		st, err := svc.Settlement(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st.Merchants {
			if m.Currency != "KZT" {
				t.Errorf("%s: unexpected currency line %+v", d, m)
				continue
			}
			acc := out[m.MerchantID]
			acc.MerchantID, acc.Currency, acc.Rate = m.MerchantID, m.Currency, m.Rate
			acc.SalesCount += m.SalesCount
			acc.Sales += m.Sales
			acc.RefundsCount += m.RefundsCount
			acc.Refunds += m.Refunds
			acc.ChargebacksCount += m.ChargebacksCount
			acc.Chargebacks += m.Chargebacks
			acc.CBReversalsCount += m.CBReversalsCount
			acc.ChargebackReversals += m.ChargebackReversals
			acc.BankFees += m.BankFees
			acc.Commission += m.Commission
			acc.HeldCount += m.HeldCount
			acc.Held += m.Held
			acc.Net += m.Net
			out[m.MerchantID] = acc
		}
	}
	return out
}

func unionDays(a, b []calendar.Date) []calendar.Date {
	out := slices.Clone(a)
	for _, d := range b {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(x, y calendar.Date) int { return x.Compare(y) })
	return out
}

// TestReconCleanDay: a day of payments through switchd on both banks —
// purchases, declines, pre-authorizations with partial captures, full and
// partial voids, partial and multiple refunds, a timeout reversal and a
// stand-in approval whose advice is delivered — then the simulators'
// clearing files reconciled with switchctl: zero breaks, every cleared
// payment matched, and the merchants' settlement equal to the figures
// worked out by hand below.
func TestReconCleanDay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesByMerchant)
	s := e.startSwitchWith(standInSber)
	alfa, sber := e.alfa, e.sber
	start := time.Now()

	// Bank A.
	a1 := s.payAt("purchase", mA1, 100000, "4000000000000010")
	if a1.status != "approved" {
		t.Fatalf("a1: %+v", a1)
	}
	if d := s.payAt("purchase", mA1, 100051, "4000000000000028"); d.status != "declined" {
		t.Fatalf("a decline: %+v", d)
	}
	a3 := s.payAt("preauth", mA1, 200000, "5100000000000008")
	s.op(a3.id, "capture", 120000) // partial capture
	a4 := s.payAt("purchase", mA2, 300000, "2200000000000004")
	s.op(a4.id, "void", 0) // full void
	a5 := s.payAt("preauth", mA2, 200000, "4000000000000010")
	s.op(a5.id, "void", 50000) // partial void, then capture of the rest
	s.op(a5.id, "capture", 0)
	a6 := s.payAt("purchase", mA2, 500000, "4000000000000028")
	s.op(a6.id, "refunds", 100000) // two partial refunds
	s.op(a6.id, "refunds", 50000)
	a7 := s.payAt("purchase", mA1, 100099, "5100000000000008") // lost response: timeout, reversal
	if a7.status != "declined" {
		t.Fatalf("timeout payment: %+v", a7)
	}
	a8 := s.payAt("preauth", mA1, 70000, "2200000000000004") // never captured
	if a8.status != "approved" {
		t.Fatalf("a8: %+v", a8)
	}

	// Bank B.
	b1 := s.payAt("purchase", mB1, 250000, "4000000000000010")
	if d := s.payAt("purchase", mB1, 250005, "4000000000000028"); d.status != "declined" {
		t.Fatalf("b decline: %+v", d)
	}
	b3 := s.payAt("preauth", mB1, 400000, "5100000000000008")
	s.op(b3.id, "capture", 300000)
	b4 := s.payAt("purchase", mB1, 80000, "2200000000000004")
	s.op(b4.id, "refunds", 20000)
	b5 := s.payAt("preauth", mB1, 90000, "4000000000000028")
	s.op(b5.id, "void", 0)

	// Bank B goes down; the switch stands in; Bank B comes back and the
	// advice reaches it.
	if err := sber.sim.SetFaults(banksim.Faults{RefuseConnections: true}); err != nil {
		t.Fatal(err)
	}
	sber.sim.DropConnections()
	s.waitBanks(1)
	b6raw := s.payAt("purchase", mB1, 45020, "4000000000000010")
	if b6raw.status != "approved" {
		t.Fatalf("stand-in: %+v", b6raw)
	}
	st, g := s.call("GET", "/v1/payments/"+b6raw.id, gatewayToken, "")
	if st != 200 || g["stand_in"] != true {
		t.Fatalf("stand-in payment: %d %v", st, g)
	}
	if err := sber.sim.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	s.waitBanks(2)

	// Everything has reached the hosts before the files are cut.
	hostTxn(t, alfa, a3.rrn, "completion", func(x ledger.Txn) bool { return x.Completion != nil && x.Completion.Amount == 120000 })
	hostTxn(t, alfa, a4.rrn, "void", func(x ledger.Txn) bool { return x.State == ledger.StateReversed })
	hostTxn(t, alfa, a5.rrn, "partial void + completion", func(x ledger.Txn) bool { return x.Completion != nil && x.Completion.Amount == 150000 })
	hostTxn(t, alfa, a6.rrn, "refunds", func(x ledger.Txn) bool { return x.Refunded() == 150000 })
	hostTxn(t, alfa, a7.rrn, "timeout reversal", func(x ledger.Txn) bool { return x.State == ledger.StateReversed })
	hostTxn(t, sber, b3.rrn, "completion", func(x ledger.Txn) bool { return x.Completion != nil && x.Completion.Amount == 300000 })
	hostTxn(t, sber, b4.rrn, "refund advice", func(x ledger.Txn) bool { return x.Refunded() == 20000 })
	hostTxn(t, sber, b5.rrn, "void", func(x ledger.Txn) bool { return x.State == ledger.StateReversed })
	var b6 ledger.Txn
	waitFor(t, "the stand-in advice at Bank B", func() bool {
		for _, x := range sber.sim.Ledger().Snapshot() {
			if x.StandIn && x.Amount == 45020 {
				b6 = x
				return true
			}
		}
		return false
	})
	end := time.Now()

	// The clearing files of every settlement day the payments fall on (two
	// when the test ran across a bank's cut-off), reconciled by switchctl.
	cfgPath := filepath.Join(e.dir, "switchctl.yaml")
	if err := os.WriteFile(cfgPath, []byte(reconYAML(e.dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.dir, "reports")
	days := map[string][]calendar.Date{
		"alfa": settlementDays(alfa.sim.Calendar(), start, end),
		"sber": settlementDays(sber.sim.Calendar(), start, end),
	}
	for _, b := range []*bank{alfa, sber} {
		for _, d := range days[b.name] {
			file := clearingFile(t, b, e.dir, settlement.Request{Date: d})
			code, text := switchctl(t, "recon", "--config", cfgPath, "--bank", b.name, "--file", file, "--out", out)
			if code != cli.ExitOK {
				t.Fatalf("switchctl recon %s %s: exit %d\n%s", b.name, d, code, text)
			}
			if !strings.Contains(text, "breaks: 0") {
				t.Errorf("switchctl recon %s %s output:\n%s", b.name, d, text)
			}
			// Re-running the same file changes nothing.
			code, text = switchctl(t, "recon", "--config", cfgPath, "--bank", b.name, "--file", file, "--out", out)
			if code != cli.ExitOK || !strings.Contains(text, "stored result, nothing written") {
				t.Errorf("re-run %s %s: exit %d\n%s", b.name, d, code, text)
			}
		}
	}

	svc := openRecon(t, cfgPath)
	counts := map[string]map[recon.Category]int{"alfa": {}, "sber": {}}
	for bank, ds := range days {
		for _, d := range ds {
			for _, it := range itemsOf(t, svc, bank, d) {
				counts[bank][it.Category]++
				if it.Category.IsBreak() {
					t.Errorf("%s %s: break %+v", bank, d, it)
				}
			}
		}
	}
	wantCounts := map[string]map[recon.Category]int{
		// a1, a3 (captured), a5 (captured remainder), a6; a6's two refunds;
		// a8 uncaptured; a4 voided. The decline and the timeout are not in
		// scope.
		"alfa": {recon.Matched: 4, recon.RefundMatched: 2, recon.PreauthUncaptured: 1, recon.VoidedNotCleared: 1},
		// b1, b3 (captured), b4, the stand-in b6; b4's refund; b5 voided.
		"sber": {recon.Matched: 4, recon.RefundMatched: 1, recon.VoidedNotCleared: 1},
	}
	for bank, want := range wantCounts {
		for c, n := range want {
			if counts[bank][c] != n {
				t.Errorf("%s: %d %s items, want %d (all: %v)", bank, counts[bank][c], c, n, counts[bank])
			}
		}
		if len(counts[bank]) != len(want) {
			t.Errorf("%s: categories %v, want %v", bank, counts[bank], want)
		}
	}

	// Every approved and cleared payment carries its matched row.
	b6id := b6raw.id
	cleared := map[string]int64{a1.id: 100000, a3.id: 120000, a5.id: 150000, a6.id: 500000,
		b1.id: 250000, b3.id: 300000, b4.id: 80000, b6id: 45020}
	for id, amt := range cleared {
		states, err := svc.Store().PaymentStates(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var sale *recon.Item
		refunds := 0
		for i := range states {
			switch it := &states[i].Item; it.Kind {
			case recon.KindSale:
				sale = it
			case recon.KindRefund:
				if it.Category != recon.RefundMatched || it.Line == 0 {
					t.Errorf("payment %s refund item %+v", id, *it)
				}
				refunds++
			}
		}
		if sale == nil || sale.Category != recon.Matched || sale.Line == 0 || sale.Amount != amt || sale.ExpectedAmount != amt {
			t.Errorf("payment %s (%d): sale state %+v", id, amt, sale)
		}
		if want := map[string]int{a6.id: 2, b4.id: 1}[id]; refunds != want {
			t.Errorf("payment %s: %d matched refunds, want %d", id, refunds, want)
		}
	}
	// switchctl wrote each payment's state and clearing row to the journal.
	states := journalRecon(t, e.dir, a1.id, a3.id, a4.id, a5.id, a6.id, a7.id, a8.id, b1.id, b3.id, b4.id, b5.id, b6id)
	bankOf := map[string]string{a1.id: "alfa", a3.id: "alfa", a5.id: "alfa", a6.id: "alfa"}
	for id := range cleared {
		bank := bankOf[id]
		if bank == "" {
			bank = "sber"
		}
		if st := states[id]; st[0] != "matched" || !strings.HasPrefix(st[1], bank+"/") || strings.HasSuffix(st[1], "/0") {
			t.Errorf("journal state of %s: %v", id, st)
		}
	}
	for _, id := range []string{a4.id, a8.id, b5.id} {
		if states[id][0] != "not_cleared" {
			t.Errorf("journal state of %s: %v, want not_cleared", id, states[id])
		}
	}
	if states[a7.id] != [2]string{} {
		t.Errorf("the timed-out, reversed payment has a state: %v", states[a7.id])
	}
	if x, _ := sber.sim.Ledger().ByRRN(b6.RRN); x.AuthCode == "" {
		t.Errorf("stand-in at the host without auth code: %+v", x)
	}

	// Settlement, summed over the settlement days:
	//   mA1 (2.0 %): sales a1 100000 + a3 120000 = 220000; commission
	//     2000 + 2400 = 4400; bank fees (2.0 %) 2000 + 2400 = 4400;
	//     net 220000 − 4400 = 215600.
	//   mA2 (2.5 %): sales a5 150000 + a6 500000 = 650000; refunds 100000 +
	//     50000 = 150000; commission 3750 + 12500 = 16250; fees 3000 +
	//     10000 = 13000; net 650000 − 150000 − 16250 = 483750.
	//   mB1 (2.5 %): sales b1 250000 + b3 300000 + b4 80000 + b6 45020 =
	//     675020; refunds 20000; commission 6250 + 7500 + 2000 + 1125.5→1126
	//     = 16876; fees (1.8 % + 25.00) 7000 + 7900 + 3940 + 3310 = 22150;
	//     net 675020 − 20000 − 16876 = 638144.
	all := unionDays(days["alfa"], days["sber"])
	got := merchantTotals(t, svc, all)
	want := map[string]recon.MerchantSettlement{
		mA1: {MerchantID: mA1, Currency: "KZT", Rate: "2%", SalesCount: 2, Sales: 220000, Commission: 4400, BankFees: 4400, Net: 215600},
		mA2: {MerchantID: mA2, Currency: "KZT", Rate: "2.5%", SalesCount: 2, Sales: 650000, RefundsCount: 2, Refunds: 150000,
			Commission: 16250, BankFees: 13000, Net: 483750},
		mB1: {MerchantID: mB1, Currency: "KZT", Rate: "2.5%", SalesCount: 4, Sales: 675020, RefundsCount: 1, Refunds: 20000,
			Commission: 16876, BankFees: 22150, Net: 638144},
	}
	for m, w := range want {
		if got[m] != w {
			t.Errorf("settlement of %s:\n got %+v\nwant %+v", m, got[m], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("settlement merchants %v", got)
	}

	// switchctl settlement exports the same, Excel included.
	for _, d := range all {
		code, text := switchctl(t, "settlement", "--config", cfgPath, "--date", d.String(), "--out", out)
		if code != cli.ExitOK {
			t.Fatalf("switchctl settlement %s: exit %d\n%s", d, code, text)
		}
		for _, ext := range []string{"csv", "json", "xlsx"} {
			if fi, err := os.Stat(filepath.Join(out, "settlement_"+d.YYYYMMDD()+"."+ext)); err != nil || fi.Size() == 0 {
				t.Errorf("settlement export %s: %v", ext, err)
			}
		}
	}
	if len(all) == 1 {
		_, text := switchctl(t, "settlement", "--config", cfgPath, "--date", all[0].String(), "--out", out)
		for _, frag := range []string{"M0000000000A001", "2156.00", "4837.50", "6381.44"} {
			if !strings.Contains(text, frag) {
				t.Errorf("settlement table lacks %q:\n%s", frag, text)
			}
		}
	}
}

// nextCutOff returns the first cut-off of either bank after t.
func nextCutOff(t time.Time, cals ...*calendar.Calendar) time.Time {
	var next time.Time
	for _, c := range cals {
		for d := calendar.DateOf(t.In(c.Location())).AddDays(-1); ; d = d.AddDays(1) {
			if at := c.CutOffAt(d); at.After(t) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				break
			}
		}
	}
	return next
}

// prevBusinessDay is the business day before d.
func prevBusinessDay(cal *calendar.Calendar, d calendar.Date) calendar.Date {
	p := d.AddDays(-1)
	for !cal.IsBusinessDay(p) {
		p = p.AddDays(-1)
	}
	return p
}

// breakKey is what the breaks test compares of an item.
type breakKey struct {
	Category recon.Category
	Kind     recon.Kind
	Payment  string
	Amount   int64
	Expected int64
}

// TestReconInjectedBreaks: simulator-generated clearing files with a break
// of every category injected, on both banks → the exact item list of each
// run, and the settlement totals worked out by hand.
func TestReconInjectedBreaks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesByMerchant)
	// The scenario must not straddle a cut-off: every payment of a bank has
	// to fall on one settlement day. Wait out a cut-off that is close.
	if wait := time.Until(nextCutOff(time.Now(), e.alfa.sim.Calendar(), e.sber.sim.Calendar())); wait < 30*time.Second {
		time.Sleep(wait + time.Second)
	}
	s := e.startSwitchWith("")
	cfgPath := filepath.Join(e.dir, "switchctl.yaml")
	if err := os.WriteFile(cfgPath, []byte(reconYAML(e.dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.dir, "reports")

	for _, tc := range []struct {
		b        *bank
		merchant string
		rate     string
	}{{e.alfa, mA1, "2%"}, {e.sber, mB1, "2.5%"}} {
		b, m := tc.b, tc.merchant
		cal := b.sim.Calendar()
		start := time.Now()
		p1 := s.payAt("purchase", m, 110000, "4000000000000010") // missing from the file
		p2 := s.payAt("purchase", m, 120000, "4000000000000028") // cleared at another amount
		p3 := s.payAt("purchase", m, 130000, "5100000000000008") // cleared twice
		p4 := s.payAt("purchase", m, 140000, "2200000000000004") // charged back, partly reversed
		p5 := s.payAt("purchase", m, 150000, "4000000000000010") // voided after the bank cleared it
		p6 := s.payAt("purchase", m, 160000, "4000000000000028") // Bank A: cleared on the day before
		for _, p := range []payment{p1, p2, p3, p4, p5, p6} {
			if p.status != "approved" {
				t.Fatalf("%s: %+v", b.name, p)
			}
		}
		day := cal.SettlementDay(start)
		if end := cal.SettlementDay(time.Now()); end != day {
			t.Fatalf("%s: the payments straddle a cut-off (%s, %s)", b.name, day, end)
		}
		req := settlement.Request{
			Date:        day,
			Chargebacks: []settlement.Chargeback{{RRN: p4.rrn}, {RRN: p4.rrn, Amount: 40000, Reversal: true}},
			Breaks: []settlement.Break{
				{Type: settlement.BreakMissing, RRN: p1.rrn},
				{Type: settlement.BreakAmount, RRN: p2.rrn, Amount: 121000},
				{Type: settlement.BreakDuplicate, RRN: p3.rrn},
				{Type: settlement.BreakUnknown, Amount: 100000},
			},
		}
		other := prevBusinessDay(cal, day)
		if b == e.alfa {
			req.Breaks = append(req.Breaks, settlement.Break{Type: settlement.BreakMissing, RRN: p6.rrn})
		}
		file := clearingFile(t, b, e.dir, req)
		// The bank cleared p5 before the switch's void reached it.
		s.op(p5.id, "void", 0)
		hostTxn(t, b, p5.rrn, "void", func(x ledger.Txn) bool { return x.State == ledger.StateReversed })

		if b == e.alfa {
			// Bank A's file of the previous business day carries p6 (its
			// RRN and auth code; a row of the simulator's "unknown" kind
			// built with p6's keys): settled on another day.
			other := clearingFile(t, b, e.dir, settlement.Request{Date: other, Breaks: []settlement.Break{{
				Type: settlement.BreakUnknown, RRN: p6.rrn, AuthCode: p6.auth, STAN: p6.stan, TerminalID: terminalOf[m],
				MerchantID: m, Card: p6.maskedPAN, Amount: 160000,
			}}})
			code, text := switchctl(t, "recon", "--config", cfgPath, "--bank", b.name, "--file", other, "--out", out)
			if code != cli.ExitOK {
				t.Fatalf("%s previous day: exit %d\n%s", b.name, code, text)
			}
		}
		code, text := switchctl(t, "recon", "--config", cfgPath, "--bank", b.name, "--file", file, "--out", out)
		if code != cli.ExitBreaks {
			t.Fatalf("%s: exit %d, want %d (breaks)\n%s", b.name, code, cli.ExitBreaks, text)
		}

		svc := openRecon(t, cfgPath)
		var got []breakKey
		for _, it := range itemsOf(t, svc, b.name, day) {
			got = append(got, breakKey{it.Category, it.Kind, it.PaymentID, it.Amount, it.ExpectedAmount})
		}
		want := []breakKey{
			{recon.MissingInClearing, recon.KindSale, p1.id, 0, 110000},
			{recon.AmountMismatch, recon.KindSale, p2.id, 121000, 120000},
			{recon.Matched, recon.KindSale, p3.id, 130000, 130000},
			{recon.DuplicateInClearing, recon.KindSale, p3.id, 130000, 130000},
			{recon.Matched, recon.KindSale, p4.id, 140000, 140000},
			{recon.Chargeback, recon.KindChargeback, p4.id, 140000, 140000},
			{recon.ChargebackReversal, recon.KindChargebackReversal, p4.id, 40000, 140000},
			{recon.ReversedButCleared, recon.KindSale, p5.id, 150000, 0},
			{recon.UnknownInJournal, recon.KindSale, "", 100000, 0},
		}
		if b == e.sber {
			// Bank B's p6 clears normally on its day.
			want = append(want, breakKey{recon.Matched, recon.KindSale, p6.id, 160000, 160000})
		}
		sortKeys := func(k []breakKey) {
			slices.SortFunc(k, func(a, b breakKey) int {
				return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
			})
		}
		sortKeys(got)
		sortKeys(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s items:\n got %v\nwant %v", b.name, day, got, want)
		}

		// Settlement of the day for this merchant: payable sales p3 130000
		// + p4 140000 (+ Bank B p6 160000); chargeback 140000, reversal
		// 40000; held: p2 121000, p3's duplicate 130000, p5 150000, the
		// unknown row 100000.
		//   Bank A (2.0 %): commission 2600 + 2800 = 5400;
		//     net 270000 − 140000 + 40000 − 5400 = 164600.
		//   Bank B (2.5 %): commission 3250 + 3500 + 4000 = 10750;
		//     net 430000 − 140000 + 40000 − 10750 = 319250.
		wantSt := recon.MerchantSettlement{MerchantID: m, Currency: "KZT", Rate: tc.rate, SalesCount: 2, Sales: 270000,
			ChargebacksCount: 1, Chargebacks: 140000, CBReversalsCount: 1, ChargebackReversals: 40000,
			Commission: 5400, HeldCount: 4, Held: 501000, Net: 164600}
		if b == e.sber {
			wantSt.SalesCount, wantSt.Sales, wantSt.Commission, wantSt.Net = 3, 430000, 10750, 319250
		}
		gotSt := merchantTotals(t, svc, []calendar.Date{day})[m]
		gotSt.BankFees = 0 // the fee of every row, checked in the clean-day test
		if gotSt != wantSt {
			t.Errorf("%s settlement %s:\n got %+v\nwant %+v", b.name, day, gotSt, wantSt)
		}

		if b == e.alfa {
			// p6 on the previous day's run: settled on another day, paid
			// then (160000 − 2.0 % = 156800); and not missing on its own day.
			items := itemsOf(t, svc, b.name, other)
			if len(items) != 1 || items[0].Category != recon.SettledOnOtherDay || items[0].PaymentID != p6.id ||
				items[0].ExpectedDate != day || !items[0].Payable {
				t.Errorf("previous day items: %+v", items)
			}
			prev := merchantTotals(t, svc, []calendar.Date{other})[m]
			if prev.Sales != 160000 || prev.Commission != 3200 || prev.Net != 156800 || prev.HeldCount != 0 {
				t.Errorf("previous day settlement: %+v", prev)
			}
		}

		// A second, different file for the same day is refused unless forced.
		req.Breaks = req.Breaks[:0]
		alt := clearingFile(t, b, t.TempDir(), req)
		if code, text := switchctl(t, "recon", "--config", cfgPath, "--bank", b.name, "--file", alt, "--out", out); code != cli.ExitFail ||
			!strings.Contains(text, "already reconciled") {
			t.Errorf("%s second file: exit %d\n%s", b.name, code, text)
		}
	}
}

// journalRecon reads a payment's reconciliation state and clearing row
// reference from the switch's SQLite journal (a second store on the same
// file, as an operator's tool would open it).
func journalRecon(t *testing.T, dir string, ids ...string) map[string][2]string {
	t.Helper()
	ctx := context.Background()
	js, err := journal.Open(ctx, journal.Config{Driver: journal.DriverSQLite, DSN: filepath.Join(dir, "journal.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = js.Close() }()
	out := map[string][2]string{}
	for _, id := range ids {
		p, err := js.GetPayment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = [2]string{string(p.ReconState), p.ReconRef}
	}
	return out
}

// upload posts a clearing file to the operator endpoint.
func (s *sw) upload(token, query string, data []byte) (int, map[string]any) {
	s.e.t.Helper()
	req, err := http.NewRequest("POST", s.base+"/v1/admin/recon?"+query, bytes.NewReader(data))
	if err != nil {
		s.e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		s.e.t.Fatal(err)
	}
	s.e.bodies.Write(raw)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		s.e.t.Fatalf("upload answer %d %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// TestReconOperatorEndpoints: the switch serves reconciliation and
// settlement on its operator API, over real HTTP, behind the operator
// token: a clearing file larger than the 64 KiB payment body limit is
// uploaded and reconciled, the payments' states reach the journal, the
// run, a payment's items and the settlement (JSON, CSV, HTML, Excel) are
// read back, the same file replays and another file is refused.
func TestReconOperatorEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesByMerchant)
	if wait := time.Until(nextCutOff(time.Now(), e.alfa.sim.Calendar())); wait < 20*time.Second {
		time.Sleep(wait + time.Second)
	}
	s := e.startSwitchWith(settlementYAML)
	start := time.Now()
	p1 := s.payAt("purchase", mA1, 150000, "4000000000000010")
	p2 := s.payAt("purchase", mA2, 80000, "4000000000000028")
	pre := s.payAt("preauth", mA2, 50000, "5100000000000008") // never captured
	if p1.status != "approved" || p2.status != "approved" || pre.status != "approved" {
		t.Fatalf("payments: %+v %+v %+v", p1, p2, pre)
	}
	day := e.alfa.sim.Calendar().SettlementDay(start)
	if end := e.alfa.sim.Calendar().SettlementDay(time.Now()); end != day {
		t.Fatalf("the payments straddle a cut-off (%s, %s)", day, end)
	}
	// Unknown rows fill the file beyond 64 KiB: 700 rows of ~130 bytes.
	req := settlement.Request{Date: day}
	for i := range 700 {
		req.Breaks = append(req.Breaks, settlement.Break{Type: settlement.BreakUnknown, RRN: fmt.Sprintf("77%010d", i),
			STAN: fmt.Sprintf("%06d", 700000+i), MerchantID: mA1, TerminalID: terminalOf[mA1], Amount: 1000})
	}
	name, data, err := e.alfa.sim.Clearing(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= 64<<10 {
		t.Fatalf("file of %d bytes, want more than 64 KiB", len(data))
	}
	q := "bank=alfa&file_name=" + name

	if st, m := s.upload(gatewayToken, q, data); st != http.StatusForbidden {
		t.Fatalf("gateway token: %d %v", st, m)
	}
	st, doc := s.upload(operatorToken, q, data)
	if st != 200 {
		t.Fatalf("upload: %d %v", st, doc)
	}
	run, _ := doc["run"].(map[string]any)
	counts, _ := run["counts"].(map[string]any)
	if doc["replayed"] != false || run["rows"] != 702.0 || run["breaks"] != 700.0 || counts["matched"] != 2.0 ||
		counts["unknown_in_journal"] != 700.0 || counts["preauth_uncaptured"] != 1.0 || run["settlement_date"] != day.String() {
		t.Fatalf("run: %v", run)
	}
	if st, again := s.upload(operatorToken, q, data); st != 200 || again["replayed"] != true {
		t.Fatalf("same file again: %d %v", st, again["replayed"])
	}
	if st, m := s.upload(operatorToken, q, otherFile(t, e, day)); st != http.StatusConflict || errCode(m) != "invalid_state" {
		t.Fatalf("another file: %d %v", st, m)
	}

	// The journal carries each payment's state and its clearing row.
	js := journalRecon(t, e.dir, p1.id, p2.id, pre.id)
	ref := func(line int) string { return fmt.Sprintf("alfa/%s/%d", day, line) }
	if js[p1.id][0] != "matched" || !strings.HasPrefix(js[p1.id][1], "alfa/"+day.String()+"/") ||
		js[p2.id][0] != "matched" || js[pre.id] != [2]string{"not_cleared", ref(0)} {
		t.Errorf("journal states: %v", js)
	}

	st, items := s.call("GET", "/v1/admin/recon/payments/"+p1.id, operatorToken, "")
	if list, _ := items["items"].([]any); st != 200 || items["recon_state"] != "matched" || len(list) != 1 {
		t.Errorf("payment items: %d %v", st, items)
	}
	for _, c := range []struct{ path, ctype, has string }{
		{"/v1/admin/recon?bank=alfa&date=" + day.String(), "application/json", `"unknown_in_journal"`},
		{"/v1/admin/recon?bank=alfa&date=" + day.String() + "&format=csv", "text/csv", p1.id},
		{"/v1/admin/recon?bank=alfa&date=" + day.String() + "&format=html", "text/html", "unknown_in_journal"},
		{"/v1/admin/settlement?date=" + day.String(), "application/json", `"net_payout": 147000`},
		{"/v1/admin/settlement?date=" + day.String() + "&format=xlsx", "application/vnd.openxmlformats", "PK"},
	} {
		req, _ := http.NewRequest("GET", s.base+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+operatorToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !bytes.Contains(raw, []byte(c.has)) {
			t.Errorf("GET %s: %d %s, %d bytes, want %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(raw), c.has)
		}
	}
	// The settlement JSON: mA1 150000 at 2.0 % → net 147000; mA2 80000 at
	// 2.5 % → 78000; the unknown rows are held.
	st, sm := s.call("GET", "/v1/admin/settlement?date="+day.String(), operatorToken, "")
	merchants, _ := sm["merchants"].([]any)
	nets := map[string]any{}
	for _, m := range merchants {
		mm := m.(map[string]any)
		nets[mm["merchant_id"].(string)] = []any{mm["net_payout"], mm["held_count"]}
	}
	if st != 200 || fmt.Sprint(nets[mA1]) != "[147000 700]" || fmt.Sprint(nets[mA2]) != "[78000 0]" {
		t.Errorf("settlement: %d %v", st, nets)
	}
	if st, m := s.call("GET", "/v1/admin/settlement?date="+day.String(), gatewayToken, ""); st != http.StatusForbidden {
		t.Errorf("settlement with the gateway token: %d %v", st, m)
	}
}

// otherFile returns a Bank A clearing file for day that differs from the
// accepted one, to be refused.
func otherFile(t *testing.T, e *env, day calendar.Date) []byte {
	t.Helper()
	_, data, err := e.alfa.sim.Clearing(settlement.Request{Date: day, Breaks: []settlement.Break{{Type: settlement.BreakUnknown, Amount: 5000}}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}
