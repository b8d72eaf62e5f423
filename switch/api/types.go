package api

import (
	"context"
	"errors"
	"time"
)

// The API depends only on the small interfaces below; cmd/switchd wires the
// engine, journal, routing holder and bank links to them.

// Payments is the payment engine as the HTTP layer uses it. Requests reach
// it validated. Errors it returns are classified with the error values of
// this package (ErrNotFound, *StateError, *FieldError, ErrOverloaded,
// ErrShuttingDown); anything else is an internal error (500).
type Payments interface {
	Authorize(ctx context.Context, req AuthorizeRequest) (*Payment, error)
	Capture(ctx context.Context, req OperationRequest) (*Payment, error)
	Void(ctx context.Context, req OperationRequest) (*Payment, error)
	Refund(ctx context.Context, req OperationRequest) (*Refund, error)
	// Get returns the payment with its operations, oldest first.
	Get(ctx context.Context, id string) (*Payment, error)
	// GetByRequestID returns the payment that (client, requestID) created,
	// with its operations.
	GetByRequestID(ctx context.Context, client, requestID string) (*Payment, error)
}

// IdempotencyStore keeps upstream request_ids durably (the journal), so a
// replay after a restart still finds its result.
type IdempotencyStore interface {
	// Begin inserts the key as in flight, or reports what is already there.
	Begin(ctx context.Context, b IdemBegin) (IdemOutcome, IdemRecord, error)
	// Complete stores the response of an in-flight key.
	Complete(ctx context.Context, c IdemCompletion) error
	// Release deletes an in-flight key whose request was refused before
	// anything was recorded or sent, so a retry starts afresh.
	Release(ctx context.Context, client, requestID string) error
}

// Routes is the routing table holder, for the operator endpoints.
type Routes interface {
	// Current is the table in force (JSON-encodable: version, checksum, rules).
	Current(ctx context.Context) (any, error)
	// Validate checks a table given as YAML or JSON without applying it and
	// returns every problem; none means valid.
	Validate(ctx context.Context, table []byte) ([]string, error)
	// Reload re-reads the table file. When it is invalid the table in force
	// stays and the problems are returned (with a nil table).
	Reload(ctx context.Context) (table any, problems []string, err error)
	// Explain says which rule q matches and why, and the banks it would try.
	Explain(ctx context.Context, q ExplainQuery) (any, error)
}

// Banks reports the bank links' health.
type Banks interface {
	BankStatus(ctx context.Context) ([]BankStatus, error)
}

// SAF is the store-and-forward queue, for operators.
type SAF interface {
	// ListSAF returns the items not done yet, next due first.
	ListSAF(ctx context.Context) ([]SAFItem, error)
	// RetrySAF makes an item due now: ErrNotFound, or *StateError when the
	// item is being sent or already done.
	RetrySAF(ctx context.Context, id string) error
}

// Check is one readiness probe (journal reachable, a bank link usable).
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Errors the services return, mapped to HTTP statuses by the API.
var (
	// ErrNotFound: unknown payment or SAF item (404 not_found).
	ErrNotFound = errors.New("not found")
	// ErrOverloaded: refused before anything was recorded or sent (503 overloaded).
	ErrOverloaded = errors.New("overloaded")
	// ErrShuttingDown: refused while draining (503 shutting_down).
	ErrShuttingDown = errors.New("shutting down")
)

// StateError is an operation the payment's state does not allow (409
// invalid_state). Message is shown to the caller and must hold no card data.
type StateError struct{ Message string }

func (e *StateError) Error() string { return "invalid state: " + e.Message }

// FieldError is input the service found malformed (400 invalid_request).
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// IdemOutcome is what Begin found.
type IdemOutcome int

// Outcomes of IdempotencyStore.Begin.
const (
	IdemNew        IdemOutcome = iota + 1 // inserted: process the request
	IdemReplay                            // same body, done: return the stored response
	IdemInProgress                        // same body, in flight: wait
	IdemConflict                          // different body: 409 idempotency_conflict
)

// IdemBegin starts an upstream POST.
type IdemBegin struct {
	Client, RequestID string
	BodyHash          string // hex HMAC-SHA256 of the canonical request
	Method, Path      string
}

// IdemRecord is a stored key.
type IdemRecord struct {
	Done       bool
	HTTPStatus int
	Response   []byte
	PaymentID  string
}

// IdemCompletion is the response stored for a key.
type IdemCompletion struct {
	Client, RequestID string
	HTTPStatus        int
	Response          []byte
	PaymentID         string
}

// AuthorizeRequest is a validated POST /v1/payments. Card data lives only
// here and in the engine's encrypted journal column: it is never logged.
type AuthorizeRequest struct {
	Client           string
	RequestID        string
	Type             string // purchase | preauth
	Amount           int64
	Currency         string // alpha-3, known
	Merchant         Merchant
	Card             *Card         // exactly one of Card and NetworkToken
	NetworkToken     *NetworkToken //
	ThreeDS          *ThreeDS
	StoredCredential *StoredCredential
	OrderID          string
	Description      string
}

// Merchant is the card acceptor.
type Merchant struct {
	ID            string `json:"id"`
	TerminalID    string `json:"terminal_id"`
	MCC           string `json:"mcc"`
	Name          string `json:"name"`
	City          string `json:"city"`
	Country       string `json:"country"`
	SubMerchantID string `json:"sub_merchant_id,omitempty"`
}

// Card is a keyed card.
type Card struct {
	PAN    string `json:"pan"`
	Expiry string `json:"expiry"` // YYMM
	CVV    string `json:"cvv,omitempty"`
	Holder string `json:"holder,omitempty"`
}

// NetworkToken is a wallet's network token with its cryptogram.
type NetworkToken struct {
	Token      string `json:"token"`
	Expiry     string `json:"expiry"`
	Cryptogram string `json:"cryptogram"`
	Wallet     string `json:"wallet"` // apple_pay | google_pay
	ECI        string `json:"eci,omitempty"`
}

// ThreeDS is 3-D Secure authentication data.
type ThreeDS struct {
	Version             string `json:"version"`
	ECI                 string `json:"eci"`
	AuthenticationValue string `json:"authentication_value"`
	DSTransactionID     string `json:"ds_transaction_id"`
}

// StoredCredential describes a credential-on-file payment.
type StoredCredential struct {
	Initiator            string `json:"initiator"`
	Type                 string `json:"type"`
	Sequence             string `json:"sequence"`
	NetworkTransactionID string `json:"network_transaction_id,omitempty"`
}

// OperationRequest is a validated capture, void or refund. Amount is nil
// when the caller left it out (capture: the authorized amount; void: the
// remaining amount). For a refund it is always set.
type OperationRequest struct {
	Client    string
	RequestID string
	PaymentID string
	Amount    *int64
}

// Payment is the API's view of a payment. MaskedPAN must already be masked
// (the renderer masks again anything that looks like a full PAN).
type Payment struct {
	ID                   string
	Client               string // owner; other gateway clients get 404
	RequestID            string
	Type                 string
	Status               string // approved | declined | voided ...
	Amount               int64
	Currency             string
	MaskedPAN            string
	Brand                string
	AuthCode             string
	RRN                  string
	STAN                 string
	Bank                 string
	Route                string
	ResponseCode         string
	BankResponseCode     string
	Reason               string
	ReasonCode           int
	CardholderMessage    *CardholderMessage
	NetworkTransactionID string
	StandIn              bool
	CapturedAmount       int64
	VoidedAmount         int64
	CreatedAt            time.Time
	// Operations are set on look-ups (GET), oldest first.
	Operations []Operation
}

// CardholderMessage is the text the gateway shows the cardholder.
type CardholderMessage struct {
	EN string `json:"en"`
	RU string `json:"ru"`
	KK string `json:"kk"`
}

// Operation is one thing done to a payment at a bank.
type Operation struct {
	Kind             string // authorization, capture, void, refund, reversal, advice
	ID               string // refunds: the refund id
	RequestID        string // the upstream request_id that created it (capture, void, refund)
	RRN              string // refunds: the refund's own RRN
	Reason           string // refunds: the normalized reason
	BankResponseCode string // refunds: the bank's own code
	MTI              string
	STAN             string
	Status           string // approved, declined, acknowledged, queued, pending, failed (docs/api.md)
	ResponseCode     string
	Amount           int64
	At               time.Time
	LatencyMS        int64
	// BankAnswered: the bank answered the operation's message, so
	// latency_ms is shown even when it rounds to 0.
	BankAnswered  bool
	Attempts      int       // queued reversals and advices
	NextAttemptAt time.Time // queued reversals and advices
}

// Refund is the API's view of a refund.
type Refund struct {
	ID               string
	PaymentID        string
	Status           string // approved | declined
	Amount           int64
	Currency         string
	RRN              string
	ResponseCode     string
	BankResponseCode string
	Reason           string
	CreatedAt        time.Time
}

// ExplainQuery is GET /v1/admin/routes/explain. PANPrefix holds at most the
// first 11 digits of the PAN the operator gave: routing needs no more, and
// the full PAN goes no further than the handler.
type ExplainQuery struct {
	PANPrefix  string
	Amount     int64
	Currency   string
	MerchantID string
	MCC        string
	Type       string
}

// BankStatus is one bank link's health.
type BankStatus struct {
	Bank                  string
	Dialect               string
	ConnectionsConfigured int
	ConnectionsUp         int
	SignedOn              int
	InFlight              int
	LastEcho              time.Time
	Circuit               string // closed | open | half_open
	TimeoutsLastMinute    int
	Usable                bool
}

// SAFItem is a reversal or advice still owed to a bank.
type SAFItem struct {
	ID            string
	Bank          string
	Kind          string
	PaymentID     string
	OperationID   string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
}
