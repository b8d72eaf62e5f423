// Command swbench is the switch's load benchmark: it drives switchd over the
// upstream API in a closed or open loop (package bench/loadgen), runs the
// direct baseline straight to the bank simulators (bench/direct), and turns
// the runs' JSON files into the Markdown/JSON report and latency plot
// (bench/report). scripts/bench.sh runs the standard suite; see
// docs/bench.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/acquirer/h2hswitch/bench/direct"
	"github.com/acquirer/h2hswitch/bench/loadgen"
	"github.com/acquirer/h2hswitch/bench/report"
)

// tokenEnv names the variable that supplies the gateway token when
// --token is not given, so that it need not appear in a process listing.
const tokenEnv = "SWBENCH_TOKEN"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "swbench:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:          "swbench",
		Short:        "Load benchmark of switchd with a direct bank-link baseline",
		SilenceUsage: true,
	}
	root.AddCommand(newLoadCmd(false), newLoadCmd(true), newDirectCmd(), newReportCmd())
	return root
}

type common struct {
	concurrency int
	duration    time.Duration
	maxFlows    int64
	seed        uint64
	label, out  string
	timeout     time.Duration
}

func (c *common) bind(cmd *cobra.Command, defConc int) {
	fl := cmd.Flags()
	fl.IntVar(&c.concurrency, "concurrency", defConc, "closed loop: workers; open loop: most requests outstanding")
	fl.DurationVar(&c.duration, "duration", 30*time.Second, "how long to run (the run also ends after --max-flows)")
	fl.Int64Var(&c.maxFlows, "max-flows", 0, "stop after this many flows (0: duration only)")
	fl.Uint64Var(&c.seed, "seed", 1, "seed of the workload")
	fl.StringVar(&c.label, "label", "", "name of the run in reports (default: the mode)")
	fl.StringVar(&c.out, "out", "", "write the run's JSON here (empty: print only)")
	fl.DurationVar(&c.timeout, "request-timeout", 30*time.Second, "bound of one request")
}

func (c *common) finish(r *report.Run) error {
	fmt.Println(r.String())
	if c.out == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return fmt.Errorf("creating results directory: %w", err)
	}
	return report.WriteRun(c.out, r)
}

func newLoadCmd(open bool) *cobra.Command {
	var c common
	var url, token, backend string
	var rate float64
	var pid int
	use, short := "closed", "Closed loop against switchd: N workers, maximum throughput"
	if open {
		use, short = "open", "Open loop against switchd: a fixed arrival rate, latency from intended send times"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv(tokenEnv)
			}
			if c.label == "" {
				c.label = use
			}
			if open && rate <= 0 {
				return errors.New("--rate: required and positive for the open loop")
			}
			if !open {
				rate = 0
			}
			r, err := loadgen.New(loadgen.Config{BaseURL: url, Token: token, Concurrency: c.concurrency, Rate: rate,
				Duration: c.duration, MaxFlows: c.maxFlows, Seed: c.seed, RequestTimeout: c.timeout, Label: c.label, Backend: backend})
			if err != nil {
				return err
			}
			defer r.Close()
			var before, after report.ProcSample
			var sampleErr error
			sample := func(into *report.ProcSample) func() {
				if pid <= 0 {
					return nil
				}
				return func() {
					s, err := report.ReadProc(pid)
					if err != nil && sampleErr == nil {
						sampleErr = err
					}
					*into = s
				}
			}
			run, err := r.Run(cmd.Context(), sample(&before), sample(&after))
			if err != nil {
				return err
			}
			if pid > 0 {
				if sampleErr != nil {
					return fmt.Errorf("sampling switchd: %w", sampleErr)
				}
				run.Switchd = report.ProcOver(pid, before, after, run.Requests)
			}
			return c.finish(run)
		},
	}
	c.bind(cmd, 64)
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "http://127.0.0.1:8080", "switchd API base URL (loopback only)")
	fl.StringVar(&token, "token", "", "gateway bearer token (default: $"+tokenEnv+")")
	fl.StringVar(&backend, "backend", "", "switchd's journal backend, for reports (sqlite, postgres)")
	fl.IntVar(&pid, "switchd-pid", 0, "switchd's pid: CPU time and peak RSS are read from /proc/<pid>")
	if open {
		fl.Float64Var(&rate, "rate", 0, "arrival rate, flows per second")
	}
	return cmd
}

func newDirectCmd() *cobra.Command {
	var c common
	var alfa, sber string
	cmd := &cobra.Command{
		Use:   "direct",
		Short: "Direct baseline: the same authorizations straight to the simulators through the bank link",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c.label == "" {
				c.label = "direct"
			}
			run, err := direct.Run(cmd.Context(), direct.Config{Banks: direct.DefaultBanks(alfa, sber),
				Concurrency: c.concurrency, Duration: c.duration, MaxFlows: c.maxFlows, Seed: c.seed,
				RequestTimeout: c.timeout, Label: c.label})
			if err != nil {
				return err
			}
			return c.finish(run)
		},
	}
	c.bind(cmd, 64)
	cmd.Flags().StringVar(&alfa, "alfa", "127.0.0.1:9001", "Bank A (h2h87-ascii) simulator address")
	cmd.Flags().StringVar(&sber, "sber", "127.0.0.1:9002", "Bank B (h2h87-binary) simulator address")
	return cmd
}

func newReportCmd() *cobra.Command {
	var runsDir, micro, md, js, plotPath string
	var notes []string
	var failOnTarget bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Combine run files and Go benchmark output into the Markdown/JSON report and plot",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			runs, err := report.LoadRuns(runsDir)
			if err != nil {
				return err
			}
			s := &report.Suite{GeneratedAt: time.Now().UTC(), Machine: report.ThisMachine(), Runs: runs, Notes: notes}
			if micro != "" {
				f, err := os.Open(micro)
				if err != nil {
					return fmt.Errorf("opening micro-benchmark output: %w", err)
				}
				s.Micro, err = report.ParseGoBench(f)
				f.Close()
				if err != nil {
					return err
				}
			}
			s.Evaluate()
			if plotPath != "" {
				drawn, err := report.WritePlot(plotPath, runs)
				if err != nil {
					return err
				}
				if !drawn {
					fmt.Fprintln(os.Stderr, "swbench: no open-loop run: no plot drawn")
				}
			}
			if js != "" {
				if err := s.WriteJSON(js); err != nil {
					return err
				}
			}
			if md != "" {
				f, err := os.Create(md)
				if err != nil {
					return fmt.Errorf("creating %s: %w", md, err)
				}
				werr := s.WriteMarkdown(f)
				if cerr := f.Close(); werr == nil && cerr != nil {
					werr = fmt.Errorf("closing %s: %w", md, cerr)
				}
				if werr != nil {
					return werr
				}
			}
			if err := s.WriteMarkdown(os.Stdout); err != nil {
				return err
			}
			if failOnTarget {
				for _, t := range s.Targets {
					if !t.Pass {
						return fmt.Errorf("target %q: %s (%s)", t.Name, t.Status(), t.Figure)
					}
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&runsDir, "runs", "bench/results/runs", "directory of run JSON files")
	fl.StringVar(&micro, "micro", "", "`go test -bench` output to include")
	fl.StringVar(&md, "md", "bench/results/latest.md", "Markdown report path (empty: none)")
	fl.StringVar(&js, "json", "bench/results/latest.json", "JSON report path (empty: none)")
	fl.StringVar(&plotPath, "plot", "bench/results/latency.svg", "latency plot path, .svg or .png (empty: none)")
	fl.StringArrayVar(&notes, "note", nil, "a note to add to the report (repeatable)")
	fl.BoolVar(&failOnTarget, "fail-on-target", false, "exit non-zero when a target is not met")
	return cmd
}
