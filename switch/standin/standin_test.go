package standin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/acquirer/h2hswitch/switch/journal"
)

func TestRules(t *testing.T) {
	e := newEnv(t)
	cfg := baseConfig()
	alfa := cfg.Banks["alfa"]
	alfa.Types = []string{"purchase"}
	alfa.MCCAllow = []string{"5411", "5999", "7995"}
	alfa.Merchants = map[string]Rules{
		// A trusted merchant: larger payments, preauths, MIT, on timeout.
		"M00000000000777": {Types: []string{"purchase", "preauth"}, MaxAmount: map[string]int64{"KZT": 9_000_000},
			DailyAmount: map[string]int64{"KZT": 20_000_000}, MerchantInitiated: ptr(true), OnTimeout: ptr(true),
			MCCAllow: []string{}},
		"M00000000000888": {Enabled: ptr(false)},
	}
	cfg.Banks["alfa"] = alfa
	cfg.Banks["sber"] = BankConfig{Rules: Rules{Enabled: ptr(false)}}
	p := e.policy(cfg)

	type mod func(*Input)
	cases := []struct {
		name   string
		mod    mod
		reason string // "" = approve
	}{
		{"plain purchase", func(*Input) {}, ""},
		{"amount at the limit", func(in *Input) { in.Amount = 5_000_000 }, ""},
		{"amount over the limit", func(in *Input) { in.Amount = 5_000_001 }, ReasonAmountOverLimit},
		{"USD within its own limit", func(in *Input) { in.Currency, in.Amount = "USD", 20_000 }, ""},
		{"USD over its own limit", func(in *Input) { in.Currency, in.Amount = "USD", 20_001 }, ReasonAmountOverLimit},
		{"lower-case currency", func(in *Input) { in.Currency = "kzt" }, ""},
		{"currency not listed", func(in *Input) { in.Currency = "EUR" }, ReasonCurrencyNotAllowed},
		{"preauth not allowed at bank level", func(in *Input) { in.Type = Preauth }, ReasonTypeNotAllowed},
		{"refund never", func(in *Input) { in.Type = Refund }, ReasonRefund},
		{"unknown type", func(in *Input) { in.Type = "cashback" }, ReasonTypeNotAllowed},
		{"MCC in allow list", func(in *Input) { in.MCC = "5999" }, ""},
		{"MCC not in allow list", func(in *Input) { in.MCC = "4111" }, ReasonMCCNotAllowed},
		{"deny wins over allow", func(in *Input) { in.MCC = "7995" }, ReasonMCCDenied},
		{"cardholder-initiated subsequent", func(in *Input) { in.Subsequent = true }, ""},
		{"MIT subsequent not allowed", func(in *Input) { in.MerchantInitiated, in.Subsequent = true, true }, ReasonMerchantInitiated},
		{"initial stored credential", func(in *Input) { in.StoresCredential = true }, ReasonInitialCredential},
		{"bank disabled", func(in *Input) { in.Bank = "sber" }, ReasonDisabled},
		{"bank not configured", func(in *Input) { in.Bank = "gamma" }, ReasonNotConfigured},
		// Overrides.
		{"override: preauth allowed", func(in *Input) { in.MerchantID, in.Type = "M00000000000777", Preauth }, ""},
		{"override: larger amount", func(in *Input) { in.MerchantID, in.Amount = "M00000000000777", 9_000_000 }, ""},
		{"override: over its limit", func(in *Input) { in.MerchantID, in.Amount = "M00000000000777", 9_000_001 }, ReasonAmountOverLimit},
		{"override: max_amount replaced, USD gone", func(in *Input) { in.MerchantID, in.Currency = "M00000000000777", "USD" }, ReasonCurrencyNotAllowed},
		{"override: empty allow list allows any MCC", func(in *Input) { in.MerchantID, in.MCC = "M00000000000777", "4111" }, ""},
		{"override: deny inherited", func(in *Input) { in.MerchantID, in.MCC = "M00000000000777", "7995" }, ReasonMCCDenied},
		{"override: MIT subsequent allowed", func(in *Input) {
			in.MerchantID, in.MerchantInitiated, in.Subsequent = "M00000000000777", true, true
		}, ""},
		{"override: MIT initial still refused", func(in *Input) {
			in.MerchantID, in.MerchantInitiated = "M00000000000777", true
		}, ReasonMerchantInitiated},
		{"override: refund still never", func(in *Input) { in.MerchantID, in.Type = "M00000000000777", Refund }, ReasonRefund},
		{"override matched case-insensitively", func(in *Input) { in.MerchantID, in.Type = "m00000000000777", Preauth }, ""},
		{"override: merchant disabled", func(in *Input) { in.MerchantID = "M00000000000888" }, ReasonDisabled},
	}
	for i, tc := range cases {
		// A different card per case keeps the daily limits out of the way.
		in := e.input(panA, 1000)
		in.PANHash = strings.Repeat("0", 63) + string(rune('a'+i%6)) + strings.Repeat("1", i/6)
		tc.mod(&in)
		d, err := p.Decide(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.reason == "" {
			if !d.Approve || !IsStandInAuthCode(d.AuthCode) {
				t.Errorf("%s: %+v, want approved", tc.name, d)
			}
			p.Release(d)
			continue
		}
		if d.Approve || d.Reason != tc.reason || d.AuthCode != "" {
			t.Errorf("%s: %+v, want declined %s", tc.name, d, tc.reason)
		}
	}

	if p.OnTimeout("alfa", "M00000000000123") || !p.OnTimeout("alfa", "M00000000000777") ||
		p.OnTimeout("sber", "") || p.OnTimeout("gamma", "") {
		t.Fatal("OnTimeout: default must be off, the override on")
	}
	if !p.Enabled("alfa", "") || p.Enabled("alfa", "M00000000000888") || p.Enabled("sber", "") || p.Enabled("gamma", "") {
		t.Fatal("Enabled")
	}
}

func TestInvalidInput(t *testing.T) {
	e := newEnv(t)
	p := e.policy(baseConfig())
	for _, mod := range []func(*Input){
		func(in *Input) { in.Bank = "" },
		func(in *Input) { in.Amount = 0 },
		func(in *Input) { in.Amount = -5 },
		func(in *Input) { in.Currency = "KZ" },
		func(in *Input) { in.PANHash = "" },
	} {
		in := e.input(panA, 1000)
		mod(&in)
		d, err := p.Decide(context.Background(), in)
		if !errors.Is(err, ErrInvalidInput) || d.Approve || d.Reason != ReasonInvalidInput {
			t.Fatalf("input %+v: %+v %v", in, d, err)
		}
	}
}

// TestDailyLimitsCountTheJournal: the per-card counters are the card's
// stand-in approvals of the day at this bank as the real journal holds them.
func TestDailyLimitsCountTheJournal(t *testing.T) {
	e := newEnv(t)
	p := e.policy(baseConfig()) // 3 a day, 100 000.00 KZT a day
	now := e.clock.Now()
	// Counted: two stand-in approvals today (one since voided).
	e.add(seed{pan: panA, amount: 3_000_000, standIn: true, at: now.Add(-2 * time.Hour)})
	e.add(seed{pan: panA, amount: 3_000_000, standIn: true, status: journal.PaymentVoided, at: now.Add(-time.Hour)})
	// Not counted: bank approvals, a declined stand-in, another bank,
	// another card, yesterday.
	e.add(seed{pan: panA, amount: 4_000_000, at: now.Add(-time.Hour)})
	e.add(seed{pan: panA, amount: 4_000_000, status: journal.PaymentPending, at: now.Add(-time.Minute)})
	e.add(seed{pan: panA, amount: 1_000_000, standIn: true, status: journal.PaymentDeclined, at: now.Add(-time.Hour)})
	e.add(seed{pan: panA, amount: 1_000_000, standIn: true, bank: "sber", at: now.Add(-time.Hour)})
	e.add(seed{pan: panB, amount: 1_000_000, standIn: true, at: now.Add(-time.Hour)})
	e.add(seed{pan: panA, amount: 1_000_000, standIn: true, at: now.Add(-13 * time.Hour)})

	// 6 000 000 used today: 4 000 001 more would exceed 10 000 000.
	wantDecline(t, decide(t, p, e.input(panA, 4_000_001)), ReasonCardDailyAmount)
	// Exactly up to the limit is fine: the third approval of the day.
	e.approveAndJournal(p, e.input(panA, 4_000_000), panA)
	// A fourth, however small, exceeds the count.
	wantDecline(t, decide(t, p, e.input(panA, 100)), ReasonCardDailyCount)

	// USD approvals count against the count but not the KZT amount.
	usd := e.input(panC, 20_000)
	usd.Currency = "USD"
	e.approveAndJournal(p, usd, panC)
	e.approveAndJournal(p, usd, panC)
	wantDecline(t, decide(t, p, usd), ReasonCardDailyAmount) // 60 000 > 50 000 USD
	wantApprove(t, decide(t, p, e.input(panC, 5_000_000)))
	wantDecline(t, decide(t, p, e.input(panC, 100)), ReasonCardDailyCount)

	// The payment being decided is not counted against itself: panB has
	// two stand-in approvals besides it.
	e.add(seed{pan: panB, amount: 1000, standIn: true})
	self := e.add(seed{pan: panB, amount: 1000, standIn: true})
	wantDecline(t, decide(t, p, e.input(panB, 1000)), ReasonCardDailyCount)
	in := e.input(panB, 1000)
	in.PaymentID = self.ID
	wantApprove(t, decide(t, p, in))
}

// TestReservationsCloseTheRace: an approval counts from the moment it is
// decided, before the engine journals it, until it is released.
func TestReservationsCloseTheRace(t *testing.T) {
	e := newEnv(t)
	cfg := baseConfig()
	b := cfg.Banks["alfa"]
	b.DailyCount = ptr[int64](4)
	cfg.Banks["alfa"] = b
	p := e.policy(cfg)
	e.add(seed{pan: panA, amount: 9_000_000, standIn: true})

	d1 := decide(t, p, e.input(panA, 500_000))
	wantApprove(t, d1)
	// Not journaled yet: the reservation counts.
	wantDecline(t, decide(t, p, e.input(panA, 500_001)), ReasonCardDailyAmount)
	d2 := decide(t, p, e.input(panA, 500_000))
	wantApprove(t, d2)
	wantDecline(t, decide(t, p, e.input(panA, 1)), ReasonCardDailyAmount)

	// The engine failed to journal d2: release it and the room is back.
	p.Release(d2)
	p.Release(d2) // idempotent
	d3 := decide(t, p, e.input(panA, 500_000))
	wantApprove(t, d3)
	if d3.AuthCode == d1.AuthCode {
		t.Fatal("two live approvals of one card got the same code")
	}
	// d1 journaled and committed: still counted exactly once.
	e.add(seed{pan: panA, amount: 500_000, standIn: true, authCode: d1.AuthCode})
	p.Commit(d1)
	wantDecline(t, decide(t, p, e.input(panA, 1)), ReasonCardDailyAmount) // 9.0M + d1 + d3 = 10.0M
	e.add(seed{pan: panA, amount: 500_000, standIn: true, authCode: d3.AuthCode})
	p.Commit(d3)
	if n := p.ledger.size(); n != 0 {
		t.Fatalf("%d reservations left after every approval was committed", n)
	}
	// Journal: 9.0M + d1 + d3; one more payment would fit the count, not the amount.
	wantDecline(t, decide(t, p, e.input(panA, 1)), ReasonCardDailyAmount)
}

func TestUnsettledReservationLapses(t *testing.T) {
	e := newEnv(t)
	cfg := baseConfig()
	b := cfg.Banks["alfa"]
	b.DailyCount = ptr[int64](1)
	cfg.Banks["alfa"] = b
	p := e.policy(cfg, func(o *Options) { o.ReservationTTL = time.Minute })
	start := e.clock.Now()
	wantApprove(t, decide(t, p, e.input(panA, 1000))) // never settled
	e.clock.Set(start.Add(time.Minute))
	wantDecline(t, decide(t, p, e.input(panA, 1000)), ReasonCardDailyCount)
	e.clock.Set(start.Add(time.Minute + time.Nanosecond))
	wantApprove(t, decide(t, p, e.input(panA, 1000)))
}

// TestDayBoundaryAlmaty: "daily" is the bank's local day in Asia/Almaty,
// not the UTC day.
func TestDayBoundaryAlmaty(t *testing.T) {
	e := newEnv(t)
	cfg := baseConfig()
	b := cfg.Banks["alfa"]
	b.DailyCount = ptr[int64](1)
	cfg.Banks["alfa"] = b
	p := e.policy(cfg)
	loc := almaty(t)
	midnight := time.Date(2026, 11, 28, 0, 0, 0, 0, loc)
	lateEvening := midnight.Add(-30 * time.Minute)
	justBefore := midnight.Add(-time.Nanosecond)
	justAfter := midnight.Add(10 * time.Minute)
	// Precondition: both sides of the local midnight are one UTC day, so a
	// UTC-day implementation would count them together.
	if lateEvening.UTC().YearDay() != justAfter.UTC().YearDay() {
		t.Fatalf("test times straddle UTC midnight: %v %v", lateEvening.UTC(), justAfter.UTC())
	}
	e.add(seed{pan: panA, amount: 1000, standIn: true, at: lateEvening})

	in := e.input(panA, 1000)
	in.Now = justBefore
	wantDecline(t, decide(t, p, in), ReasonCardDailyCount)
	in.Now = justAfter
	d := decide(t, p, in)
	wantApprove(t, d)
	if !d.Day.Equal(midnight) {
		t.Fatalf("decision day %v, want %v", d.Day, midnight)
	}
	// The reservation belongs to the new day only.
	in.Now = justBefore
	wantDecline(t, decide(t, p, in), ReasonCardDailyCount)
	in.Now = midnight.Add(time.Hour)
	wantDecline(t, decide(t, p, in), ReasonCardDailyCount)

	// Input.Now zero falls back to the Policy's clock.
	e.clock.Set(midnight.Add(24*time.Hour + time.Minute))
	in.Now = time.Time{}
	wantApprove(t, decide(t, p, in))

	// Another zone moves the boundary.
	cfg.Banks["alfa"] = BankConfig{Rules: b.Rules, TimeZone: "UTC"}
	utc := e.policy(cfg)
	in.Now = justAfter // same UTC day as lateEvening
	wantDecline(t, decide(t, utc, in), ReasonCardDailyCount)
}

// TestConcurrentDecisionsNeverExceedTheCount: N goroutines deciding at
// once for one card, each journaling its approval (real SQLite) then
// committing, get exactly the daily count approved.
func TestConcurrentDecisionsNeverExceedTheCount(t *testing.T) {
	e := newEnv(t)
	cfg := baseConfig()
	b := cfg.Banks["alfa"]
	b.DailyCount = ptr[int64](3)
	b.DailyAmount = map[string]int64{"KZT": 1_000_000_000, "USD": 50_000}
	cfg.Banks["alfa"] = b
	p := e.policy(cfg)
	ctx := context.Background()
	pans := []string{panA, panB, panC}
	for round := range 3 {
		pan := pans[round]
		if round == 2 {
			e.add(seed{pan: pan, amount: 1000, standIn: true}) // one already used
		}
		const n = 24
		var wg sync.WaitGroup
		var mu sync.Mutex
		var approved []string
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				in := e.input(pan, 1000)
				d, err := p.Decide(ctx, in)
				if err != nil {
					t.Errorf("Decide: %v", err)
					return
				}
				if !d.Approve {
					if d.Reason != ReasonCardDailyCount {
						t.Errorf("declined %s", d.Reason)
					}
					return
				}
				e.add(seed{pan: pan, amount: 1000, standIn: true, authCode: d.AuthCode})
				p.Commit(d)
				mu.Lock()
				approved = append(approved, d.AuthCode)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		want := 3
		if round == 2 {
			want = 2
		}
		if len(approved) != want {
			t.Fatalf("round %d: %d approvals %v, want %d", round, len(approved), approved, want)
		}
		seen := map[string]bool{}
		for _, c := range approved {
			if seen[c] {
				t.Fatalf("round %d: code %s given twice", round, c)
			}
			seen[c] = true
		}
		ps, err := e.store.ListPayments(ctx, journal.PaymentFilter{PANHash: e.hash(pan)})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 3 {
			t.Fatalf("round %d: journal holds %d stand-in payments, want 3", round, len(ps))
		}
		wantDecline(t, decide(t, p, e.input(pan, 1)), ReasonCardDailyCount)
	}
	if n := p.ledger.size(); n != 0 {
		t.Fatalf("%d reservations left", n)
	}
}

// TestActivityReadIsBounded: the journal read pages through the card's
// day and refuses a card with more payments than it may scan.
func TestActivityReadIsBounded(t *testing.T) {
	e := newEnv(t)
	cfg := baseConfig()
	b := cfg.Banks["alfa"]
	b.DailyCount = ptr[int64](4)
	cfg.Banks["alfa"] = b
	p := e.policy(cfg)
	p.pageSize, p.maxPages = 2, 3
	for range 3 {
		e.add(seed{pan: panA, amount: 1000, standIn: true})
	}
	e.add(seed{pan: panA, amount: 1000}) // a bank approval: read, not counted
	// Four payments over two pages: three stand-in found, one more allowed.
	d := decide(t, p, e.input(panA, 1000))
	wantApprove(t, d)
	p.Release(d)
	e.add(seed{pan: panA, amount: 1000, standIn: true})
	wantDecline(t, decide(t, p, e.input(panA, 1000)), ReasonCardDailyCount)
	e.add(seed{pan: panA, amount: 1000})
	e.add(seed{pan: panA, amount: 1000}) // 7 > 2*3
	wantDecline(t, decide(t, p, e.input(panA, 1000)), ReasonCardActivityBound)
}

func TestJournalFailureIsAnError(t *testing.T) {
	e := newEnv(t)
	p := e.policy(baseConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d, err := p.Decide(ctx, e.input(panA, 1000)); err == nil || d.Approve || d.Reason != ReasonError {
		t.Fatalf("cancelled ctx: %+v %v", d, err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(context.Background(), e.input(panA, 1000))
	if err == nil || d.Approve || d.Reason != ReasonError || !strings.Contains(err.Error(), "stand-in activity") {
		t.Fatalf("closed journal: %+v %v", d, err)
	}
	// Rules that need no journal still decline without an error.
	in := e.input(panA, 1000)
	in.Type = Refund
	if d, err := p.Decide(context.Background(), in); err != nil || d.Reason != ReasonRefund {
		t.Fatalf("refund with a closed journal: %+v %v", d, err)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := NewMetrics(reg); err != nil || again.decisions != m.decisions {
		t.Fatalf("second NewMetrics: %v", err)
	}
	p := e.policy(baseConfig(), func(o *Options) { o.Metrics = m })
	wantApprove(t, decide(t, p, e.input(panA, 1000)))
	wantApprove(t, decide(t, p, e.input(panA, 1000)))
	wantDecline(t, decide(t, p, e.input(panA, 5_000_001)), ReasonAmountOverLimit)
	in := e.input(panA, 1000)
	in.Type = Refund
	wantDecline(t, decide(t, p, in), ReasonRefund)
	p.RecordLoss("alfa", "kzt", 150_000)
	p.RecordLoss("alfa", "KZT", 50_000)

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			got[mf.GetName()+labels(mm)] = mm.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"h2hswitch_standin_decisions_total{bank=alfa,decision=approved,reason=within_limits}":     2,
		"h2hswitch_standin_decisions_total{bank=alfa,decision=declined,reason=amount_over_limit}": 1,
		"h2hswitch_standin_decisions_total{bank=alfa,decision=declined,reason=refund}":            1,
		"h2hswitch_standin_losses_total{bank=alfa}":                                               2,
		"h2hswitch_standin_loss_amount_total{bank=alfa,currency=KZT}":                             200_000,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all %v)", k, got[k], v, got)
		}
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// pausedJournal is the real journal with one read held back after it has
// read: it makes the interleaving "read, another decision commits, then
// count" happen on demand.
type pausedJournal struct {
	Journal
	held    atomic.Bool
	read    chan struct{} // closed once the held read has its rows
	release chan struct{} // close to let it return
}

func (j *pausedJournal) ListPayments(ctx context.Context, f journal.PaymentFilter) ([]*journal.Payment, error) {
	ps, err := j.Journal.ListPayments(ctx, f)
	if j.held.CompareAndSwap(false, true) {
		close(j.read)
		<-j.release
	}
	return ps, err
}

// TestCommitDuringAReadStillCounts: a decision whose journal read began
// before another approval was journaled and committed must still count that
// approval, although its reservation is already committed.
func TestCommitDuringAReadStillCounts(t *testing.T) {
	e := newEnv(t)
	cfg := baseConfig()
	b := cfg.Banks["alfa"]
	b.DailyCount = ptr[int64](1)
	cfg.Banks["alfa"] = b
	j := &pausedJournal{Journal: e.store, read: make(chan struct{}), release: make(chan struct{})}
	p := e.policy(cfg, func(o *Options) { o.Journal = j })

	slow := make(chan Decision, 1)
	go func() {
		d, err := p.Decide(context.Background(), e.input(panA, 1000))
		if err != nil {
			t.Errorf("slow Decide: %v", err)
		}
		slow <- d
	}()
	<-j.read // the slow decision has read an empty day
	e.approveAndJournal(p, e.input(panA, 1000), panA)
	close(j.release)
	wantDecline(t, <-slow, ReasonCardDailyCount)
	if n := p.ledger.size(); n != 0 {
		t.Fatalf("%d reservations left once no read needs them", n)
	}
}
