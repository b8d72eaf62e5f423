package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// Mutation is one change to the journal, applied by Store.Write together
// with others in one transaction. Build mutations with InsertPayment,
// SavePayment, InsertOperation, SaveOperation, AppendMessage,
// FinishIdempotency, EnqueueSAF, FinishSAF and RekeyCard.
type Mutation interface {
	// validate checks the record before it is queued.
	validate() error
	// apply writes it; it may run more than once (batch retry).
	apply(ctx context.Context, t *txCtx) error
	// done publishes in-memory effects (versions, timestamps, ids) after
	// the commit.
	done()
}

// mut is the one Mutation implementation: three closures.
type mut struct {
	check func() error
	run   func(ctx context.Context, t *txCtx) error
	after func()
}

func (m *mut) validate() error {
	if m.check == nil {
		return nil
	}
	return m.check()
}

func (m *mut) apply(ctx context.Context, t *txCtx) error { return m.run(ctx, t) }

func (m *mut) done() {
	if m.after != nil {
		m.after()
	}
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// classify turns driver errors into the journal's.
func classify(t *txCtx, what string, err error) error {
	if err == nil {
		return nil
	}
	if t.be.isUnique(err) {
		return fmt.Errorf("%s: %w", what, ErrDuplicate)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidState) || errors.Is(err, ErrLeaseLost) ||
		errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrInvalid) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("journal: %s: %w", what, err)
}

// ---- payments ----

const paymentCols = `id, client, request_id, type, status, amount, currency,
 merchant_id, terminal_id, mcc, merchant_name, merchant_city, merchant_country, sub_merchant_id,
 order_id, description, masked_pan, brand, pan_hash, pan_key_id, pan_ciphertext, card_source, wallet,
 bank, route, acquirer_id, stan, rrn, transmission_us, local_us,
 auth_code, response_code, bank_response_code, reason, reason_code, stand_in, network_transaction_id,
 captured_amount, voided_amount, refunded_amount, recon_state, created_us, updated_us, version, recon_ref`

const paymentPlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
 ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

func validPaymentStatus(s PaymentStatus) bool {
	switch s {
	case PaymentPending, PaymentApproved, PaymentDeclined, PaymentVoided:
		return true
	}
	return false
}

func validateMoney(p *Payment) error {
	if p.Amount <= 0 {
		return invalid("payment amount must be positive")
	}
	for _, a := range []int64{p.CapturedAmount, p.VoidedAmount, p.RefundedAmount} {
		if a < 0 {
			return invalid("payment captured/voided/refunded amounts must not be negative")
		}
	}
	if !validPaymentStatus(p.Status) {
		return invalid("payment status %q", p.Status)
	}
	return nil
}

func validatePayment(p *Payment) error {
	if p == nil {
		return invalid("nil payment")
	}
	if p.ID != "" && !strings.HasPrefix(p.ID, PrefixPayment) {
		return invalid("payment id must start with %s", PrefixPayment)
	}
	if p.Client == "" || p.RequestID == "" {
		return invalid("payment client and request_id are required")
	}
	if p.Type != TypePurchase && p.Type != TypePreauth {
		return invalid("payment type %q", p.Type)
	}
	if len(p.Currency) != 3 {
		return invalid("payment currency %q", p.Currency)
	}
	if err := validateMoney(p); err != nil {
		return err
	}
	c := p.Card
	if c.KeyID == 0 || len(c.Ciphertext) == 0 || c.PANHash == "" || c.MaskedPAN == "" {
		return invalid("payment card must be sealed (masked PAN, hash, key id, ciphertext)")
	}
	// The hash is checked for shape, not scanned: random hex holds
	// Luhn-valid digit runs often enough to refuse good payments.
	if len(c.PANHash) != 64 || !isHex(c.PANHash) {
		return invalid("payment card PAN hash must be 64 hex characters")
	}
	if cardvault.ContainsPAN(c.MaskedPAN) || cardvault.ContainsPAN(c.Brand) {
		return invalid("payment card holds a full PAN outside the ciphertext")
	}
	if len(c.Ciphertext) > maxCiphertextLen {
		return invalid("payment card ciphertext is %d bytes", len(c.Ciphertext))
	}
	return checkLengths("payment", p.ID, p.Client, p.RequestID, p.Currency, p.Merchant.ID, p.Merchant.TerminalID,
		p.Merchant.MCC, p.Merchant.Name, p.Merchant.City, p.Merchant.Country, p.Merchant.SubMerchantID, c.MaskedPAN,
		c.Brand, c.Source, c.Wallet, p.Bank, p.Route, p.AcquirerID, p.STAN, p.RRN, p.AuthCode, p.ResponseCode,
		p.BankResponseCode, p.NetworkTransactionID, string(p.ReconState), p.ReconRef)
}

// maxFieldLen bounds the identifier-like text columns (ids, codes, names):
// the API validates tighter limits; this keeps a bug from bloating the
// journal.
const (
	maxFieldLen      = 128
	maxCiphertextLen = 256
)

func checkLengths(what string, fields ...string) error {
	for _, f := range fields {
		if len(f) > maxFieldLen {
			return invalid("%s field of %d bytes, limit %d", what, len(f), maxFieldLen)
		}
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func paymentArgs(p *Payment) []any {
	m := p.Merchant
	c := p.Card
	return []any{p.ID, p.Client, p.RequestID, string(p.Type), string(p.Status), p.Amount, p.Currency,
		m.ID, m.TerminalID, m.MCC, m.Name, m.City, m.Country, m.SubMerchantID,
		cleanText(p.OrderID), cleanText(p.Description), c.MaskedPAN, c.Brand, c.PANHash, int64(c.KeyID), c.Ciphertext, c.Source, c.Wallet,
		p.Bank, p.Route, p.AcquirerID, p.STAN, p.RRN, toUS(p.TransmissionTime), toUS(p.LocalTime),
		p.AuthCode, p.ResponseCode, p.BankResponseCode, cleanText(p.Reason), int64(p.ReasonCode), p.StandIn, p.NetworkTransactionID,
		p.CapturedAmount, p.VoidedAmount, p.RefundedAmount, string(p.ReconState), toUS(p.CreatedAt), toUS(p.UpdatedAt), p.Version, p.ReconRef}
}

func scanPayment(r rowIter) (*Payment, error) {
	var (
		p                       Payment
		typ, status, recon      string
		keyID, reasonCode       int64
		trUS, locUS, crUS, upUS int64
	)
	m := &p.Merchant
	c := &p.Card
	err := r.Scan(&p.ID, &p.Client, &p.RequestID, &typ, &status, &p.Amount, &p.Currency,
		&m.ID, &m.TerminalID, &m.MCC, &m.Name, &m.City, &m.Country, &m.SubMerchantID,
		&p.OrderID, &p.Description, &c.MaskedPAN, &c.Brand, &c.PANHash, &keyID, &c.Ciphertext, &c.Source, &c.Wallet,
		&p.Bank, &p.Route, &p.AcquirerID, &p.STAN, &p.RRN, &trUS, &locUS,
		&p.AuthCode, &p.ResponseCode, &p.BankResponseCode, &p.Reason, &reasonCode, &p.StandIn, &p.NetworkTransactionID,
		&p.CapturedAmount, &p.VoidedAmount, &p.RefundedAmount, &recon, &crUS, &upUS, &p.Version, &p.ReconRef)
	if err != nil {
		return nil, fmt.Errorf("journal: reading payment: %w", err)
	}
	p.Type, p.Status, p.ReconState = PaymentType(typ), PaymentStatus(status), ReconState(recon)
	c.KeyID, p.ReasonCode = uint32(keyID), int(reasonCode)
	p.TransmissionTime, p.LocalTime, p.CreatedAt, p.UpdatedAt = fromUS(trUS), fromUS(locUS), fromUS(crUS), fromUS(upUS)
	return &p, nil
}

// InsertPayment stores a new payment. An empty ID gets a new "pay_" id
// (before the write; seal the card with the id first when you need it as
// additional data: take it from NewPaymentID).
func InsertPayment(p *Payment) Mutation {
	if p != nil && p.ID == "" {
		p.ID = NewPaymentID()
	}
	var created, updated time.Time
	return &mut{
		check: func() error { return validatePayment(p) },
		run: func(ctx context.Context, t *txCtx) error {
			row := *p
			created, updated = p.CreatedAt, p.UpdatedAt
			if created.IsZero() {
				created = t.now
			}
			if updated.IsZero() {
				updated = created
			}
			row.CreatedAt, row.UpdatedAt, row.Version = created, updated, 1
			_, err := t.q.exec(ctx, `INSERT INTO payments (`+paymentCols+`) VALUES (`+paymentPlaceholders+`)`, paymentArgs(&row)...)
			return classify(t, "inserting payment "+p.ID, err)
		},
		after: func() { p.CreatedAt, p.UpdatedAt, p.Version = created, updated, 1 },
	}
}

// SavePayment updates the mutable fields of a payment (status, bank data,
// response, amounts) if p.Version is the stored version;
// ErrVersionConflict otherwise. The identity, card, merchant and request
// fields never change, nor do ReconState and ReconRef: reconciliation owns
// them (SetReconStates), so a payment read before a run cannot undo it.
func SavePayment(p *Payment) Mutation {
	var newVersion int64
	var updated time.Time
	return &mut{
		check: func() error {
			if p == nil || p.ID == "" {
				return invalid("payment id is required")
			}
			if p.Version <= 0 {
				return invalid("payment %s has no version: read it before saving", p.ID)
			}
			return validateMoney(p)
		},
		run: func(ctx context.Context, t *txCtx) error {
			updated = t.now
			newVersion = p.Version + 1
			// Usually bank and RRN (an indexed pair) are as stored: the
			// narrow statement leaves them out of SET, so SQLite does not
			// rewrite the payments_bank_rrn index entry. When they
			// changed (failover) it matches nothing and the full
			// statement below runs; the outcome is the same either way.
			n, err := t.q.exec(ctx, `UPDATE payments SET status = ?, route = ?, acquirer_id = ?, stan = ?,
 transmission_us = ?, local_us = ?, auth_code = ?, response_code = ?, bank_response_code = ?, reason = ?, reason_code = ?,
 stand_in = ?, network_transaction_id = ?, captured_amount = ?, voided_amount = ?, refunded_amount = ?,
 updated_us = ?, version = ? WHERE id = ? AND version = ? AND bank = ? AND rrn = ?`,
				string(p.Status), p.Route, p.AcquirerID, p.STAN,
				toUS(p.TransmissionTime), toUS(p.LocalTime), p.AuthCode, p.ResponseCode, p.BankResponseCode, cleanText(p.Reason), int64(p.ReasonCode),
				p.StandIn, p.NetworkTransactionID, p.CapturedAmount, p.VoidedAmount, p.RefundedAmount,
				toUS(updated), newVersion, p.ID, p.Version, p.Bank, p.RRN)
			if err != nil {
				return classify(t, "updating payment "+p.ID, err)
			}
			if n == 1 {
				return nil
			}
			n, err = t.q.exec(ctx, `UPDATE payments SET status = ?, bank = ?, route = ?, acquirer_id = ?, stan = ?, rrn = ?,
 transmission_us = ?, local_us = ?, auth_code = ?, response_code = ?, bank_response_code = ?, reason = ?, reason_code = ?,
 stand_in = ?, network_transaction_id = ?, captured_amount = ?, voided_amount = ?, refunded_amount = ?,
 updated_us = ?, version = ? WHERE id = ? AND version = ?`,
				string(p.Status), p.Bank, p.Route, p.AcquirerID, p.STAN, p.RRN,
				toUS(p.TransmissionTime), toUS(p.LocalTime), p.AuthCode, p.ResponseCode, p.BankResponseCode, cleanText(p.Reason), int64(p.ReasonCode),
				p.StandIn, p.NetworkTransactionID, p.CapturedAmount, p.VoidedAmount, p.RefundedAmount,
				toUS(updated), newVersion, p.ID, p.Version)
			if err != nil {
				return classify(t, "updating payment "+p.ID, err)
			}
			if n == 0 {
				return missingOr(ctx, t, `SELECT 1 FROM payments WHERE id = ?`, p.ID, ErrVersionConflict, "updating payment "+p.ID)
			}
			return nil
		},
		after: func() { p.Version, p.UpdatedAt = newVersion, updated },
	}
}

// reconChunk returns how many of n marks the next UPDATE statement takes
// (3 parameters each, well within SQLite's and PostgreSQL's limits): one of
// a fixed few sizes, so that these statements hold at most four places in
// the journal's prepared-statement cache whatever the batch sizes.
func reconChunk(n int) int {
	switch {
	case n >= 1000:
		return 1000
	case n >= 100:
		return 100
	case n >= 10:
		return 10
	}
	return 1
}

// SetReconStates records reconciliation outcomes (Store.SetReconStates).
// The marks are validated before anything is written.
func SetReconStates(marks []ReconMark) Mutation {
	return &mut{
		check: func() error {
			if len(marks) > MaxReconMarks {
				return invalid("%d reconciliation marks, limit %d", len(marks), MaxReconMarks)
			}
			for _, m := range marks {
				if m.PaymentID == "" || m.State == ReconNone {
					return invalid("reconciliation mark needs a payment id and a state")
				}
				if err := checkLengths("reconciliation mark", m.PaymentID, string(m.State), m.Ref); err != nil {
					return err
				}
				if cardvault.ContainsPAN(m.Ref) {
					return invalid("reconciliation reference holds a card number")
				}
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			// One statement per chunk: a million payments' states are
			// about a thousand statements, not a million.
			for len(marks) > 0 {
				n := reconChunk(len(marks))
				var b strings.Builder
				args := make([]any, 0, 3*n)
				b.WriteString(`WITH v (id, state, ref) AS (VALUES `)
				for i, m := range marks[:n] {
					if i > 0 {
						b.WriteString(", ")
					}
					b.WriteString("(?, ?, ?)")
					args = append(args, m.PaymentID, string(m.State), m.Ref)
				}
				b.WriteString(`) UPDATE payments SET recon_state = v.state,
 recon_ref = CASE WHEN v.ref = '' THEN payments.recon_ref ELSE v.ref END FROM v WHERE payments.id = v.id`)
				if _, err := t.q.exec(ctx, b.String(), args...); err != nil {
					return classify(t, "recording reconciliation states", err)
				}
				marks = marks[n:]
			}
			return nil
		},
	}
}

// RekeyCard replaces a payment's card ciphertext with one sealed under
// another key (key rotation: cardvault.Vault.Reseal). The PAN hash and mask
// do not change.
func RekeyCard(paymentID string, keyID uint32, ciphertext []byte) Mutation {
	return &mut{
		check: func() error {
			if paymentID == "" || keyID == 0 || len(ciphertext) == 0 {
				return invalid("rekey needs a payment id, key id and ciphertext")
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			n, err := t.q.exec(ctx, `UPDATE payments SET pan_key_id = ?, pan_ciphertext = ? WHERE id = ?`, int64(keyID), ciphertext, paymentID)
			if err != nil {
				return classify(t, "re-keying payment "+paymentID, err)
			}
			if n == 0 {
				return fmt.Errorf("re-keying payment %s: %w", paymentID, ErrNotFound)
			}
			return nil
		},
	}
}

// missingOr distinguishes "row absent" (ErrNotFound) from "row there but
// the condition failed" (otherwise).
func missingOr(ctx context.Context, t *txCtx, q, id string, otherwise error, what string) error {
	var one int64
	err := queryOne(ctx, t.q, q, []any{id}, &one)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return classify(t, what, err)
	}
	return fmt.Errorf("%s: %w", what, otherwise)
}

// ---- operations ----

const opCols = `id, payment_id, kind, request_id, ref_operation_id, bank, mti, stan, rrn, transmission_us, local_us,
 amount, currency, status, auth_code, response_code, bank_response_code, reason, attempts, next_attempt_us,
 last_error, latency_ms, created_us, updated_us, version`

func validOpKind(k OpKind) bool {
	switch k {
	case OpAuthorization, OpCapture, OpVoid, OpRefund, OpReversal, OpAdvice:
		return true
	}
	return false
}

func validOpStatus(s OpStatus) bool {
	switch s {
	case OpPending, OpSent, OpApproved, OpDeclined, OpAcknowledged, OpTimeout, OpQueued, OpFailed:
		return true
	}
	return false
}

func validateOperation(op *Operation) error {
	if op == nil {
		return invalid("nil operation")
	}
	if op.PaymentID == "" {
		return invalid("operation payment id is required")
	}
	if !validOpKind(op.Kind) {
		return invalid("operation kind %q", op.Kind)
	}
	if !validOpStatus(op.Status) {
		return invalid("operation status %q", op.Status)
	}
	if op.Amount < 0 || op.Attempts < 0 || op.LatencyMS < 0 {
		return invalid("operation amount, attempts and latency must not be negative")
	}
	return checkLengths("operation", op.ID, op.PaymentID, op.RequestID, op.RefOperationID, op.Bank, op.MTI, op.STAN,
		op.RRN, op.Currency, op.AuthCode, op.ResponseCode, op.BankResponseCode)
}

func scanOperation(r rowIter) (*Operation, error) {
	var (
		op                              Operation
		kind, status                    string
		attempts                        int64
		trUS, locUS, nextUS, crUS, upUS int64
	)
	err := r.Scan(&op.ID, &op.PaymentID, &kind, &op.RequestID, &op.RefOperationID, &op.Bank, &op.MTI, &op.STAN, &op.RRN, &trUS, &locUS,
		&op.Amount, &op.Currency, &status, &op.AuthCode, &op.ResponseCode, &op.BankResponseCode, &op.Reason, &attempts, &nextUS,
		&op.LastError, &op.LatencyMS, &crUS, &upUS, &op.Version)
	if err != nil {
		return nil, fmt.Errorf("journal: reading operation: %w", err)
	}
	op.Kind, op.Status, op.Attempts = OpKind(kind), OpStatus(status), int(attempts)
	op.TransmissionTime, op.LocalTime, op.NextAttemptAt = fromUS(trUS), fromUS(locUS), fromUS(nextUS)
	op.CreatedAt, op.UpdatedAt = fromUS(crUS), fromUS(upUS)
	return &op, nil
}

// InsertOperation stores a new operation. An empty ID gets "ref_" + ULID
// for a refund and "op_" + ULID otherwise.
func InsertOperation(op *Operation) Mutation {
	if op != nil && op.ID == "" {
		if op.Kind == OpRefund {
			op.ID = NewID(PrefixRefund)
		} else {
			op.ID = NewID(PrefixOperation)
		}
	}
	var created, updated time.Time
	return &mut{
		check: func() error { return validateOperation(op) },
		run: func(ctx context.Context, t *txCtx) error {
			created, updated = op.CreatedAt, op.UpdatedAt
			if created.IsZero() {
				created = t.now
			}
			if updated.IsZero() {
				updated = created
			}
			_, err := t.q.exec(ctx, `INSERT INTO operations (`+opCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				op.ID, op.PaymentID, string(op.Kind), op.RequestID, op.RefOperationID, op.Bank, op.MTI, op.STAN, op.RRN,
				toUS(op.TransmissionTime), toUS(op.LocalTime), op.Amount, op.Currency, string(op.Status), op.AuthCode,
				op.ResponseCode, op.BankResponseCode, cleanText(op.Reason), int64(op.Attempts), toUS(op.NextAttemptAt),
				cleanText(op.LastError), op.LatencyMS, toUS(created), toUS(updated), int64(1))
			if err != nil && t.be.isForeignKey(err) {
				// A statement error aborts a PostgreSQL transaction, so the
				// driver's error code is the only witness of the missing payment.
				return fmt.Errorf("inserting operation %s: payment %s: %w", op.ID, op.PaymentID, ErrNotFound)
			}
			return classify(t, "inserting operation "+op.ID, err)
		},
		after: func() { op.CreatedAt, op.UpdatedAt, op.Version = created, updated, 1 },
	}
}

// SaveOperation updates an operation's mutable fields (message data,
// status, response, attempts, schedule, error, latency) under optimistic
// locking.
func SaveOperation(op *Operation) Mutation {
	var newVersion int64
	var updated time.Time
	return &mut{
		check: func() error {
			if err := validateOperation(op); err != nil {
				return err
			}
			if op.ID == "" || op.Version <= 0 {
				return invalid("operation id and version are required: read it before saving")
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			updated = t.now
			newVersion = op.Version + 1
			// As in SavePayment: bank, STAN and RRN (indexed) are left out
			// of SET when they are as stored, so SQLite does not rewrite
			// the operations_bank_rrn and operations_bank_stan entries;
			// otherwise the full statement below runs.
			n, err := t.q.exec(ctx, `UPDATE operations SET mti = ?, transmission_us = ?, local_us = ?,
 amount = ?, status = ?, auth_code = ?, response_code = ?, bank_response_code = ?, reason = ?, attempts = ?, next_attempt_us = ?,
 last_error = ?, latency_ms = ?, updated_us = ?, version = ? WHERE id = ? AND version = ? AND bank = ? AND stan = ? AND rrn = ?`,
				op.MTI, toUS(op.TransmissionTime), toUS(op.LocalTime),
				op.Amount, string(op.Status), op.AuthCode, op.ResponseCode, op.BankResponseCode, cleanText(op.Reason),
				int64(op.Attempts), toUS(op.NextAttemptAt), cleanText(op.LastError), op.LatencyMS, toUS(updated), newVersion,
				op.ID, op.Version, op.Bank, op.STAN, op.RRN)
			if err != nil {
				return classify(t, "updating operation "+op.ID, err)
			}
			if n == 1 {
				return nil
			}
			n, err = t.q.exec(ctx, `UPDATE operations SET bank = ?, mti = ?, stan = ?, rrn = ?, transmission_us = ?, local_us = ?,
 amount = ?, status = ?, auth_code = ?, response_code = ?, bank_response_code = ?, reason = ?, attempts = ?, next_attempt_us = ?,
 last_error = ?, latency_ms = ?, updated_us = ?, version = ? WHERE id = ? AND version = ?`,
				op.Bank, op.MTI, op.STAN, op.RRN, toUS(op.TransmissionTime), toUS(op.LocalTime),
				op.Amount, string(op.Status), op.AuthCode, op.ResponseCode, op.BankResponseCode, cleanText(op.Reason),
				int64(op.Attempts), toUS(op.NextAttemptAt), cleanText(op.LastError), op.LatencyMS, toUS(updated), newVersion,
				op.ID, op.Version)
			if err != nil {
				return classify(t, "updating operation "+op.ID, err)
			}
			if n == 0 {
				return missingOr(ctx, t, `SELECT 1 FROM operations WHERE id = ?`, op.ID, ErrVersionConflict, "updating operation "+op.ID)
			}
			return nil
		},
		after: func() { op.Version, op.UpdatedAt = newVersion, updated },
	}
}

// ---- messages ----

const msgCols = `id, payment_id, operation_id, bank, direction, mti, stan, fields, sanitized, at_us`

// AppendMessage journals one ISO 8583 message after sanitizing its fields
// (see Sanitize); m.Sanitized reports whether anything had to be removed.
func AppendMessage(m *Message) Mutation {
	var (
		id        int64
		at        time.Time
		fieldsRaw []byte
		sanitized bool
	)
	return &mut{
		check: func() error {
			if err := CheckMessage(m); err != nil {
				return err
			}
			clean, changed := Sanitize(m.Fields)
			b, err := json.Marshal(clean)
			if err != nil {
				return invalid("message fields: %v", err)
			}
			fieldsRaw, sanitized = b, changed
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			at = m.At
			if at.IsZero() {
				at = t.now
			}
			stan := cleanText(m.STAN)
			err := queryOne(ctx, t.q, `INSERT INTO messages (payment_id, operation_id, bank, direction, mti, stan, fields, sanitized, at_us)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, []any{m.PaymentID, m.OperationID, m.Bank, string(m.Direction), m.MTI, stan,
				string(fieldsRaw), sanitized, toUS(at)}, &id)
			return classify(t, "logging message", err)
		},
		after: func() { m.ID, m.At, m.Sanitized = id, at, sanitized },
	}
}

func scanMessage(r rowIter) (*Message, error) {
	var (
		m      Message
		dir    string
		fields string
		atUS   int64
	)
	if err := r.Scan(&m.ID, &m.PaymentID, &m.OperationID, &m.Bank, &dir, &m.MTI, &m.STAN, &fields, &m.Sanitized, &atUS); err != nil {
		return nil, fmt.Errorf("journal: reading message: %w", err)
	}
	m.Direction, m.At = Direction(dir), fromUS(atUS)
	if err := json.Unmarshal([]byte(fields), &m.Fields); err != nil {
		return nil, fmt.Errorf("journal: decoding message %d fields: %w", m.ID, err)
	}
	return &m, nil
}

// ---- idempotency ----

const idemCols = `client, request_id, body_hash, method, path, state, http_status, response, payment_id, created_us, updated_us`

func scanIdem(r rowIter) (*IdempotencyRecord, error) {
	var (
		k          IdempotencyRecord
		state      string
		status     int64
		crUS, upUS int64
	)
	if err := r.Scan(&k.Client, &k.RequestID, &k.BodyHash, &k.Method, &k.Path, &state, &status, &k.Response, &k.PaymentID, &crUS, &upUS); err != nil {
		return nil, fmt.Errorf("journal: reading idempotency key: %w", err)
	}
	k.State, k.HTTPStatus, k.CreatedAt, k.UpdatedAt = IdempotencyState(state), int(status), fromUS(crUS), fromUS(upUS)
	return &k, nil
}

func beginIdempotency(k IdempotencyBegin, res *IdempotencyResult) Mutation {
	return &mut{
		check: func() error {
			if k.Client == "" || k.RequestID == "" || k.BodyHash == "" {
				return invalid("idempotency key needs client, request_id and body hash")
			}
			if len(k.RequestID) > 64 || len(k.Client) > 128 || len(k.BodyHash) > 128 || len(k.Path) > 512 || len(k.Method) > 16 {
				return invalid("idempotency key field too long")
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			now := toUS(t.now)
			n, err := t.q.exec(ctx, `INSERT INTO idempotency_keys (`+idemCols+`) VALUES (?, ?, ?, ?, ?, ?, 0, NULL, '', ?, ?)
 ON CONFLICT (client, request_id) DO NOTHING`, k.Client, k.RequestID, k.BodyHash, k.Method, cleanText(k.Path), string(IdemInFlight), now, now)
			if err != nil {
				return classify(t, "inserting idempotency key", err)
			}
			if n == 1 {
				// Inserted: the row is what was just written, no need
				// to read it back (one statement fewer per request).
				res.Outcome = IdemNew
				res.Record = IdempotencyRecord{
					Client: storedText(k.Client), RequestID: storedText(k.RequestID), BodyHash: storedText(k.BodyHash),
					Method: storedText(k.Method), Path: storedText(cleanText(k.Path)), State: IdemInFlight,
					CreatedAt: fromUS(now), UpdatedAt: fromUS(now),
				}
				return nil
			}
			rec, err := readIdem(ctx, t.q, k.Client, k.RequestID)
			if err != nil {
				return classify(t, "reading idempotency key", err)
			}
			res.Record = *rec
			switch {
			case rec.BodyHash != k.BodyHash:
				res.Outcome = IdemConflict
			case rec.State == IdemDone:
				res.Outcome = IdemReplay
			default:
				res.Outcome = IdemInProgress
			}
			return nil
		},
	}
}

func readIdem(ctx context.Context, q querier, client, requestID string) (*IdempotencyRecord, error) {
	rows, err := q.query(ctx, `SELECT `+idemCols+` FROM idempotency_keys WHERE client = ? AND request_id = ?`, client, requestID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	return scanIdem(rows)
}

// FinishIdempotency stores the response of an in_flight key and marks it
// done; write it with the payment update that produced the response.
func FinishIdempotency(c IdempotencyCompletion) Mutation {
	return &mut{
		check: func() error {
			if c.Client == "" || c.RequestID == "" {
				return invalid("idempotency completion needs client and request_id")
			}
			if c.HTTPStatus < 100 || c.HTTPStatus > 599 {
				return invalid("idempotency completion HTTP status %d", c.HTTPStatus)
			}
			if len(c.Response) > maxResponseLen {
				return invalid("idempotency response is %d bytes, limit %d", len(c.Response), maxResponseLen)
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			resp := c.Response
			if resp == nil {
				resp = []byte{}
			}
			n, err := t.q.exec(ctx, `UPDATE idempotency_keys SET state = ?, http_status = ?, response = ?, payment_id = ?, updated_us = ?
 WHERE client = ? AND request_id = ? AND state = ?`, string(IdemDone), int64(c.HTTPStatus), resp, c.PaymentID, toUS(t.now),
				c.Client, c.RequestID, string(IdemInFlight))
			if err != nil {
				return classify(t, "completing idempotency key", err)
			}
			if n == 0 {
				if _, err := readIdem(ctx, t.q, c.Client, c.RequestID); err != nil {
					return classify(t, "completing idempotency key", err)
				}
				return fmt.Errorf("completing idempotency key: already done: %w", ErrInvalidState)
			}
			return nil
		},
	}
}

// ---- sequences ----

func reserveSequence(name string, n int64, first *int64) Mutation {
	return &mut{
		check: func() error {
			if name == "" || len(name) > 64 {
				return invalid("sequence name must be 1..64 characters")
			}
			if n < 1 || n > 1_000_000 {
				return invalid("sequence block must be 1..1000000")
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			var last int64
			err := queryOne(ctx, t.q, `INSERT INTO sequences (name, value) VALUES (?, ?)
 ON CONFLICT (name) DO UPDATE SET value = sequences.value + excluded.value RETURNING value`, []any{name, n}, &last)
			if err != nil {
				return classify(t, "advancing sequence "+name, err)
			}
			*first = last - n + 1
			return nil
		},
	}
}

// ---- SAF ----

const safCols = `id, bank, kind, payment_id, operation_id, payload, state, attempts, next_attempt_us,
 lease_owner, lease_until_us, last_error, created_us, updated_us`

func validSAFKind(k SAFKind) bool {
	switch k {
	case SAFReversal, SAFCompletion, SAFRefundAdvice, SAFStandInAdvice:
		return true
	}
	return false
}

func scanSAF(r rowIter) (*SAFItem, error) {
	var (
		it                          SAFItem
		kind, state                 string
		attempts                    int64
		nextUS, leaseUS, crUS, upUS int64
	)
	if err := r.Scan(&it.ID, &it.Bank, &kind, &it.PaymentID, &it.OperationID, &it.Payload, &state, &attempts, &nextUS,
		&it.LeaseOwner, &leaseUS, &it.LastError, &crUS, &upUS); err != nil {
		return nil, fmt.Errorf("journal: reading SAF item: %w", err)
	}
	it.Kind, it.State, it.Attempts = SAFKind(kind), SAFState(state), int(attempts)
	it.NextAttemptAt, it.LeaseUntil, it.CreatedAt, it.UpdatedAt = fromUS(nextUS), fromUS(leaseUS), fromUS(crUS), fromUS(upUS)
	return &it, nil
}

// EnqueueSAF adds a SAF item in state queued, due at it.NextAttemptAt (zero:
// now). An empty ID gets "saf_" + ULID. PAN-like digit runs in the payload
// are masked: card data comes from the payment's ciphertext, never from here.
func EnqueueSAF(it *SAFItem) Mutation {
	if it != nil && it.ID == "" {
		it.ID = NewID(PrefixSAF)
	}
	var created, next time.Time
	var payload []byte
	return &mut{
		check: func() error {
			if it == nil {
				return invalid("nil SAF item")
			}
			if it.Bank == "" || it.PaymentID == "" {
				return invalid("SAF item needs bank and payment id")
			}
			if !validSAFKind(it.Kind) {
				return invalid("SAF kind %q", it.Kind)
			}
			if err := checkLengths("SAF item", it.ID, it.Bank, it.PaymentID, it.OperationID); err != nil {
				return err
			}
			if len(it.Payload) > maxPayloadLen {
				return invalid("SAF payload is %d bytes, limit %d", len(it.Payload), maxPayloadLen)
			}
			p, _ := cardvault.MaskPANsIn(string(it.Payload))
			payload = []byte(p)
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			created = t.now
			next = it.NextAttemptAt
			if next.IsZero() {
				next = created
			}
			_, err := t.q.exec(ctx, `INSERT INTO saf_queue (`+safCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, '', 0, ?, ?, ?)`,
				it.ID, it.Bank, string(it.Kind), it.PaymentID, it.OperationID, payload, string(SAFQueued), toUS(next),
				cleanText(it.LastError), toUS(created), toUS(created))
			return classify(t, "enqueueing SAF item "+it.ID, err)
		},
		after: func() {
			it.State, it.Attempts, it.NextAttemptAt, it.CreatedAt, it.UpdatedAt = SAFQueued, 0, next, created, created
			it.LeaseOwner, it.LeaseUntil, it.Payload = "", time.Time{}, payload
		},
	}
}

// safLeased runs an UPDATE on an item owner holds; ErrLeaseLost or
// ErrNotFound when it matched nothing.
func safLeased(what, id, owner, set string, args ...any) Mutation {
	return &mut{
		check: func() error {
			if id == "" || owner == "" {
				return invalid("SAF %s needs id and owner", what)
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			all := append(append([]any{}, args...), toUS(t.now), id, string(SAFInProgress), owner)
			n, err := t.q.exec(ctx, `UPDATE saf_queue SET `+set+`, updated_us = ? WHERE id = ? AND state = ? AND lease_owner = ?`, all...)
			if err != nil {
				return classify(t, what+" SAF item "+id, err)
			}
			if n == 0 {
				return missingOr(ctx, t, `SELECT 1 FROM saf_queue WHERE id = ?`, id, ErrLeaseLost, what+" SAF item "+id)
			}
			return nil
		},
	}
}

// FinishSAF marks an item owner holds as done; write it with the operation
// update that records the bank's acknowledgement.
func FinishSAF(id, owner string) Mutation {
	return safLeased("completing", id, owner, `state = ?, lease_owner = '', lease_until_us = 0`, string(SAFDone))
}

func rescheduleSAF(id, owner string, next time.Time, lastErr string) Mutation {
	return safLeased("rescheduling", id, owner, `state = ?, next_attempt_us = ?, last_error = ?, lease_owner = '', lease_until_us = 0`,
		string(SAFQueued), toUS(next), cleanText(lastErr))
}

func deadSAF(id, owner, lastErr string) Mutation {
	return safLeased("parking", id, owner, `state = ?, last_error = ?, lease_owner = '', lease_until_us = 0`,
		string(SAFDead), cleanText(lastErr))
}

func extendLease(id, owner string, until time.Time) Mutation {
	return safLeased("extending lease of", id, owner, `lease_until_us = ?`, toUS(until))
}

func claimDue(owner string, limit int, leaseFor time.Duration, out *[]*SAFItem) Mutation {
	return &mut{
		check: func() error {
			if owner == "" || limit < 1 || limit > 10000 || leaseFor <= 0 {
				return invalid("claim needs an owner, limit 1..10000 and a positive lease")
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			now := toUS(t.now)
			rows, err := t.q.query(ctx, t.be.claimSQL(), owner, toUS(t.now.Add(leaseFor)), now,
				string(SAFQueued), now, string(SAFInProgress), now, int64(limit))
			if err != nil {
				return classify(t, "claiming SAF items", err)
			}
			defer rows.Close()
			var items []*SAFItem
			for rows.Next() {
				it, err := scanSAF(rows)
				if err != nil {
					return err
				}
				items = append(items, it)
			}
			if err := rows.Err(); err != nil {
				return classify(t, "claiming SAF items", err)
			}
			*out = items
			return nil
		},
	}
}

// claimSQLBase is ClaimDue's statement; %s is the row-locking clause
// (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: none, the database-wide
// write lock serializes claimers). Args: owner, lease until, now, queued,
// now, in_progress, now, limit.
const claimSQLBase = `UPDATE saf_queue SET state = 'in_progress', lease_owner = ?, lease_until_us = ?,
 attempts = attempts + 1, updated_us = ?
 WHERE id IN (SELECT id FROM saf_queue
   WHERE (state = ? AND next_attempt_us <= ?) OR (state = ? AND lease_until_us <= ?)
   ORDER BY next_attempt_us, id LIMIT ? %s)
 RETURNING ` + safCols

func makeDue(id string) Mutation {
	return &mut{
		check: func() error {
			if id == "" {
				return invalid("SAF id is required")
			}
			return nil
		},
		run: func(ctx context.Context, t *txCtx) error {
			now := toUS(t.now)
			n, err := t.q.exec(ctx, `UPDATE saf_queue SET state = ?, next_attempt_us = ?, updated_us = ? WHERE id = ? AND state IN (?, ?)`,
				string(SAFQueued), now, now, id, string(SAFQueued), string(SAFDead))
			if err != nil {
				return classify(t, "making SAF item due", err)
			}
			if n == 0 {
				return missingOr(ctx, t, `SELECT 1 FROM saf_queue WHERE id = ?`, id, ErrInvalidState, "making SAF item "+id+" due")
			}
			return nil
		},
	}
}

func releaseIdempotency(client, requestID string) Mutation {
	return &mut{
		run: func(ctx context.Context, t *txCtx) error {
			n, err := t.q.exec(ctx, `DELETE FROM idempotency_keys WHERE client = ? AND request_id = ? AND state = ?`, client, requestID, string(IdemInFlight))
			if err != nil {
				return classify(t, "releasing idempotency key", err)
			}
			if n == 0 {
				if _, err := readIdem(ctx, t.q, client, requestID); err != nil {
					return classify(t, "releasing idempotency key", err)
				}
				return fmt.Errorf("releasing idempotency key: already done: %w", ErrInvalidState)
			}
			return nil
		},
	}
}
