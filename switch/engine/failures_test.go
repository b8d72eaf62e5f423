package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/breaker"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/standin"
)

// visaToAlfa sends the test Visa range to Bank A only (no failover), so
// that Bank A down means stand-in or decline.
const visaToAlfa = `version: 1
rules:
  - name: visa-alfa-only
    match:
      bins: ["400000-400099"]
    banks: [alfa]
  - name: default
    banks: [sber]
`

func TestBackoffDoublesUpToTheBanksMaximum(t *testing.T) {
	b := &Bank{RepeatMin: 100 * time.Millisecond, RepeatInterval: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range want {
		if got := b.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

// drainSAF runs the worker until pred holds or the deadline passes.
func drainSAF(t *testing.T, h *harness, pred func() bool) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for !pred() {
		if _, err := h.eng.ProcessSAF(h.ctx, 16); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("condition never reached while draining the SAF queue")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func safItems(t *testing.T, h *harness, paymentID string, states ...journal.SAFState) []*journal.SAFItem {
	t.Helper()
	items, err := h.store.ListSAF(h.ctx, journal.SAFFilter{PaymentID: paymentID, States: states})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// A reversal the bank never acknowledges is never dead-lettered (the bank
// documents say: repeat until acknowledged): past MaxAttempts it raises the
// overdue alert and goes on at the bank's maximum interval, and it is
// acknowledged without an operator once the bank is back.
func TestReversalNeverDeadLetteredByAttempts(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond, configure: func(_ *harness, c *Config) {
		c.Metrics = reg
		c.SAF.MaxAttempts = 2
	}})
	p := h.authorize(purchaseInput("dead", TypePurchase, 10099, "4000000000000010"))
	if p.Status != journal.PaymentDeclined {
		t.Fatalf("status %s", p.Status)
	}
	if err := h.simA.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
		t.Fatal(err)
	}
	overdue := h.eng.m.safOverdue.WithLabelValues("alfa", "reversal", "max_attempts")
	drainSAF(t, h, func() bool { return counterValue(t, overdue) >= 1 })
	if dead := safItems(t, h, p.ID, journal.SAFDead); len(dead) != 0 {
		t.Fatalf("reversal dead-lettered: %+v", dead[0])
	}
	if got := counterValue(t, h.eng.m.safDead.WithLabelValues("alfa", "reversal", "max_attempts")); got != 0 {
		t.Fatalf("dead-letter metric = %v for a reversal", got)
	}
	it := safItems(t, h, p.ID, journal.SAFQueued, journal.SAFInProgress)
	if len(it) != 1 || !strings.Contains(it[0].LastError, "attempts") {
		t.Fatalf("reversal item %+v, want queued with its last error", it)
	}
	if txn, _ := h.simA.Ledger().ByRRN(p.RRN); txn.State == ledger.StateReversed {
		t.Fatal("reversed at the bank although it never answered")
	}
	// The bank is back: the next repeat settles it, no operator needed.
	if err := h.simA.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID, journal.SAFDone)) == 1 })
	rev := h.op(p.ID, journal.OpReversal)[0]
	if rev.Status != journal.OpAcknowledged || rev.MTI != "0401" {
		t.Fatalf("reversal %+v", rev)
	}
	if txn, _ := h.simA.Ledger().ByRRN(p.RRN); txn.State != ledger.StateReversed {
		t.Fatalf("bank state %s", txn.State)
	}
}

// An advice (here a completion) the bank never acknowledges does go to
// dead-letter after MaxAttempts, raises the alert metric, stays listed,
// and an operator's retry (MakeDue) sends it again once the bank is back.
func TestAdviceDeadLetterAfterMaxAttemptsAndOperatorRetry(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond, configure: func(_ *harness, c *Config) {
		c.Metrics = reg
		c.SAF.MaxAttempts = 2
	}})
	p := h.authorize(purchaseInput("dead-adv", TypePreauth, 10010, "4000000000000010"))
	if p.Status != journal.PaymentApproved {
		t.Fatalf("status %s", p.Status)
	}
	if err := h.simA.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Capture(h.ctx, OperationInput{Client: "gateway", RequestID: "cap", PaymentID: p.ID}); err != nil {
		t.Fatalf("Capture: %v", err)
	}
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID, journal.SAFDead)) == 1 })
	it := safItems(t, h, p.ID, journal.SAFDead)[0]
	if it.Kind != journal.SAFCompletion || !strings.Contains(it.LastError, "2 attempts") {
		t.Fatalf("dead item %+v", it)
	}
	if got := counterValue(t, h.eng.m.safDead.WithLabelValues("alfa", "completion", "max_attempts")); got != 1 {
		t.Fatalf("dead-letter metric = %v", got)
	}
	if err := h.simA.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.MakeDue(h.ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID, journal.SAFDone)) == 1 })
	if c := h.op(p.ID, journal.OpCapture)[0]; c.Status != journal.OpAcknowledged || c.MTI != "0221" {
		t.Fatalf("completion after retry %+v", c)
	}
}

// A reversal older than MaxAge is not dead-lettered: it raises the overdue
// alert and is rescheduled at the bank's maximum interval.
func TestReversalPastMaxAgeKeepsRepeating(t *testing.T) {
	var clock atomicTime
	clock.set(time.Now())
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond, configure: func(_ *harness, c *Config) {
		c.SAF.MaxAge = time.Hour
		c.Now = clock.get
	}})
	p := h.authorize(purchaseInput("old", TypePurchase, 10099, "4000000000000010"))
	if err := h.simA.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.ProcessSAF(h.ctx, 10); err != nil {
		t.Fatal(err)
	}
	if n := len(safItems(t, h, p.ID, journal.SAFQueued)); n != 1 {
		t.Fatalf("young item should be requeued, queued=%d", n)
	}
	// Two hours later by the engine's clock. The journal's real clock
	// decides what is due and the engine scheduled the repeat on its
	// own, so make the item due explicitly.
	later := time.Now().Add(2 * time.Hour)
	clock.set(later)
	it := safItems(t, h, p.ID, journal.SAFQueued)[0]
	if err := h.store.MakeDue(h.ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.ProcessSAF(h.ctx, 10); err != nil {
		t.Fatal(err)
	}
	if dead := safItems(t, h, p.ID, journal.SAFDead); len(dead) != 0 {
		t.Fatalf("reversal dead-lettered by age: %+v", dead[0])
	}
	q := safItems(t, h, p.ID, journal.SAFQueued)
	if len(q) != 1 || !strings.Contains(q[0].LastError, "unacknowledged after") {
		t.Fatalf("queued items %+v", q)
	}
	b, _ := h.eng.bank("alfa")
	if want := later.Add(b.RepeatInterval); q[0].NextAttemptAt.Sub(want).Abs() > 50*time.Millisecond {
		t.Fatalf("next attempt %v, want the bank's maximum interval later (%v)", q[0].NextAttemptAt, want)
	}
	if got := counterValue(t, h.eng.m.safOverdue.WithLabelValues("alfa", "reversal", "max_age")); got != 1 {
		t.Fatalf("overdue metric = %v", got)
	}
}

func standInPolicy(t *testing.T, store journal.Store, banks map[string]standin.BankConfig) *standin.Policy {
	t.Helper()
	p, err := standin.New(standin.Config{Banks: banks}, standin.Options{Journal: store})
	if err != nil {
		t.Fatalf("stand-in policy: %v", err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

var alfaStandIn = standin.BankConfig{Rules: standin.Rules{
	Enabled: ptr(true), Types: []string{"purchase", "preauth"},
	MaxAmount: map[string]int64{"KZT": 50000}, DailyCount: ptr(int64(5)), DailyAmount: map[string]int64{"KZT": 200000},
}}

// With no usable bank the switch stands in within the limits — approved,
// stand_in, a switch-generated code, an advice queued for the bank the
// route would have used — and declines beyond them.
func TestStandInWhenNoBankIsUsable(t *testing.T) {
	h := newHarness(t, harnessOpts{deadA: true, routes: visaToAlfa, configure: func(h *harness, c *Config) {
		c.StandIn = standInPolicy(t, h.store, map[string]standin.BankConfig{"alfa": alfaStandIn})
	}})
	p := h.authorize(purchaseInput("si-ok", TypePurchase, 40010, "4000000000000010"))
	if p.Status != journal.PaymentApproved || !p.StandIn || len(p.AuthCode) != 6 || p.Bank != "alfa" || p.RRN == "" {
		t.Fatalf("stand-in payment %+v", p.Payment)
	}
	advs := h.op(p.ID, journal.OpAdvice)
	if len(advs) != 1 || advs[0].Status != journal.OpQueued || advs[0].Amount != 40010 {
		t.Fatalf("advice ops %+v", advs)
	}
	items := safItems(t, h, p.ID)
	if len(items) != 1 || items[0].Kind != journal.SAFStandInAdvice || items[0].Bank != "alfa" {
		t.Fatalf("SAF items %+v", items)
	}
	over := h.authorize(purchaseInput("si-over", TypePurchase, 60010, "4000000000000028"))
	if over.Status != journal.PaymentDeclined || over.StandIn || over.Reason != "issuer_unavailable" {
		t.Fatalf("over the limit: %s %v %s", over.Status, over.StandIn, over.Reason)
	}
	if n := len(safItems(t, h, over.ID)); n != 0 {
		t.Fatalf("a declined payment owes nothing, has %d items", n)
	}
}

// Per payment the bank receives the debts in order: the stand-in advice,
// then the partial void, then the completion — even though the void and the
// capture were asked for while the bank was down.
func TestDebtsOfAPaymentReachTheBankInOrder(t *testing.T) {
	h := newHarness(t, harnessOpts{routes: visaToAlfa, configure: func(h *harness, c *Config) {
		c.StandIn = standInPolicy(t, h.store, map[string]standin.BankConfig{"alfa": alfaStandIn})
	}})
	if err := h.simA.SetFaults(banksim.Faults{RefuseConnections: true}); err != nil {
		t.Fatal(err)
	}
	h.simA.DropConnections()
	waitUsable(t, h, false)
	p := h.authorize(purchaseInput("order", TypePreauth, 40010, "4000000000000010"))
	if !p.StandIn || p.Status != journal.PaymentApproved {
		t.Fatalf("not stood in: %+v", p.Payment)
	}
	ten := int64(10000)
	if _, err := h.eng.Void(h.ctx, OperationInput{PaymentID: p.ID, Amount: &ten}); err != nil {
		t.Fatal(err)
	}
	rest := int64(30010)
	if _, err := h.eng.Capture(h.ctx, OperationInput{PaymentID: p.ID, Amount: &rest}); err != nil {
		t.Fatal(err)
	}
	if err := h.simA.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	waitUsable(t, h, true)
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID)) == 0 })
	msgs, err := h.store.ListMessages(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Direction == journal.DirOut {
			out = append(out, m.MTI[:3])
		}
	}
	if got := strings.Join(out, ","); got != "012,040,022" {
		t.Fatalf("messages sent in order %s, want advice, reversal, completion", got)
	}
	txn, ok := h.simA.Ledger().ByRRN(p.RRN)
	if !ok || !txn.StandIn || txn.Authorized != 30010 || txn.Completion == nil || txn.Completion.Amount != 30010 {
		t.Fatalf("bank transaction %+v", txn)
	}
}

func waitUsable(t *testing.T, h *harness, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.linkA.Usable() != want {
		if time.Now().After(deadline) {
			t.Fatalf("link alfa never became usable=%v", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Consecutive timeouts open Bank A's circuit: the router then skips it and
// the payment goes to the failover bank without touching Bank A.
func TestOpenCircuitIsSkipped(t *testing.T) {
	var set *breaker.Set
	h := newHarness(t, harnessOpts{timeout: 200 * time.Millisecond, configure: func(_ *harness, c *Config) {
		var err error
		set, err = breaker.NewSet(map[string]breaker.Config{
			"alfa": {FailureThreshold: 2, CoolDown: time.Minute}, "sber": {},
		}, breaker.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c.Breaker = set
	}})
	for i := range 2 {
		p := h.authorize(purchaseInput("cb"+string(rune('a'+i)), TypePurchase, 10099, "4000000000000010"))
		if p.Bank != "alfa" || p.Status != journal.PaymentDeclined {
			t.Fatalf("payment %d: %s %s", i, p.Bank, p.Status)
		}
	}
	if b, _ := set.Get("alfa"); b.State() != breaker.Open {
		t.Fatalf("alfa circuit %s after 2 timeouts", b.State())
	}
	p := h.authorize(purchaseInput("cb-next", TypePurchase, 10010, "4000000000000010"))
	if p.Bank != "sber" || p.Status != journal.PaymentApproved {
		t.Fatalf("with alfa open: %s %s", p.Bank, p.Status)
	}
	if n := len(h.op(p.ID, journal.OpAuthorization)); n != 1 {
		t.Fatalf("%d authorization attempts: the open bank must not be tried", n)
	}
}

// A process that died leaves an authorization pending and a SAF item
// leased: a live worker recovers the first (declined, reversal queued and
// sent) and takes the second over once its lease expired.
func TestWorkerTakesOverADeadProcess(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond, configure: func(_ *harness, c *Config) {
		c.Metrics = reg
		c.SAF.RecoverEvery = 50 * time.Millisecond
		c.SAF.CommitTimeout = 500 * time.Millisecond
		c.SAF.WriteTimeout = 200 * time.Millisecond
		c.SAF.RecoverAfter = 1300 * time.Millisecond
	}})
	// The dead process: a timed-out payment whose reversal it had leased...
	leased := h.authorize(purchaseInput("dead-lease", TypePurchase, 10099, "4000000000000010"))
	items, err := h.store.ClaimDue(h.ctx, "dead-process", 10, 300*time.Millisecond)
	if err != nil || len(items) != 1 {
		t.Fatalf("claim as the dead process: %d items, %v", len(items), err)
	}
	// ... and an authorization it sent and never recorded the answer of.
	p := h.authorize(purchaseInput("dead-pending", TypePurchase, 10010, "4000000000000028"))
	auth := h.op(p.ID, journal.OpAuthorization)[0]
	pay, err := h.store.GetPayment(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	pay.Status = journal.PaymentPending
	auth.Status = journal.OpPending
	if err := h.store.Write(h.ctx, journal.SavePayment(pay), journal.SaveOperation(auth)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.eng.RunSAF(ctx, 50*time.Millisecond, 16) }()
	deadline := time.Now().Add(8 * time.Second)
	for {
		a, _ := h.simA.Ledger().ByRRN(leased.RRN)
		b, _ := h.simA.Ledger().ByRRN(p.RRN)
		if a.State == ledger.StateReversed && b.State == ledger.StateReversed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not taken over: leased %s, pending %s", a.State, b.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	got, _ := h.eng.Get(h.ctx, p.ID)
	if got.Status != journal.PaymentDeclined || got.Reason != "issuer_unavailable" {
		t.Fatalf("recovered payment %s %s", got.Status, got.Reason)
	}
	if n := counterValue(t, h.eng.m.recovered); n != 1 {
		t.Fatalf("recovered metric %v", n)
	}
}

// A late approval is counted for operators.
func TestLateResponseIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{timeout: 200 * time.Millisecond, lateDelay: 500 * time.Millisecond, configure: func(_ *harness, c *Config) {
		c.Metrics = reg
	}})
	h.authorize(purchaseInput("late-m", TypePurchase, 20098, "5100000000000008"))
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, h.eng.m.late.WithLabelValues("sber", "approved")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("late approval never counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := false
	for _, f := range families {
		exported = exported || f.GetName() == "h2hswitch_engine_late_responses_total"
	}
	if !exported {
		t.Fatal("late responses are not exported")
	}
}

// atomicTime is a settable clock safe for concurrent use.
type atomicTime struct{ v atomic.Int64 }

func (a *atomicTime) set(t time.Time) { a.v.Store(t.UnixNano()) }
func (a *atomicTime) get() time.Time  { return time.Unix(0, a.v.Load()) }

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	m, ok := c.(prometheus.Metric)
	if !ok {
		t.Fatalf("%T is not a single metric", c)
	}
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

// With on_timeout, a payment the bank did not answer is reversed AND stood
// in: the reversal reaches the bank before the advice, and the bank ends
// with the timed-out approval reversed and the stand-in recorded.
func TestStandInOnTimeoutReversesThenAdvises(t *testing.T) {
	cfg := alfaStandIn
	cfg.OnTimeout = ptr(true)
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond, routes: visaToAlfa, configure: func(h *harness, c *Config) {
		c.StandIn = standInPolicy(t, h.store, map[string]standin.BankConfig{"alfa": cfg})
	}})
	p := h.authorize(purchaseInput("si-timeout", TypePurchase, 10099, "4000000000000010"))
	if p.Status != journal.PaymentApproved || !p.StandIn {
		t.Fatalf("payment %s stand_in=%v", p.Status, p.StandIn)
	}
	if n := len(h.op(p.ID, journal.OpReversal)); n != 1 {
		t.Fatalf("%d reversals queued", n)
	}
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID)) == 0 })
	msgs, err := h.store.ListMessages(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Direction == journal.DirOut {
			out = append(out, m.MTI)
		}
	}
	if got := strings.Join(out, ","); got != "0200,0400,0220" {
		t.Fatalf("sent %s, want the authorization, its reversal, then the advice", got)
	}
	var auth, advice bool
	for _, txn := range h.simA.Ledger().Snapshot() {
		if txn.RRN != p.RRN {
			continue
		}
		switch {
		case txn.StandIn && txn.State == ledger.StateAuthorized && txn.Amount == 10099:
			advice = true
		case !txn.StandIn && txn.State == ledger.StateReversed:
			auth = true
		}
	}
	if !auth || !advice {
		t.Fatalf("bank: timed-out approval reversed=%v, stand-in recorded=%v", auth, advice)
	}
}
