package engine

import (
	"errors"
	"fmt"
)

// Kind classifies an engine error for the API layer.
type Kind int

const (
	// KindNotFound: unknown payment id (404 not_found).
	KindNotFound Kind = iota + 1
	// KindInvalidState: the action is not allowed in the payment's state
	// (409 invalid_state, with Message).
	KindInvalidState
	// KindInvalidInput: the input is malformed in a way the API layer
	// should have caught (400 invalid_request, Field names it).
	KindInvalidInput
	// KindUnavailable: nothing was sent to a bank and nothing was
	// recorded; safe to retry (503).
	KindUnavailable
)

func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "not_found"
	case KindInvalidState:
		return "invalid_state"
	case KindInvalidInput:
		return "invalid_request"
	case KindUnavailable:
		return "unavailable"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Error is the typed error the engine returns for conditions the API maps
// to a status code. Message never contains card data.
type Error struct {
	Kind    Kind
	Field   string // for KindInvalidInput
	Message string
	Err     error // cause, for KindUnavailable
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Kind.String() + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Kind.String() + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, or 0 when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func invalidState(msg string) *Error { return &Error{Kind: KindInvalidState, Message: msg} }

func invalidInput(field, msg string) *Error {
	return &Error{Kind: KindInvalidInput, Field: field, Message: msg}
}

func notFound(id string) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf("payment %s not found", id)}
}

func unavailable(msg string, err error) *Error {
	return &Error{Kind: KindUnavailable, Message: msg, Err: err}
}
