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
	// States, when set, receives every accepted run's payment states
	// (written back to the journal's payments); nil writes nothing.
	States StateWriter
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
	pcal, err := payoutCalendar(cfg.Settlement)
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
	// Progress, when set, is called with the bytes of the file processed
	// so far and its size, every few thousand rows and at the end.
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

// countingReader counts bytes for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// hashFile returns the hex SHA-256 and size of f from its start.
func hashFile(f io.ReadSeeker) (string, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("recon: rewinding the clearing file: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("recon: reading the clearing file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// pass reads the whole file once from its start, hashing it, and calls fn
// per well-formed row (fn may be nil). It returns the hash, the row count,
// the file's settlement date and the reader's verdict, which is final only
// at the end: a row handed to fn may still belong to a rejected file.
func (s *Service) pass(ctx context.Context, b BankConfig, f io.ReadSeeker, ropts clearing.ReaderOptions, progress func(int64), fn func(*clearing.Record, int64) error) (string, int64, calendar.Date, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, calendar.Date{}, fmt.Errorf("recon: rewinding the clearing file: %w", err)
	}
	var h hash.Hash = sha256.New()
	cr := &countingReader{r: f}
	rd := b.reader(io.TeeReader(cr, h), ropts)
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
			if progress != nil {
				progress(cr.n)
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

// peekDate returns the settlement date of a file from its name, its Bank B
// header or its first Bank A row, without reading the rest; zero when the
// start of the file is malformed.
func (s *Service) peekDate(b BankConfig, f io.ReadSeeker, ropts clearing.ReaderOptions) (calendar.Date, error) {
	if ropts.SettleDate.Valid() {
		return ropts.SettleDate, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return calendar.Date{}, fmt.Errorf("recon: rewinding the clearing file: %w", err)
	}
	rd := b.reader(f, clearing.ReaderOptions{MaxErrors: 1})
	ok := rd.Next()
	if br, isB := rd.(*clearing.BReader); isB {
		if hd, hok := br.Header(); hok {
			return hd.SettleDate, nil
		}
	}
	if ok {
		return rd.Record().SettleDate, nil
	}
	return calendar.Date{}, nil
}

// Run reconciles one clearing file of bank. A file the reader rejects
// (malformed rows, trailer mismatch) returns an error wrapping
// *clearing.FileError and records nothing. The same file again returns the
// stored result (Replayed); a different file for an already reconciled
// bank and day is ErrAlreadyReconciled unless opts.Force.
//
// The file is read once for its hash and once for its rows; rows are
// matched and written inside one store transaction as they are read, and
// the transaction is rolled back if the reader rejects the file at the end
// (the trailer comes last), so memory stays bounded by the journal index.
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
	fileHash, size, err := hashFile(f)
	if err != nil {
		return nil, err
	}
	date, err := s.peekDate(b, f, ropts)
	if err != nil {
		return nil, err
	}
	if !date.Valid() {
		// No date at the start: the file is malformed or empty. A full
		// read says which.
		if _, _, _, err := s.pass(ctx, b, f, ropts, nil, nil); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: the file has no rows and its name gives no settlement date", ErrBadRequest)
	}
	if prev, err := s.store.ActiveRun(ctx, bank, date); err != nil {
		return nil, err
	} else if prev != nil && prev.FileHash == fileHash {
		return s.replayAndWrite(ctx, prev)
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
	if m.err != nil {
		return nil, m.err
	}

	run := &Run{
		ID: "rcn_" + ulid.Make().String(), Bank: bank, SettleDate: date, FileName: filepath.Base(opts.FileName),
		FileHash: fileHash, StartedAt: started, Summary: newSummary(),
	}
	rt, err := s.store.beginRun(ctx, run, opts.Force)
	if errors.Is(err, errSameFile) {
		prev, err := s.store.ActiveRun(ctx, bank, date)
		if err != nil || prev == nil {
			return nil, fmt.Errorf("recon: re-reading the concurrent run: %w", err)
		}
		return s.replayAndWrite(ctx, prev)
	}
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
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(n, size) }
	}
	ropts.SettleDate = date
	hash2, total, _, err := s.pass(ctx, b, f, ropts, progress, func(rec *clearing.Record, line int64) error {
		it, err := m.matchRow(ctx, rec, line)
		if err != nil {
			return err
		}
		if err := rt.add(ctx, &it); err != nil {
			return err
		}
		keep(&it)
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
		opts.Progress(size, size)
	}
	run.Rows = total
	run.Summary.Rows, run.Summary.Journal = total, m.journal
	run.FinishedAt = s.cfg.Now()
	if err := rt.commit(ctx); err != nil {
		return nil, err
	}
	res.Run = *run
	if err := s.writeStates(ctx, run); err != nil {
		return nil, err
	}
	return res, nil
}

// replayAndWrite returns the stored result of an accepted run of the same
// file and writes its states to the journal again: the marks are the same,
// so this changes nothing, unless writing them failed the first time.
func (s *Service) replayAndWrite(ctx context.Context, run *Run) (*Result, error) {
	res, err := s.replay(ctx, run)
	if err != nil {
		return nil, err
	}
	if err := s.writeStates(ctx, run); err != nil {
		return nil, err
	}
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
