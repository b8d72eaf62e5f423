package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Error codes of the contract's error table, plus internal_error (500) and
// method_not_allowed (405) for cases the contract does not list.
const (
	codeInvalidRequest      = "invalid_request"
	codeUnauthorized        = "unauthorized"
	codeForbidden           = "forbidden"
	codeNotFound            = "not_found"
	codeIdempotencyConflict = "idempotency_conflict"
	codeInvalidState        = "invalid_state"
	codeTooLarge            = "too_large"
	codeRateLimited         = "rate_limited"
	codeOverloaded          = "overloaded"
	codeShuttingDown        = "shutting_down"
	codeInternal            = "internal_error"
	codeMethodNotAllowed    = "method_not_allowed"
)

// apiError is a non-2xx answer.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	// Details lists problems for operator endpoints (routing table refused).
	Details []string
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Field   string   `json:"field,omitempty"`
	Details []string `json:"details,omitempty"`
}

func (e *apiError) body() []byte {
	b, _ := json.Marshal(errorBody{Error: errorJSON{Code: e.Code, Message: e.Message, Field: e.Field, Details: e.Details}})
	return b
}

func badRequest(fe *FieldError) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeInvalidRequest, Message: fe.Message, Field: fe.Field}
}

// classify maps a service error to its HTTP answer.
func classify(err error) *apiError {
	var se *StateError
	var fe *FieldError
	switch {
	case errors.Is(err, ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "not found"}
	case errors.As(err, &se):
		return &apiError{Status: http.StatusConflict, Code: codeInvalidState, Message: maskDigitRuns(se.Message)}
	case errors.As(err, &fe):
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidRequest, Message: maskDigitRuns(fe.Message), Field: fe.Field}
	case errors.Is(err, ErrShuttingDown):
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeShuttingDown, Message: "the switch is shutting down; nothing was sent to a bank; retry with the same request_id"}
	case errors.Is(err, ErrOverloaded):
		return overloaded()
	}
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"}
}

func overloaded() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: codeOverloaded, Message: "the switch is overloaded; nothing was sent to a bank; retry with the same request_id"}
}

// paymentJSON is the contract's payment object.
type paymentJSON struct {
	ID                   string             `json:"id"`
	RequestID            string             `json:"request_id"`
	Type                 string             `json:"type"`
	Status               string             `json:"status"`
	Amount               int64              `json:"amount"`
	Currency             string             `json:"currency"`
	Card                 cardJSON           `json:"card"`
	AuthCode             string             `json:"auth_code,omitempty"`
	RRN                  string             `json:"rrn,omitempty"`
	STAN                 string             `json:"stan,omitempty"`
	Bank                 string             `json:"bank,omitempty"`
	Route                string             `json:"route,omitempty"`
	ResponseCode         string             `json:"response_code,omitempty"`
	BankResponseCode     string             `json:"bank_response_code,omitempty"`
	Reason               string             `json:"reason,omitempty"`
	ReasonCode           int                `json:"reason_code"`
	CardholderMessage    *CardholderMessage `json:"cardholder_message,omitempty"`
	NetworkTransactionID string             `json:"network_transaction_id,omitempty"`
	StandIn              bool               `json:"stand_in"`
	CapturedAmount       int64              `json:"captured_amount,omitempty"`
	VoidedAmount         int64              `json:"voided_amount,omitempty"`
	CreatedAt            string             `json:"created_at"`
	Operations           *[]operationJSON   `json:"operations,omitempty"`
}

type cardJSON struct {
	MaskedPAN string `json:"masked_pan"`
	Brand     string `json:"brand,omitempty"`
}

type operationJSON struct {
	Kind          string `json:"kind"`
	ID            string `json:"id,omitempty"`
	MTI           string `json:"mti,omitempty"`
	STAN          string `json:"stan,omitempty"`
	Status        string `json:"status"`
	ResponseCode  string `json:"response_code,omitempty"`
	Amount        int64  `json:"amount,omitempty"`
	At            string `json:"at"`
	LatencyMS     *int64 `json:"latency_ms,omitempty"` // set when the bank answered (0 allowed)
	Attempts      *int   `json:"attempts,omitempty"`   // set on queued operations (0 allowed)
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
}

type refundJSON struct {
	ID               string `json:"id"`
	PaymentID        string `json:"payment_id"`
	Status           string `json:"status"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency"`
	RRN              string `json:"rrn,omitempty"`
	ResponseCode     string `json:"response_code,omitempty"`
	BankResponseCode string `json:"bank_response_code,omitempty"`
	Reason           string `json:"reason,omitempty"`
	CreatedAt        string `json:"created_at"`
}

// ts formats a time as RFC 3339 with the banks' zone offset (+05:00);
// zero stays empty.
func (s *Server) ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.loc).Format(time.RFC3339)
}

func (s *Server) renderPayment(p *Payment, withOps bool) paymentJSON {
	out := paymentJSON{
		ID:                   p.ID,
		RequestID:            p.RequestID,
		Type:                 p.Type,
		Status:               p.Status,
		Amount:               p.Amount,
		Currency:             p.Currency,
		Card:                 cardJSON{MaskedPAN: maskDigitRuns(p.MaskedPAN), Brand: p.Brand},
		AuthCode:             p.AuthCode,
		RRN:                  p.RRN,
		STAN:                 p.STAN,
		Bank:                 p.Bank,
		Route:                p.Route,
		ResponseCode:         p.ResponseCode,
		BankResponseCode:     p.BankResponseCode,
		Reason:               p.Reason,
		ReasonCode:           p.ReasonCode,
		CardholderMessage:    p.CardholderMessage,
		NetworkTransactionID: p.NetworkTransactionID,
		StandIn:              p.StandIn,
		CapturedAmount:       p.CapturedAmount,
		VoidedAmount:         p.VoidedAmount,
		CreatedAt:            s.ts(p.CreatedAt),
	}
	if p.Status == "declined" {
		out.AuthCode = "" // the contract: no auth_code on a declined payment
	}
	if withOps {
		ops := make([]operationJSON, 0, len(p.Operations))
		for _, o := range p.Operations {
			oj := operationJSON{
				Kind: o.Kind, ID: o.ID, MTI: o.MTI, STAN: o.STAN, Status: o.Status,
				ResponseCode: o.ResponseCode, Amount: o.Amount, At: s.ts(o.At),
			}
			if o.BankAnswered {
				oj.LatencyMS = &o.LatencyMS
			}
			if o.Status == "queued" {
				oj.Attempts = &o.Attempts
				oj.NextAttemptAt = s.ts(o.NextAttemptAt)
			}
			ops = append(ops, oj)
		}
		out.Operations = &ops
	}
	return out
}

func (s *Server) renderRefund(r *Refund) refundJSON {
	return refundJSON{
		ID: r.ID, PaymentID: r.PaymentID, Status: r.Status, Amount: r.Amount, Currency: r.Currency,
		RRN: r.RRN, ResponseCode: r.ResponseCode, BankResponseCode: r.BankResponseCode,
		Reason: r.Reason, CreatedAt: s.ts(r.CreatedAt),
	}
}

type bankJSON struct {
	Bank                  string `json:"bank"`
	Dialect               string `json:"dialect,omitempty"`
	ConnectionsConfigured int    `json:"connections_configured"`
	ConnectionsUp         int    `json:"connections_up"`
	SignedOn              int    `json:"signed_on"`
	InFlight              int    `json:"in_flight"`
	LastEcho              string `json:"last_echo,omitempty"`
	Circuit               string `json:"circuit"`
	TimeoutsLastMinute    int    `json:"timeouts_last_minute"`
	Usable                bool   `json:"usable"`
}

type safJSON struct {
	ID            string `json:"id"`
	Bank          string `json:"bank"`
	Kind          string `json:"kind"`
	PaymentID     string `json:"payment_id"`
	OperationID   string `json:"operation_id,omitempty"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	CreatedAt     string `json:"created_at"`
}

// writeJSON writes a 2xx/4xx/5xx JSON body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing to do about it
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed structs are marshalled; this cannot happen
		// short of a programming error, which must not leak as a 200.
		return []byte(`{"error":{"code":"internal_error","message":"internal error"}}`)
	}
	return b
}
