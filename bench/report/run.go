// Package report holds the benchmark's results: the per-run tally that load
// workers fill (counts and an HDR latency histogram), the summary of a run,
// process figures of switchd read from /proc, the targets the suite is
// judged against, and the Markdown, JSON and plot outputs under
// bench/results/.
package report

import (
	"fmt"
	"maps"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency bounds of the histograms, in microseconds: 1 µs .. 5 min at three
// significant digits. A value above the top is clamped to it (and counted).
const (
	histMinMicros = 1
	histMaxMicros = int64(5 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

// Modes of a run.
const (
	ModeClosed = "closed" // N workers, each sends its next request when the last one answered
	ModeOpen   = "open"   // requests scheduled at a fixed arrival rate
	ModeDirect = "direct" // closed loop straight to the simulators through the bank link
)

// Latency is a latency distribution summary, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// NewHistogram returns a latency histogram in the run's units (µs).
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// Summarize reads the percentiles of h (recorded in µs) in milliseconds.
func Summarize(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
		Mean: h.Mean() / 1000,
	}
}

// Outcome is what one request came to.
type Outcome int

// The outcomes. Timeout covers client-side timeouts and, for the switch,
// declines with reason issuer_unavailable (the bank did not answer in time).
const (
	Approved Outcome = iota
	Declined
	Failed
	TimedOut
)

// Tally is one load worker's record; workers merge theirs at the end.
// Not safe for concurrent use.
type Tally struct {
	hist          *hdrhistogram.Histogram
	clamped       int64
	requests      int64
	flows         int64
	approved      int64
	declined      int64
	approvedAuths int64
	unexpected    int64
	errors        int64
	timeouts      int64
	fallbacks     int64
	maxLag        time.Duration
	errorKinds    map[string]int64
	byOp          map[string]int64
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{hist: NewHistogram(), errorKinds: map[string]int64{}, byOp: map[string]int64{}}
}

// Observe records one request of operation op that took lat and came to o.
// auth marks an authorization (purchase or pre-authorization), whose
// approvals are the headline throughput; unexpected marks an outcome other
// than the one the amount asked the simulator for; kind names the failure
// of Failed and TimedOut outcomes, or what an unexpected outcome was.
func (t *Tally) Observe(op string, lat time.Duration, o Outcome, auth, unexpected bool, kind string) {
	t.requests++
	t.byOp[op]++
	us := lat.Microseconds()
	if us < histMinMicros {
		us = histMinMicros
	}
	if us > histMaxMicros {
		us = histMaxMicros
		t.clamped++
	}
	_ = t.hist.RecordValue(us) // in range by the clamps above
	switch o {
	case Approved:
		t.approved++
		if auth {
			t.approvedAuths++
		}
	case Declined:
		t.declined++
	case Failed:
		t.errors++
		t.errorKinds[kind]++
	case TimedOut:
		t.timeouts++
		t.errorKinds[kind]++
	}
	if unexpected {
		t.unexpected++
		if kind != "" {
			t.errorKinds["unexpected_"+kind]++
		}
	}
}

// Flow counts one flow started.
func (t *Tally) Flow() { t.flows++ }

// Fallback counts a refund or void flow that found no approved purchase to
// act on and ran as a purchase instead.
func (t *Tally) Fallback() { t.fallbacks++ }

// Lag records how late an open-loop request was sent after its intended time.
func (t *Tally) Lag(d time.Duration) { t.maxLag = max(t.maxLag, d) }

// Requests is the number of requests observed.
func (t *Tally) Requests() int64 { return t.requests }

// Merge adds o into t.
func (t *Tally) Merge(o *Tally) {
	t.hist.Merge(o.hist)
	t.clamped += o.clamped
	t.requests += o.requests
	t.flows += o.flows
	t.approved += o.approved
	t.declined += o.declined
	t.approvedAuths += o.approvedAuths
	t.unexpected += o.unexpected
	t.errors += o.errors
	t.timeouts += o.timeouts
	t.fallbacks += o.fallbacks
	t.maxLag = max(t.maxLag, o.maxLag)
	for k, v := range o.errorKinds {
		t.errorKinds[k] += v
	}
	for k, v := range o.byOp {
		t.byOp[k] += v
	}
}

// Run is the result of one measured run.
type Run struct {
	Label       string    `json:"label"`
	Mode        string    `json:"mode"`
	Backend     string    `json:"backend,omitempty"` // journal of switchd: sqlite | postgres
	Concurrency int       `json:"concurrency"`       // workers (closed) or maximum outstanding (open)
	OfferedRate float64   `json:"offered_rate,omitempty"`
	Seed        uint64    `json:"seed"`
	StartedAt   time.Time `json:"started_at"`
	Seconds     float64   `json:"seconds"`

	Requests      int64            `json:"requests"`
	Flows         int64            `json:"flows"`
	Approved      int64            `json:"approved"`
	Declined      int64            `json:"declined"`
	ApprovedAuths int64            `json:"approved_auths"`
	Unexpected    int64            `json:"unexpected_outcomes"`
	Errors        int64            `json:"errors"`
	Timeouts      int64            `json:"timeouts"`
	Fallbacks     int64            `json:"fallbacks,omitempty"`
	ErrorKinds    map[string]int64 `json:"error_kinds,omitempty"`
	ByOp          map[string]int64 `json:"by_operation"`
	// LatencyClamped counts latencies above the histogram's 5 min top.
	LatencyClamped int64 `json:"latency_clamped,omitempty"`

	Throughput         float64 `json:"throughput_per_s"` // requests (= bank messages) per second
	ApprovedAuthPerSec float64 `json:"approved_auth_per_s"`
	Latency            Latency `json:"latency"`
	// MaxSendLagMs (open loop): the worst delay between a request's
	// intended and actual send; large values mean the generator, not the
	// switch, fell behind (latency is still measured from the intended time).
	MaxSendLagMs float64 `json:"max_send_lag_ms,omitempty"`
	// Unsent (open loop): flows scheduled within the run's duration that
	// were never sent because every allowed request was still outstanding
	// when the duration ended: the switch fell behind the offered rate.
	Unsent int64 `json:"unsent,omitempty"`

	Switchd *Proc `json:"switchd,omitempty"`
}

// Finish turns a merged tally into the run's figures; elapsed is the
// measured wall time.
func (r *Run) Finish(t *Tally, elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	r.Requests, r.Flows = t.requests, t.flows
	r.Approved, r.Declined, r.ApprovedAuths = t.approved, t.declined, t.approvedAuths
	r.Unexpected, r.Errors, r.Timeouts, r.Fallbacks = t.unexpected, t.errors, t.timeouts, t.fallbacks
	r.ErrorKinds = maps.Clone(t.errorKinds)
	r.ByOp = maps.Clone(t.byOp)
	r.LatencyClamped = t.clamped
	r.Throughput = PerSecond(t.requests, elapsed)
	r.ApprovedAuthPerSec = PerSecond(t.approvedAuths, elapsed)
	r.Latency = Summarize(t.hist)
	r.MaxSendLagMs = float64(t.maxLag.Microseconds()) / 1000
}

// PerSecond is n over d; 0 for a non-positive d.
func PerSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Ratio is a/b, 0 when b is 0 (no baseline measured).
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// String is a one-line summary for the console.
func (r *Run) String() string {
	s := fmt.Sprintf("%s [%s", r.Label, r.Mode)
	if r.Backend != "" {
		s += " " + r.Backend
	}
	if r.OfferedRate > 0 {
		s += fmt.Sprintf(" %.0f/s offered", r.OfferedRate)
	}
	s += fmt.Sprintf(" c=%d] %.1fs: %d req, %.0f req/s, %.0f approved auth/s, p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms, errors %d, timeouts %d, unexpected %d",
		r.Concurrency, r.Seconds, r.Requests, r.Throughput, r.ApprovedAuthPerSec,
		r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max, r.Errors, r.Timeouts, r.Unexpected)
	if r.Unsent > 0 {
		s += fmt.Sprintf(", %d scheduled flows unsent at the end", r.Unsent)
	}
	if r.Switchd != nil {
		s += fmt.Sprintf("; switchd %.3f CPU s/1000, peak RSS %.1f MiB", r.Switchd.CPUPer1000, float64(r.Switchd.PeakRSSBytes)/(1<<20))
	}
	return s
}
