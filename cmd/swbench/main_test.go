package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/bench/report"
	"github.com/acquirer/h2hswitch/simulators/banksim"
)

func execute(t *testing.T, args ...string) error {
	t.Helper()
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(&strings.Builder{})
	root.SetErr(&strings.Builder{})
	return root.ExecuteContext(t.Context())
}

func TestDirectThenReport(t *testing.T) {
	var addrs []string
	for _, d := range []string{"h2h87-ascii", "h2h87-binary"} {
		sim, err := banksim.New(banksim.Config{Dialect: d, Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		addrs = append(addrs, sim.Addr())
	}
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	if err := execute(t, "direct", "--alfa", addrs[0], "--sber", addrs[1], "--concurrency", "4", "--duration", "500ms",
		"--out", filepath.Join(runs, "direct.json")); err != nil {
		t.Fatal(err)
	}
	r, err := report.ReadRun(filepath.Join(runs, "direct.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != report.ModeDirect || r.Requests == 0 || r.Errors != 0 || r.Label != "direct" {
		t.Fatalf("direct run: %s", r.String())
	}
	open := report.Run{Label: "open-sqlite-2000", Mode: report.ModeOpen, Backend: "sqlite", OfferedRate: 2000, Requests: 10,
		StartedAt: time.Now(), Latency: report.Latency{P50: 1, P90: 2, P99: 3, P999: 4, Max: 5}}
	if err := report.WriteRun(filepath.Join(runs, "open.json"), &open); err != nil {
		t.Fatal(err)
	}
	md, js, svg, micro := filepath.Join(dir, "latest.md"), filepath.Join(dir, "latest.json"), filepath.Join(dir, "latency.svg"), filepath.Join(dir, "micro.txt")
	if err := os.WriteFile(micro, []byte("pkg: x\nBenchmarkY-2 \t 10\t 100 ns/op\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := execute(t, "report", "--runs", runs, "--micro", micro, "--md", md, "--json", js, "--plot", svg, "--note", "test note"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| direct | direct |", "open-sqlite-2000", "| open loop 2000/s p99 |", "BenchmarkY-2", "test note", "MISSING"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, p := range []string{js, svg} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", p, err)
		}
	}
	if err := execute(t, "report", "--runs", runs, "--md", "", "--json", "", "--plot", "", "--fail-on-target"); err == nil {
		t.Error("--fail-on-target passed with targets missing")
	}
}

func TestLoadCommandsRefuse(t *testing.T) {
	for _, args := range [][]string{
		{"closed", "--url", "http://192.0.2.1:8080", "--token", "x", "--duration", "1s"},
		{"closed", "--url", "http://127.0.0.1:1", "--duration", "1s"},                            // no token
		{"open", "--url", "http://127.0.0.1:1", "--token", "x", "--duration", "1s"},              // no rate
		{"direct", "--alfa", "203.0.113.9:9001", "--sber", "127.0.0.1:9002", "--duration", "1s"}, // not loopback
	} {
		t.Setenv(tokenEnv, "")
		if err := execute(t, args...); err == nil {
			t.Errorf("swbench %v: no error", args)
		}
	}
}
