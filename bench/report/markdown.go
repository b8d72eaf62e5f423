package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteMarkdown writes the suite's report: machine, runs, ratio, targets
// and micro-benchmarks.
func (s *Suite) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results\n\n")
	fmt.Fprintf(&b, "Generated %s on %d CPU(s), %s (%s/%s, %s). Simulators, switchd and the load generator share this machine.\n\n",
		s.GeneratedAt.UTC().Format("2006-01-02 15:04:05 UTC"), s.Machine.CPUs, s.Machine.CPUModel, s.Machine.GoOS, s.Machine.GoArch, s.Machine.Go)

	b.WriteString("## Runs\n\n")
	b.WriteString("| run | mode | journal | conc. | offered/s | s | requests | req/s | approved auth/s | approved | declined | unexpected | errors | timeouts | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | switchd CPU s/1000 | switchd peak RSS MiB |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range s.Runs {
		offered, backend, cpu, rss := "-", "-", "-", "-"
		if r.OfferedRate > 0 {
			offered = fmt.Sprintf("%.0f", r.OfferedRate)
		}
		if r.Backend != "" {
			backend = r.Backend
		}
		if r.Switchd != nil {
			cpu = fmt.Sprintf("%.3f", r.Switchd.CPUPer1000)
			rss = fmt.Sprintf("%.1f", float64(r.Switchd.PeakRSSBytes)/(1<<20))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %.1f | %d | %.0f | %.0f | %d | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s |\n",
			r.Label, r.Mode, backend, r.Concurrency, offered, r.Seconds, r.Requests, r.Throughput, r.ApprovedAuthPerSec,
			r.Approved, r.Declined, r.Unexpected, r.Errors, r.Timeouts,
			r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max, cpu, rss)
	}
	b.WriteString("\nOpen-loop latency is measured from each request's intended send time (no coordinated omission). ")
	b.WriteString("req/s counts every request, each of which is one bank message; the direct baseline sends the same authorizations through the bank link with no HTTP, journal or routing.\n")
	for _, r := range s.Runs {
		if len(r.ErrorKinds) > 0 {
			fmt.Fprintf(&b, "\n%s errors/timeouts by kind: %s", r.Label, kindsString(r.ErrorKinds))
		}
		if r.Unsent > 0 {
			fmt.Fprintf(&b, "\n%s: %d scheduled flows were never sent: the switch fell behind the offered rate.", r.Label, r.Unsent)
		}
		if r.MaxSendLagMs > 1 {
			fmt.Fprintf(&b, "\n%s: the generator sent up to %.1f ms after the intended time (counted in latency).", r.Label, r.MaxSendLagMs)
		}
	}
	fmt.Fprintf(&b, "\n\n**switch/direct throughput ratio: %.3f**\n\n", s.SwitchDirectRatio)

	b.WriteString("## Targets\n\n| target | want | figure | result |\n|---|---|---|---|\n")
	for _, t := range s.Targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Want, t.Figure, t.Status())
	}
	if len(s.Micro) > 0 {
		b.WriteString("\n## Go micro-benchmarks\n\n| package | benchmark | ns/op | B/op | allocs/op | other |\n|---|---|--:|--:|--:|---|\n")
		for _, m := range s.Micro {
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.0f | %s |\n", strings.TrimPrefix(m.Package, modulePrefix), m.Name, m.NsPerOp, m.BytesPerOp, m.AllocsPerOp, extraString(m.Extra))
		}
	}
	if len(s.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("writing markdown report: %w", err)
	}
	return nil
}

func kindsString(m map[string]int64) string {
	keys := sortedKeys(m)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// modulePrefix is left out of package names in the tables.
const modulePrefix = "github.com/acquirer/h2hswitch/"

func extraString(m map[string]float64) string {
	keys := sortedKeys(m)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, number(m[k])+" "+k)
	}
	return strings.Join(parts, ", ")
}

// number prints v without exponent: whole above 1000, 4 significant digits
// below.
func number(v float64) string {
	if math.Abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
