// Package chaos proves the switch's failure story end to end: it runs real
// switchd processes against the in-process reference bank simulators,
// injects faults (lost, late and dropped responses; a bank down for a
// while; switchd killed with SIGKILL; one of two switchd processes on one
// PostgreSQL journal killed), lets the faults clear and the
// store-and-forward queue drain, then compares the simulators' ledgers
// with the switch's journal payment by payment (Compare).
//
// cmd/chaos is its command line and `make chaos` (scripts/chaos.sh) runs
// the whole matrix.
package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// Options configure a chaos run.
type Options struct {
	// Switchd is the switchd binary (go build -o bin/ ./cmd/...).
	Switchd string
	// Dir receives configs, journals and logs.
	Dir string
	// Payments per case (default 120); Workers concurrent gateway calls
	// (default 8).
	Payments int
	Workers  int
	// PostgresDSN is the database of the two-process case; "" skips it.
	PostgresDSN string
	// Cases to run by name; empty: all.
	Cases []string
	// Seed makes the load reproducible.
	Seed uint64
	// Log receives progress lines; nil: discarded.
	Log io.Writer
}

// Result is one row of the chaos table.
type Result struct {
	Case     string
	Sent     int // payments the gateway attempted
	Lost     int // requests that never got an answer (killed mid-flight)
	Report   *Report
	Duration time.Duration
	Err      error
}

// Pass reports whether the case ran and found no mismatch.
func (r Result) Pass() bool {
	return r.Err == nil && r.Report != nil && r.Report.MismatchedPayments == 0
}

// Case is one scenario of the matrix.
type Case struct {
	Name string
	// What the case proves, for the table.
	About string
	run   func(ctx context.Context, e *env) error
	// postgres cases need Options.PostgresDSN.
	postgres bool
	// killer cases SIGKILL a switchd.
	killer bool
}

// Cases is the matrix in the order it runs.
func Cases() []Case {
	return []Case{
		{Name: "lost-response-99", About: "amount rule 99: approved at the host, never answered", run: faultAmount("99")},
		{Name: "late-response-98", About: "amount rule 98: approved, answered after the timeout", run: faultAmount("98")},
		{Name: "conn-closed-97", About: "amount rule 97: host closes the connection on receipt", run: faultAmount("97")},
		{Name: "bank-down-standin", About: "Bank A refuses connections, then returns: stand-in within limits, advices delivered", run: bankDown},
		{Name: "switchd-sigkill", About: "switchd killed with SIGKILL mid-load, restarted", run: killRestart, killer: true},
		{Name: "two-switchd-pg-sigkill", About: "two switchd on one PostgreSQL, one SIGKILLed: the other finishes", run: twoProcesses, postgres: true, killer: true},
	}
}

// env is one case's world: simulators, journal location, switch processes.
type env struct {
	o      Options
	name   string
	dir    string
	simA   *banksim.Sim
	simB   *banksim.Sim
	params switchParams
	procs  []*proc
	cl     *client
	rng    *rand.Rand
	// lastKill is when a process was last killed: recovery needs
	// recoverWindow after it.
	lastKill time.Time
	// standInDeclines counts payments of the down bank's cards declined
	// while it was down (stand-in refused them: beyond the limits).
	standInDeclines int
}

func (e *env) logf(format string, args ...any) {
	if e.o.Log != nil {
		fmt.Fprintf(e.o.Log, "[%s] %s\n", e.name, fmt.Sprintf(format, args...))
	}
}

// Run runs the selected cases one after the other.
func Run(ctx context.Context, o Options) []Result {
	if o.Payments <= 0 {
		o.Payments = 120
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	want := map[string]bool{}
	for _, c := range o.Cases {
		want[c] = true
	}
	var out []Result
	for _, c := range Cases() {
		if len(want) > 0 && !want[c.Name] {
			continue
		}
		if c.postgres && o.PostgresDSN == "" {
			out = append(out, Result{Case: c.Name, Err: fmt.Errorf("skipped: no PostgreSQL DSN")})
			continue
		}
		start := time.Now()
		res := runCase(ctx, o, c)
		res.Duration = time.Since(start)
		out = append(out, res)
	}
	return out
}

func runCase(ctx context.Context, o Options, c Case) (res Result) {
	res.Case = c.Name
	dir := filepath.Join(o.Dir, c.Name)
	// A fresh journal per run: the case directory is ours to recreate.
	if err := os.RemoveAll(dir); err != nil {
		res.Err = err
		return res
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		res.Err = err
		return res
	}
	e := &env{o: o, name: c.Name, dir: dir, rng: rand.New(rand.NewPCG(o.Seed, 7))}
	e.cl = newClient(fmt.Sprintf("chaos-%s-%d", c.Name, time.Now().UnixNano()%1e9))
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	defer func() {
		for _, p := range e.procs {
			_ = p.kill()
		}
	}()
	var err error
	if e.simA, err = startSim(cctx, specs.DialectASCII, "123456"); err != nil {
		res.Err = err
		return res
	}
	defer e.simA.Close()
	if e.simB, err = startSim(cctx, specs.DialectBinary, "654321"); err != nil {
		res.Err = err
		return res
	}
	defer e.simB.Close()
	secrets, err := newRunSecrets()
	if err != nil {
		res.Err = err
		return res
	}
	e.cl.token = secrets.GatewayToken
	e.params = switchParams{Driver: journal.DriverSQLite, DSN: filepath.Join(dir, "journal.db"), BankA: e.simA.Addr(), BankB: e.simB.Addr(),
		runSecrets: secrets}
	if c.postgres {
		schema := fmt.Sprintf("chaos_%d", time.Now().UnixNano()%1e12)
		if err := pgSchema(cctx, o.PostgresDSN, schema); err != nil {
			res.Err = err
			return res
		}
		e.params.Driver, e.params.DSN, e.params.Schema = journal.DriverPostgres, o.PostgresDSN, schema
	}
	if err := c.run(cctx, e); err != nil {
		res.Err = err
	}
	res.Sent, res.Lost = e.cl.sent, e.cl.lost
	if res.Err != nil {
		return res
	}
	// Faults are clear: wait for the queue to drain, stop the switch
	// gracefully, then compare.
	if err := e.drain(cctx); err != nil {
		res.Err = err
		return res
	}
	for _, p := range e.procs {
		if err := p.stop(); err != nil {
			res.Err = err
			return res
		}
	}
	store, err := journal.Open(cctx, journal.Config{Driver: e.params.Driver, DSN: e.params.DSN, Schema: e.params.Schema})
	if err != nil {
		res.Err = fmt.Errorf("opening the journal to compare: %w", err)
		return res
	}
	defer store.Close()
	res.Report, res.Err = Compare(cctx, store, map[string][]ledger.Txn{
		"alfa": e.simA.Ledger().Snapshot(), "sber": e.simB.Ledger().Snapshot(),
	}, e.cl.told)
	if res.Report != nil {
		for _, m := range res.Report.Mismatches {
			e.logf("MISMATCH %s", m)
		}
		if res.Err == nil {
			res.Err = e.exercised(c, res.Report)
		}
	}
	if c.postgres && res.Pass() {
		// Kept on failure for the post-mortem; dropped once proven.
		if err := pgExec(cctx, o.PostgresDSN, "DROP SCHEMA "+e.params.Schema+" CASCADE"); err != nil {
			e.logf("dropping schema %s: %v", e.params.Schema, err)
		}
	}
	return res
}

func startSim(ctx context.Context, dialect, acquirer string) (*banksim.Sim, error) {
	s, err := banksim.New(banksim.Config{
		Dialect: dialect, Listen: "127.0.0.1:0", AcquirerID: acquirer,
		LateDelay: 1500 * time.Millisecond, EchoInterval: -1, Logger: zerolog.Nop(),
	})
	if err != nil {
		return nil, fmt.Errorf("simulator %s: %w", dialect, err)
	}
	if err := s.Start(ctx); err != nil {
		return nil, fmt.Errorf("starting simulator %s: %w", dialect, err)
	}
	return s, nil
}

// pgSchema creates a fresh schema for one run (the journal migrates it).
func pgSchema(ctx context.Context, dsn, schema string) error {
	return pgExec(ctx, dsn, "CREATE SCHEMA "+schema)
}

// pgExec runs one statement of the harness's own (schema names it made).
func pgExec(ctx context.Context, dsn, stmt string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// newProc prepares (but does not start) switchd number i of the case.
func (e *env) newProc(i int) (*proc, error) {
	api, err := freeAddr()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("switchd-%d", i)
	p := e.params
	p.API = api
	cfg, err := writeSwitchConfig(e.dir, name, p)
	if err != nil {
		return nil, err
	}
	pr := &proc{name: name, bin: e.o.Switchd, cfgPath: cfg, api: api, logPath: filepath.Join(e.dir, name+".log")}
	e.procs = append(e.procs, pr)
	return pr, nil
}

// live returns the API addresses of the processes that are running.
func (e *env) live() []string {
	var out []string
	for _, p := range e.procs {
		if p.alive() {
			out = append(out, p.api)
		}
	}
	return out
}

// workload builds n payments on both banks (Visa → Bank A, Mastercard →
// Bank B) with cards of the test ranges, purchases and preauths, amounts
// up to maxAmount minor units; a fraction fracFault of them end in the
// fault suffix (e.g. "99"). Other amounts end in 10..49: approved, but
// for the odd ..14 (invalid card number).
func (e *env) workload(n int, suffix string, fracFault float64, maxAmount int64, cards, firstN int) []payment {
	out := make([]payment, 0, n)
	for i := range n {
		visa := i%2 == 0
		typ := "purchase"
		if e.rng.IntN(3) == 0 {
			typ = "preauth"
		}
		base := int64(1 + e.rng.IntN(int(maxAmount/100)))
		tail := int64(10 + e.rng.IntN(40))
		if suffix != "" && e.rng.Float64() < fracFault {
			tail = int64(suffix[0]-'0')*10 + int64(suffix[1]-'0')
		}
		out = append(out, payment{n: firstN + i, typ: typ, amount: base*100 + tail, pan: testPAN(visa, e.rng.IntN(cards))})
	}
	return out
}

// drain waits until no SAF item is owed (queued or in progress) at any
// live switch, and recovery had time to settle what a killed process
// left.
func (e *env) drain(ctx context.Context) error {
	if w := time.Until(e.lastKill.Add(recoverWindow)); w > 0 {
		e.logf("waiting %s for leases to expire and recovery to run", w.Round(time.Millisecond))
		select {
		case <-time.After(w):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	quiet := 0
	for {
		owed, err := e.owed(ctx)
		if err != nil {
			return err
		}
		if owed == 0 {
			quiet++
			if quiet >= 3 {
				return nil
			}
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("SAF queue did not drain: %d items still owed", owed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// owed counts queued and in-progress items through /v1/admin/saf.
func (e *env) owed(ctx context.Context) (int, error) {
	bases := e.live()
	if len(bases) == 0 {
		return 0, fmt.Errorf("no switchd is running")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+bases[0]+"/v1/admin/saf", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+e.params.OperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading /v1/admin/saf: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Items []struct {
			State string `json:"state"`
		} `json:"items"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return 0, fmt.Errorf("decoding /v1/admin/saf: %w", err)
	}
	n := 0
	for _, it := range body.Items {
		if it.State != string(journal.SAFDead) {
			n++
		}
	}
	return n, nil
}

// exercised refuses a vacuous pass: every case must have made the switch
// reverse something, the bank-down case must have stood in and declined
// beyond the limits, and a kill must have happened mid-load.
func (e *env) exercised(c Case, r *Report) error {
	switch {
	case r.Reversals == 0:
		return fmt.Errorf("no reversal was needed: the faults did not bite")
	case c.Name == "bank-down-standin" && (r.StandIn == 0 || e.standInDeclines == 0):
		return fmt.Errorf("stand-in not exercised: %d approvals, %d declines beyond the limits", r.StandIn, e.standInDeclines)
	case c.killer && e.lastKill.IsZero():
		return fmt.Errorf("no process was killed")
	}
	return nil
}

// bankUsable reads /v1/admin/banks for one bank's usability.
func (e *env) bankUsable(ctx context.Context, bank string) (bool, string, error) {
	bases := e.live()
	if len(bases) == 0 {
		return false, "", fmt.Errorf("no switchd is running")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+bases[0]+"/v1/admin/banks", nil)
	if err != nil {
		return false, "", err
	}
	req.Header.Set("Authorization", "Bearer "+e.params.OperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, "", fmt.Errorf("reading /v1/admin/banks: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Banks []struct {
			Bank    string `json:"bank"`
			Usable  bool   `json:"usable"`
			Circuit string `json:"circuit"`
		} `json:"banks"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return false, "", fmt.Errorf("decoding /v1/admin/banks: %w", err)
	}
	for _, b := range body.Banks {
		if b.Bank == bank {
			return b.Usable, b.Circuit, nil
		}
	}
	return false, "", fmt.Errorf("bank %s not in /v1/admin/banks", bank)
}

func (e *env) waitBank(ctx context.Context, bank string, usable bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		u, _, err := e.bankUsable(ctx, bank)
		if err == nil && u == usable {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bank %s never became usable=%v (last error %v)", bank, usable, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// faultAmount is the lost/late/closed-connection case of one amount rule.
func faultAmount(suffix string) func(ctx context.Context, e *env) error {
	return func(ctx context.Context, e *env) error {
		p, err := e.newProc(1)
		if err != nil {
			return err
		}
		if err := p.start(ctx); err != nil {
			return err
		}
		load := e.workload(e.o.Payments, suffix, 0.3, 400000, 40, 0)
		e.logf("sending %d payments, ~30%% ending in %s", len(load), suffix)
		return e.cl.drive(ctx, e.o.Workers, e.o.Seed, load, e.live, nil)
	}
}

// bankDown: Bank A up, then refusing connections (its link goes down and
// its circuit opens), then back. While it is down its cards are stood in
// within the limits (single amount ≤ 500.00 KZT, 3 per card per day) and
// declined beyond them; the advices reach the bank when it returns, ahead
// of the voids, captures and refunds made meanwhile.
func bankDown(ctx context.Context, e *env) error {
	p, err := e.newProc(1)
	if err != nil {
		return err
	}
	if err := p.start(ctx); err != nil {
		return err
	}
	third := e.o.Payments / 3
	if err := e.cl.drive(ctx, e.o.Workers, e.o.Seed, e.workload(third, "", 0, 90000, 40, 0), e.live, nil); err != nil {
		return err
	}
	e.logf("bank A goes down")
	if err := e.simA.SetFaults(banksim.Faults{RefuseConnections: true}); err != nil {
		return err
	}
	e.simA.DropConnections()
	if err := e.waitBank(ctx, "alfa", false); err != nil {
		return err
	}
	// Amounts up to 900.00 KZT, about half within the stand-in maximum
	// (500.00), on few cards so that the daily count (3) is reached too.
	down := e.workload(third, "", 0, 90000, 6, third)
	before := len(e.cl.told)
	if err := e.cl.drive(ctx, e.o.Workers, e.o.Seed+1, down, e.live, nil); err != nil {
		return err
	}
	for _, t := range e.cl.told[before:] {
		if t.Kind == "authorize" && t.Status == "declined" {
			e.standInDeclines++
		}
	}
	e.logf("bank A returns")
	if err := e.simA.SetFaults(banksim.Faults{}); err != nil {
		return err
	}
	if err := e.waitBank(ctx, "alfa", true); err != nil {
		return err
	}
	return e.cl.drive(ctx, e.o.Workers, e.o.Seed+2, e.workload(e.o.Payments-2*third, "99", 0.1, 90000, 40, 2*third), e.live, nil)
}

// killRestart: switchd SIGKILLed in the middle of a load with lost
// responses, then restarted on the same journal; the gateway retries what
// got no answer with the same request_id.
func killRestart(ctx context.Context, e *env) error {
	p, err := e.newProc(1)
	if err != nil {
		return err
	}
	if err := p.start(ctx); err != nil {
		return err
	}
	load := e.workload(e.o.Payments, "99", 0.15, 400000, 40, 0)
	var once sync.Once
	var killErr error
	killed := make(chan struct{})
	progress := func(done int) {
		if done < len(load)*2/5 {
			return
		}
		once.Do(func() {
			go func() {
				defer close(killed)
				e.logf("SIGKILL %s after %d payments", p.name, done)
				if killErr = p.kill(); killErr != nil {
					return
				}
				e.lastKill = time.Now()
				time.Sleep(500 * time.Millisecond)
				killErr = p.start(ctx)
				e.logf("%s restarted", p.name)
			}()
		})
	}
	err = e.cl.drive(ctx, e.o.Workers, e.o.Seed, load, func() []string { return []string{p.api} }, progress)
	<-killed
	if killErr != nil {
		return killErr
	}
	return err
}

// twoProcesses: two switchd share one PostgreSQL journal and take the load
// together; one is SIGKILLed mid-load and never comes back. The survivor
// takes over the dead one's leased SAF items after their lease and
// recovers its unanswered requests.
func twoProcesses(ctx context.Context, e *env) error {
	var ps []*proc
	for i := 1; i <= 2; i++ {
		p, err := e.newProc(i)
		if err != nil {
			return err
		}
		if err := p.start(ctx); err != nil {
			return err
		}
		ps = append(ps, p)
	}
	load := e.workload(e.o.Payments, "99", 0.2, 400000, 40, 0)
	var rr sync.Mutex
	turn := 0
	bases := func() []string {
		live := e.live()
		rr.Lock()
		defer rr.Unlock()
		turn++
		if len(live) > 1 && turn%2 == 1 {
			live[0], live[1] = live[1], live[0]
		}
		return live
	}
	var once sync.Once
	var killErr error
	progress := func(done int) {
		if done >= len(load)*2/5 {
			once.Do(func() {
				e.logf("SIGKILL %s after %d payments", ps[0].name, done)
				killErr = ps[0].kill()
				e.lastKill = time.Now()
			})
		}
	}
	if err := e.cl.drive(ctx, e.o.Workers, e.o.Seed, load, bases, progress); err != nil {
		return err
	}
	return killErr
}

// Table renders results as the chaos table.
func Table(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tpayments sent\tno answer\tapproved\tdeclined\tstand-in\treversals\trefunds\tdead SAF\tledger mismatches\tresult\ttime")
	for _, r := range results {
		if r.Report == nil {
			why := "error"
			if r.Err != nil {
				why = r.Err.Error()
				if i := strings.IndexByte(why, '\n'); i > 0 {
					why = why[:i]
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t-\t-\t-\t-\t-\t-\t-\tFAIL: %s\t%s\n", r.Case, r.Sent, r.Lost, why, r.Duration.Round(time.Second))
			continue
		}
		rep := r.Report
		res := "PASS"
		if !r.Pass() {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Case, r.Sent, r.Lost, rep.Approved, rep.Declined,
			rep.StandIn, rep.Reversals, rep.Refunds, rep.Dead, rep.MismatchedPayments, res, r.Duration.Round(time.Second))
	}
	tw.Flush()
}
