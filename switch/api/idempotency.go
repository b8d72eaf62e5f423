package api

import (
	"context"
	"net/http"
	"time"
)

type idemKey struct{ client, requestID string }

// inflightCall is a POST this process is running; replays arriving
// meanwhile wait on done instead of polling the store.
type inflightCall struct{ done chan struct{} }

// outcome is the HTTP answer of a POST, as stored for its request_id.
type outcome struct {
	status    int
	body      []byte
	paymentID string
}

// Poll intervals for a replay whose original runs in another process.
const (
	pollMin = 10 * time.Millisecond
	pollMax = 250 * time.Millisecond
)

// idempotent runs a POST exactly once per (client, request_id):
//
//   - a new key runs run and stores its answer (status and body) for replays;
//   - a replay with the same canonical body gets the stored answer, with the
//     same status, and nothing reaches the engine;
//   - a replay while the original is in flight waits for it: on the original's
//     completion in this process, or by polling the store when another
//     process (or a run a crash interrupted) holds the key;
//   - a different body under the same request_id is 409 idempotency_conflict.
//
// Answers that say "nothing was recorded or sent" (503) release the key so a
// retry with the same request_id runs afresh.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, ri *reqInfo, client, requestID, hash string, run func(ctx context.Context) outcome) {
	ctx := r.Context()
	key := idemKey{client, requestID}
	deadline := time.NewTimer(s.replayWait)
	defer deadline.Stop()
	poll := pollMin
	for {
		s.mu.Lock()
		if f, busy := s.inflight[key]; busy {
			s.mu.Unlock()
			select {
			case <-f.done:
				continue // re-read the store: done, conflict, or released
			case <-ctx.Done():
				return // the caller left; nothing to answer
			case <-deadline.C:
				s.fail(w, ri, stillInProgress())
				return
			}
		}
		f := &inflightCall{done: make(chan struct{})}
		s.inflight[key] = f
		s.mu.Unlock()

		oc, rec, err := s.idem.Begin(ctx, IdemBegin{Client: client, RequestID: requestID, BodyHash: hash, Method: r.Method, Path: r.URL.Path})
		if err != nil || oc != IdemNew {
			s.release(key, f)
		}
		if err != nil {
			s.log.Error().Err(err).Str("client", client).Str("request_id", requestID).Msg("idempotency begin failed")
			s.fail(w, ri, overloaded()) // nothing was sent: safe to retry
			return
		}
		switch oc {
		case IdemNew:
			res := s.safeRun(serverCtx(r), ri, run)
			// The answer goes out before its idempotency record is
			// stored: the outcome is already journaled, a replay in
			// this process waits for f, one in another process sees
			// the key in flight and polls, and a crash in between
			// leaves the key to stale-key recovery (RecoverStaleKeys),
			// which settles it from the journal. Storing it first
			// cost every request one more commit wait.
			s.respond(w, ri, res.status, res.body)
			s.bg.Add(1)
			go func() {
				defer s.bg.Done()
				s.store(r, client, requestID, res)
				s.release(key, f)
			}()
			return
		case IdemReplay:
			ri.replayed = true
			s.metrics.replays.WithLabelValues("stored").Inc()
			ri.paymentID = rec.PaymentID
			w.Header().Set("Idempotent-Replayed", "true")
			s.respond(w, ri, rec.HTTPStatus, rec.Response)
			return
		case IdemConflict:
			s.fail(w, ri, &apiError{Status: http.StatusConflict, Code: codeIdempotencyConflict,
				Message: "request_id was already used with a different request", Field: "request_id"})
			return
		case IdemInProgress:
			t := time.NewTimer(poll)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			case <-deadline.C:
				t.Stop()
				s.fail(w, ri, stillInProgress())
				return
			}
			poll = min(poll*2, pollMax)
			s.metrics.replays.WithLabelValues("waited").Inc()
		default:
			s.log.Error().Int("outcome", int(oc)).Msg("idempotency store returned an unknown outcome")
			s.fail(w, ri, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"})
			return
		}
	}
}

// safeRun runs a request's work; a panic in it becomes a stored 500 rather
// than a key left in flight that every replay would wait on.
func (s *Server) safeRun(ctx context.Context, ri *reqInfo, run func(ctx context.Context) outcome) (res outcome) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Str("http_request_id", ri.httpID).Str("client", ri.client).Str("request_id", ri.requestID).Msg("panic while processing a request")
			e := &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"}
			res = outcome{status: e.Status, body: e.body()}
		}
	}()
	return run(ctx)
}

func stillInProgress() *apiError {
	e := overloaded()
	e.Message = "the original request with this request_id is still in progress; retry later with the same request_id"
	return e
}

func (s *Server) release(key idemKey, f *inflightCall) {
	s.mu.Lock()
	if s.inflight[key] == f {
		delete(s.inflight, key)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
	default:
		close(f.done)
	}
}

// store keeps the answer for replays, or releases the key when the answer
// is a 503 (nothing was recorded or sent, a retry must run again).
func (s *Server) store(r *http.Request, client, requestID string, res outcome) {
	ctx, cancel := context.WithTimeout(serverCtx(r), 10*time.Second)
	defer cancel()
	if res.status == http.StatusServiceUnavailable {
		if err := s.idem.Release(ctx, client, requestID); err != nil {
			s.log.Error().Err(err).Str("client", client).Str("request_id", requestID).Msg("releasing idempotency key failed")
		}
		return
	}
	err := s.idem.Complete(ctx, IdemCompletion{Client: client, RequestID: requestID, HTTPStatus: res.status, Response: res.body, PaymentID: res.paymentID})
	if err != nil {
		// The answer still goes out; the key stays in flight and crash
		// recovery (journal ListInFlightIdempotency) settles it.
		s.log.Error().Err(err).Str("client", client).Str("request_id", requestID).Msg("storing idempotent response failed")
	}
}

func (s *Server) respond(w http.ResponseWriter, ri *reqInfo, status int, body []byte) {
	if status >= 400 && ri.reason == "" {
		ri.reason = errorCodeOf(body)
	}
	writeJSON(w, status, body)
}
