package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/acquirer/h2hswitch/switch/banklink"
)

// clock is a manual clock: tests move time, nothing sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newBreaker(t *testing.T, cfg Config, c *clock, m *Metrics) *Breaker {
	t.Helper()
	b, err := New("alfa", cfg, Options{Now: c.Now, Metrics: m})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

// send runs one request through b with outcome o and reports whether it
// was allowed.
func send(b *Breaker, o Outcome) bool {
	ok, done := b.Allow()
	if ok {
		done(o)
	}
	return ok
}

func wantState(t *testing.T, b *Breaker, want State) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state %s, want %s", got, want)
	}
}

func TestOpensAfterConsecutiveFailures(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 3, Window: 10 * time.Second, CoolDown: 5 * time.Second}, c, nil)
	send(b, Failure)
	send(b, Failure)
	send(b, Success) // breaks the run
	send(b, Failure)
	send(b, Failure)
	wantState(t, b, Closed)
	if st := b.Status(); st.ConsecutiveFailures != 2 {
		t.Fatalf("consecutive failures %d, want 2", st.ConsecutiveFailures)
	}
	if !send(b, Failure) {
		t.Fatal("third failing request was not allowed")
	}
	wantState(t, b, Open)
	if b.Usable() {
		t.Fatal("open circuit reported usable")
	}
	if ok, done := b.Allow(); ok {
		done(Success)
		t.Fatal("open circuit allowed a request")
	}
	st := b.Status()
	if st.Opens != 1 || !st.RetryAt.Equal(c.Now().Add(5*time.Second)) || st.CoolDown != 5*time.Second {
		t.Fatalf("status %+v", st)
	}
}

func TestFailuresMustFallWithinWindow(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 3, Window: 10 * time.Second}, c, nil)
	for range 3 {
		send(b, Failure)
		c.Advance(6 * time.Second) // three failures span 12s > 10s
	}
	wantState(t, b, Closed)
	// The last three (t=6s, 12s, 13s) span 7s: open.
	c.Advance(-5 * time.Second)
	send(b, Failure)
	wantState(t, b, Open)
}

func TestDeclinesAreHealthy(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 2, FailureResponseCodes: []string{"91", "96"}}, c, nil)
	for _, code := range []string{"05", "51", "14", "N7", "1A", "05", "05"} {
		if o := b.ResponseOutcome(code); o != Success {
			t.Fatalf("response %s is %s, want success", code, o)
		}
		send(b, b.ResponseOutcome(code))
	}
	wantState(t, b, Closed)
	send(b, b.ResponseOutcome("91"))
	send(b, b.ResponseOutcome("96"))
	wantState(t, b, Open)

	// Without failure codes configured, 91 is a healthy answer too.
	plain := newBreaker(t, Config{FailureThreshold: 1}, c, nil)
	if o := plain.ResponseOutcome("91"); o != Success {
		t.Fatalf("91 without failure codes is %s", o)
	}
}

func TestClassify(t *testing.T) {
	wrap := func(class, kind error, cause error) error {
		if cause != nil {
			return fmt.Errorf("%w: %w: %w", class, kind, cause)
		}
		return fmt.Errorf("%w: %w", class, kind)
	}
	cases := []struct {
		name string
		err  error
		want Outcome
	}{
		{"answered", nil, Success},
		{"timeout", wrap(banklink.ErrMaybeSent, banklink.ErrTimeout, nil), Failure},
		{"timeout by deadline", wrap(banklink.ErrMaybeSent, banklink.ErrTimeout, context.DeadlineExceeded), Failure},
		{"connection lost", wrap(banklink.ErrMaybeSent, banklink.ErrConnectionLost, nil), Failure},
		{"no connection", wrap(banklink.ErrNotSent, banklink.ErrNoConnection, nil), Failure},
		{"caller cancelled while waiting", wrap(banklink.ErrMaybeSent, banklink.ErrTimeout, context.Canceled), Ignore},
		{"cancelled before write", wrap(banklink.ErrNotSent, banklink.ErrCanceled, context.Canceled), Ignore},
		{"busy", wrap(banklink.ErrNotSent, banklink.ErrBusy, nil), Ignore},
		{"invalid message", wrap(banklink.ErrNotSent, banklink.ErrInvalidMessage, nil), Ignore},
		{"stan in use", wrap(banklink.ErrNotSent, banklink.ErrSTANInUse, nil), Ignore},
		{"stan unavailable", wrap(banklink.ErrNotSent, banklink.ErrSTANUnavailable, nil), Ignore},
		{"link closing", wrap(banklink.ErrNotSent, banklink.ErrClosed, nil), Ignore},
		{"unclassified", errors.New("something odd"), Failure},
	}
	for _, tc := range cases {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestIgnoredOutcomesNeitherCountNorReset(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 2}, c, nil)
	send(b, Failure)
	for range 10 {
		send(b, Ignore)
	}
	if st := b.Status(); st.ConsecutiveFailures != 1 || st.State != Closed {
		t.Fatalf("after ignores: %+v", st)
	}
	send(b, Failure)
	wantState(t, b, Open)
}

func openBreaker(t *testing.T, b *Breaker) {
	t.Helper()
	for i := 0; b.State() != Open; i++ {
		if i > 1000 {
			t.Fatal("breaker does not open")
		}
		send(b, Failure)
	}
}

func TestHalfOpenSingleProbe(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 1, CoolDown: 10 * time.Second}, c, nil)
	openBreaker(t, b)
	c.Advance(10*time.Second - time.Nanosecond)
	wantState(t, b, Open)
	c.Advance(time.Nanosecond)
	if !b.Usable() {
		t.Fatal("half-open circuit with a free probe slot not usable")
	}
	wantState(t, b, HalfOpen)
	ok, probe := b.Allow()
	if !ok {
		t.Fatal("half-open refused the probe")
	}
	if b.Usable() {
		t.Fatal("half-open circuit usable while its only probe is out")
	}
	if ok2, _ := b.Allow(); ok2 {
		t.Fatal("half-open let a second request through")
	}
	probe(Success)
	wantState(t, b, Closed)
	if !send(b, Success) || !send(b, Success) {
		t.Fatal("closed circuit refused traffic")
	}
}

func TestProbeFailureReopensWithGrowingCoolDown(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 1, CoolDown: 10 * time.Second, CoolDownFactor: 2, MaxCoolDown: 35 * time.Second}, c, nil)
	openBreaker(t, b)
	for _, want := range []time.Duration{20 * time.Second, 35 * time.Second, 35 * time.Second} {
		c.Advance(b.Status().CoolDown)
		if !send(b, Failure) {
			t.Fatal("probe not allowed after the cool-down")
		}
		st := b.Status()
		if st.State != Open || st.CoolDown != want || !st.RetryAt.Equal(c.Now().Add(want)) {
			t.Fatalf("after failed probe: %+v, want open with cool-down %s", st, want)
		}
	}
	// Closing resets the cool-down to the configured one.
	c.Advance(35 * time.Second)
	send(b, Success)
	wantState(t, b, Closed)
	openBreaker(t, b)
	if st := b.Status(); st.CoolDown != 10*time.Second {
		t.Fatalf("cool-down after close and reopen %s, want 10s", st.CoolDown)
	}
	if st := b.Status(); st.Opens != 5 {
		t.Fatalf("opens %d, want 5", st.Opens)
	}
}

func TestSeveralProbes(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 1, CoolDown: time.Second, Probes: 3}, c, nil)
	openBreaker(t, b)
	c.Advance(time.Second)
	var dones []func(Outcome)
	for range 3 {
		ok, done := b.Allow()
		if !ok {
			t.Fatal("probe refused")
		}
		dones = append(dones, done)
	}
	if ok, _ := b.Allow(); ok {
		t.Fatal("fourth concurrent probe allowed")
	}
	dones[0](Success)
	dones[0](Success) // a second call is ignored
	dones[1](Ignore)  // frees its slot without counting
	wantState(t, b, HalfOpen)
	ok, done := b.Allow()
	if !ok {
		t.Fatal("slot freed by an ignored probe not reusable")
	}
	dones[2](Success)
	wantState(t, b, HalfOpen) // two successes of three
	done(Success)
	wantState(t, b, Closed)
}

func TestStaleOutcomesAreDropped(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 2, CoolDown: time.Second}, c, nil)
	okSlow, slow := b.Allow() // admitted while closed, answers late
	if !okSlow {
		t.Fatal("closed circuit refused")
	}
	send(b, Failure)
	send(b, Failure)
	wantState(t, b, Open)
	slow(Success)
	wantState(t, b, Open)
	// Even once half-open, the old success does not count as the probe.
	c.Advance(time.Second)
	okOld, old := b.Allow()
	if !okOld {
		t.Fatal("probe refused")
	}
	wantState(t, b, HalfOpen)
	ok2, stale := b.Allow()
	if ok2 {
		t.Fatal("second probe allowed")
	}
	stale(Success)
	wantState(t, b, HalfOpen)
	old(Failure)
	wantState(t, b, Open)
}

func TestLostProbeTimesOut(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 1, CoolDown: 5 * time.Second, ProbeTimeout: 30 * time.Second}, c, nil)
	openBreaker(t, b)
	c.Advance(5 * time.Second)
	ok, lost := b.Allow()
	if !ok {
		t.Fatal("probe refused")
	}
	c.Advance(30*time.Second - time.Nanosecond)
	wantState(t, b, HalfOpen)
	c.Advance(time.Nanosecond)
	st := b.Status()
	if st.State != Open || st.CoolDown != 10*time.Second {
		t.Fatalf("after a lost probe: %+v, want open with 10s", st)
	}
	lost(Success) // far too late: ignored
	wantState(t, b, Open)
}

func TestReset(t *testing.T) {
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 1}, c, nil)
	openBreaker(t, b)
	b.Reset()
	wantState(t, b, Closed)
	if !send(b, Success) {
		t.Fatal("reset circuit refused traffic")
	}
}

func TestSetUsable(t *testing.T) {
	c := newClock()
	s, err := NewSet(map[string]Config{
		"alfa": {FailureThreshold: 1, CoolDown: time.Second},
		"sber": {FailureResponseCodes: []string{"96"}},
	}, Options{Now: c.Now})
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	links := map[string]bool{"alfa": true, "sber": false, "other": true}
	usable := s.UsableFunc(func(bank string) bool { return links[bank] })
	if !usable("alfa") || usable("sber") {
		t.Fatal("closed circuits must follow the link")
	}
	if !usable("other") {
		t.Fatal("a bank without a breaker follows its link")
	}
	if ok, done := s.Allow("other"); !ok {
		t.Fatal("bank without a breaker refused")
	} else {
		done(Failure) // no-op, must not panic
	}
	ok, done := s.Allow("alfa")
	if !ok {
		t.Fatal("alfa refused")
	}
	done(Failure)
	if usable("alfa") {
		t.Fatal("open circuit usable")
	}
	c.Advance(time.Second)
	if !usable("alfa") {
		t.Fatal("half-open circuit with a free probe not usable")
	}
	links["alfa"] = false
	if usable("alfa") {
		t.Fatal("half-open circuit usable while the link is down")
	}
	links["alfa"] = true
	_, probe := s.Allow("alfa")
	if usable("alfa") {
		t.Fatal("half-open circuit usable with its probe out")
	}
	probe(Success)
	if !usable("alfa") {
		t.Fatal("closed again, not usable")
	}
	st := s.Statuses()
	if len(st) != 2 || st[0].Bank != "alfa" || st[1].Bank != "sber" || st[0].State != Closed || st[0].Opens != 1 {
		t.Fatalf("statuses %+v", st)
	}
	if s.ResponseOutcome("alfa", "91") != Success || s.ResponseOutcome("other", "96") != Success ||
		s.ResponseOutcome("sber", "96") != Failure || s.ResponseOutcome("sber", "05") != Success {
		t.Fatal("ResponseOutcome without failure codes")
	}
	if b, ok := s.Get("alfa"); !ok || b.Bank() != "alfa" {
		t.Fatal("Get alfa")
	}
}

func TestConfigValidation(t *testing.T) {
	bad := Config{FailureThreshold: -1, Window: -time.Second, CoolDown: time.Minute, MaxCoolDown: time.Second,
		CoolDownFactor: 0.5, Probes: 1000, ProbeTimeout: -1, FailureResponseCodes: []string{"00", "9"}}
	err := bad.Validate("banks.alfa.breaker")
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, key := range []string{"failure_threshold", "window", "max_cool_down", "cool_down_factor", "probes",
		"probe_timeout", "failure_response_codes[0]", "failure_response_codes[1]"} {
		if !strings.Contains(err.Error(), "banks.alfa.breaker."+key+":") {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	if err := (Config{}).Validate("x"); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if _, err := NewSet(map[string]Config{"sber": {Probes: -3}}, Options{}); err == nil ||
		!strings.Contains(err.Error(), "banks.sber.breaker.probes") {
		t.Fatalf("NewSet error %v", err)
	}
	d := Config{}.WithDefaults()
	if d.FailureThreshold != 5 || d.Window != 30*time.Second || d.CoolDown != 15*time.Second ||
		d.MaxCoolDown != 2*time.Minute || d.CoolDownFactor != 2 || d.Probes != 1 || d.ProbeTimeout != time.Minute {
		t.Fatalf("defaults %+v", d)
	}
}

// gauge reads h2hswitch_breaker_state and the transitions counter.
func gather(t *testing.T, reg *prometheus.Registry) (states map[string]float64, transitions map[string]float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	states, transitions = map[string]float64{}, map[string]float64{}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "h2hswitch_breaker_state":
				states[label(m, "bank")+"/"+label(m, "state")] = m.GetGauge().GetValue()
			case "h2hswitch_breaker_transitions_total":
				transitions[label(m, "bank")+"/"+label(m, "from")+">"+label(m, "to")] = m.GetCounter().GetValue()
			}
		}
	}
	return states, transitions
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	if again, err := NewMetrics(reg); err != nil || again.state != m.state {
		t.Fatalf("second NewMetrics on one registry: %v", err)
	}
	c := newClock()
	b := newBreaker(t, Config{FailureThreshold: 1, CoolDown: time.Second}, c, m)
	states, _ := gather(t, reg)
	if states["alfa/closed"] != 1 || states["alfa/open"] != 0 || states["alfa/half_open"] != 0 {
		t.Fatalf("initial states %v", states)
	}
	openBreaker(t, b)
	c.Advance(time.Second)
	send(b, Failure)
	c.Advance(2 * time.Second)
	send(b, Success)
	states, tr := gather(t, reg)
	if states["alfa/closed"] != 1 || states["alfa/open"] != 0 || states["alfa/half_open"] != 0 {
		t.Fatalf("final states %v", states)
	}
	want := map[string]float64{"alfa/closed>open": 1, "alfa/open>half_open": 2, "alfa/half_open>open": 1, "alfa/half_open>closed": 1}
	for k, v := range want {
		if tr[k] != v {
			t.Errorf("transitions %s = %v, want %v (all: %v)", k, tr[k], v, tr)
		}
	}
}

// TestConcurrentUse hammers one breaker from many goroutines while the
// clock moves; run with -race. Invariants: a half-open circuit never has
// more probes out than configured, and the exact threshold of concurrent
// failures opens the circuit exactly once.
func TestConcurrentUse(t *testing.T) {
	c := newClock()
	const probes = 2
	b := newBreaker(t, Config{FailureThreshold: 3, CoolDown: time.Millisecond, Probes: probes}, c, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	maxProbes := 0
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 500 {
				ok, done := b.Allow()
				if st := b.Status(); st.State == HalfOpen {
					mu.Lock()
					maxProbes = max(maxProbes, st.ProbesInFlight)
					mu.Unlock()
				}
				if g == 0 {
					c.Advance(time.Duration(r.IntN(1000)) * time.Microsecond)
				}
				if ok {
					done([]Outcome{Success, Failure, Failure, Ignore}[r.IntN(4)])
				}
			}
		}()
	}
	wg.Wait()
	if maxProbes > probes {
		t.Fatalf("%d probes out at once, limit %d", maxProbes, probes)
	}
	if b.Status().ProbesInFlight != 0 {
		t.Fatalf("probes left in flight: %+v", b.Status())
	}

	// Exactly FailureThreshold concurrent failures open it once.
	fresh := newBreaker(t, Config{FailureThreshold: 8, CoolDown: time.Hour}, c, nil)
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			send(fresh, Failure)
		}()
	}
	close(start)
	wg.Wait()
	if st := fresh.Status(); st.State != Open || st.Opens != 1 {
		t.Fatalf("after 8 concurrent failures: %+v", st)
	}
}
