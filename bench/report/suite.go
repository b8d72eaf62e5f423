package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Machine is where the figures came from.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	GoOS     string `json:"goos"`
	GoArch   string `json:"goarch"`
	Go       string `json:"go"`
}

// ThisMachine describes the current host (CPU model from /proc/cpuinfo).
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoOS: runtime.GOOS, GoArch: runtime.GOARCH, Go: runtime.Version(), CPUModel: "unknown"}
	if b, err := readBounded("/proc/cpuinfo"); err == nil {
		if v := cpuModel(b); v != "" {
			m.CPUModel = v
		}
	}
	return m
}

func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(strings.NewReader(string(cpuinfo)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Micro is one Go benchmark's figures.
type Micro struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	Iterations  int64   `json:"iterations"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op,omitempty"`
	AllocsPerOp float64 `json:"allocs_per_op,omitempty"`
	// Extra holds custom metrics (b.ReportMetric), by unit.
	Extra map[string]float64 `json:"extra,omitempty"`
}

// maxBenchLine bounds one line of `go test -bench` output.
const maxBenchLine = 64 << 10

// ParseGoBench reads `go test -bench` output: "pkg:" lines set the package
// of the Benchmark lines that follow. Lines that are not results are skipped.
func ParseGoBench(r io.Reader) ([]Micro, error) {
	var out []Micro
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxBenchLine)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's own log line, or a failure
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := Micro{Package: pkg, Name: f[0], Iterations: n}
		ok := false
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				m.NsPerOp, ok = v, true
			case "B/op":
				m.BytesPerOp = v
			case "allocs/op":
				m.AllocsPerOp = v
			default:
				if m.Extra == nil {
					m.Extra = map[string]float64{}
				}
				m.Extra[unit] = v
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading benchmark output: %w", err)
	}
	return out, nil
}

// The targets the suite is judged against (the project's brief). They are
// reported, never tuned.
const (
	TargetSQLiteApprovedPerSec   = 5000
	TargetPostgresApprovedPerSec = 3000
	TargetOpenRate               = 2000
	TargetOpenP99Ms              = 10
	TargetDirectRatio            = 0.5
	TargetPeakRSSBytes           = 256 << 20
)

// Target is one PASS/FAIL line.
type Target struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Figure string `json:"figure"`
	Pass   bool   `json:"pass"`
	// Missing: the run the target needs is not in the results.
	Missing bool `json:"missing,omitempty"`
}

// Status is PASS, FAIL or MISSING.
func (t Target) Status() string {
	switch {
	case t.Missing:
		return "MISSING"
	case t.Pass:
		return "PASS"
	}
	return "FAIL"
}

// Suite is everything one `make bench` produced.
type Suite struct {
	GeneratedAt time.Time `json:"generated_at"`
	Machine     Machine   `json:"machine"`
	Runs        []Run     `json:"runs"`
	// SwitchDirectRatio is the SQLite closed loop's throughput over the
	// direct baseline's, both in requests (bank messages) per second.
	SwitchDirectRatio float64  `json:"switch_direct_ratio"`
	Targets           []Target `json:"targets"`
	Micro             []Micro  `json:"micro_benchmarks,omitempty"`
	Notes             []string `json:"notes,omitempty"`
}

// lastRun returns the last run matching mode and backend (and, when rate
// is positive, that offered rate).
func lastRun(runs []Run, mode, backend string, rate float64) *Run {
	for i := len(runs) - 1; i >= 0; i-- {
		r := &runs[i]
		if r.Mode == mode && (backend == "" || r.Backend == backend) && (rate <= 0 || r.OfferedRate == rate) {
			return r
		}
	}
	return nil
}

// Evaluate computes the ratio and the targets from the runs.
func (s *Suite) Evaluate() {
	sq := lastRun(s.Runs, ModeClosed, "sqlite", 0)
	pg := lastRun(s.Runs, ModeClosed, "postgres", 0)
	op := lastRun(s.Runs, ModeOpen, "sqlite", TargetOpenRate)
	if op == nil {
		op = lastRun(s.Runs, ModeOpen, "", TargetOpenRate)
	}
	dr := lastRun(s.Runs, ModeDirect, "", 0)
	s.SwitchDirectRatio = 0
	if sq != nil && dr != nil {
		s.SwitchDirectRatio = Ratio(sq.Throughput, dr.Throughput)
	}
	var ts []Target
	closed := func(name string, r *Run, want float64) Target {
		t := Target{Name: name, Want: fmt.Sprintf("≥ %.0f approved auth/s, 0 errors, 0 timeouts", want)}
		if r == nil {
			t.Missing, t.Figure = true, "no run"
			return t
		}
		t.Figure = fmt.Sprintf("%.0f approved auth/s over %.0f s (%.0f req/s), %d errors, %d timeouts",
			r.ApprovedAuthPerSec, r.Seconds, r.Throughput, r.Errors, r.Timeouts)
		t.Pass = r.ApprovedAuthPerSec >= want && r.Errors == 0 && r.Timeouts == 0
		return t
	}
	ts = append(ts, closed("SQLite closed loop", sq, TargetSQLiteApprovedPerSec))
	ts = append(ts, closed("PostgreSQL closed loop", pg, TargetPostgresApprovedPerSec))

	t := Target{Name: fmt.Sprintf("open loop %d/s p99", TargetOpenRate), Want: fmt.Sprintf("≤ %d ms, rate sustained, 0 errors", TargetOpenP99Ms)}
	if op == nil {
		t.Missing, t.Figure = true, "no run"
	} else {
		t.Figure = fmt.Sprintf("p99 %.2f ms (achieved %.0f req/s, %d errors/timeouts, %d flows unsent)",
			op.Latency.P99, op.Throughput, op.Errors+op.Timeouts, op.Unsent)
		// The rate must also have been sustained: unsent flows mean it was not.
		t.Pass = op.Latency.P99 <= TargetOpenP99Ms && op.Requests > 0 && op.Unsent == 0 && op.Errors == 0
	}
	ts = append(ts, t)

	t = Target{Name: "switch/direct throughput", Want: fmt.Sprintf("≥ %.2f", TargetDirectRatio)}
	if sq == nil || dr == nil {
		t.Missing, t.Figure = true, "no run"
	} else {
		t.Figure = fmt.Sprintf("%.3f (%.0f / %.0f req/s)", s.SwitchDirectRatio, sq.Throughput, dr.Throughput)
		t.Pass = s.SwitchDirectRatio >= TargetDirectRatio
	}
	ts = append(ts, t)

	for _, backend := range []string{"sqlite", "postgres"} {
		t = Target{Name: "switchd peak RSS (" + backend + ")", Want: fmt.Sprintf("≤ %d MiB", TargetPeakRSSBytes>>20)}
		var peak int64 = -1
		for _, r := range s.Runs {
			if r.Backend == backend && r.Switchd != nil {
				peak = max(peak, r.Switchd.PeakRSSBytes)
			}
		}
		if peak < 0 {
			t.Missing, t.Figure = true, "no switchd figures"
		} else {
			t.Figure = fmt.Sprintf("%.1f MiB", float64(peak)/(1<<20))
			t.Pass = peak <= TargetPeakRSSBytes
		}
		ts = append(ts, t)
	}
	s.Targets = ts
}

// LoadRuns reads every *.json run file in dir, oldest first by start time.
func LoadRuns(dir string) ([]Run, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing runs in %s: %w", dir, err)
	}
	var runs []Run
	for _, p := range paths {
		r, err := ReadRun(p)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	slices.SortStableFunc(runs, func(a, b Run) int { return a.StartedAt.Compare(b.StartedAt) })
	return runs, nil
}

// maxRunFile bounds a run file read back.
const maxRunFile = 4 << 20

// ReadRun reads one run file.
func ReadRun(path string) (Run, error) {
	b, err := readFileLimited(path, maxRunFile)
	if err != nil {
		return Run{}, fmt.Errorf("reading run %s: %w", path, err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return Run{}, fmt.Errorf("decoding run %s: %w", path, err)
	}
	if r.Mode != ModeClosed && r.Mode != ModeOpen && r.Mode != ModeDirect {
		return Run{}, fmt.Errorf("run %s: unknown mode %q", path, r.Mode)
	}
	return r, nil
}

// readFileLimited reads path, refusing a file larger than limit.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("file too large")
	}
	return b, nil
}

// WriteRun writes r as indented JSON to path.
func WriteRun(path string, r *Run) error {
	return writeJSON(path, r)
}

// WriteJSON writes the suite as indented JSON to path.
func (s *Suite) WriteJSON(path string) error { return writeJSON(path, s) }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
