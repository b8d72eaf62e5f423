// Package loadgen drives switchd over the upstream API (contract
// upstream-api.md) with the benchmark mix, in a closed loop (N workers, each
// sending its next flow when the last one answered: maximum throughput) or an
// open loop (flows scheduled at a fixed arrival rate, latency measured from
// each flow's intended send time so that a stalled switch cannot hide its
// queueing delay: no coordinated omission). It only talks to loopback
// addresses and stops by itself after a bounded time or flow count.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/acquirer/h2hswitch/bench/mix"
	"github.com/acquirer/h2hswitch/bench/report"
)

// Limits of a run.
const (
	MaxConcurrency = 10_000
	MaxDuration    = time.Hour
	MaxRate        = 100_000
	// maxBody bounds a response body read from the switch.
	maxBody = 1 << 20
	// poolCap bounds the approved purchases kept for refunds and voids.
	poolCap = 100_000
)

// Config is one run against switchd.
type Config struct {
	// BaseURL is the switch's API, e.g. http://127.0.0.1:8080; only
	// loopback hosts are accepted.
	BaseURL string
	Token   string // gateway bearer token
	// Concurrency: closed loop, the number of workers; open loop, the most
	// requests outstanding at once.
	Concurrency int
	// Rate > 0 selects the open loop at this many flows per second.
	Rate float64
	// Duration bounds the run; MaxFlows (> 0) also bounds it by flow count.
	Duration time.Duration
	MaxFlows int64
	Seed     uint64
	Weights  mix.Weights
	// RequestTimeout bounds one HTTP request (default 30 s).
	RequestTimeout time.Duration
	// Label and Backend name the run in reports.
	Label, Backend string
}

func (c *Config) validate() error {
	if err := CheckLoopbackURL(c.BaseURL); err != nil {
		return err
	}
	if c.Token == "" {
		return errors.New("token: must not be empty")
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return fmt.Errorf("concurrency: must be 1..%d, got %d", MaxConcurrency, c.Concurrency)
	}
	if c.Rate < 0 || c.Rate > MaxRate {
		return fmt.Errorf("rate: must be 0..%d flows/s, got %g", MaxRate, c.Rate)
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		return fmt.Errorf("duration: must be in (0, %s], got %s", MaxDuration, c.Duration)
	}
	if c.MaxFlows < 0 {
		return fmt.Errorf("max-flows: must not be negative, got %d", c.MaxFlows)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("request-timeout: must be positive, got %s", c.RequestTimeout)
	}
	if c.Weights == (mix.Weights{}) {
		c.Weights = mix.DefaultWeights()
	}
	return c.Weights.Validate()
}

// CheckLoopbackURL accepts http(s) URLs whose host is a loopback literal or
// "localhost": the benchmark must never load anything but this machine.
func CheckLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url: scheme must be http or https, got %q", u.Scheme)
	}
	return CheckLoopbackHost(u.Hostname())
}

// CheckLoopbackHost accepts "localhost" and loopback IP literals.
func CheckLoopbackHost(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("host %q is not a loopback address; the benchmark only talks to this machine", host)
	}
	return nil
}

// purchase is an approved purchase that a refund or void may act on.
type purchase struct {
	id     string
	amount int64
}

// pool keeps recently approved purchases; each is taken at most once, so a
// purchase is never both refunded and voided.
type pool struct {
	mu    sync.Mutex
	items []purchase
}

func (p *pool) put(x purchase) {
	p.mu.Lock()
	if len(p.items) < poolCap {
		p.items = append(p.items, x)
	}
	p.mu.Unlock()
}

func (p *pool) take() (purchase, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.items)
	if n == 0 {
		return purchase{}, false
	}
	x := p.items[n-1]
	p.items = p.items[:n-1]
	return x, true
}

// Runner is one configured run.
type Runner struct {
	cfg    Config
	client *http.Client
	runID  string
	pool   pool
	auth   string
}

// New validates cfg and prepares a keep-alive HTTP client with an idle
// connection per worker.
func New(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Concurrency + 16,
		MaxIdleConnsPerHost: cfg.Concurrency + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Runner{
		cfg:    cfg,
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		runID:  ulid.Make().String(),
		auth:   "Bearer " + cfg.Token,
	}, nil
}

// Close releases idle connections.
func (r *Runner) Close() { r.client.CloseIdleConnections() }

// Run executes the run until its duration or flow count is reached or ctx
// ends, and returns its figures. onStart, when set, is called just before
// measuring starts and onEnd right after it ends (to sample switchd).
func (r *Runner) Run(ctx context.Context, onStart, onEnd func()) (*report.Run, error) {
	cfg := r.cfg
	mode := report.ModeClosed
	if cfg.Rate > 0 {
		mode = report.ModeOpen
	}
	out := &report.Run{Label: cfg.Label, Mode: mode, Backend: cfg.Backend, Concurrency: cfg.Concurrency,
		OfferedRate: cfg.Rate, Seed: cfg.Seed}

	limit := cfg.MaxFlows
	var interval time.Duration
	if mode == report.ModeOpen {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
		scheduled := int64(cfg.Duration.Seconds() * cfg.Rate)
		if limit == 0 || scheduled < limit {
			limit = scheduled
		}
		if limit == 0 {
			limit = 1
		}
	}

	tallies := make([]*report.Tally, cfg.Concurrency)
	gens := make([]*mix.Generator, cfg.Concurrency)
	for w := range cfg.Concurrency {
		tallies[w] = report.NewTally()
		g, err := mix.New(cfg.Seed+uint64(w)*7919, cfg.Weights)
		if err != nil {
			return nil, err
		}
		gens[w] = g
	}
	var next, sent atomic.Int64
	if onStart != nil {
		onStart()
	}
	start := time.Now()
	out.StartedAt = start.UTC()
	// The schedule spans [start, start+Duration): every flow of it is due
	// before this deadline, so only a flow no worker was free to send in
	// time is left unsent.
	runCtx, cancel := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer cancel()
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			seq := 0
			for {
				i := next.Add(1) - 1
				if limit > 0 && i >= limit {
					return
				}
				sendAt := time.Now()
				if runCtx.Err() != nil {
					// Closed loop: time is up. Open loop: this flow was
					// picked up only after the schedule ended, because every
					// worker was busy; it stays unsent.
					return
				}
				if interval > 0 {
					sendAt = start.Add(time.Duration(i) * interval)
					if !sleepUntil(ctx, sendAt) {
						return
					}
					tallies[w].Lag(time.Since(sendAt))
				}
				seq++
				sent.Add(1)
				r.flow(ctx, tallies[w], gens[w].Next(), sendAt, w, seq)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if onEnd != nil {
		onEnd()
	}
	total := report.NewTally()
	for _, t := range tallies {
		total.Merge(t)
	}
	out.Finish(total, elapsed)
	if mode == report.ModeOpen {
		out.Unsent = max(limit-sent.Load(), 0)
	}
	if ctx.Err() != nil {
		return out, fmt.Errorf("load run %s interrupted: %w", cfg.Label, ctx.Err())
	}
	return out, nil
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// The request and response shapes of the upstream API that the benchmark
// uses (upstream-api.md).
type merchantJSON struct {
	ID         string `json:"id"`
	TerminalID string `json:"terminal_id"`
	MCC        string `json:"mcc"`
	Name       string `json:"name"`
	City       string `json:"city"`
	Country    string `json:"country"`
}

type cardJSON struct {
	PAN    string `json:"pan"`
	Expiry string `json:"expiry"`
	CVV    string `json:"cvv,omitempty"`
}

type paymentJSON struct {
	RequestID string       `json:"request_id"`
	Type      string       `json:"type"`
	Amount    int64        `json:"amount"`
	Currency  string       `json:"currency"`
	Merchant  merchantJSON `json:"merchant"`
	Card      cardJSON     `json:"card"`
	OrderID   string       `json:"order_id,omitempty"`
}

type operationJSON struct {
	RequestID string `json:"request_id"`
	Amount    int64  `json:"amount,omitempty"`
}

type resultJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason"`
	Error  *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// Bench merchant and card constants: a test terminal, test expiry (not in
// the past until December 2028) and a CVV that is not the simulators'
// CVV-failure value 000.
func benchMerchant() merchantJSON {
	return merchantJSON{ID: "M00000000BENCH1", TerminalID: "TBENCH01", MCC: "5411", Name: "BENCH SHOP", City: "ALMATY", Country: "KZ"}
}

const (
	benchExpiry = "2812"
	benchCVV    = "123"
)

// reasonIssuerUnavailable is the decline reason of a bank timeout.
const reasonIssuerUnavailable = "issuer_unavailable"

// call is one HTTP request's result.
type call struct {
	status  int
	res     resultJSON
	outcome report.Outcome
	kind    string // failure kind for Failed / TimedOut
}

// flow runs one flow; sendAt is when its first request was due (open loop)
// or sent (closed loop).
func (r *Runner) flow(ctx context.Context, t *report.Tally, f mix.Flow, sendAt time.Time, worker, seq int) {
	t.Flow()
	rid := func(step string) string { return r.requestID(worker, seq, step) }
	switch f.Kind {
	case mix.Refund, mix.Void:
		p, ok := r.pool.take()
		if !ok {
			t.Fallback()
			r.authorize(ctx, t, "purchase", f, true, sendAt, rid("p"))
			return
		}
		op, path, body := "refund", "/v1/payments/"+url.PathEscape(p.id)+"/refunds", operationJSON{RequestID: rid("r"), Amount: p.amount}
		want := "approved"
		if f.Kind == mix.Void {
			op, path, body, want = "void", "/v1/payments/"+url.PathEscape(p.id)+"/void", operationJSON{RequestID: rid("v")}, "voided"
		}
		c := r.post(ctx, path, body)
		r.observe(t, op, sendAt, c, want, false)
	case mix.PreauthCapture:
		c := r.authorize(ctx, t, "preauth", f, true, sendAt, rid("a"))
		if c.outcome != report.Approved || c.res.ID == "" {
			return
		}
		// The capture follows its pre-authorization at once; its latency
		// is measured from its own send.
		capAt := time.Now()
		cc := r.post(ctx, "/v1/payments/"+url.PathEscape(c.res.ID)+"/capture", operationJSON{RequestID: rid("c"), Amount: f.CaptureAmount})
		r.observe(t, "capture", capAt, cc, "approved", false)
	case mix.Decline:
		r.authorize(ctx, t, "purchase", f, false, sendAt, rid("d"))
	default:
		r.authorize(ctx, t, "purchase", f, true, sendAt, rid("p"))
	}
}

// requestID is unique per run, worker, flow and step, and at most 64 chars.
func (r *Runner) requestID(worker, seq int, step string) string {
	return "b-" + r.runID + "-" + strconv.Itoa(worker) + "-" + strconv.Itoa(seq) + step
}

// authorize sends a purchase or preauth; approved purchases join the pool.
func (r *Runner) authorize(ctx context.Context, t *report.Tally, typ string, f mix.Flow, wantApproved bool, sendAt time.Time, rid string) call {
	body := paymentJSON{RequestID: rid, Type: typ, Amount: f.Amount, Currency: "KZT", Merchant: benchMerchant(),
		Card: cardJSON{PAN: f.PAN, Expiry: benchExpiry, CVV: benchCVV}}
	c := r.post(ctx, "/v1/payments", body)
	want := "approved"
	if !wantApproved {
		want = "declined"
	}
	r.observe(t, typ, sendAt, c, want, true)
	if typ == "purchase" && c.outcome == report.Approved && c.res.ID != "" {
		r.pool.put(purchase{id: c.res.ID, amount: f.Amount})
	}
	return c
}

// observe records c; want is the status the flow asked the simulator for.
func (r *Runner) observe(t *report.Tally, op string, sentAt time.Time, c call, want string, auth bool) {
	lat := time.Since(sentAt)
	unexpected := false
	kind := c.kind
	if c.outcome == report.Approved || c.outcome == report.Declined {
		unexpected = !statusMatches(c.res.Status, want)
		kind = op + "_" + c.res.Status + "_" + c.res.Reason
	}
	t.Observe(op, lat, c.outcome, auth, unexpected, kind)
}

// statusMatches compares a payment status with the expected one; a
// captured pre-authorization may be shown as "approved" (with
// captured_amount) or "captured".
func statusMatches(got, want string) bool {
	return got == want || (want == "approved" && got == "captured")
}

// post sends one JSON request and classifies the answer.
func (r *Runner) post(ctx context.Context, path string, body any) call {
	b, err := json.Marshal(body)
	if err != nil {
		return call{outcome: report.Failed, kind: "encode"}
	}
	rctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, r.cfg.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		return call{outcome: report.Failed, kind: "request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", r.auth)
	resp, err := r.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return call{outcome: report.TimedOut, kind: "client_timeout"}
		}
		return call{outcome: report.Failed, kind: "transport"}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return call{status: resp.StatusCode, outcome: report.Failed, kind: "read_body"}
	}
	_, _ = io.Copy(io.Discard, resp.Body) // keep the connection reusable
	c := call{status: resp.StatusCode}
	if err := json.Unmarshal(data, &c.res); err != nil {
		c.outcome, c.kind = report.Failed, "bad_json_"+strconv.Itoa(resp.StatusCode)
		return c
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		c.outcome, c.kind = report.Failed, "http_"+strconv.Itoa(resp.StatusCode)
		if c.res.Error != nil && c.res.Error.Code != "" {
			c.kind += "_" + c.res.Error.Code
		}
	case c.res.Status == "declined" && c.res.Reason == reasonIssuerUnavailable:
		c.outcome, c.kind = report.TimedOut, "bank_timeout"
	case c.res.Status == "declined":
		c.outcome = report.Declined
	default:
		c.outcome = report.Approved // approved, voided, captured: the operation succeeded
	}
	return c
}
