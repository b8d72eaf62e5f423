package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestSummarizeKnownHistogram(t *testing.T) {
	// 1..1000 ms, once each: p50 = 500 ms, p90 = 900, p99 = 990, p99.9 = 999,
	// max = 1000, mean = 500.5 (within the histogram's 3 significant digits).
	tl := NewTally()
	for i := 1; i <= 1000; i++ {
		tl.Observe("purchase", time.Duration(i)*time.Millisecond, Approved, true, false, "")
	}
	l := Summarize(tl.hist)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", l.P50, 500}, {"p90", l.P90, 900}, {"p99", l.P99, 990}, {"p99.9", l.P999, 999}, {"max", l.Max, 1000}, {"mean", l.Mean, 500.5}} {
		if !near(c.got, c.want, c.want*0.001+0.001) {
			t.Errorf("%s = %.3f ms, want %.1f ± 0.1%%", c.name, c.got, c.want)
		}
	}
	if (Summarize(NewHistogram()) != Latency{}) {
		t.Error("empty histogram: want zero summary")
	}
}

func TestTallyCountsMergeAndFinish(t *testing.T) {
	a, b := NewTally(), NewTally()
	a.Flow()
	a.Observe("purchase", 2*time.Millisecond, Approved, true, false, "")
	a.Observe("capture", 3*time.Millisecond, Approved, false, false, "")
	a.Observe("purchase", 4*time.Millisecond, Declined, true, true, "purchase_declined_insufficient_funds")
	b.Flow()
	b.Fallback()
	b.Observe("purchase", 10*time.Minute, TimedOut, true, false, "client_timeout")
	b.Observe("refund", time.Millisecond, Failed, false, false, "http_503_overloaded")
	b.Lag(7 * time.Millisecond)
	a.Merge(b)
	var r Run
	r.Finish(a, 2*time.Second)
	if r.Requests != 5 || r.Flows != 2 || r.Approved != 2 || r.Declined != 1 || r.ApprovedAuths != 1 ||
		r.Unexpected != 1 || r.Errors != 1 || r.Timeouts != 1 || r.Fallbacks != 1 {
		t.Errorf("counts: %+v", r)
	}
	if r.ErrorKinds["client_timeout"] != 1 || r.ErrorKinds["http_503_overloaded"] != 1 || r.ErrorKinds["unexpected_purchase_declined_insufficient_funds"] != 1 {
		t.Errorf("error kinds: %v", r.ErrorKinds)
	}
	if r.ByOp["purchase"] != 3 || r.ByOp["capture"] != 1 || r.ByOp["refund"] != 1 {
		t.Errorf("by op: %v", r.ByOp)
	}
	if r.Throughput != 2.5 || r.ApprovedAuthPerSec != 0.5 {
		t.Errorf("throughput %.2f/s, approved auth %.2f/s; want 2.5 and 0.5", r.Throughput, r.ApprovedAuthPerSec)
	}
	if r.LatencyClamped != 1 || !near(r.Latency.Max, 300_000, 300) {
		t.Errorf("a 10 min latency: clamped %d, max %.0f ms; want 1 and 300000", r.LatencyClamped, r.Latency.Max)
	}
	if r.MaxSendLagMs != 7 {
		t.Errorf("max send lag %.1f ms, want 7", r.MaxSendLagMs)
	}
}

func TestRatioPerSecondCPU(t *testing.T) {
	if got := Ratio(2500, 10000); got != 0.25 {
		t.Errorf("Ratio = %v, want 0.25", got)
	}
	if Ratio(1, 0) != 0 {
		t.Error("Ratio with no baseline must be 0")
	}
	if got := PerSecond(300, 1500*time.Millisecond); got != 200 {
		t.Errorf("PerSecond = %v, want 200", got)
	}
	if PerSecond(5, 0) != 0 {
		t.Error("PerSecond over 0 s must be 0")
	}
	if got := CPUPer1000(12, 60000); !near(got, 0.2, 1e-12) {
		t.Errorf("CPUPer1000 = %v, want 0.2", got)
	}
	if CPUPer1000(3, 0) != 0 {
		t.Error("CPUPer1000 of 0 requests must be 0")
	}
	p := ProcOver(42, ProcSample{CPUSeconds: 10}, ProcSample{CPUSeconds: 13, PeakRSSBytes: 100 << 20, RSSBytes: 90 << 20}, 6000)
	if p.CPUSeconds != 3 || p.CPUPer1000 != 0.5 || p.PeakRSSBytes != 100<<20 || p.PID != 42 {
		t.Errorf("ProcOver = %+v", p)
	}
}

func TestParseProcFiles(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	stat := []byte("4242 (switch d) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 566 0 0 20 0 12 0 100 2000000 5000 18446744073709551615\n")
	cpu, err := ParseStatCPU(stat)
	if err != nil || !near(cpu, 18.0, 1e-9) {
		t.Errorf("ParseStatCPU = %v, %v; want 18.00 s (1234+566 ticks)", cpu, err)
	}
	for _, bad := range []string{"", "12 (x S 1", "12 (x) S 1 2 3", "12 (x) S 1 2 3 4 5 6 7 8 9 10 u 5"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("ParseStatCPU(%q): no error", bad)
		}
	}
	status := []byte("Name:\tswitchd\nVmPeak:\t  900000 kB\nVmHWM:\t   65536 kB\nVmRSS:\t   32768 kB\nThreads:\t12\n")
	hwm, rss, err := ParseStatusMemory(status)
	if err != nil || hwm != 64<<20 || rss != 32<<20 {
		t.Errorf("ParseStatusMemory = %d, %d, %v; want 64 MiB, 32 MiB", hwm, rss, err)
	}
	for _, bad := range []string{"Name:\tkthreadd\n", "VmHWM:\t12 MB\nVmRSS:\t1 kB\n", "VmHWM:\t-1 kB\nVmRSS:\t1 kB\n"} {
		if _, _, err := ParseStatusMemory([]byte(bad)); err == nil {
			t.Errorf("ParseStatusMemory(%q): no error", bad)
		}
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.PeakRSSBytes < int64(len(buf)) || s.RSSBytes <= 0 || s.PeakRSSBytes < s.RSSBytes || s.CPUSeconds < 0 {
		t.Errorf("ReadProc(self) = %+v after touching 8 MiB", s)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Error("ReadProc of a pid that cannot exist: no error")
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/acquirer/h2hswitch/switch/journal
BenchmarkCommitSQLite-2     	     100	    243678 ns/op	      4104 commits/s	        12.15 p50_ms	   99212 B/op	     110 allocs/op
some log line from a benchmark
BenchmarkBroken-2   FAIL
ok  	github.com/acquirer/h2hswitch/switch/journal	0.634s
pkg: github.com/acquirer/h2hswitch/routing
BenchmarkLookup100k-2        	 1000000	      1477 ns/op	      64 B/op	       1 allocs/op
`
	ms, err := ParseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("parsed %d results, want 2: %+v", len(ms), ms)
	}
	j := ms[0]
	if j.Package != "github.com/acquirer/h2hswitch/switch/journal" || j.Name != "BenchmarkCommitSQLite-2" || j.Iterations != 100 ||
		j.NsPerOp != 243678 || j.BytesPerOp != 99212 || j.AllocsPerOp != 110 || j.Extra["commits/s"] != 4104 || j.Extra["p50_ms"] != 12.15 {
		t.Errorf("journal result: %+v", j)
	}
	if ms[1].Package != "github.com/acquirer/h2hswitch/routing" || ms[1].NsPerOp != 1477 {
		t.Errorf("routing result: %+v", ms[1])
	}
}

func suiteRuns() []Run {
	proc := func(mib int64) *Proc { return &Proc{PeakRSSBytes: mib << 20, CPUPer1000: 0.4} }
	return []Run{
		{Label: "closed-sqlite", Mode: ModeClosed, Backend: "sqlite", Seconds: 60, Throughput: 7000, ApprovedAuthPerSec: 5600, Requests: 420000, Switchd: proc(120)},
		{Label: "open-sqlite-1000", Mode: ModeOpen, Backend: "sqlite", OfferedRate: 1000, Requests: 30000, Latency: Latency{P50: 2, P90: 3, P99: 5, P999: 9}, Switchd: proc(130)},
		{Label: "open-sqlite-2000", Mode: ModeOpen, Backend: "sqlite", OfferedRate: 2000, Requests: 60000, Latency: Latency{P50: 3, P90: 6, P99: 12.5, P999: 30}, Switchd: proc(140)},
		{Label: "direct", Mode: ModeDirect, Throughput: 10000},
		{Label: "closed-postgres", Mode: ModeClosed, Backend: "postgres", Seconds: 60, Throughput: 4000, ApprovedAuthPerSec: 3200, Errors: 2, Switchd: proc(300)},
	}
}

func TestEvaluateTargets(t *testing.T) {
	s := &Suite{Runs: suiteRuns()}
	s.Evaluate()
	if !near(s.SwitchDirectRatio, 0.7, 1e-12) {
		t.Errorf("ratio = %v, want 0.7 (7000/10000)", s.SwitchDirectRatio)
	}
	want := map[string]string{
		"SQLite closed loop":          "PASS",
		"PostgreSQL closed loop":      "FAIL", // 2 errors
		"open loop 2000/s p99":        "FAIL", // 12.5 ms
		"switch/direct throughput":    "PASS",
		"switchd peak RSS (sqlite)":   "PASS",
		"switchd peak RSS (postgres)": "FAIL",
	}
	if len(s.Targets) != len(want) {
		t.Fatalf("%d targets, want %d", len(s.Targets), len(want))
	}
	for _, tg := range s.Targets {
		if want[tg.Name] != tg.Status() {
			t.Errorf("%s: %s (%s), want %s", tg.Name, tg.Status(), tg.Figure, want[tg.Name])
		}
	}

	// Without the direct run and the PostgreSQL run those targets are MISSING.
	s = &Suite{Runs: suiteRuns()[:3]}
	s.Evaluate()
	for _, tg := range s.Targets {
		if (tg.Name == "switch/direct throughput" || strings.Contains(tg.Name, "postgres") || strings.HasPrefix(tg.Name, "PostgreSQL")) != tg.Missing {
			t.Errorf("%s: missing=%v", tg.Name, tg.Missing)
		}
	}
	// An open loop that left flows unsent did not sustain its rate.
	runs := suiteRuns()
	runs[2].Latency.P99, runs[2].Unsent = 4, 10
	s = &Suite{Runs: runs}
	s.Evaluate()
	for _, tg := range s.Targets {
		if tg.Name == "open loop 2000/s p99" && tg.Pass {
			t.Error("open loop with unsent flows passed")
		}
	}
}

func TestReportFiles(t *testing.T) {
	dir := t.TempDir()
	runs := suiteRuns()
	base := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	for i := range runs {
		runs[i].StartedAt = base.Add(time.Duration(len(runs)-i) * time.Minute) // reverse order on disk
		if err := WriteRun(filepath.Join(dir, runs[i].Label+".json"), &runs[i]); err != nil {
			t.Fatal(err)
		}
	}
	back, err := LoadRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(runs) || back[0].Label != "closed-postgres" || back[len(back)-1].Label != "closed-sqlite" {
		t.Fatalf("LoadRuns order: %v", labels(back))
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"mode":"sideways"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRuns(dir); err == nil {
		t.Error("a run with an unknown mode was accepted")
	}

	s := &Suite{GeneratedAt: base, Machine: ThisMachine(), Runs: runs, Micro: []Micro{{Package: "p", Name: "BenchmarkX-2", NsPerOp: 12}}}
	s.Evaluate()
	var md bytes.Buffer
	if err := s.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| closed-sqlite | closed | sqlite |", "switch/direct throughput ratio: 0.700", "| PostgreSQL closed loop |", "FAIL |", "PASS |", "BenchmarkX-2"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if s.Machine.CPUs < 1 {
		t.Errorf("machine: %+v", s.Machine)
	}
	for _, name := range []string{"latency.svg", "latency.png"} {
		p := filepath.Join(dir, name)
		drawn, err := WritePlot(p, runs)
		if err != nil || !drawn {
			t.Fatalf("WritePlot(%s) = %v, %v", name, drawn, err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v, %d bytes", name, err, fi.Size())
		}
	}
	if drawn, err := WritePlot(filepath.Join(dir, "none.svg"), runs[:1]); drawn || err != nil {
		t.Errorf("plot with no open-loop run: drawn=%v err=%v", drawn, err)
	}
}

func labels(rs []Run) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Label
	}
	return out
}

func TestNumber(t *testing.T) {
	for v, want := range map[float64]string{3.44068e+06: "3440680", 12.15: "12.15", 0.5: "0.5", 1234.6: "1235", 99.99: "99.99"} {
		if got := number(v); got != want {
			t.Errorf("number(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestCPUModel(t *testing.T) {
	info := []byte("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n")
	if got := cpuModel(info); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if cpuModel([]byte("processor: 0\n")) != "" {
		t.Error("cpuModel without a model name line")
	}
}
