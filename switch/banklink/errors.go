package banklink

import "errors"

// Errors returned by Send. Every error Send returns wraps exactly one of the
// two classes ErrNotSent or ErrMaybeSent (test with errors.Is), plus a more
// specific sentinel:
//
//	ErrNotSent   nothing reached the wire: safe to route the request elsewhere.
//	  ErrNoConnection  no signed-on connection to this bank
//	  ErrBusy          every usable connection is at its in-flight bound
//	  ErrSTANInUse     the STAN is outstanding on this link
//	  ErrInvalidMessage the message cannot be sent (no MTI, bad STAN, pack error)
//	  ErrSTANUnavailable the STAN source failed or had no free STAN
//	  ErrClosed        the link is closing or closed
//	  ErrCanceled      ctx ended before the request was written
//	ErrMaybeSent the request may have reached the bank: the caller owes a
//	  reversal (or a repeat of an advice).
//	  ErrTimeout        no response within the bank's timeout or ctx deadline
//	  ErrConnectionLost the connection died while the request was pending or
//	                    being written
var (
	ErrNotSent   = errors.New("banklink: request not sent")
	ErrMaybeSent = errors.New("banklink: request may have been sent")

	ErrNoConnection    = errors.New("banklink: no usable connection")
	ErrBusy            = errors.New("banklink: all connections at in-flight limit")
	ErrSTANInUse       = errors.New("banklink: STAN outstanding on this link")
	ErrInvalidMessage  = errors.New("banklink: invalid message")
	ErrSTANUnavailable = errors.New("banklink: no STAN available")
	ErrClosed          = errors.New("banklink: link closed")
	ErrCanceled        = errors.New("banklink: context ended before the request was written")

	ErrTimeout        = errors.New("banklink: no response in time")
	ErrConnectionLost = errors.New("banklink: connection lost while request pending")
)

// sendError carries a class (ErrNotSent or ErrMaybeSent), a specific kind and
// an optional cause, and matches all three with errors.Is.
type sendError struct {
	class error
	kind  error
	msg   string
	cause error
}

func (e *sendError) Error() string {
	s := e.kind.Error()
	if e.msg != "" {
		s += ": " + e.msg
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *sendError) Unwrap() []error {
	errs := []error{e.class, e.kind}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func notSent(kind error, msg string, cause error) error {
	return &sendError{class: ErrNotSent, kind: kind, msg: msg, cause: cause}
}

func maybeSent(kind error, msg string, cause error) error {
	return &sendError{class: ErrMaybeSent, kind: kind, msg: msg, cause: cause}
}

// NotSent reports whether err says the request surely never reached the
// bank, so that it may be routed to another bank without a reversal.
func NotSent(err error) bool { return errors.Is(err, ErrNotSent) }

// MaybeSent reports whether err says the request may have reached the bank:
// the caller must reverse it (or repeat the advice) before giving up.
func MaybeSent(err error) bool { return errors.Is(err, ErrMaybeSent) }
