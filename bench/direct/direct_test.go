package direct

import (
	"context"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/bench/mix"
	"github.com/acquirer/h2hswitch/simulators/banksim"
)

// startSim runs a reference simulator in-process on a free loopback port.
func startSim(t *testing.T, dialect string) string {
	t.Helper()
	sim, err := banksim.New(banksim.Config{Dialect: dialect, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("building %s simulator: %v", dialect, err)
	}
	if err := sim.Start(t.Context()); err != nil {
		t.Fatalf("starting %s simulator: %v", dialect, err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim.Addr()
}

// TestDirectBaselineSmoke runs the baseline's closed loop for about two
// seconds over real TCP against both simulators.
func TestDirectBaselineSmoke(t *testing.T) {
	banks := DefaultBanks(startSim(t, "h2h87-ascii"), startSim(t, "h2h87-binary"))
	for i := range banks {
		banks[i].Connections = 2
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, Config{Banks: banks, Concurrency: 8, Duration: 2 * time.Second, Seed: 3, Label: "smoke"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.String())
	if r.Requests == 0 || r.Throughput <= 0 {
		t.Fatalf("no throughput: %s", r.String())
	}
	if r.Errors != 0 || r.Timeouts != 0 || r.Unexpected != 0 {
		t.Fatalf("errors %d, timeouts %d, unexpected %d (%v)", r.Errors, r.Timeouts, r.Unexpected, r.ErrorKinds)
	}
	if r.Approved == 0 || r.Declined == 0 || r.ApprovedAuths != r.Approved {
		t.Errorf("approved %d (auths %d), declined %d: want both outcomes, every approval an authorization", r.Approved, r.ApprovedAuths, r.Declined)
	}
	if r.ByOp["purchase"] == 0 || r.ByOp["preauth"] == 0 {
		t.Errorf("by op %v: want purchases and pre-authorizations", r.ByOp)
	}
	if r.Seconds < 1.9 || r.Seconds > 10 {
		t.Errorf("ran %.2f s, want about 2", r.Seconds)
	}
	if r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("latency summary out of order: %+v", r.Latency)
	}
}

func TestDirectMaxFlowsBound(t *testing.T) {
	banks := DefaultBanks(startSim(t, "h2h87-ascii"), startSim(t, "h2h87-binary"))
	r, err := Run(t.Context(), Config{Banks: banks, Concurrency: 4, Duration: time.Minute, MaxFlows: 200, Seed: 4,
		Weights: mix.Weights{Decline: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Flows != 200 || r.Requests != 200 {
		t.Errorf("flows %d, requests %d; want 200 each", r.Flows, r.Requests)
	}
	if r.Declined != 200 || r.Unexpected != 0 {
		t.Errorf("declines-only mix: declined %d, unexpected %d (%v)", r.Declined, r.Unexpected, r.ErrorKinds)
	}
}

func TestDirectRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:9001", "example.com:9001", "nonsense"} {
		_, err := Run(t.Context(), Config{Banks: DefaultBanks(addr, "127.0.0.1:9002"), Concurrency: 1, Duration: time.Second})
		if err == nil {
			t.Errorf("address %s accepted", addr)
		}
	}
	if _, err := Run(t.Context(), Config{Banks: DefaultBanks("127.0.0.1:1", "127.0.0.1:2"), Concurrency: 0, Duration: time.Second}); err == nil {
		t.Error("concurrency 0 accepted")
	}
}

func TestRRNLayout(t *testing.T) {
	local := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	if got := rrn(local, 123); got != "633100000123" {
		t.Errorf("rrn = %s, want 633100000123 (contract example)", got)
	}
	if got := rrn(local, 100_000_007); got != "633100000007" {
		t.Errorf("rrn wraps at 10^8: got %s", got)
	}
}
