package journal

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults.
const (
	DefaultSQLitePath = "./data/journal.db"
	DefaultMaxBatch   = 256
	// DefaultPostgresCommitters is the PostgreSQL journal's group-commit
	// goroutines (Config.Committers).
	DefaultPostgresCommitters = 8
	DefaultMaxWait            = time.Millisecond
	DefaultBusyTimeout        = 5 * time.Second
	defaultListLimit          = 1000
	maxListLimit              = 10000
)

// Config selects and tunes the journal. Validate names the offending key
// (as "journal.<key>" in the switch's configuration).
type Config struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string
	// DSN: for sqlite a file path (default ./data/journal.db; its directory
	// is created); for postgres a pgx URL or key=value string.
	DSN string
	// Schema (postgres only) is put first on every connection's
	// search_path; "" keeps the server's default.
	Schema string
	// Synchronous (sqlite only) is FULL (default: a commit is on disk when
	// it returns) or NORMAL (faster, may lose the last commits on power
	// loss; refused unless AllowUnsafeSync, as losing a reversal costs money).
	Synchronous     string
	AllowUnsafeSync bool
	// BusyTimeout (sqlite only) is how long a write waits for another
	// process's lock. Default 5s.
	BusyTimeout time.Duration
	// MaxConns bounds the read pool (sqlite, default 4) or the whole pool
	// (postgres, default 2 × Committers, at least 8).
	MaxConns int
	// Committers is the number of group-commit goroutines (sqlite: always
	// 1, SQLite has one writer; postgres default 8: each transaction waits
	// on a round trip per statement, so several batches in flight keep
	// the server busy).
	Committers int
	// MaxBatch is the most writes in one transaction (default 256).
	MaxBatch int
	// MaxWait is how long a committer lingers for writers that are about
	// to submit (default 1ms; it never waits when it has all of them).
	MaxWait time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Hooks receives commit statistics (metrics); optional.
	Hooks *Hooks
}

// Hooks are optional callbacks for metrics. They run on the committer
// goroutine: keep them quick.
type Hooks struct {
	// OnCommit is called after each batch transaction with its size, its
	// duration and its error.
	OnCommit func(batch int, took time.Duration, err error)
}

func (c *Config) setDefaults() {
	if c.Driver == "" {
		c.Driver = DriverSQLite
	}
	if c.Driver == DriverSQLite {
		if c.DSN == "" {
			c.DSN = DefaultSQLitePath
		}
		if c.Synchronous == "" {
			c.Synchronous = "FULL"
		}
		if c.BusyTimeout == 0 {
			c.BusyTimeout = DefaultBusyTimeout
		}
		if c.MaxConns == 0 {
			c.MaxConns = 4
		}
		c.Committers = 1
	}
	if c.Driver == DriverPostgres {
		if c.Committers == 0 {
			c.Committers = DefaultPostgresCommitters
		}
		if c.MaxConns == 0 {
			// Committers each hold a connection for their transaction;
			// readers need their own.
			c.MaxConns = max(8, 2*c.Committers)
		}
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate checks the configuration after defaults are applied.
func (c *Config) Validate() error {
	switch c.Driver {
	case DriverSQLite, DriverPostgres:
	default:
		return fmt.Errorf("journal.driver: %q is not sqlite or postgres", c.Driver)
	}
	if c.DSN == "" {
		return errors.New("journal.dsn: required for postgres")
	}
	if c.Driver == DriverSQLite {
		switch strings.ToUpper(c.Synchronous) {
		case "FULL", "EXTRA":
		case "NORMAL":
			if !c.AllowUnsafeSync {
				return errors.New("journal.synchronous: NORMAL can lose acknowledged commits on power loss; set journal.allow_unsafe_sync to accept that")
			}
		default:
			return fmt.Errorf("journal.synchronous: %q is not FULL, EXTRA or NORMAL", c.Synchronous)
		}
		if c.BusyTimeout < 0 {
			return errors.New("journal.busy_timeout: must not be negative")
		}
	}
	if c.Schema != "" && !validIdent(c.Schema) {
		return fmt.Errorf("journal.schema: %q is not a plain identifier", c.Schema)
	}
	if c.MaxConns < 1 || c.MaxConns > 1000 {
		return errors.New("journal.max_conns: must be 1..1000")
	}
	if c.Committers < 1 || c.Committers > 64 {
		return errors.New("journal.committers: must be 1..64")
	}
	if c.MaxBatch < 1 || c.MaxBatch > 10000 {
		return errors.New("journal.max_batch: must be 1..10000")
	}
	if c.MaxWait < 0 || c.MaxWait > time.Second {
		return errors.New("journal.max_wait: must be 0..1s")
	}
	return nil
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Open opens (creating if needed) the journal, applies pending schema
// migrations and starts the group committer.
func Open(ctx context.Context, cfg Config) (Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var (
		be  backend
		err error
	)
	switch cfg.Driver {
	case DriverSQLite:
		be, err = openSQLite(ctx, cfg)
	case DriverPostgres:
		be, err = openPostgres(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, be, cfg.Now); err != nil {
		return nil, errors.Join(err, be.close())
	}
	return &store{
		be:  be,
		c:   newCommitter(be, cfg.Committers, cfg.MaxBatch, cfg.MaxWait, cfg.Now, cfg.Hooks),
		now: cfg.Now,
	}, nil
}

// SealCard builds a payment's Card: the PAN and expiry sealed by v with the
// payment id as additional data, the PAN's hash and its 6+4 mask. Brand is
// derived from the BIN when brand is "".
func SealCard(v *cardvault.Vault, paymentID, pan, expiry, brand string) (Card, error) {
	if paymentID == "" {
		return Card{}, invalid("sealing a card needs the payment id")
	}
	keyID, ct, err := v.Seal(paymentID, pan, expiry)
	if err != nil {
		return Card{}, fmt.Errorf("journal: sealing card of %s: %w", paymentID, err)
	}
	if brand == "" {
		brand = cardvault.Brand(pan)
	}
	return Card{MaskedPAN: cardvault.MaskPAN(pan), Brand: brand, PANHash: v.Hash(pan), KeyID: keyID, Ciphertext: ct}, nil
}

// OpenCard recovers the PAN and expiry of a payment (to build a reversal,
// advice or completion).
func OpenCard(v *cardvault.Vault, p *Payment) (pan, expiry string, err error) {
	pan, expiry, err = v.Open(p.ID, p.Card.KeyID, p.Card.Ciphertext)
	if err != nil {
		return "", "", fmt.Errorf("journal: opening card of %s: %w", p.ID, err)
	}
	return pan, expiry, nil
}

type store struct {
	be  backend
	c   *committer
	now func() time.Time
}

func (s *store) Write(ctx context.Context, muts ...Mutation) error {
	if len(muts) == 0 {
		return nil
	}
	for _, m := range muts {
		if m == nil {
			return invalid("nil mutation")
		}
		if err := m.validate(); err != nil {
			return err
		}
	}
	return s.c.write(ctx, muts...)
}

func (s *store) CreatePayment(ctx context.Context, p *Payment, op *Operation) error {
	muts := []Mutation{InsertPayment(p)}
	if op != nil {
		if p != nil && op.PaymentID == "" {
			op.PaymentID = p.ID
		}
		muts = append(muts, InsertOperation(op))
	}
	return s.Write(ctx, muts...)
}

func (s *store) UpdatePayment(ctx context.Context, p *Payment) error {
	return s.Write(ctx, SavePayment(p))
}

// queryAll runs a read and scans every row; what names the rows in errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(rowIter) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", what, err)
	}
	return out, nil
}

func (s *store) queryPayments(ctx context.Context, where string, args ...any) ([]*Payment, error) {
	return queryAll(ctx, s.be.reader(), "payments", scanPayment, `SELECT `+paymentCols+` FROM payments `+where, args...)
}

func (s *store) GetPayment(ctx context.Context, id string) (*Payment, error) {
	ps, err := s.queryPayments(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("payment %s: %w", cleanText(id), ErrNotFound)
	}
	return ps[0], nil
}

func (s *store) GetPaymentByRequestID(ctx context.Context, client, requestID string) (*Payment, error) {
	ps, err := s.queryPayments(ctx, `WHERE client = ? AND request_id = ?`, client, requestID)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("payment of request %s: %w", cleanText(requestID), ErrNotFound)
	}
	return ps[0], nil
}

func listLimit(n int) int {
	if n <= 0 {
		return defaultListLimit
	}
	return min(n, maxListLimit)
}

func (s *store) ListPayments(ctx context.Context, f PaymentFilter) ([]*Payment, error) {
	var conds []string
	var args []any
	add := func(c string, a any) { conds = append(conds, c); args = append(args, a) }
	if f.Client != "" {
		add("client = ?", f.Client)
	}
	if f.Bank != "" {
		add("bank = ?", f.Bank)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.PANHash != "" {
		add("pan_hash = ?", f.PANHash)
	}
	if f.RRN != "" {
		add("rrn = ?", f.RRN)
	}
	if !f.CreatedFrom.IsZero() {
		add("created_us >= ?", toUS(f.CreatedFrom))
	}
	if !f.CreatedBefore.IsZero() {
		add("created_us < ?", toUS(f.CreatedBefore))
	}
	if f.AfterID != "" {
		add("id > ?", f.AfterID)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, int64(listLimit(f.Limit)))
	return s.queryPayments(ctx, where+` ORDER BY id LIMIT ?`, args...)
}

func (s *store) SetReconStates(ctx context.Context, marks []ReconMark) error {
	if len(marks) == 0 {
		return nil
	}
	return s.Write(ctx, SetReconStates(marks))
}

func (s *store) CardActivity(ctx context.Context, panHash string, since time.Time) (CardActivity, error) {
	var a CardActivity
	err := queryOne(ctx, s.be.reader(), `SELECT COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payments
 WHERE pan_hash = ? AND created_us >= ? AND status NOT IN (?, ?)`, []any{panHash, toUS(since), string(PaymentDeclined), string(PaymentVoided)},
		&a.Count, &a.Amount)
	if err != nil {
		return a, fmt.Errorf("journal: summing card activity: %w", err)
	}
	return a, nil
}

func (s *store) AddOperation(ctx context.Context, op *Operation) error {
	return s.Write(ctx, InsertOperation(op))
}

func (s *store) UpdateOperation(ctx context.Context, op *Operation) error {
	return s.Write(ctx, SaveOperation(op))
}

func (s *store) queryOps(ctx context.Context, where string, args ...any) ([]*Operation, error) {
	return queryAll(ctx, s.be.reader(), "operations", scanOperation, `SELECT `+opCols+` FROM operations `+where, args...)
}

func (s *store) GetOperation(ctx context.Context, id string) (*Operation, error) {
	ops, err := s.queryOps(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("operation %s: %w", cleanText(id), ErrNotFound)
	}
	return ops[0], nil
}

func (s *store) ListOperations(ctx context.Context, paymentID string) ([]*Operation, error) {
	return s.queryOps(ctx, `WHERE payment_id = ? ORDER BY created_us, id LIMIT ?`, paymentID, int64(maxListLimit))
}

func (s *store) ListOperationsByStatus(ctx context.Context, statuses []OpStatus, before time.Time, limit int) ([]*Operation, error) {
	if len(statuses) == 0 {
		return nil, invalid("listing operations needs at least one status")
	}
	ph := make([]string, len(statuses))
	args := make([]any, 0, len(statuses)+2)
	for i, st := range statuses {
		ph[i] = "?"
		args = append(args, string(st))
	}
	where := `WHERE status IN (` + strings.Join(ph, ", ") + `)`
	if !before.IsZero() {
		where += ` AND created_us <= ?`
		args = append(args, toUS(before))
	}
	args = append(args, int64(listLimit(limit)))
	return s.queryOps(ctx, where+` ORDER BY created_us, id LIMIT ?`, args...)
}

func (s *store) ListOperationsByStatusAfter(ctx context.Context, statuses []OpStatus, before time.Time, after OpCursor, limit int) ([]*Operation, error) {
	if len(statuses) == 0 {
		return nil, invalid("listing operations needs at least one status")
	}
	ph := make([]string, len(statuses))
	args := make([]any, 0, len(statuses)+6)
	for i, st := range statuses {
		ph[i] = "?"
		args = append(args, string(st))
	}
	where := `WHERE status IN (` + strings.Join(ph, ", ") + `)`
	if !before.IsZero() {
		where += ` AND created_us <= ?`
		args = append(args, toUS(before))
	}
	if !after.CreatedAt.IsZero() || after.ID != "" {
		us := toUS(after.CreatedAt)
		where += ` AND (created_us > ? OR (created_us = ? AND id > ?))`
		args = append(args, us, us, after.ID)
	}
	args = append(args, int64(listLimit(limit)))
	return s.queryOps(ctx, where+` ORDER BY created_us, id LIMIT ?`, args...)
}

func (s *store) FindOperationsBySTAN(ctx context.Context, bank, stan string, limit int) ([]*Operation, error) {
	if bank == "" || stan == "" {
		return nil, invalid("finding operations by STAN needs a bank and a STAN")
	}
	return s.queryOps(ctx, `WHERE bank = ? AND stan = ? ORDER BY created_us DESC, id DESC LIMIT ?`, bank, stan, int64(listLimit(limit)))
}

func (s *store) LogMessage(ctx context.Context, m *Message) error {
	return s.Write(ctx, AppendMessage(m))
}

func (s *store) ListMessages(ctx context.Context, paymentID string) ([]*Message, error) {
	return queryAll(ctx, s.be.reader(), "messages", scanMessage,
		`SELECT `+msgCols+` FROM messages WHERE payment_id = ? ORDER BY id LIMIT ?`, paymentID, int64(maxListLimit))
}

func (s *store) BeginIdempotency(ctx context.Context, k IdempotencyBegin) (IdempotencyResult, error) {
	var res IdempotencyResult
	if err := s.Write(ctx, beginIdempotency(k, &res)); err != nil {
		return IdempotencyResult{}, err
	}
	return res, nil
}

func (s *store) CompleteIdempotency(ctx context.Context, c IdempotencyCompletion) error {
	return s.Write(ctx, FinishIdempotency(c))
}

func (s *store) GetIdempotency(ctx context.Context, client, requestID string) (*IdempotencyRecord, error) {
	rec, err := readIdem(ctx, s.be.reader(), client, requestID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("idempotency key %s: %w", cleanText(requestID), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: reading idempotency key: %w", err)
	}
	return rec, nil
}

func (s *store) ReleaseIdempotency(ctx context.Context, client, requestID string) error {
	return s.Write(ctx, releaseIdempotency(client, requestID))
}

func (s *store) ListInFlightIdempotency(ctx context.Context, before time.Time, limit int) ([]*IdempotencyRecord, error) {
	args := []any{string(IdemInFlight)}
	where := `WHERE state = ?`
	if !before.IsZero() {
		where += ` AND created_us <= ?`
		args = append(args, toUS(before))
	}
	args = append(args, int64(listLimit(limit)))
	return s.queryIdem(ctx, where+` ORDER BY created_us LIMIT ?`, args...)
}

func (s *store) ListInFlightIdempotencyAfter(ctx context.Context, before time.Time, after IdemCursor, limit int) ([]*IdempotencyRecord, error) {
	args := []any{string(IdemInFlight)}
	where := `WHERE state = ?`
	if !before.IsZero() {
		where += ` AND created_us <= ?`
		args = append(args, toUS(before))
	}
	if !after.CreatedAt.IsZero() || after.Client != "" || after.RequestID != "" {
		us := toUS(after.CreatedAt)
		where += ` AND (created_us > ? OR (created_us = ? AND (client > ? OR (client = ? AND request_id > ?))))`
		args = append(args, us, us, after.Client, after.Client, after.RequestID)
	}
	args = append(args, int64(listLimit(limit)))
	return s.queryIdem(ctx, where+` ORDER BY created_us, client, request_id LIMIT ?`, args...)
}

func (s *store) queryIdem(ctx context.Context, where string, args ...any) ([]*IdempotencyRecord, error) {
	return queryAll(ctx, s.be.reader(), "idempotency keys", scanIdem, `SELECT `+idemCols+` FROM idempotency_keys `+where, args...)
}

func (s *store) PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int64, error) {
	if before.IsZero() {
		return 0, invalid("purging idempotency keys needs a cut-off time")
	}
	if limit <= 0 {
		limit = maxListLimit
	}
	var n int64
	err := s.Write(ctx, &mut{run: func(ctx context.Context, t *txCtx) error {
		var err error
		n, err = t.q.exec(ctx, `DELETE FROM idempotency_keys WHERE (client, request_id) IN (
 SELECT client, request_id FROM idempotency_keys WHERE state = ? AND updated_us < ? LIMIT ?)`,
			string(IdemDone), toUS(before), int64(min(limit, maxListLimit)))
		return classify(t, "purging idempotency keys", err)
	}})
	return n, err
}

func (s *store) NextSequence(ctx context.Context, name string) (int64, error) {
	return s.ReserveSequence(ctx, name, 1)
}

func (s *store) ReserveSequence(ctx context.Context, name string, n int64) (int64, error) {
	var first int64
	if err := s.Write(ctx, reserveSequence(name, n, &first)); err != nil {
		return 0, err
	}
	return first, nil
}

func (s *store) Enqueue(ctx context.Context, it *SAFItem) error {
	return s.Write(ctx, EnqueueSAF(it))
}

func (s *store) ClaimDue(ctx context.Context, owner string, limit int, leaseFor time.Duration) ([]*SAFItem, error) {
	var items []*SAFItem
	if err := s.Write(ctx, claimDue(owner, limit, leaseFor, &items)); err != nil {
		return nil, err
	}
	sort.Slice(items, func(i, j int) bool {
		if !items[i].NextAttemptAt.Equal(items[j].NextAttemptAt) {
			return items[i].NextAttemptAt.Before(items[j].NextAttemptAt)
		}
		return items[i].ID < items[j].ID
	})
	return items, nil
}

func (s *store) ExtendLease(ctx context.Context, id, owner string, leaseFor time.Duration) error {
	if leaseFor <= 0 {
		return invalid("lease must be positive")
	}
	return s.Write(ctx, extendLease(id, owner, s.now().Add(leaseFor)))
}

func (s *store) CompleteSAF(ctx context.Context, id, owner string) error {
	return s.Write(ctx, FinishSAF(id, owner))
}

func (s *store) RescheduleSAF(ctx context.Context, id, owner string, next time.Time, lastErr string) error {
	return s.Write(ctx, rescheduleSAF(id, owner, next, lastErr))
}

func (s *store) DeadSAF(ctx context.Context, id, owner, lastErr string) error {
	return s.Write(ctx, deadSAF(id, owner, lastErr))
}

func (s *store) MakeDue(ctx context.Context, id string) error {
	return s.Write(ctx, makeDue(id))
}

func (s *store) querySAF(ctx context.Context, where string, args ...any) ([]*SAFItem, error) {
	return queryAll(ctx, s.be.reader(), "SAF items", scanSAF, `SELECT `+safCols+` FROM saf_queue `+where, args...)
}

func (s *store) GetSAF(ctx context.Context, id string) (*SAFItem, error) {
	items, err := s.querySAF(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("SAF item %s: %w", cleanText(id), ErrNotFound)
	}
	return items[0], nil
}

func (s *store) ListSAF(ctx context.Context, f SAFFilter) ([]*SAFItem, error) {
	states := f.States
	if len(states) == 0 {
		states = []SAFState{SAFQueued, SAFInProgress, SAFDead}
	}
	ph := make([]string, len(states))
	var args []any
	for i, st := range states {
		ph[i] = "?"
		args = append(args, string(st))
	}
	where := `WHERE state IN (` + strings.Join(ph, ", ") + `)`
	if f.Bank != "" {
		where += ` AND bank = ?`
		args = append(args, f.Bank)
	}
	if f.PaymentID != "" {
		where += ` AND payment_id = ?`
		args = append(args, f.PaymentID)
	}
	args = append(args, int64(listLimit(f.Limit)))
	return s.querySAF(ctx, where+` ORDER BY next_attempt_us, id LIMIT ?`, args...)
}

func (s *store) Ping(ctx context.Context) error {
	if err := s.be.ping(ctx); err != nil {
		return fmt.Errorf("journal: ping %s: %w", s.be.name(), err)
	}
	return nil
}

func (s *store) Close() error {
	s.c.close()
	return s.be.close()
}
