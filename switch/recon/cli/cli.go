// Package cli is switchctl's command tree (cobra): reconciliation of a
// bank's clearing file, merchant settlement, and the reconciliation
// benchmark. cmd/switchctl is a thin main around Execute.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/recon"
	"github.com/acquirer/h2hswitch/switch/recon/reconbench"
	"github.com/acquirer/h2hswitch/switch/recon/report"
)

// Exit codes: 0 success, 1 failure, 2 the run succeeded but found breaks
// (so scripts and schedulers can alert without parsing output).
const (
	ExitOK     = 0
	ExitFail   = 1
	ExitBreaks = 2
)

// errBreaks signals ExitBreaks.
var errBreaks = errors.New("reconciliation found breaks")

// Execute runs switchctl with args and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errBreaks):
		return ExitBreaks
	default:
		fmt.Fprintln(stderr, "switchctl:", err)
		return ExitFail
	}
}

// NewRoot builds the command tree writing to stdout and stderr.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "switchctl",
		Short:         "Operator commands of the acquirer switch",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().String("config", "configs/switch.yaml", "switch configuration file (YAML); SWITCH_* variables override its keys")
	root.AddCommand(reconCmd(), settlementCmd(), benchCmd())
	return root
}

// env is what a command needs, opened from the configuration.
type env struct {
	svc   *recon.Service
	close func()
}

func open(ctx context.Context, cmd *cobra.Command) (*env, error) {
	path, _ := cmd.Flags().GetString("config")
	fc, err := recon.LoadFileConfig(path)
	if err != nil {
		return nil, err
	}
	o, err := recon.OpenStandalone(ctx, fc)
	if err != nil {
		return nil, err
	}
	return &env{svc: o.Svc, close: func() { _ = o.Close() }}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func reconCmd() *cobra.Command {
	var (
		bank, file, out string
		force, progress bool
	)
	cmd := &cobra.Command{
		Use:   "recon --bank NAME --file CLEARING_FILE",
		Short: "Reconcile a bank's daily clearing file against the journal",
		Long: `Reconciles one clearing file (Bank A A_CLR_<YYYYMMDD>.csv or Bank B B<YYYYMMDD>.DAT)
against the journal, stores the result, prints a summary and writes the reports
(CSV of every item, JSON, HTML) into --out. A file the bank's format rejects
(malformed row, trailer mismatch) records nothing. The same file again prints
the stored result; a different file for the same bank and day is refused unless
--force. Exit status 2 means the run succeeded and found breaks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := open(ctx, cmd)
			if err != nil {
				return err
			}
			defer e.close()
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("opening clearing file: %w", err)
			}
			defer func() { _ = f.Close() }()
			opts := recon.Options{FileName: filepath.Base(file), Force: force}
			stderr := cmd.ErrOrStderr()
			var bar *progressbar.ProgressBar
			if progress || isTerminal(stderr) {
				opts.Progress = func(done, total int64) {
					if bar == nil {
						bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr),
							progressbar.OptionSetDescription("reconciling"), progressbar.OptionShowBytes(true),
							progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
					}
					_ = bar.Set64(done)
				}
			}
			res, err := e.svc.Run(ctx, bank, f, opts)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				var fe *clearing.FileError
				if errors.As(err, &fe) {
					fmt.Fprintln(stderr, "the clearing file is rejected whole; nothing was recorded:")
					for _, le := range fe.Errors {
						fmt.Fprintln(stderr, "  ", le.Error())
					}
				}
				return err
			}
			st, err := e.svc.Settlement(ctx, res.Run.SettleDate)
			if err != nil {
				return err
			}
			printRun(cmd.OutOrStdout(), res)
			files, err := report.WriteRun(ctx, out, e.svc.Store(), res, st)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nreports: %s %s %s\n", files.ItemsCSV, files.JSON, files.HTML)
			if res.Run.Summary.Breaks > 0 {
				return errBreaks
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&bank, "bank", "", "bank name as configured (e.g. alfa, sber)")
	cmd.Flags().StringVar(&file, "file", "", "clearing file")
	cmd.Flags().StringVar(&out, "out", "reports", "directory for the reports")
	cmd.Flags().BoolVar(&force, "force", false, "replace an earlier, different file of the same bank and day")
	cmd.Flags().BoolVar(&progress, "progress", false, "show a progress bar on stderr even when it is not a terminal")
	_ = cmd.MarkFlagRequired("bank")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// printRun prints the summary table and the first breaks.
func printRun(w io.Writer, res *recon.Result) {
	r := &res.Run
	state := "new run"
	if res.Replayed {
		state = "same file as an earlier run: stored result, nothing written"
	} else if r.Forced {
		state = "forced: replaced the earlier file of this day"
	}
	fmt.Fprintf(w, "bank %s, settlement day %s, file %s (%d rows), run %s — %s\n", r.Bank, r.SettleDate, r.FileName, r.Rows, r.ID, state)
	fmt.Fprintf(w, "journal transactions in scope: %d; breaks: %d\n\n", r.Summary.Journal, r.Summary.Breaks)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "category\tcurrency\tcount\tamount\tbreak\t")
	for _, row := range report.SummaryRows(&r.Summary) {
		mark := ""
		if row.Category.IsBreak() {
			mark = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t\n", row.Category, row.Currency, row.Count, report.Major(row.Amount, row.Currency), mark)
	}
	_ = tw.Flush()
	if len(res.Breaks) == 0 {
		return
	}
	const show = 20
	fmt.Fprintf(w, "\nbreaks (first %d of %d):\n", min(show, len(res.Breaks)), r.Summary.Breaks)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "category\tline\tpayment\tmerchant\tcard\trrn\tstan\tdate\tamount\texpected\tnote")
	for i, it := range res.Breaks {
		if i == show {
			break
		}
		line := ""
		if it.Line > 0 {
			line = fmt.Sprint(it.Line)
		}
		date := ""
		if !it.OperDate.IsZero() {
			date = it.OperDate.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s %s\t%s\t%s\n", it.Category, line, it.PaymentID, it.MerchantID, it.MaskedPAN,
			it.RRN, it.STAN, date, report.Major(it.Amount, it.Currency), it.Currency, report.Major(it.ExpectedAmount, it.Currency), oneLine(it.Note))
	}
	_ = tw.Flush()
}

func oneLine(s string) string { return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s) }

func settlementCmd() *cobra.Command {
	var (
		date, out string
	)
	cmd := &cobra.Command{
		Use:   "settlement --date YYYY-MM-DD",
		Short: "Print and export the merchant payouts of a bank settlement day",
		Long: `Computes, from the reconciled clearing files of that settlement day, what the
processor pays each merchant on the next business day: gross sales − refunds −
chargebacks + chargeback reversals − commission (per-merchant rate, per row,
half up). Rows with breaks are held. Writes CSV, JSON and an Excel workbook into --out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := calendar.ParseISO(date)
			if err != nil {
				return fmt.Errorf("--date: %w", err)
			}
			ctx := cmd.Context()
			e, err := open(ctx, cmd)
			if err != nil {
				return err
			}
			defer e.close()
			st, err := e.svc.Settlement(ctx, d)
			if err != nil {
				return err
			}
			printSettlement(cmd.OutOrStdout(), st)
			paths, err := report.WriteSettlement(out, st)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nexported: %s\n", strings.Join(paths, " "))
			return nil
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "bank settlement day, YYYY-MM-DD")
	cmd.Flags().StringVar(&out, "out", "reports", "directory for the exports")
	_ = cmd.MarkFlagRequired("date")
	return cmd
}

func printSettlement(w io.Writer, st *recon.Settlement) {
	fmt.Fprintf(w, "settlement day %s, payout %s, settlement currency %s\n", st.Date, st.PayoutDate, st.Currency)
	for _, r := range st.Runs {
		fmt.Fprintf(w, "  %s: run %s, file %s, %d break(s)\n", r.Bank, r.RunID, r.FileName, r.Breaks)
	}
	if len(st.Missing) > 0 {
		fmt.Fprintf(w, "  no reconciled file yet for: %s\n", strings.Join(st.Missing, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "merchant\tcur\tsales\tgross\trefunds\tchargebacks\tcb reversals\tbank fees\trate\tcommission\theld\tnet payout\t")
	row := func(m *recon.MerchantSettlement) {
		c := m.Currency
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.MerchantID, c, m.SalesCount, report.Major(m.Sales, c),
			report.Major(m.Refunds, c), report.Major(m.Chargebacks, c), report.Major(m.ChargebackReversals, c), report.Major(m.BankFees, c),
			m.Rate, report.Major(m.Commission, c), report.Major(m.Held, c), report.Major(m.Net, c))
	}
	for i := range st.Merchants {
		row(&st.Merchants[i])
	}
	for i := range st.Totals {
		row(&st.Totals[i])
	}
	_ = tw.Flush()
}

func benchCmd() *cobra.Command {
	var (
		rows int
		bank string
		dir  string
	)
	cmd := &cobra.Command{
		Use:   "bench-recon",
		Short: "Benchmark reconciliation: N journal payments, an N-row clearing file, one run",
		Long: `Builds a fresh SQLite journal with --rows payments (bulk load), writes the bank's
clearing file for them with a few planted breaks, reconciles it and prints rows/s,
elapsed time and the peak resident memory (VmHWM). Uses --dir (default: a
temporary directory, removed afterwards). Does not read --config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			work := dir
			if work == "" {
				tmp, err := os.MkdirTemp("", "bench-recon-*")
				if err != nil {
					return err
				}
				defer func() { _ = os.RemoveAll(tmp) }()
				work = tmp
			}
			stderr := cmd.ErrOrStderr()
			rep, err := reconbench.Run(cmd.Context(), reconbench.Params{Rows: rows, Bank: bank, Dir: work,
				Log: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), rep.String())
			return nil
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 1_000_000, "payments and clearing rows")
	cmd.Flags().StringVar(&bank, "bank", "alfa", "alfa (Bank A CSV) or sber (Bank B fixed width)")
	cmd.Flags().StringVar(&dir, "dir", "", "working directory (default: a temporary one)")
	return cmd
}
