// Package direct is the benchmark's baseline: the authorizations of the
// benchmark mix sent straight to the bank simulators through the switch's
// own bank link and message mapping (switch/banklink, switch/bankmsg), with
// no HTTP, no journal and no routing table. What the switch achieves over
// what this achieves on the same machine is the cost of the switch itself.
package direct

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acquirer/h2hswitch/bench/loadgen"
	"github.com/acquirer/h2hswitch/bench/mix"
	"github.com/acquirer/h2hswitch/bench/report"
	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
)

// Bank is one simulator to connect to, as switchd's configuration has it.
type Bank struct {
	Name        string // "alfa", "sber"
	Dialect     string // h2h87-ascii, h2h87-binary
	Addr        string // loopback host:port
	Connections int    // 0: the dialect's maximum (4 for A, 8 for B)
	MaxInFlight int    // per connection; 0: 256 as in configs/switch.yaml
	AcquirerID  string // DE32
	// Brands this bank takes; the direct baseline mirrors the example
	// routing table without evaluating it (Visa and Mir to Bank A,
	// Mastercard to Bank B).
	Brands []mix.Brand
}

// Config is one baseline run.
type Config struct {
	Banks       []Bank
	Concurrency int
	Duration    time.Duration
	MaxFlows    int64
	Seed        uint64
	Weights     mix.Weights
	// RequestTimeout bounds one exchange (default 30 s).
	RequestTimeout time.Duration
	// ConnectTimeout bounds waiting for every link to be usable (default 15 s).
	ConnectTimeout time.Duration
	Label          string
}

// DefaultBanks are the two simulators on the given addresses with
// configs/switch.yaml's link settings.
func DefaultBanks(alfaAddr, sberAddr string) []Bank {
	return []Bank{
		{Name: "alfa", Dialect: "h2h87-ascii", Addr: alfaAddr, Connections: 4, MaxInFlight: 256, AcquirerID: "400001", Brands: []mix.Brand{mix.Visa, mix.Mir}},
		{Name: "sber", Dialect: "h2h87-binary", Addr: sberAddr, Connections: 8, MaxInFlight: 256, AcquirerID: "500002", Brands: []mix.Brand{mix.Mastercard}},
	}
}

func (c *Config) validate() error {
	if len(c.Banks) == 0 {
		return errors.New("banks: none configured")
	}
	for _, b := range c.Banks {
		host, _, err := net.SplitHostPort(b.Addr)
		if err != nil {
			return fmt.Errorf("bank %s: address %q: %w", b.Name, b.Addr, err)
		}
		if err := loadgen.CheckLoopbackHost(host); err != nil {
			return fmt.Errorf("bank %s: %w", b.Name, err)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > loadgen.MaxConcurrency {
		return fmt.Errorf("concurrency: must be 1..%d, got %d", loadgen.MaxConcurrency, c.Concurrency)
	}
	if c.Duration <= 0 || c.Duration > loadgen.MaxDuration {
		return fmt.Errorf("duration: must be in (0, %s], got %s", loadgen.MaxDuration, c.Duration)
	}
	if c.MaxFlows < 0 {
		return fmt.Errorf("max-flows: must not be negative, got %d", c.MaxFlows)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 15 * time.Second
	}
	if c.Weights == (mix.Weights{}) {
		c.Weights = mix.DefaultWeights()
	}
	return c.Weights.Validate()
}

// link is one open bank link with what requests to it need.
type link struct {
	bank    Bank
	dialect *specs.Dialect
	l       *banklink.Link
	rrn     atomic.Int64
}

// Run opens a link per bank, waits until all are usable, runs the closed
// loop and closes the links (signing off where the dialect does).
func Run(ctx context.Context, cfg Config) (*report.Run, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("direct baseline: %w", err)
	}
	byBrand := map[mix.Brand]*link{}
	var links []*link
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, l := range links {
			_ = l.l.Close(cctx) // the run's figures are already taken
		}
	}()
	for _, b := range cfg.Banks {
		d, err := specs.Lookup(b.Dialect)
		if err != nil {
			return nil, fmt.Errorf("direct baseline: bank %s: %w", b.Name, err)
		}
		bl, err := banklink.Open(banklink.Config{Bank: b.Name, Dialect: b.Dialect, Address: b.Addr,
			Connections: b.Connections, MaxInFlight: b.MaxInFlight}, d)
		if err != nil {
			return nil, fmt.Errorf("direct baseline: opening link to %s: %w", b.Name, err)
		}
		lk := &link{bank: b, dialect: d, l: bl}
		links = append(links, lk)
		for _, br := range b.Brands {
			byBrand[br] = lk
		}
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	for _, lk := range links {
		if err := lk.l.WaitUsable(wctx); err != nil {
			cancel()
			return nil, fmt.Errorf("direct baseline: %w", err)
		}
	}
	cancel()

	out := &report.Run{Label: cfg.Label, Mode: report.ModeDirect, Concurrency: cfg.Concurrency, Seed: cfg.Seed}
	runCtx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	tallies := make([]*report.Tally, cfg.Concurrency)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	out.StartedAt = start.UTC()
	for w := range cfg.Concurrency {
		t := report.NewTally()
		tallies[w] = t
		g, err := mix.New(cfg.Seed+uint64(w)*7919, cfg.Weights)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			for runCtx.Err() == nil {
				if cfg.MaxFlows > 0 && next.Add(1) > cfg.MaxFlows {
					return
				}
				f := g.Next()
				lk := byBrand[f.Brand]
				if lk == nil {
					lk = links[0]
				}
				t.Flow()
				authorize(ctx, cfg.RequestTimeout, t, lk, f)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := report.NewTally()
	for _, t := range tallies {
		total.Merge(t)
	}
	out.Finish(total, elapsed)
	if ctx.Err() != nil {
		return out, fmt.Errorf("direct baseline interrupted: %w", ctx.Err())
	}
	return out, nil
}

// authorize sends the authorization of flow f: a purchase (approved or
// declined by its amount) or the pre-authorization of a preauth-capture
// flow. Refund and void flows act on switch payments and have no
// authorization of their own; the baseline sends them as purchases, so it
// measures authorization throughput only.
func authorize(ctx context.Context, timeout time.Duration, t *report.Tally, lk *link, f mix.Flow) {
	op, name := specs.OpPurchase, "purchase"
	if f.Kind == mix.PreauthCapture {
		op, name = specs.OpPreauth, "preauth"
	}
	wantApproved := f.Kind != mix.Decline
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sent := time.Now()
	code, err := exchange(rctx, lk, op, f, sent)
	lat := time.Since(sent)
	switch {
	case errors.Is(err, banklink.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		t.Observe(name, lat, report.TimedOut, true, false, "bank_timeout")
	case err != nil:
		t.Observe(name, lat, report.Failed, true, false, errKind(err))
	case code == "00":
		t.Observe(name, lat, report.Approved, true, !wantApproved, name+"_00")
	default:
		t.Observe(name, lat, report.Declined, true, wantApproved, name+"_"+code)
	}
}

// errKind classifies a bank link error for the report.
func errKind(err error) string {
	switch {
	case errors.Is(err, banklink.ErrConnectionLost):
		return "connection_lost"
	case errors.Is(err, banklink.ErrBusy):
		return "link_busy"
	case errors.Is(err, banklink.ErrNoConnection):
		return "no_connection"
	case errors.Is(err, errDecode):
		return "decode"
	case banklink.NotSent(err):
		return "not_sent"
	}
	return "link_error"
}

var errDecode = errors.New("decoding bank response")

// exchange builds the request as the switch's engine does, sends it and
// returns the bank's DE39.
func exchange(ctx context.Context, lk *link, op specs.Op, f mix.Flow, now time.Time) (string, error) {
	stan, err := lk.l.NextSTAN(ctx)
	if err != nil {
		return "", fmt.Errorf("allocating STAN: %w", err)
	}
	local := now.In(lk.dialect.Location)
	req := &bankmsg.Request{
		Op: op, STAN: stan, RRN: rrn(local, lk.rrn.Add(1)),
		TransmissionTime: now.UTC(), LocalTime: local,
		PAN: f.PAN, Expiry: "2812", CardSource: bankmsg.SourceKeyed, CVV: "123",
		Amount: f.Amount, CurrencyNumeric: "398",
		MCC: "5411", AcquirerID: lk.bank.AcquirerID, TerminalID: "TBENCH01", MerchantID: "M00000000BENCH1",
		MerchantName: "BENCH SHOP", MerchantCity: "ALMATY", MerchantCountry: "KZ",
	}
	msg, err := bankmsg.Encode(lk.dialect, req)
	if err != nil {
		return "", fmt.Errorf("encoding %s for %s: %w", op, lk.bank.Name, err)
	}
	resp, err := lk.l.Send(ctx, msg)
	if err != nil {
		return "", fmt.Errorf("sending %s to %s: %w", op, lk.bank.Name, err)
	}
	r, err := bankmsg.DecodeResponse(lk.dialect, resp)
	if err != nil {
		return "", fmt.Errorf("%w from %s: %w", errDecode, lk.bank.Name, err)
	}
	return r.ResponseCode, nil
}

// rrn is the engine's RRN layout (year digit, day of year, 8-digit
// sequence), from a per-run counter instead of the journal.
func rrn(local time.Time, seq int64) string {
	s := strconv.FormatInt(seq%100_000_000, 10)
	for len(s) < 8 {
		s = "0" + s
	}
	return fmt.Sprintf("%d%03d%s", local.Year()%10, local.YearDay(), s)
}
