package recon

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// StoreConfig selects the reconciliation store: its own SQLite file (the
// default, next to the journal) or a schema of the journal's PostgreSQL
// database. The journal does not expose its connection, so reconciliation
// keeps its two tables apart until they are merged into the journal.
type StoreConfig struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string `mapstructure:"driver" yaml:"driver"`
	// DSN is the SQLite file path (default ./data/recon.db) or a pgx URL.
	DSN string `mapstructure:"dsn" yaml:"dsn"`
	// Schema (postgres) is created if needed and put first on the
	// search_path; default "recon".
	Schema string `mapstructure:"schema" yaml:"schema"`
}

// Store keeps reconciliation runs and their items.
type Store struct {
	db *sql.DB
	pg bool
}

// schemaSQL returns the store's DDL (idempotent: IF NOT EXISTS).
func schemaSQL() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS recon_runs (
    id          TEXT   NOT NULL PRIMARY KEY,
    bank        TEXT   NOT NULL,
    settle_date TEXT   NOT NULL,
    file_name   TEXT   NOT NULL,
    file_hash   TEXT   NOT NULL,
    rows_count  BIGINT NOT NULL,
    forced      BIGINT NOT NULL,
    active      BIGINT NOT NULL,
    started_us  BIGINT NOT NULL,
    finished_us BIGINT NOT NULL,
    summary     TEXT   NOT NULL
)`,
		`CREATE UNIQUE INDEX IF NOT EXISTS recon_runs_active ON recon_runs (bank, settle_date) WHERE active = 1`,
		`CREATE TABLE IF NOT EXISTS recon_items (
    run_id          TEXT   NOT NULL REFERENCES recon_runs (id),
    seq             BIGINT NOT NULL,
    category        TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    line            BIGINT NOT NULL,
    payment_id      TEXT   NOT NULL,
    operation_id    TEXT   NOT NULL,
    merchant_id     TEXT   NOT NULL,
    terminal_id     TEXT   NOT NULL,
    masked_pan      TEXT   NOT NULL,
    rrn             TEXT   NOT NULL,
    stan            TEXT   NOT NULL,
    auth_code       TEXT   NOT NULL,
    oper_date       TEXT   NOT NULL,
    oper_time       TEXT   NOT NULL,
    currency        TEXT   NOT NULL,
    amount          BIGINT NOT NULL,
    fee             BIGINT NOT NULL,
    settle_amount   BIGINT NOT NULL,
    expected_amount BIGINT NOT NULL,
    expected_date   TEXT   NOT NULL,
    payable         BIGINT NOT NULL,
    note            TEXT   NOT NULL,
    PRIMARY KEY (run_id, seq)
)`,
		`CREATE INDEX IF NOT EXISTS recon_items_payment ON recon_items (payment_id)`,
	}
}

const itemCols = `seq, category, kind, line, payment_id, operation_id, merchant_id, terminal_id, masked_pan, rrn, stan, auth_code,
 oper_date, oper_time, currency, amount, fee, settle_amount, expected_amount, expected_date, payable, note`

const itemColCount = 22

// OpenStore opens (creating if needed) the reconciliation store.
func OpenStore(ctx context.Context, cfg StoreConfig) (*Store, error) {
	var (
		db  *sql.DB
		err error
		s   = &Store{}
	)
	switch cfg.Driver {
	case "", "sqlite":
		path := cfg.DSN
		if path == "" {
			path = "./data/recon.db"
		}
		if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
			return nil, fmt.Errorf("recon.store.dsn: give the SQLite store as a plain file path, got %q", path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("recon store: creating directory of %s: %w", path, err)
		}
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(60000)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		db, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("recon store: opening sqlite %s: %w", path, err)
		}
		db.SetMaxOpenConns(4)
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("recon store: opening sqlite %s: %w", path, err)
		}
		// Items carry masked PANs and merchant money: owner-only, like the journal.
		if err := os.Chmod(path, 0o600); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("recon store: restricting permissions of %s: %w", path, err)
		}
	case "postgres":
		pc, err := pgx.ParseConfig(cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("recon.store.dsn: %w", err)
		}
		schema := cfg.Schema
		if schema == "" {
			schema = "recon"
		}
		if !validIdent(schema) {
			return nil, fmt.Errorf("recon.store.schema: %q is not a plain identifier", schema)
		}
		// Switches starting together would race on CREATE ... IF NOT
		// EXISTS (PostgreSQL raises a unique violation on its catalog):
		// the schema is created under a transaction-scoped advisory lock.
		boot := stdlib.OpenDB(*pc.Copy())
		err = createPGSchema(ctx, boot, schema)
		_ = boot.Close()
		if err != nil {
			return nil, fmt.Errorf("recon store: creating schema %s: %w", schema, err)
		}
		pc.RuntimeParams["search_path"] = schema
		db = stdlib.OpenDB(*pc)
		db.SetMaxOpenConns(8)
		s.db, s.pg = db, true
		return s, nil
	default:
		return nil, fmt.Errorf("recon.store.driver: %q is not sqlite or postgres", cfg.Driver)
	}
	s.db = db
	for _, stmt := range schemaSQL() {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("recon store: creating schema: %w", err)
		}
	}
	return s, nil
}

// pgSchemaLock is the advisory lock key serializing the creation of the
// recon store's schema ("reconstr").
const pgSchemaLock = 0x7265636f6e737472

func createPGSchema(ctx context.Context, db *sql.DB, schema string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmts := append([]string{`SELECT pg_advisory_xact_lock(` + strconv.FormatInt(pgSchemaLock, 10) + `)`,
		`CREATE SCHEMA IF NOT EXISTS ` + schema, `SET LOCAL search_path TO ` + schema}, schemaSQL()...)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// q rebinds '?' placeholders for PostgreSQL.
func (s *Store) q(sqlText string) string {
	if !s.pg {
		return sqlText
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(sqlText); i++ {
		if sqlText[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(sqlText[i])
	}
	return b.String()
}

const runCols = `id, bank, settle_date, file_name, file_hash, rows_count, forced, started_us, finished_us, summary`

type scanner interface{ Scan(dest ...any) error }

func scanRun(r scanner) (*Run, error) {
	var (
		run              Run
		date, summary    string
		forced           int64
		started, finishd int64
	)
	if err := r.Scan(&run.ID, &run.Bank, &date, &run.FileName, &run.FileHash, &run.Rows, &forced, &started, &finishd, &summary); err != nil {
		return nil, err
	}
	d, err := calendar.ParseISO(date)
	if err != nil {
		return nil, fmt.Errorf("recon store: run %s: settle date: %w", run.ID, err)
	}
	run.SettleDate, run.Forced = d, forced != 0
	run.StartedAt, run.FinishedAt = time.UnixMicro(started).UTC(), time.UnixMicro(finishd).UTC()
	run.Summary = newSummary()
	if err := json.Unmarshal([]byte(summary), &run.Summary); err != nil {
		return nil, fmt.Errorf("recon store: run %s: summary: %w", run.ID, err)
	}
	return &run, nil
}

// ActiveRun returns the accepted run of bank for settlement day d, or nil.
func (s *Store) ActiveRun(ctx context.Context, bank string, d calendar.Date) (*Run, error) {
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+runCols+` FROM recon_runs WHERE bank = ? AND settle_date = ? AND active = 1`), bank, d.String())
	run, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recon store: reading run of %s %s: %w", bank, d, err)
	}
	return run, nil
}

// ActiveRuns returns the accepted runs of settlement day d, all banks.
func (s *Store) ActiveRuns(ctx context.Context, d calendar.Date) ([]*Run, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+runCols+` FROM recon_runs WHERE settle_date = ? AND active = 1 ORDER BY bank`), d.String())
	if err != nil {
		return nil, fmt.Errorf("recon store: listing runs of %s: %w", d, err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recon store: listing runs of %s: %w", d, err)
	}
	return out, nil
}

func scanItem(r scanner) (Item, error) {
	var (
		it                        Item
		cat, kind, odate, expDate string
		payable                   int64
	)
	err := r.Scan(&it.Seq, &cat, &kind, &it.Line, &it.PaymentID, &it.OperationID, &it.MerchantID, &it.TerminalID,
		&it.MaskedPAN, &it.RRN, &it.STAN, &it.AuthCode, &odate, &it.OperTime, &it.Currency, &it.Amount, &it.Fee,
		&it.SettleAmount, &it.ExpectedAmount, &expDate, &payable, &it.Note)
	if err != nil {
		return it, fmt.Errorf("recon store: reading item: %w", err)
	}
	it.Category, it.Kind, it.Payable = Category(cat), Kind(kind), payable != 0
	if odate != "" {
		if it.OperDate, err = calendar.ParseISO(odate); err != nil {
			return it, fmt.Errorf("recon store: item %d: oper date: %w", it.Seq, err)
		}
	}
	if expDate != "" {
		if it.ExpectedDate, err = calendar.ParseISO(expDate); err != nil {
			return it, fmt.Errorf("recon store: item %d: expected date: %w", it.Seq, err)
		}
	}
	return it, nil
}

// ItemFilter selects a run's items.
type ItemFilter struct {
	BreaksOnly bool
	Limit      int // 0: all
}

// Items streams the items of run runID in order.
func (s *Store) Items(ctx context.Context, runID string, f ItemFilter, fn func(Item) error) error {
	q := `SELECT ` + itemCols + ` FROM recon_items WHERE run_id = ?`
	args := []any{runID}
	if f.BreaksOnly {
		var ph []string
		for _, c := range Categories() {
			if c.IsBreak() {
				ph = append(ph, "?")
				args = append(args, string(c))
			}
		}
		q += ` AND category IN (` + strings.Join(ph, ", ") + `)`
	}
	q += ` ORDER BY seq`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, int64(f.Limit))
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return fmt.Errorf("recon store: reading items of %s: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recon store: reading items of %s: %w", runID, err)
	}
	return nil
}

// PaymentState is a payment's reconciliation state: the latest item of an
// accepted run that concerns it, and the run's bank and day.
type PaymentState struct {
	Bank       string
	SettleDate calendar.Date
	RunID      string
	Item       Item
}

// PaymentStates returns every item of accepted runs concerning paymentID
// (its sale and its refunds), oldest settlement day first. The last sale
// item is the payment's current reconciliation state.
func (s *Store) PaymentStates(ctx context.Context, paymentID string) ([]PaymentState, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT r.bank, r.settle_date, r.id, `+prefixed("i.", itemCols)+`
 FROM recon_items i JOIN recon_runs r ON r.id = i.run_id
 WHERE i.payment_id = ? AND r.active = 1 ORDER BY r.settle_date, i.seq`), paymentID)
	if err != nil {
		return nil, fmt.Errorf("recon store: reading state of %s: %w", paymentID, err)
	}
	defer rows.Close()
	var out []PaymentState
	for rows.Next() {
		var (
			ps   PaymentState
			date string
		)
		var it Item
		var cat, kind, odate, expDate string
		var payable int64
		if err := rows.Scan(&ps.Bank, &date, &ps.RunID, &it.Seq, &cat, &kind, &it.Line, &it.PaymentID, &it.OperationID,
			&it.MerchantID, &it.TerminalID, &it.MaskedPAN, &it.RRN, &it.STAN, &it.AuthCode, &odate, &it.OperTime,
			&it.Currency, &it.Amount, &it.Fee, &it.SettleAmount, &it.ExpectedAmount, &expDate, &payable, &it.Note); err != nil {
			return nil, fmt.Errorf("recon store: reading state of %s: %w", paymentID, err)
		}
		it.Category, it.Kind, it.Payable = Category(cat), Kind(kind), payable != 0
		it.OperDate, _ = calendar.ParseISO(odate)
		it.ExpectedDate, _ = calendar.ParseISO(expDate)
		ps.SettleDate, _ = calendar.ParseISO(date)
		ps.Item = it
		out = append(out, ps)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recon store: reading state of %s: %w", paymentID, err)
	}
	return out, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// settleRow is one clearing row of an accepted run, as settlement needs it.
type settleRow struct {
	Bank, MerchantID, Currency string
	Category                   Category
	Kind                       Kind
	Amount, Fee                int64
	Payable                    bool
}

// settlementRows streams the clearing rows of the accepted runs of day d.
func (s *Store) settlementRows(ctx context.Context, d calendar.Date, fn func(*settleRow) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT r.bank, i.merchant_id, i.currency, i.category, i.kind, i.amount, i.fee, i.payable
 FROM recon_items i JOIN recon_runs r ON r.id = i.run_id
 WHERE r.settle_date = ? AND r.active = 1 AND i.line > 0`), d.String())
	if err != nil {
		return fmt.Errorf("recon store: reading settlement rows of %s: %w", d, err)
	}
	defer rows.Close()
	var sr settleRow
	for rows.Next() {
		var cat, kind string
		var payable int64
		if err := rows.Scan(&sr.Bank, &sr.MerchantID, &sr.Currency, &cat, &kind, &sr.Amount, &sr.Fee, &payable); err != nil {
			return fmt.Errorf("recon store: reading settlement rows of %s: %w", d, err)
		}
		sr.Category, sr.Kind, sr.Payable = Category(cat), Kind(kind), payable != 0
		if err := fn(&sr); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recon store: reading settlement rows of %s: %w", d, err)
	}
	return nil
}

// runTx writes one run atomically: the run, its items, and (when forced)
// the retirement of the run it replaces.
type runTx struct {
	s    *Store
	tx   *sql.Tx
	run  *Run
	buf  []any
	n    int
	seq  int64
	stmt *sql.Stmt // full batch insert
	// priorSale and priorRefund are clearedElsewhere's queries, prepared on
	// first use: every matched sale and refund asks one of them.
	priorSale, priorRefund *sql.Stmt
	closed                 bool
}

const insertBatch = 200

// beginRun starts the transaction of a new run. When force is false and an
// accepted run exists for the bank and day, it fails with
// ErrAlreadyReconciled (checked again under the unique index at insert).
func (s *Store) beginRun(ctx context.Context, run *Run, force bool) (*runTx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("recon store: beginning run: %w", err)
	}
	rt := &runTx{s: s, tx: tx, run: run}
	fail := func(err error) (*runTx, error) {
		_ = tx.Rollback()
		return nil, err
	}
	date := run.SettleDate.String()
	var oldID, oldHash string
	err = tx.QueryRowContext(ctx, s.q(`SELECT id, file_hash FROM recon_runs WHERE bank = ? AND settle_date = ? AND active = 1`), run.Bank, date).Scan(&oldID, &oldHash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fail(fmt.Errorf("recon store: checking earlier run: %w", err))
	case oldHash == run.FileHash:
		// A concurrent run of the same file committed first.
		return fail(errSameFile)
	case !force:
		return fail(fmt.Errorf("%s %s (run %s): %w", run.Bank, date, oldID, ErrAlreadyReconciled))
	default:
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE recon_runs SET active = 0 WHERE id = ?`), oldID); err != nil {
			return fail(fmt.Errorf("recon store: retiring run %s: %w", oldID, err))
		}
		run.Forced = true
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO recon_runs (`+runCols+`, active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`),
		run.ID, run.Bank, date, clean(run.FileName), run.FileHash, run.Rows, boolInt(run.Forced), run.StartedAt.UnixMicro(), int64(0), "{}")
	if err != nil {
		if isUnique(err) {
			return fail(fmt.Errorf("%s %s: %w", run.Bank, date, ErrAlreadyReconciled))
		}
		return fail(fmt.Errorf("recon store: inserting run: %w", err))
	}
	rt.stmt, err = tx.PrepareContext(ctx, s.q(insertSQL(insertBatch)))
	if err != nil {
		return fail(fmt.Errorf("recon store: preparing item insert: %w", err))
	}
	rt.buf = make([]any, 0, insertBatch*(itemColCount+1))
	return rt, nil
}

// errSameFile: the same file was accepted meanwhile; the caller replays.
var errSameFile = errors.New("recon store: the same file was reconciled concurrently")

func isUnique(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unique") || strings.Contains(msg, "duplicate key")
}

func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO recon_items (run_id, ` + itemCols + `) VALUES `)
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", itemColCount+1), ", ") + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func dateText(d calendar.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// add appends an item (it gets the next Seq).
func (rt *runTx) add(ctx context.Context, it *Item) error {
	rt.seq++
	it.Seq = rt.seq
	rt.buf = append(rt.buf, rt.run.ID, it.Seq, string(it.Category), string(it.Kind), it.Line, it.PaymentID, it.OperationID,
		it.MerchantID, it.TerminalID, clean(it.MaskedPAN), it.RRN, it.STAN, it.AuthCode, dateText(it.OperDate), it.OperTime,
		it.Currency, it.Amount, it.Fee, it.SettleAmount, it.ExpectedAmount, dateText(it.ExpectedDate), boolInt(it.Payable), clean(it.Note))
	rt.n++
	if rt.n == insertBatch {
		return rt.flush(ctx)
	}
	return nil
}

func (rt *runTx) flush(ctx context.Context) error {
	if rt.n == 0 {
		return nil
	}
	var err error
	if rt.n == insertBatch {
		_, err = rt.stmt.ExecContext(ctx, rt.buf...)
	} else {
		_, err = rt.tx.ExecContext(ctx, rt.s.q(insertSQL(rt.n)), rt.buf...)
	}
	if err != nil {
		return fmt.Errorf("recon store: inserting items: %w", err)
	}
	rt.buf, rt.n = rt.buf[:0], 0
	return nil
}

// clearedElsewhere implements priorChecker: whether an accepted run of
// another settlement day of the same bank already carries this sale
// (operationID "") or refund as a cleared row.
func (rt *runTx) clearedElsewhere(ctx context.Context, paymentID, operationID string) (bool, error) {
	const base = `SELECT 1 FROM recon_items i JOIN recon_runs r ON r.id = i.run_id
 WHERE i.payment_id = ? AND r.active = 1 AND r.bank = ? AND r.settle_date <> ? AND i.line > 0 AND i.category <> ?`
	args := []any{paymentID, rt.run.Bank, rt.run.SettleDate.String(), string(DuplicateInClearing)}
	stmt, q := &rt.priorSale, base+` AND i.kind = ? LIMIT 1`
	args = append(args, string(KindSale))
	if operationID != "" {
		stmt, q = &rt.priorRefund, base+` AND i.kind = ? AND i.operation_id = ? LIMIT 1`
		args[len(args)-1] = string(KindRefund)
		args = append(args, operationID)
	}
	if *stmt == nil {
		st, err := rt.tx.PrepareContext(ctx, rt.s.q(q))
		if err != nil {
			return false, fmt.Errorf("recon store: preparing the earlier-clearing query: %w", err)
		}
		*stmt = st
	}
	var one int
	err := (*stmt).QueryRowContext(ctx, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("recon store: checking earlier clearing of %s: %w", paymentID, err)
	}
	return true, nil
}

// closeStmts closes the run's prepared statements.
func (rt *runTx) closeStmts() {
	for _, st := range []*sql.Stmt{rt.stmt, rt.priorSale, rt.priorRefund} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// chargebacksElsewhere implements priorChecker: the chargeback and
// chargeback-reversal rows linked to the payment by accepted runs of other
// settlement days of the same bank, duplicates excluded.
func (rt *runTx) chargebacksElsewhere(ctx context.Context, paymentID string) ([]cbRow, error) {
	rows, err := rt.tx.QueryContext(ctx, rt.s.q(`SELECT i.kind, i.category, i.rrn, i.stan, i.oper_date, i.oper_time, i.amount, i.currency
 FROM recon_items i JOIN recon_runs r ON r.id = i.run_id
 WHERE i.payment_id = ? AND r.active = 1 AND r.bank = ? AND r.settle_date <> ? AND i.line > 0
 AND i.kind IN (?, ?) AND i.category <> ?`),
		paymentID, rt.run.Bank, rt.run.SettleDate.String(), string(KindChargeback), string(KindChargebackReversal), string(DuplicateInClearing))
	if err != nil {
		return nil, fmt.Errorf("recon store: reading earlier chargebacks of %s: %w", paymentID, err)
	}
	defer rows.Close()
	var out []cbRow
	for rows.Next() {
		var (
			r              cbRow
			kind, cat, opd string
		)
		if err := rows.Scan(&kind, &cat, &r.rrn, &r.stan, &opd, &r.operTime, &r.amount, &r.currency); err != nil {
			return nil, fmt.Errorf("recon store: reading earlier chargebacks of %s: %w", paymentID, err)
		}
		r.kind = Kind(kind)
		r.counted = Category(cat) == Chargeback || Category(cat) == ChargebackReversal
		if opd != "" {
			if r.operDate, err = calendar.ParseISO(opd); err != nil {
				return nil, fmt.Errorf("recon store: reading earlier chargebacks of %s: oper_date %q: %w", paymentID, opd, err)
			}
		}
		out = append(out, r)
		if len(out) > maxPriorChargebacks {
			return nil, fmt.Errorf("recon store: payment %s has more than %d chargeback rows", paymentID, maxPriorChargebacks)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recon store: reading earlier chargebacks of %s: %w", paymentID, err)
	}
	return out, nil
}

// maxPriorChargebacks bounds what one payment's dispute history may hold:
// a real sale sees a handful of chargeback rows, never thousands.
const maxPriorChargebacks = 10000

// commit flushes, stores the summary and commits.
func (rt *runTx) commit(ctx context.Context) error {
	if err := rt.flush(ctx); err != nil {
		rt.rollback()
		return err
	}
	sum, err := json.Marshal(rt.run.Summary)
	if err != nil {
		rt.rollback()
		return fmt.Errorf("recon store: encoding summary: %w", err)
	}
	if _, err := rt.tx.ExecContext(ctx, rt.s.q(`UPDATE recon_runs SET finished_us = ?, rows_count = ?, summary = ? WHERE id = ?`),
		rt.run.FinishedAt.UnixMicro(), rt.run.Rows, string(sum), rt.run.ID); err != nil {
		rt.rollback()
		return fmt.Errorf("recon store: finishing run: %w", err)
	}
	rt.closeStmts()
	rt.closed = true
	if err := rt.tx.Commit(); err != nil {
		return fmt.Errorf("recon store: committing run: %w", err)
	}
	return nil
}

func (rt *runTx) rollback() {
	if rt.closed {
		return
	}
	rt.closed = true
	rt.closeStmts()
	_ = rt.tx.Rollback()
}

// paymentItems streams the items of run runID that concern a journal
// payment, grouped by payment (ordered by payment id, then seq). Only the
// fields write-back needs are filled.
func (s *Store) paymentItems(ctx context.Context, runID string, fn func(*Item) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT payment_id, seq, category, kind, line FROM recon_items
 WHERE run_id = ? AND payment_id <> '' ORDER BY payment_id, seq`), runID)
	if err != nil {
		return fmt.Errorf("recon store: reading the payments of run %s: %w", runID, err)
	}
	defer rows.Close()
	var it Item
	for rows.Next() {
		var cat, kind string
		if err := rows.Scan(&it.PaymentID, &it.Seq, &cat, &kind, &it.Line); err != nil {
			return fmt.Errorf("recon store: reading the payments of run %s: %w", runID, err)
		}
		it.Category, it.Kind = Category(cat), Kind(kind)
		if err := fn(&it); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recon store: reading the payments of run %s: %w", runID, err)
	}
	return nil
}
