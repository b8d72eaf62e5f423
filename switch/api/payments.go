package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
)

// readBody reads at most the body limit; a larger body is 413 too_large.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	tooLarge := &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: "request body over the limit of 64 KiB"}
	if r.ContentLength > s.bodyLimit {
		return nil, tooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.bodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, &apiError{Status: http.StatusBadRequest, Code: codeInvalidRequest, Message: "reading the request body failed"}
	}
	return b, nil
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	body, ae := s.readBody(w, r)
	if ae != nil {
		s.fail(w, ri, ae)
		return
	}
	var b authorizeBody
	if err := decodeStrict(body, &b); err != nil {
		s.fail(w, ri, badRequest(asFieldError(err)))
		return
	}
	if requestIDPattern.MatchString(b.RequestID) {
		ri.requestID = b.RequestID
	}
	if b.Type == "purchase" || b.Type == "preauth" {
		ri.typ = b.Type
	}
	req, fe := s.validateAuthorize(&b, ri.client)
	if fe != nil {
		s.fail(w, ri, badRequest(fe))
		return
	}
	// The canonical form: the parsed request re-encoded (fixed field order,
	// no whitespace), with the CVV reduced to whether one was given — a CVV
	// must not be kept, even as a keyed hash.
	canon := b
	if b.Card != nil {
		c := *b.Card
		if c.CVV != "" {
			c.CVV = "present"
		}
		canon.Card = &c
	}
	hash := s.bodyHash(r.Method, r.URL.Path, marshal(canon))
	s.idempotent(w, r, ri, ri.client, b.RequestID, hash, func(ctx context.Context) outcome {
		p, err := s.payments.Authorize(ctx, req)
		if err != nil {
			return s.errorOutcome(ri, err, "authorize")
		}
		ri.describe(p)
		ri.reason = p.Reason
		return outcome{status: http.StatusOK, body: marshal(s.renderPayment(p, false)), paymentID: p.ID}
	})
}

// errorOutcome turns a service error into a stored answer and logs the
// internal ones (the error text is the service's, never card data).
func (s *Server) errorOutcome(ri *reqInfo, err error, what string) outcome {
	ae := classify(err)
	if ae.Status == http.StatusInternalServerError {
		s.log.Error().Err(err).Str("http_request_id", ri.httpID).Str("client", ri.client).Str("request_id", ri.requestID).Msg(what + " failed")
	}
	ri.reason = ae.Code
	return outcome{status: ae.Status, body: ae.body()}
}

func asFieldError(err error) *FieldError {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return &FieldError{Message: "malformed request"}
}

func (s *Server) handleCapture(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	s.handleOperation(w, r, ri, false, s.payments.Capture)
}

func (s *Server) handleVoid(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	s.handleOperation(w, r, ri, false, s.payments.Void)
}

func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	s.withOperation(w, r, ri, true, func(ctx context.Context, req OperationRequest) outcome {
		rf, err := s.payments.Refund(ctx, req)
		if err != nil {
			return s.errorOutcome(ri, err, "refund")
		}
		ri.reason = rf.Reason
		return outcome{status: http.StatusOK, body: marshal(s.renderRefund(rf)), paymentID: req.PaymentID}
	})
}

func (s *Server) handleOperation(w http.ResponseWriter, r *http.Request, ri *reqInfo, amountRequired bool,
	op func(context.Context, OperationRequest) (*Payment, error)) {
	s.withOperation(w, r, ri, amountRequired, func(ctx context.Context, req OperationRequest) outcome {
		p, err := op(ctx, req)
		if err != nil {
			return s.errorOutcome(ri, err, ri.typ)
		}
		ri.reason = p.Reason
		return outcome{status: http.StatusOK, body: marshal(s.renderPayment(p, false)), paymentID: p.ID}
	})
}

// withOperation does what capture, void and refund share: the payment id,
// the body, the idempotency key and the ownership check.
func (s *Server) withOperation(w http.ResponseWriter, r *http.Request, ri *reqInfo, amountRequired bool,
	run func(context.Context, OperationRequest) outcome) {
	id := r.PathValue("id")
	if !paymentIDPattern.MatchString(id) {
		s.fail(w, ri, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "payment not found"})
		return
	}
	ri.paymentID = id
	body, ae := s.readBody(w, r)
	if ae != nil {
		s.fail(w, ri, ae)
		return
	}
	var b operationBody
	if err := decodeStrict(body, &b); err != nil {
		s.fail(w, ri, badRequest(asFieldError(err)))
		return
	}
	if requestIDPattern.MatchString(b.RequestID) {
		ri.requestID = b.RequestID
	}
	if fe := validateOperation(&b, amountRequired); fe != nil {
		s.fail(w, ri, badRequest(fe))
		return
	}
	req := OperationRequest{Client: ri.client, RequestID: b.RequestID, PaymentID: id, Amount: b.Amount}
	hash := s.bodyHash(r.Method, r.URL.Path, marshal(b))
	s.idempotent(w, r, ri, ri.client, b.RequestID, hash, func(ctx context.Context) outcome {
		// A gateway acts only on its own payments; others' are "not found"
		// so that ids cannot be probed.
		p, err := s.payments.Get(ctx, id)
		if err == nil && p.Client != ri.client {
			err = ErrNotFound
		}
		if err != nil {
			return s.errorOutcome(ri, err, "payment look-up")
		}
		ri.describe(p)
		return run(ctx, req)
	})
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	id := r.PathValue("id")
	notFound := &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "payment not found"}
	if !paymentIDPattern.MatchString(id) {
		s.fail(w, ri, notFound)
		return
	}
	ri.paymentID = id
	if ae := strictQuery(r.URL.Query()); ae != nil {
		s.fail(w, ri, ae)
		return
	}
	p, err := s.payments.Get(r.Context(), id)
	if err == nil && ri.client != "" && s.roleOf(ri.client) == RoleGateway && p.Client != ri.client {
		err = ErrNotFound
	}
	s.writePayment(w, ri, p, err)
}

func (s *Server) handleGetByRequestID(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	q := r.URL.Query()
	isOperator := s.roleOf(ri.client) == RoleOperator
	allowed := []string{"request_id"}
	if isOperator {
		allowed = append(allowed, "client")
	}
	if ae := strictQuery(q, allowed...); ae != nil {
		s.fail(w, ri, ae)
		return
	}
	rid := q.Get("request_id")
	if !requestIDPattern.MatchString(rid) {
		s.fail(w, ri, badRequest(&FieldError{Field: "request_id", Message: "request_id query parameter must be 1..64 characters of A-Z a-z 0-9 . _ : -"}))
		return
	}
	ri.requestID = rid
	owner := ri.client
	if isOperator {
		owner = q.Get("client")
		if owner == "" {
			s.fail(w, ri, badRequest(&FieldError{Field: "client", Message: "client query parameter is required for an operator look-up by request_id"}))
			return
		}
	}
	p, err := s.payments.GetByRequestID(r.Context(), owner, rid)
	s.writePayment(w, ri, p, err)
}

func (s *Server) writePayment(w http.ResponseWriter, ri *reqInfo, p *Payment, err error) {
	if err != nil {
		ae := classify(err)
		if ae.Status == http.StatusInternalServerError {
			s.log.Error().Err(err).Str("http_request_id", ri.httpID).Msg("payment look-up failed")
		}
		s.fail(w, ri, ae)
		return
	}
	ri.describe(p)
	writeJSON(w, http.StatusOK, marshal(s.renderPayment(p, true)))
}

func (s *Server) roleOf(client string) string {
	for i := range s.clients {
		if s.clients[i].Name == client {
			return s.clients[i].Role
		}
	}
	return ""
}

// strictQuery rejects query parameters not in allowed and repeated ones.
func strictQuery(q url.Values, allowed ...string) *apiError {
	for k, vs := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		name := safeKey(k)
		if !ok {
			return badRequest(&FieldError{Field: name, Message: "unknown query parameter " + name})
		}
		if len(vs) > 1 {
			return badRequest(&FieldError{Field: name, Message: "query parameter " + name + " given more than once"})
		}
	}
	return nil
}

// errorCodeOf extracts the code of a stored error body for metrics.
func errorCodeOf(body []byte) string {
	var e errorBody
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}
