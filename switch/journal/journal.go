// Package journal is the switch's durable record of everything it does: every
// payment and each operation on it, every ISO 8583 message exchanged (masked),
// the upstream idempotency keys, the STAN/RRN counters and the
// store-and-forward (SAF) queue of reversals and advices still owed to a bank.
//
// The engine writes a record BEFORE anything goes to a bank and the outcome
// after; crash recovery, reversals and SAF are built on it. Nothing returned
// from a write is acknowledged before it is durable (committed, and fsynced
// by the database). Concurrent writes are group-committed: one transaction
// carries many callers' writes, each caller still waits for its own ack.
//
// Two implementations sit behind one Store interface, chosen by Config.Driver:
// SQLite (modernc.org/sqlite, the default) and PostgreSQL (pgx v5). Card data
// is never stored in clear: a payment carries only the masked PAN, an HMAC of
// the PAN and an AES-256-GCM ciphertext produced by package cardvault.
package journal

import (
	"context"
	"errors"
	"time"
)

// Store is the journal. All methods are safe for concurrent use. Every write
// method returns only once its data is durable, or with an error (in which
// case nothing of that call was applied). Writes honour ctx while waiting for
// the commit; a write whose ctx ends while its batch is already committing may
// still have been applied (as with any database), so callers re-read on doubt.
type Store interface {
	// Write applies the mutations atomically in one transaction: either all
	// of them are durable on a nil return or none is. Use it to tie together
	// what must not be separated, e.g. "operation timed out" + "enqueue its
	// reversal", or "payment approved" + "idempotency key done".
	Write(ctx context.Context, muts ...Mutation) error

	// CreatePayment stores a new payment and, when op is not nil, its first
	// operation (normally the pending authorization) atomically. Empty IDs
	// are generated ("pay_"/"op_" + ULID); zero timestamps are set to now.
	CreatePayment(ctx context.Context, p *Payment, op *Operation) error
	// UpdatePayment stores the mutable fields of p if p.Version is still the
	// stored version (optimistic locking), then increments p.Version. A stale
	// version is ErrVersionConflict: re-read and re-decide.
	UpdatePayment(ctx context.Context, p *Payment) error
	// GetPayment reads one payment; ErrNotFound if unknown.
	GetPayment(ctx context.Context, id string) (*Payment, error)
	// GetPaymentByRequestID finds the payment created by (client, request_id).
	GetPaymentByRequestID(ctx context.Context, client, requestID string) (*Payment, error)
	// ListPayments returns payments matching f, oldest first.
	ListPayments(ctx context.Context, f PaymentFilter) ([]*Payment, error)
	// SetReconStates records reconciliation outcomes (at most
	// MaxReconMarks per call, in one transaction): ReconState, and ReconRef
	// unless the mark's Ref is empty. It does not change Version: the
	// payment's own writes never touch these columns. Unknown payment ids
	// are skipped; writing the same marks again changes nothing.
	SetReconStates(ctx context.Context, marks []ReconMark) error
	// CardActivity sums the payments made with one card (by PAN hash) since
	// a time, for stand-in per-card limits. Declined and fully voided
	// payments are not counted (they hold no funds).
	CardActivity(ctx context.Context, panHash string, since time.Time) (CardActivity, error)

	// AddOperation stores a new operation of an existing payment.
	AddOperation(ctx context.Context, op *Operation) error
	// UpdateOperation stores the mutable fields of op under optimistic
	// locking, like UpdatePayment.
	UpdateOperation(ctx context.Context, op *Operation) error
	// GetOperation reads one operation; ErrNotFound if unknown.
	GetOperation(ctx context.Context, id string) (*Operation, error)
	// ListOperations returns a payment's operations, oldest first.
	ListOperations(ctx context.Context, paymentID string) ([]*Operation, error)
	// ListOperationsByStatus returns operations in any of the statuses whose
	// creation is at or before before (zero: any), oldest first, at most
	// limit (0: 1000). Crash recovery uses it to find pending/sent work.
	ListOperationsByStatus(ctx context.Context, statuses []OpStatus, before time.Time, limit int) ([]*Operation, error)
	// ListOperationsByStatusAfter is ListOperationsByStatus resuming after
	// the cursor (created time, then id), so that a caller can page past
	// rows it cannot settle. A zero cursor starts at the oldest.
	ListOperationsByStatusAfter(ctx context.Context, statuses []OpStatus, before time.Time, after OpCursor, limit int) ([]*Operation, error)
	// FindOperationsBySTAN returns the operations of bank carrying stan,
	// newest first, at most limit (0: 1000): a late response is matched by
	// bank + STAN, and STANs wrap, so the newest is the live one.
	FindOperationsBySTAN(ctx context.Context, bank, stan string, limit int) ([]*Operation, error)

	// LogMessage journals one ISO 8583 message. The field map is sanitized
	// before it is written (see Sanitize): full PANs are masked, CVV,
	// cryptograms, track data and PIN blocks are dropped.
	LogMessage(ctx context.Context, m *Message) error
	// ListMessages returns the messages of a payment, oldest first.
	ListMessages(ctx context.Context, paymentID string) ([]*Message, error)

	// BeginIdempotency atomically inserts (client, request_id) as in_flight
	// or returns the record already there; the Outcome says which and how it
	// compares with the request's body hash.
	BeginIdempotency(ctx context.Context, k IdempotencyBegin) (IdempotencyResult, error)
	// CompleteIdempotency stores the response of an in_flight key and marks
	// it done. Completing a key that is already done is ErrInvalidState.
	CompleteIdempotency(ctx context.Context, c IdempotencyCompletion) error
	// GetIdempotency reads a key; ErrNotFound if unknown.
	GetIdempotency(ctx context.Context, client, requestID string) (*IdempotencyRecord, error)
	// ReleaseIdempotency deletes an in_flight key whose request was refused
	// before anything was journaled or sent (e.g. 503 overloaded), so that a
	// retry with the same request_id starts afresh. A done key is kept:
	// ErrInvalidState.
	ReleaseIdempotency(ctx context.Context, client, requestID string) error
	// ListInFlightIdempotency returns in_flight keys created at or before
	// before, oldest first, at most limit (0: 1000): work a crash interrupted.
	ListInFlightIdempotency(ctx context.Context, before time.Time, limit int) ([]*IdempotencyRecord, error)
	// ListInFlightIdempotencyAfter is ListInFlightIdempotency resuming after
	// the cursor (created time, client, request id), so that keys that
	// cannot be settled yet do not hide newer ones. A zero cursor starts at
	// the oldest.
	ListInFlightIdempotencyAfter(ctx context.Context, before time.Time, after IdemCursor, limit int) ([]*IdempotencyRecord, error)
	// PurgeIdempotency deletes up to limit (0: 10000) done keys last
	// updated before before and returns how many it deleted; call it until
	// it returns 0. In-flight keys are never purged.
	PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int64, error)

	// NextSequence returns the next value of the named counter: 1, 2, 3 ...,
	// never repeating, also across processes sharing one database. Counters
	// are created on first use. Use SequenceValue to wrap it (STAN 1..999999).
	NextSequence(ctx context.Context, name string) (int64, error)
	// ReserveSequence reserves a block of n consecutive values of the named
	// counter and returns the first; the caller owns [first, first+n).
	ReserveSequence(ctx context.Context, name string, n int64) (first int64, err error)

	// Enqueue adds a SAF item (state queued). Use the EnqueueSAF mutation
	// with Write to enqueue in the same transaction as the operation that
	// creates the debt.
	Enqueue(ctx context.Context, it *SAFItem) error
	// ClaimDue leases up to limit items that are due (queued with
	// next_attempt_at <= now, or in_progress with an expired lease) to owner
	// for leaseFor, increments their attempts and returns them oldest-due
	// first. Items leased to another owner whose lease is live are never
	// returned. Safe across processes (PostgreSQL: FOR UPDATE SKIP LOCKED).
	ClaimDue(ctx context.Context, owner string, limit int, leaseFor time.Duration) ([]*SAFItem, error)
	// ExtendLease pushes the lease of an item owner holds to now+leaseFor.
	ExtendLease(ctx context.Context, id, owner string, leaseFor time.Duration) error
	// CompleteSAF marks an item owner holds as done (the bank acknowledged).
	// ErrLeaseLost if owner no longer holds the lease.
	CompleteSAF(ctx context.Context, id, owner string) error
	// RescheduleSAF returns an item owner holds to the queue, due at next,
	// recording why the attempt failed. ErrLeaseLost if the lease is gone.
	RescheduleSAF(ctx context.Context, id, owner string, next time.Time, lastErr string) error
	// DeadSAF parks an item owner holds as dead (needs an operator).
	DeadSAF(ctx context.Context, id, owner string, lastErr string) error
	// MakeDue makes a queued or dead item due now (operator retry); an
	// in_progress or done item is ErrInvalidState.
	MakeDue(ctx context.Context, id string) error
	// GetSAF reads one SAF item; ErrNotFound if unknown.
	GetSAF(ctx context.Context, id string) (*SAFItem, error)
	// ListSAF returns SAF items matching f ordered by next_attempt_at.
	ListSAF(ctx context.Context, f SAFFilter) ([]*SAFItem, error)

	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Close stops the committer after flushing queued writes and closes
	// the database. Writes after Close fail with ErrClosed.
	Close() error
}

// Errors returned by stores; test with errors.Is.
var (
	ErrNotFound        = errors.New("journal: not found")
	ErrDuplicate       = errors.New("journal: duplicate")
	ErrVersionConflict = errors.New("journal: version conflict (record changed since it was read)")
	ErrInvalidState    = errors.New("journal: invalid state")
	ErrLeaseLost       = errors.New("journal: SAF lease not held")
	ErrInvalid         = errors.New("journal: invalid record")
	ErrClosed          = errors.New("journal: store closed")
)

// PaymentType is purchase (one-stage) or preauth (two-stage).
type PaymentType string

// Payment types.
const (
	TypePurchase PaymentType = "purchase"
	TypePreauth  PaymentType = "preauth"
)

// PaymentStatus is the payment's state as the upstream API shows it, plus
// pending for a payment journaled but not yet decided.
type PaymentStatus string

// Payment statuses.
const (
	PaymentPending  PaymentStatus = "pending"  // journaled, authorization not answered yet
	PaymentApproved PaymentStatus = "approved" // approved (by the bank or in stand-in)
	PaymentDeclined PaymentStatus = "declined" // declined, timed out or no bank
	PaymentVoided   PaymentStatus = "voided"   // fully voided
)

// ReconState is the reconciliation state of a payment, written by
// reconciliation (switch/recon) through SetReconStates when a run of a
// clearing file completes; "" until then. Payment writes (SavePayment)
// never change it.
type ReconState string

// Reconciliation states.
const (
	ReconNone      ReconState = ""
	ReconMatched   ReconState = "matched"
	ReconMismatch  ReconState = "mismatch"
	ReconMissing   ReconState = "missing" // in the journal, not in the clearing file
	ReconUnmatched ReconState = "unmatched"
	// ReconNotCleared: correctly absent from clearing (a pre-authorization
	// never captured, a payment voided in full).
	ReconNotCleared ReconState = "not_cleared"
)

// ReconMark is one payment's reconciliation outcome for SetReconStates.
type ReconMark struct {
	PaymentID string
	State     ReconState
	// Ref is the clearing row reference; "" keeps the stored one.
	Ref string
}

// MaxReconMarks bounds one SetReconStates call.
const MaxReconMarks = 10000

// Merchant is the card acceptor of a payment.
type Merchant struct {
	ID            string `json:"id"`
	TerminalID    string `json:"terminal_id"`
	MCC           string `json:"mcc"`
	Name          string `json:"name"`
	City          string `json:"city"`
	Country       string `json:"country"`
	SubMerchantID string `json:"sub_merchant_id,omitempty"`
}

// Card is the card data a payment keeps. Only MaskedPAN and Brand are in
// clear; the PAN and expiry are inside Ciphertext, sealed by cardvault with
// the key KeyID and the payment id as additional data.
type Card struct {
	MaskedPAN  string // first 6 + last 4, e.g. 400000******0010
	Brand      string // visa, mastercard, ...
	PANHash    string // hex HMAC-SHA256 of the PAN under the configured hash key
	KeyID      uint32 // cardvault key id Ciphertext was sealed with
	Ciphertext []byte // AES-256-GCM nonce||ciphertext||tag of PAN and expiry
	// Source is how the card data was captured: keyed, network_token,
	// credential_on_file (see bankmsg.CardSource).
	Source string
	// Wallet is apple_pay, google_pay or "".
	Wallet string
}

// Payment is one payment (purchase or preauth) and its money state.
type Payment struct {
	ID        string // "pay_" + ULID
	Client    string // upstream client that created it
	RequestID string // its request_id
	Type      PaymentType
	Status    PaymentStatus
	Amount    int64  // minor units
	Currency  string // ISO 4217 alpha-3
	Merchant  Merchant
	OrderID   string
	// Description is free text; any PAN-like digit run in it is masked.
	Description string
	Card        Card

	Bank       string // bank name ("alfa", "sber")
	Route      string // routing rule that chose the bank
	AcquirerID string // DE32 used on the authorization (for DE90 later)
	STAN       string // DE11 of the authorization
	RRN        string // DE37 of the authorization
	// TransmissionTime is DE7 of the authorization (UTC) and LocalTime its
	// DE12/13; both are needed for DE90 and clearing matching.
	TransmissionTime time.Time
	LocalTime        time.Time

	AuthCode         string
	ResponseCode     string // normalized ISO 8583:1987 code
	BankResponseCode string // the bank's own code when it differs
	Reason           string // normalized reason (reason-codes.md)
	ReasonCode       int
	StandIn          bool
	// NetworkTransactionID is the scheme's id returned on an initial
	// stored-credential payment.
	NetworkTransactionID string

	CapturedAmount int64
	VoidedAmount   int64
	RefundedAmount int64

	ReconState ReconState
	// ReconRef names the clearing row the payment's sale matched, as
	// "<bank>/<settlement day>/<line>" (e.g. "alfa/2026-11-30/17"); "" when
	// none. Written with ReconState.
	ReconRef string

	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is the optimistic-locking counter: 1 after create, +1 per
	// update. Callers never set it.
	Version int64
}

// PaymentFilter selects payments for ListPayments. Zero fields match all.
type PaymentFilter struct {
	Client        string
	Bank          string
	Status        PaymentStatus
	PANHash       string
	RRN           string    // the authorization's DE37 (clearing matching)
	CreatedFrom   time.Time // inclusive
	CreatedBefore time.Time // exclusive
	AfterID       string    // keyset pagination: ids greater than this
	Limit         int       // 0: 1000
}

// CardActivity is what one card did since a time.
type CardActivity struct {
	Count  int64 // payments neither declined nor voided
	Amount int64 // their amounts summed (any currency; callers filter by currency via ListPayments when they need to)
}

// OpKind is what an operation does to a payment.
type OpKind string

// Operation kinds.
const (
	OpAuthorization OpKind = "authorization" // 0100 / 0200
	OpCapture       OpKind = "capture"       // completion 0220
	OpVoid          OpKind = "void"          // upstream void, sent as a reversal
	OpRefund        OpKind = "refund"        // 0200 200000 or 0220 refund advice
	OpReversal      OpKind = "reversal"      // switch-initiated (timeout, late approval)
	OpAdvice        OpKind = "advice"        // stand-in advice 0120/0220
)

// OpStatus is where an operation is in its life.
type OpStatus string

// Operation statuses: pending → sent → approved/declined/acknowledged, or
// timeout/queued (a SAF item will finish it) or failed (not sent).
const (
	OpPending      OpStatus = "pending"
	OpSent         OpStatus = "sent"
	OpApproved     OpStatus = "approved"
	OpDeclined     OpStatus = "declined"
	OpAcknowledged OpStatus = "acknowledged"
	OpTimeout      OpStatus = "timeout"
	OpQueued       OpStatus = "queued"
	OpFailed       OpStatus = "failed"
)

// Operation is one thing done to a payment at a bank.
type Operation struct {
	ID        string // "op_" + ULID; refunds: "ref_" + ULID
	PaymentID string
	Kind      OpKind
	// RequestID is the upstream request_id that caused it ("" for
	// switch-initiated reversals and advices).
	RequestID string
	// RefOperationID is the operation this one refers to (a reversal's or
	// completion's original), "" when none.
	RefOperationID string
	Bank           string
	MTI            string
	STAN           string
	RRN            string
	// TransmissionTime (DE7) and LocalTime (DE12/13) of this operation's
	// message, kept for DE90 of anything that later refers to it.
	TransmissionTime time.Time
	LocalTime        time.Time
	Amount           int64
	Currency         string
	Status           OpStatus
	AuthCode         string
	ResponseCode     string
	BankResponseCode string
	Reason           string
	Attempts         int
	NextAttemptAt    time.Time // zero when nothing is scheduled
	LastError        string    // PAN-like digit runs are masked
	LatencyMS        int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Version          int64
}

// Direction of a logged message.
type Direction string

// Directions.
const (
	DirOut Direction = "out" // switch → bank
	DirIn  Direction = "in"  // bank → switch
)

// Message is one ISO 8583 message as journaled. Fields maps the field number
// in decimal ("2", "48", "126") — or a subfield path ("48.92") — to its value
// as text. The caller masks DE2 and leaves out CVV and cryptograms; the
// journal sanitizes again whatever it is given.
type Message struct {
	ID          int64 // assigned by the store
	PaymentID   string
	OperationID string
	Bank        string
	Direction   Direction
	MTI         string
	STAN        string
	Fields      map[string]string
	At          time.Time // zero: now
	// Sanitized is set by the store when it had to mask or drop something
	// the caller should already have removed (a bug upstream worth an alert).
	Sanitized bool
}

// IdempotencyState of a key.
type IdempotencyState string

// Idempotency states.
const (
	IdemInFlight IdempotencyState = "in_flight"
	IdemDone     IdempotencyState = "done"
)

// IdempotencyBegin is the start of an upstream POST.
type IdempotencyBegin struct {
	Client    string
	RequestID string
	// BodyHash is the sha256 of the canonical request body (hex or raw);
	// replays compare it. Build it with BodyHash.
	BodyHash string
	// Method and Path identify the endpoint (e.g. "POST",
	// "/v1/payments/pay_x/capture"), kept for operators.
	Method string
	Path   string
}

// IdempotencyRecord is a stored key.
type IdempotencyRecord struct {
	Client     string
	RequestID  string
	BodyHash   string
	Method     string
	Path       string
	State      IdempotencyState
	HTTPStatus int    // when done
	Response   []byte // response body when done
	PaymentID  string // the payment the request created or acted on, when known
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// OpCursor is a position in operations ordered by creation time, then id:
// the last row of the previous page.
type OpCursor struct {
	CreatedAt time.Time
	ID        string
}

// IdemCursor is a position in idempotency keys ordered by creation time,
// client and request id: the last key of the previous page.
type IdemCursor struct {
	CreatedAt time.Time
	Client    string
	RequestID string
}

// IdempotencyOutcome tells the API what to do with a request.
type IdempotencyOutcome int

// Outcomes of BeginIdempotency.
const (
	// IdemNew: the key was inserted in_flight; process the request.
	IdemNew IdempotencyOutcome = iota + 1
	// IdemReplay: same body, done; return the stored status and body.
	IdemReplay
	// IdemInProgress: same body, still in flight; wait and re-read.
	IdemInProgress
	// IdemConflict: a different body used this request_id: 409.
	IdemConflict
)

// String names the outcome.
func (o IdempotencyOutcome) String() string {
	switch o {
	case IdemNew:
		return "new"
	case IdemReplay:
		return "replay"
	case IdemInProgress:
		return "in_progress"
	case IdemConflict:
		return "conflict"
	}
	return "unknown"
}

// IdempotencyResult is BeginIdempotency's answer; Record is the stored key
// (the new one for IdemNew).
type IdempotencyResult struct {
	Outcome IdempotencyOutcome
	Record  IdempotencyRecord
}

// IdempotencyCompletion is the response stored for a key.
type IdempotencyCompletion struct {
	Client     string
	RequestID  string
	HTTPStatus int
	Response   []byte
	PaymentID  string
}

// SAFKind is what a SAF item sends.
type SAFKind string

// SAF item kinds.
const (
	SAFReversal      SAFKind = "reversal"       // 0400/0401 or 0420/0421
	SAFCompletion    SAFKind = "completion"     // capture 0220/0221
	SAFRefundAdvice  SAFKind = "refund_advice"  // Bank B refund 0220/0221
	SAFStandInAdvice SAFKind = "standin_advice" // 0120/0121, 0220/0221
)

// SAFState of an item.
type SAFState string

// SAF states.
const (
	SAFQueued     SAFState = "queued"
	SAFInProgress SAFState = "in_progress"
	SAFDone       SAFState = "done"
	SAFDead       SAFState = "dead"
)

// SAFItem is a message owed to a bank that must be repeated until the bank
// acknowledges it.
type SAFItem struct {
	ID          string // "saf_" + ULID
	Bank        string
	Kind        SAFKind
	PaymentID   string
	OperationID string
	// Payload is what is needed to rebuild the message (the engine's
	// encoding, e.g. JSON of the bank request without card data). It must
	// not hold card data: the PAN comes from the payment's ciphertext.
	// PAN-like digit runs in it are masked before it is stored.
	Payload       []byte
	State         SAFState
	Attempts      int
	NextAttemptAt time.Time // zero on Enqueue: due now
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SAFFilter selects SAF items for ListSAF. Zero fields match all.
type SAFFilter struct {
	Bank      string
	PaymentID string
	States    []SAFState // empty: queued, in_progress and dead (not done)
	Limit     int        // 0: 1000
}
