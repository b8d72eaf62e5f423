package reconbench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// bulkLoader inserts generated payments straight into the journal's SQLite
// tables (schema switch/journal/migrations/sqlite/0001_init.sql, created by
// journal.Open beforehand) with prepared multi-row INSERTs inside large
// transactions. journal.Store.Write applies one prepared-per-call statement
// per mutation, about 30x slower for a million rows; this is benchmark
// set-up only, so it also runs with synchronous=OFF. The switch never
// writes the journal this way.
type bulkLoader struct {
	db      *sql.DB
	tx      *sql.Tx
	payStmt *sql.Stmt
	opStmt  *sql.Stmt
	pays    []any
	ops     []any
	nPay    int
	nOp     int
	inTx    int
}

var paymentColumns = []string{"id", "client", "request_id", "type", "status", "amount", "currency", "merchant_id", "terminal_id",
	"mcc", "merchant_name", "merchant_city", "merchant_country", "sub_merchant_id", "order_id", "description", "masked_pan",
	"brand", "pan_hash", "pan_key_id", "pan_ciphertext", "card_source", "wallet", "bank", "route", "acquirer_id", "stan", "rrn",
	"transmission_us", "local_us", "auth_code", "response_code", "bank_response_code", "reason", "reason_code", "stand_in",
	"network_transaction_id", "captured_amount", "voided_amount", "refunded_amount", "recon_state", "created_us", "updated_us", "version"}

var operationColumns = []string{"id", "payment_id", "kind", "request_id", "ref_operation_id", "bank", "mti", "stan", "rrn",
	"transmission_us", "local_us", "amount", "currency", "status", "auth_code", "response_code", "bank_response_code", "reason",
	"attempts", "next_attempt_us", "last_error", "latency_ms", "created_us", "updated_us", "version"}

const (
	payBatch = 20 // rows per INSERT: 20 × 44 parameters
	opBatch  = 30
)

func multiInsert(table string, cols []string, n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	rows := make([]string, n)
	for i := range rows {
		rows[i] = row
	}
	return "INSERT INTO " + table + " (" + strings.Join(cols, ",") + ") VALUES " + strings.Join(rows, ",")
}

func openBulk(ctx context.Context, path string) (*bulkLoader, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("reconbench: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	b := &bulkLoader{db: db}
	if err := b.begin(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return b, nil
}

func (b *bulkLoader) begin(ctx context.Context) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reconbench: begin: %w", err)
	}
	b.tx = tx
	if b.payStmt, err = tx.PrepareContext(ctx, multiInsert("payments", paymentColumns, payBatch)); err != nil {
		return fmt.Errorf("reconbench: prepare: %w", err)
	}
	if b.opStmt, err = tx.PrepareContext(ctx, multiInsert("operations", operationColumns, opBatch)); err != nil {
		return fmt.Errorf("reconbench: prepare: %w", err)
	}
	return nil
}

func us(t interface{ UnixMicro() int64 }) int64 { return t.UnixMicro() }

func (b *bulkLoader) add(ctx context.Context, p *journal.Payment, ops []*journal.Operation) error {
	m, c := p.Merchant, p.Card
	b.pays = append(b.pays, p.ID, p.Client, p.RequestID, string(p.Type), string(p.Status), p.Amount, p.Currency, m.ID, m.TerminalID,
		m.MCC, m.Name, m.City, m.Country, m.SubMerchantID, p.OrderID, p.Description, c.MaskedPAN, c.Brand, c.PANHash, int64(c.KeyID),
		c.Ciphertext, c.Source, c.Wallet, p.Bank, p.Route, p.AcquirerID, p.STAN, p.RRN, us(p.TransmissionTime), us(p.LocalTime),
		p.AuthCode, p.ResponseCode, p.BankResponseCode, p.Reason, int64(p.ReasonCode), int64(0), p.NetworkTransactionID,
		p.CapturedAmount, p.VoidedAmount, p.RefundedAmount, string(p.ReconState), us(p.CreatedAt), us(p.UpdatedAt), int64(1))
	b.nPay++
	if b.nPay == payBatch {
		if _, err := b.payStmt.ExecContext(ctx, b.pays...); err != nil {
			return fmt.Errorf("reconbench: inserting payments: %w", err)
		}
		b.pays, b.nPay = b.pays[:0], 0
	}
	for _, o := range ops {
		b.ops = append(b.ops, o.ID, o.PaymentID, string(o.Kind), o.RequestID, o.RefOperationID, o.Bank, o.MTI, o.STAN, o.RRN,
			us(o.TransmissionTime), us(o.LocalTime), o.Amount, o.Currency, string(o.Status), o.AuthCode, o.ResponseCode,
			o.BankResponseCode, o.Reason, int64(o.Attempts), int64(0), o.LastError, o.LatencyMS, us(o.CreatedAt), us(o.CreatedAt), int64(1))
		b.nOp++
		if b.nOp == opBatch {
			if err := b.flushOps(ctx); err != nil {
				return err
			}
		}
	}
	b.inTx++
	if b.inTx == 100_000 {
		return b.commit(ctx, true)
	}
	return nil
}

func (b *bulkLoader) flushOps(ctx context.Context) error {
	if _, err := b.opStmt.ExecContext(ctx, b.ops...); err != nil {
		return fmt.Errorf("reconbench: inserting operations: %w", err)
	}
	b.ops, b.nOp = b.ops[:0], 0
	return nil
}

// commit writes the partial batches (payments before their operations,
// for the foreign key) and commits; reopen starts the next transaction.
func (b *bulkLoader) commit(ctx context.Context, reopen bool) error {
	if b.nPay > 0 {
		if _, err := b.tx.ExecContext(ctx, multiInsert("payments", paymentColumns, b.nPay), b.pays...); err != nil {
			return fmt.Errorf("reconbench: inserting payments: %w", err)
		}
		b.pays, b.nPay = b.pays[:0], 0
	}
	if b.nOp > 0 {
		if _, err := b.tx.ExecContext(ctx, multiInsert("operations", operationColumns, b.nOp), b.ops...); err != nil {
			return fmt.Errorf("reconbench: inserting operations: %w", err)
		}
		b.ops, b.nOp = b.ops[:0], 0
	}
	_ = b.payStmt.Close()
	_ = b.opStmt.Close()
	if err := b.tx.Commit(); err != nil {
		return fmt.Errorf("reconbench: commit: %w", err)
	}
	b.inTx = 0
	if reopen {
		return b.begin(ctx)
	}
	return nil
}

func (b *bulkLoader) close(ctx context.Context) error {
	err := b.commit(ctx, false)
	if cerr := b.db.Close(); err == nil {
		err = cerr
	}
	return err
}
