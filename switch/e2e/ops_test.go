package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/banksim"
)

// TestFailoverAndReadiness: with Bank A down, the route [alfa, sber] goes
// to sber; with both down the switch is not ready and declines with
// issuer_unavailable; /healthz stays 200 throughout.
func TestFailoverAndReadiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	if st, _ := s.do("GET", "/readyz", "", ""); st != 200 {
		t.Fatalf("readyz %d with both banks up", st)
	}
	p := s.pay(req{ID: uniq("fo1"), Amount: 150000, PAN: "4000000000000010", CVV: "9417"}.json())
	if p["bank"] != "alfa" || p["route"] != "kzt-default" {
		t.Fatalf("before the outage: %v", p)
	}

	// Bank A goes down: its host refuses connections and the open ones
	// are cut.
	if err := e.alfa.sim.SetFaults(banksim.Faults{RefuseConnections: true}); err != nil {
		t.Fatal(err)
	}
	e.alfa.tap.close()
	e.alfa.sim.DropConnections()
	s.waitBanks(1)
	before := e.sber.sim.Stats().Received
	p = s.pay(req{ID: uniq("fo2"), Amount: 150000, PAN: "4000000000000010", CVV: "9417"}.json())
	if p["status"] != "approved" || p["bank"] != "sber" || p["route"] != "kzt-default" {
		t.Fatalf("failover: %v", p)
	}
	if e.sber.sim.Stats().Received == before {
		t.Error("the failover payment never reached Bank B")
	}
	st, ex := s.call("GET", "/v1/admin/routes/explain?pan=40000000000&amount=100&currency=KZT", operatorToken, "")
	if st != 200 || !strings.Contains(fmt.Sprint(ex), "kzt-default") {
		t.Errorf("explain: %d %v", st, ex)
	}

	// USD goes to sber only: still fine. Then Bank B goes down too.
	e.sber.tap.close()
	e.sber.sim.DropConnections()
	s.waitBanks(0)
	if st, _ := s.do("GET", "/readyz", "", ""); st != 503 {
		t.Errorf("readyz %d with no bank usable, want 503", st)
	}
	if st, _ := s.do("GET", "/healthz", "", ""); st != 200 {
		t.Errorf("healthz %d", st)
	}
	p = s.pay(req{ID: uniq("fo3"), Amount: 150000, PAN: "4000000000000010", CVV: "9417"}.json())
	checkOutcome(t, p, declined("issuer_unavailable", 5091, "91", ""))
}

// TestRoutesHotReload: a changed file is picked up by the watcher, an
// invalid one is refused (watcher and POST /v1/admin/routes/reload) with
// the old table kept, and the reload endpoint applies a valid one.
func TestRoutesHotReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	version := func() any {
		_, r := s.call("GET", "/v1/admin/routes", operatorToken, "")
		return r["version"]
	}
	if v := version(); v != 1.0 {
		t.Fatalf("version %v", v)
	}
	e.writeRoutes("version: 2\nrules:\n  - name: all-to-sber\n    banks: [sber]\n")
	waitFor(t, "the watcher to load version 2", func() bool { return version() == 2.0 })
	p := s.pay(req{ID: uniq("hr1"), Amount: 150000, PAN: "4000000000000010", CVV: "9417"}.json())
	if p["bank"] != "sber" || p["route"] != "all-to-sber" {
		t.Fatalf("after the file change: %v", p)
	}

	// An invalid table: refused by the watcher, then by the endpoint.
	e.writeRoutes("version: 3\nrules:\n  - name: ghost\n    banks: [nobank]\n")
	waitFor(t, "the watcher to refuse version 3", func() bool {
		return strings.Contains(s.logs.String(), "nobank")
	})
	st, rl := s.call("POST", "/v1/admin/routes/reload", operatorToken, "")
	if st != 409 || errCode(rl) != "invalid_state" || !strings.Contains(fmt.Sprint(rl), "nobank") {
		t.Fatalf("reload of an invalid table: %d %v", st, rl)
	}
	if v := version(); v != 2.0 {
		t.Fatalf("table after refused reloads: version %v", v)
	}
	p = s.pay(req{ID: uniq("hr2"), Amount: 150000, PAN: "4000000000000010", CVV: "9417"}.json())
	if p["bank"] != "sber" {
		t.Fatalf("payment under the kept table: %v", p)
	}

	// A valid table through the endpoint (the watcher may beat it to it:
	// either way the answer names version 4).
	e.writeRoutes(strings.Replace(routesKZTAlfa, "version: 1", "version: 4", 1))
	st, rl = s.call("POST", "/v1/admin/routes/reload", operatorToken, "")
	if st != 200 || !strings.Contains(fmt.Sprint(rl), "version:4") {
		t.Fatalf("reload: %d %v", st, rl)
	}
	p = s.pay(req{ID: uniq("hr3"), Amount: 150000, PAN: "4000000000000010", CVV: "9417"}.json())
	if p["bank"] != "alfa" {
		t.Fatalf("after reload: %v", p)
	}
	// Only operators may reload.
	if st, _ := s.do("POST", "/v1/admin/routes/reload", gatewayToken, ""); st != 403 {
		t.Errorf("gateway token on reload: %d", st)
	}
}

// TestMetricsAfterTraffic scrapes /metrics after payments, a decline and a
// no-route, and finds every family the issue asks for.
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "version: 9\nrules:\n  - name: kzt\n    match: {currencies: [KZT]}\n    banks: [alfa, sber]\n  - name: usd\n    match: {currencies: [USD]}\n    banks: [sber]\n")
	s := e.startSwitch(journalOpts{})
	s.pay(req{ID: uniq("m1"), Amount: 150000, PAN: "4000000000000010", CVV: "9417"}.json())
	s.pay(req{ID: uniq("m2"), Amount: 100051, Currency: "USD", PAN: "4000000000000010", CVV: "9417"}.json())
	nr := s.pay(req{ID: uniq("m3"), Amount: 150000, Currency: "EUR", PAN: "4000000000000010", CVV: "9417"}.json())
	checkOutcome(t, nr, declined("issuer_unavailable", 5091, "91", ""))

	st, raw := s.do("GET", "/metrics", "", "")
	if st != 200 {
		t.Fatalf("metrics %d", st)
	}
	text := string(raw)
	for _, want := range []string{
		`h2hswitch_api_requests_total{endpoint="POST /v1/payments",reason="approved",status="200",type="purchase"} 1`,
		`h2hswitch_api_requests_total{endpoint="POST /v1/payments",reason="insufficient_funds",status="200",type="purchase"} 1`,
		`h2hswitch_api_in_flight_requests`,
		`h2hswitch_banklink_round_trip_seconds_bucket{bank="alfa",mti="0200"`,
		`h2hswitch_banklink_round_trip_seconds_count{bank="sber",mti="0200"} 1`,
		`h2hswitch_banklink_in_flight{bank="alfa"} 0`,
		`h2hswitch_banklink_connections{bank="sber",state="signed_on"} 2`,
		`h2hswitch_routing_decisions_total{bank="alfa",rule="kzt"} 1`,
		`h2hswitch_routing_decisions_total{bank="sber",rule="usd"} 1`,
		`h2hswitch_routing_no_route_total 1`,
		`h2hswitch_routing_table_version 9`,
		`h2hswitch_routing_reloads_total{result="ok"}`,
		`h2hswitch_journal_commit_seconds_bucket{result="ok"`,
		`h2hswitch_journal_commit_batch_size_count`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	scanForCardData(t, "/metrics", text)
}

// TestGracefulShutdown is SIGTERM's path: a request in flight when the
// drain starts still gets its answer, new ones are refused, Bank B's links
// are signed off, and the journal is closed cleanly (a new switch on the
// same file replays the answer).
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	if err := e.sber.sim.SetFaults(banksim.Faults{Delay: 600 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	body := req{ID: uniq("sd"), Amount: 150000, Currency: "USD", PAN: "4000000000000010", CVV: "9417"}.json()
	var wg sync.WaitGroup
	var st int
	var p map[string]any
	wg.Go(func() { st, p = s.call("POST", "/v1/payments", gatewayToken, body) })
	waitFor(t, "the payment to reach Bank B", func() bool { return len(e.sber.tap.sent("0200")) == 1 })
	s.shutdown()
	wg.Wait()
	if st != 200 || p["status"] != "approved" {
		t.Fatalf("in-flight payment during the drain: %d %v", st, p)
	}
	signOffs := 0
	for _, f := range e.sber.tap.sent("0800") {
		if f.Fields[70] == "002" {
			signOffs++
		}
	}
	if signOffs != 2 {
		t.Errorf("%d sign-offs at Bank B, want one per connection (2)", signOffs)
	}
	// The listener is closed: nothing new is accepted.
	if resp, err := http.Get(s.base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the switch still accepts requests after shutdown: %d", resp.StatusCode)
	}
	if !strings.Contains(s.logs.String(), "shutting down") {
		t.Error("no shutdown log line")
	}

	_ = e.sber.sim.SetFaults(banksim.Faults{})
	s2 := e.startSwitch(journalOpts{})
	st2, again := s2.call("POST", "/v1/payments", gatewayToken, body)
	if st2 != 200 || again["id"] != p["id"] {
		t.Fatalf("replay after restart: %d %v", st2, again)
	}
}
