package recon

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// SQLSource is a read-only ADAPTER over the journal's tables (schema
// switch/journal/migrations/*/0001_init.sql), used because journal.Store
// has no bulk read for reconciliation: it reads a window of payments in one
// streaming query and their captures, refunds, voids and reversals in a
// second one, instead of one ListOperations call per payment. It only reads
// the columns below and never card data. When the journal grows a
// ScanForRecon method, this file goes and JournalSource (or that method)
// takes over; the tests run both.
type SQLSource struct {
	db *sql.DB
	pg bool
}

// OpenSQLSource opens the journal database read-only: the SQLite file in
// query-only mode (WAL lets it read beside the switch), or the PostgreSQL
// database with the journal's schema on the search_path.
func OpenSQLSource(ctx context.Context, cfg journal.Config) (*SQLSource, error) {
	s := &SQLSource{}
	switch cfg.Driver {
	case "", journal.DriverSQLite:
		path := cfg.DSN
		if path == "" {
			path = journal.DefaultSQLitePath
		}
		if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
			return nil, fmt.Errorf("journal.dsn: give the SQLite journal as a plain file path, got %q", path)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("recon: the journal %s: %w", path, err)
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "query_only(1)")
		db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("recon: opening journal %s: %w", path, err)
		}
		db.SetMaxOpenConns(2)
		s.db = db
	case journal.DriverPostgres:
		pc, err := pgx.ParseConfig(cfg.DSN)
		if err != nil {
			return nil, errors.New("journal.dsn: not a valid PostgreSQL connection string")
		}
		if cfg.Schema != "" {
			pc.RuntimeParams["search_path"] = cfg.Schema
		}
		pc.RuntimeParams["default_transaction_read_only"] = "on"
		s.db, s.pg = stdlib.OpenDB(*pc), true
		s.db.SetMaxOpenConns(2)
	default:
		return nil, fmt.Errorf("journal.driver: %q is not sqlite or postgres", cfg.Driver)
	}
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("recon: opening the journal for reading: %w", err)
	}
	return s, nil
}

// Close closes the connection.
func (s *SQLSource) Close() error { return s.db.Close() }

func (s *SQLSource) bind(q string) string {
	if !s.pg {
		return q
	}
	n := 0
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

type opRow struct {
	id, kind, status, ref, rrn, stan string
	local, created, amount           int64
}

// ScanTxns implements Source. Operations are read first (only the kinds
// that matter, a fraction of the journal), then payments are streamed and
// joined to them in memory.
func (s *SQLSource) ScanTxns(ctx context.Context, bank string, from, to time.Time, fn func(*Txn) error) error {
	ops := map[string][]opRow{}
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT payment_id, id, kind, status, ref_operation_id, rrn, stan, local_us, created_us, amount
 FROM operations WHERE bank = ? AND created_us >= ? AND kind IN ('capture', 'refund', 'void', 'reversal')
 ORDER BY created_us, id`), bank, toMicros(from))
	if err != nil {
		return fmt.Errorf("reading operations of %s: %w", bank, err)
	}
	for rows.Next() {
		var pid string
		var o opRow
		if err := rows.Scan(&pid, &o.id, &o.kind, &o.status, &o.ref, &o.rrn, &o.stan, &o.local, &o.created, &o.amount); err != nil {
			_ = rows.Close()
			return fmt.Errorf("reading operations of %s: %w", bank, err)
		}
		ops[pid] = append(ops[pid], o)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading operations of %s: %w", bank, err)
	}
	_ = rows.Close()

	if err := s.scanPayments(ctx, `WHERE bank = ? AND created_us >= ? AND created_us < ? ORDER BY created_us, id`, []any{bank, toMicros(from), toMicros(to)}, false,
		func(t *Txn) error {
			applyOpRows(t, ops[t.PaymentID])
			delete(ops, t.PaymentID)
			return fn(t)
		}); err != nil {
		return fmt.Errorf("reading payments of %s: %w", bank, err)
	}
	// Operations of the window whose payment is older than the window (a
	// refund today of a payment of last quarter): fetch those payments by
	// id, with all their operations, so that their refunds still match.
	for id := range ops {
		err := s.scanPayments(ctx, `WHERE id = ? AND bank = ?`, []any{id, bank}, true, func(t *Txn) error {
			if err := s.LoadOperations(ctx, t); err != nil {
				return err
			}
			return fn(t)
		})
		if err != nil {
			return fmt.Errorf("reading payment %s: %w", id, err)
		}
	}
	return nil
}

// scanPayments streams the payments selected by where; with buffer, it reads
// them all before calling fn (which may then query the database itself).
func (s *SQLSource) scanPayments(ctx context.Context, where string, args []any, buffer bool, fn func(*Txn) error) error {
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT id, type, status, merchant_id, terminal_id, masked_pan, currency, rrn, stan, auth_code,
 local_us, amount, captured_amount, voided_amount, refunded_amount FROM payments `+where), args...)
	if err != nil {
		return err
	}
	var list []*Txn
	for rows.Next() {
		t := &Txn{}
		var typ, status string
		var local int64
		if err := rows.Scan(&t.PaymentID, &typ, &status, &t.MerchantID, &t.TerminalID, &t.MaskedPAN, &t.Currency, &t.RRN, &t.STAN,
			&t.AuthCode, &local, &t.Amount, &t.Captured, &t.Voided, &t.Refunded); err != nil {
			_ = rows.Close()
			return err
		}
		t.Type, t.Status, t.LocalTime = journal.PaymentType(typ), journal.PaymentStatus(status), fromMicros(local)
		if buffer {
			list = append(list, t)
			continue
		}
		if err := fn(t); err != nil {
			_ = rows.Close()
			return err
		}
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return err
	}
	for _, t := range list {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

func applyOpRows(t *Txn, rows []opRow) {
	ops := make([]*journal.Operation, 0, len(rows))
	for _, o := range rows {
		ops = append(ops, &journal.Operation{ID: o.id, PaymentID: t.PaymentID, Kind: journal.OpKind(o.kind),
			Status: journal.OpStatus(o.status), RefOperationID: o.ref, RRN: o.rrn, STAN: o.stan,
			LocalTime: fromMicros(o.local), CreatedAt: fromMicros(o.created), Amount: o.amount})
	}
	applyOps(t, ops)
}

// LoadOperations implements Source; ScanTxns already loaded them.
func (s *SQLSource) LoadOperations(ctx context.Context, t *Txn) error {
	if t.OpsLoaded {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, s.bind(`SELECT id, kind, status, ref_operation_id, rrn, stan, local_us, created_us, amount
 FROM operations WHERE payment_id = ? AND kind IN ('capture', 'refund', 'void', 'reversal') ORDER BY created_us, id`), t.PaymentID)
	if err != nil {
		return fmt.Errorf("reading operations of %s: %w", t.PaymentID, err)
	}
	defer func() { _ = rows.Close() }()
	var list []opRow
	for rows.Next() {
		var o opRow
		if err := rows.Scan(&o.id, &o.kind, &o.status, &o.ref, &o.rrn, &o.stan, &o.local, &o.created, &o.amount); err != nil {
			return fmt.Errorf("reading operations of %s: %w", t.PaymentID, err)
		}
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading operations of %s: %w", t.PaymentID, err)
	}
	applyOpRows(t, list)
	return nil
}
