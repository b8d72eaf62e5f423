package recon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
)

// BankConfig is one bank as reconciliation sees it.
type BankConfig struct {
	Name     string
	Format   Format
	Calendar *calendar.Calendar
}

// Defaults.
const (
	DefaultLookbackDays = 35
	DefaultMaxFileBytes = 2 << 30
	DefaultMaxBreaks    = 1000
)

// Config configures the Service.
type Config struct {
	Banks map[string]BankConfig
	// LookbackDays is how far before the settlement day journal payments
	// are indexed: refunds and chargebacks of older payments are still
	// reconciled, but cannot be linked to their original.
	LookbackDays int
	// MaxFileBytes bounds a clearing file (spooled uploads included).
	MaxFileBytes int64
	// MaxBreaks bounds Result.Breaks (all breaks are stored regardless).
	MaxBreaks int
	// TempDir is where uploads are spooled ("" = os.TempDir()).
	TempDir    string
	Settlement SettlementConfig
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Service reconciles clearing files and computes settlements. It is safe
// for concurrent use; two runs of the same bank and day are serialized by
// the store (the second one sees the first).
type Service struct {
	cfg   Config
	src   Source
	store *Store
	rates *rateTable
	pcal  *calendar.Calendar
}

// NewService validates cfg and builds the service.
func NewService(cfg Config, src Source, st *Store) (*Service, error) {
	if len(cfg.Banks) == 0 {
		return nil, errors.New("recon: no banks configured")
	}
	for name, b := range cfg.Banks {
		if b.Calendar == nil || (b.Format != FormatA && b.Format != FormatB) {
			return nil, fmt.Errorf("recon: banks.%s: calendar and clearing format are required", name)
		}
	}
	if cfg.LookbackDays <= 0 {
		cfg.LookbackDays = DefaultLookbackDays
	}
	if cfg.LookbackDays > 400 {
		return nil, errors.New("recon.lookback_days: at most 400 (the RRN uniqueness horizon)")
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = DefaultMaxFileBytes
	}
	if cfg.MaxBreaks <= 0 {
		cfg.MaxBreaks = DefaultMaxBreaks
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rates, err := newRateTable(cfg.Settlement)
	if err != nil {
		return nil, err
	}
	pc := cfg.Settlement.Calendar
	if pc.CutOff == "" {
		pc = calendar.BankA()
		pc.Holidays, pc.WorkingDays = cfg.Settlement.Calendar.Holidays, cfg.Settlement.Calendar.WorkingDays
	}
	pcal, err := calendar.New(pc)
	if err != nil {
		return nil, fmt.Errorf("settlement.%w", err)
	}
	return &Service{cfg: cfg, src: src, store: st, rates: rates, pcal: pcal}, nil
}

// Store returns the service's store (reports read items from it).
func (s *Service) Store() *Store { return s.store }

// Options tune one run.
type Options struct {
	// FileName is the clearing file's name; when it parses as the bank's
	// file name, its date must agree with the file's content.
	FileName string
	// Force replaces an accepted run of another file for the same day.
	Force bool
	// Progress, when set, is called with rows processed so far and the
	// file's total rows, every few thousand rows and at the end.
	Progress func(done, total int64)
}

type rowReader interface {
	Next() bool
	Record() clearing.Record
	Err() error
	Line() int64
}

func (b BankConfig) reader(r io.Reader, opts clearing.ReaderOptions) rowReader {
	if b.Format == FormatA {
		return clearing.NewAReader(r, opts)
	}
	return clearing.NewBReader(r, opts)
}

func (b BankConfig) dateFromName(name string) (calendar.Date, bool) {
	name = filepath.Base(name)
	var (
		d   calendar.Date
		err error
	)
	if b.Format == FormatA {
		d, err = clearing.ParseAFileName(name)
	} else {
		d, err = clearing.ParseBFileName(name)
	}
	return d, err == nil
}

// spool returns a seekable copy of r (r itself when it is a regular file)
// and a cleanup function.
func (s *Service) spool(r io.Reader) (io.ReadSeeker, func(), error) {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if st.Size() > s.cfg.MaxFileBytes {
				return nil, nil, fmt.Errorf("%d bytes, limit %d: %w", st.Size(), s.cfg.MaxFileBytes, ErrFileTooLarge)
			}
			return f, func() {}, nil
		}
	}
	tmp, err := os.CreateTemp(s.cfg.TempDir, "recon-upload-*")
	if err != nil {
		return nil, nil, fmt.Errorf("recon: spooling the clearing file: %w", err)
	}
	cleanup := func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, io.LimitReader(r, s.cfg.MaxFileBytes+1))
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("recon: spooling the clearing file: %w", err)
	}
	if n > s.cfg.MaxFileBytes {
		cleanup()
		return nil, nil, fmt.Errorf("limit %d bytes: %w", s.cfg.MaxFileBytes, ErrFileTooLarge)
	}
	return tmp, cleanup, nil
}

// pass reads the whole file once, hashing it, and calls fn per row (fn may
// be nil). It returns the hash, the row count, the file's settlement date
// and the reader's verdict.
func (s *Service) pass(ctx context.Context, b BankConfig, f io.ReadSeeker, ropts clearing.ReaderOptions, fn func(*clearing.Record, int64) error) (string, int64, calendar.Date, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, calendar.Date{}, fmt.Errorf("recon: rewinding the clearing file: %w", err)
	}
	var h hash.Hash = sha256.New()
	rd := b.reader(io.TeeReader(f, h), ropts)
	var (
		rows int64
		date calendar.Date
	)
	for rd.Next() {
		rec := rd.Record()
		if rows == 0 {
			date = rec.SettleDate
		}
		rows++
		if rows&0xfff == 0 {
			if err := ctx.Err(); err != nil {
				return "", rows, date, fmt.Errorf("recon: reading the clearing file: %w", err)
			}
		}
		if fn != nil {
			if err := fn(&rec, rd.Line()); err != nil {
				return "", rows, date, err
			}
		}
	}
	if err := rd.Err(); err != nil {
		return "", rows, date, fmt.Errorf("recon: %w", err)
	}
	if br, ok := rd.(*clearing.BReader); ok {
		if hd, ok := br.Header(); ok {
			date = hd.SettleDate
		}
	}
	if date.IsZero() {
		date = ropts.SettleDate
	}
	// Drain anything the reader did not consume so the hash covers the file.
	if _, err := io.Copy(h, f); err != nil {
		return "", rows, date, fmt.Errorf("recon: reading the clearing file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), rows, date, nil
}

// Run reconciles one clearing file of bank. A file the reader rejects
// (malformed rows, trailer mismatch) returns an error wrapping
// *clearing.FileError and records nothing. The same file again returns the
// stored result (Replayed); a different file for an already reconciled
// bank and day is ErrAlreadyReconciled unless opts.Force.
func (s *Service) Run(ctx context.Context, bank string, r io.Reader, opts Options) (*Result, error) {
	b, ok := s.cfg.Banks[bank]
	if !ok {
		return nil, fmt.Errorf("%q: %w", bank, ErrUnknownBank)
	}
	b.Name = bank
	f, cleanup, err := s.spool(r)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	var ropts clearing.ReaderOptions
	if opts.FileName != "" {
		if d, ok := b.dateFromName(opts.FileName); ok {
			ropts.SettleDate = d
		}
	}
	started := s.cfg.Now()
	// Pass 1: validate the whole file (the trailer comes last) and hash it.
	fileHash, total, date, err := s.pass(ctx, b, f, ropts, nil)
	if err != nil {
		return nil, err
	}
	if !date.Valid() {
		return nil, fmt.Errorf("%w: the file has no rows and its name gives no settlement date", ErrBadRequest)
	}
	if prev, err := s.store.ActiveRun(ctx, bank, date); err != nil {
		return nil, err
	} else if prev != nil && prev.FileHash == fileHash {
		return s.replay(ctx, prev)
	} else if prev != nil && !opts.Force {
		return nil, fmt.Errorf("%s %s (run %s, file %s): %w", bank, date, prev.ID, prev.FileName, ErrAlreadyReconciled)
	}

	// Index the journal window.
	m := newMatcher(b.Format, b.Calendar, date, s.src)
	loc := b.Calendar.Location()
	from := date.AddDays(-s.cfg.LookbackDays).Time(loc)
	to := date.AddDays(2).Time(loc)
	if err := s.src.ScanTxns(ctx, bank, from, to, func(t *Txn) error { m.add(t); return nil }); err != nil {
		return nil, fmt.Errorf("recon: indexing the journal: %w", err)
	}

	run := &Run{
		ID: "rcn_" + ulid.Make().String(), Bank: bank, SettleDate: date, FileName: filepath.Base(opts.FileName),
		FileHash: fileHash, Rows: total, StartedAt: started, Summary: newSummary(),
	}
	rt, err := s.store.beginRun(ctx, run, opts.Force)
	if err != nil {
		return nil, err
	}
	m.prior = rt
	res := &Result{}
	keep := func(it *Item) {
		run.Summary.add(it)
		if it.Category.IsBreak() {
			if len(res.Breaks) < s.cfg.MaxBreaks {
				res.Breaks = append(res.Breaks, *it)
			} else {
				res.BreaksTruncated = true
			}
		}
	}
	// Pass 2: match and store each row.
	var done int64
	hash2, _, _, err := s.pass(ctx, b, f, ropts, func(rec *clearing.Record, line int64) error {
		it, err := m.matchRow(ctx, rec, line)
		if err != nil {
			return err
		}
		if err := rt.add(ctx, &it); err != nil {
			return err
		}
		keep(&it)
		done++
		if opts.Progress != nil && done%4096 == 0 {
			opts.Progress(done, total)
		}
		return nil
	})
	if err == nil && hash2 != fileHash {
		err = errors.New("recon: the clearing file changed while it was being read")
	}
	if err == nil {
		err = m.missing(ctx, func(it Item) error {
			if err := rt.add(ctx, &it); err != nil {
				return err
			}
			keep(&it)
			return nil
		})
	}
	if err != nil {
		rt.rollback()
		return nil, err
	}
	if opts.Progress != nil {
		opts.Progress(total, total)
	}
	run.Summary.Rows, run.Summary.Journal = total, m.journal
	run.FinishedAt = s.cfg.Now()
	if err := rt.commit(ctx); err != nil {
		return nil, err
	}
	res.Run = *run
	return res, nil
}

// replay returns the stored result of an accepted run.
func (s *Service) replay(ctx context.Context, run *Run) (*Result, error) {
	res := &Result{Run: *run, Replayed: true}
	err := s.store.Items(ctx, run.ID, ItemFilter{BreaksOnly: true, Limit: s.cfg.MaxBreaks + 1}, func(it Item) error {
		res.Breaks = append(res.Breaks, it)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(res.Breaks) > s.cfg.MaxBreaks {
		res.Breaks, res.BreaksTruncated = res.Breaks[:s.cfg.MaxBreaks], true
	}
	return res, nil
}

// Result returns the accepted run of bank for settlement day d with its
// breaks, or nil when there is none.
func (s *Service) Result(ctx context.Context, bank string, d calendar.Date) (*Result, error) {
	run, err := s.store.ActiveRun(ctx, bank, d)
	if err != nil || run == nil {
		return nil, err
	}
	res, err := s.replay(ctx, run)
	if err != nil {
		return nil, err
	}
	res.Replayed = false
	return res, nil
}

// Bank returns the configuration of a bank.
func (s *Service) Bank(name string) (BankConfig, bool) {
	b, ok := s.cfg.Banks[name]
	return b, ok
}
