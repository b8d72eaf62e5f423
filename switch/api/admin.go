package api

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

func unavailableAdmin(what string) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: codeOverloaded, Message: what + " is not available in this process"}
}

func (s *Server) adminError(w http.ResponseWriter, ri *reqInfo, err error, what string) {
	ae := classify(err)
	if ae.Status == http.StatusInternalServerError {
		s.log.Error().Err(err).Str("http_request_id", ri.httpID).Msg(what + " failed")
	}
	s.fail(w, ri, ae)
}

func (s *Server) handleBanks(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.banks == nil {
		s.fail(w, ri, unavailableAdmin("bank status"))
		return
	}
	st, err := s.banks.BankStatus(r.Context())
	if err != nil {
		s.adminError(w, ri, err, "bank status")
		return
	}
	out := make([]bankJSON, 0, len(st))
	for _, b := range st {
		out = append(out, bankJSON{
			Bank: b.Bank, Dialect: b.Dialect, ConnectionsConfigured: b.ConnectionsConfigured,
			ConnectionsUp: b.ConnectionsUp, SignedOn: b.SignedOn, InFlight: b.InFlight,
			LastEcho: s.ts(b.LastEcho), Circuit: b.Circuit, TimeoutsLastMinute: b.TimeoutsLastMinute, Usable: b.Usable,
		})
	}
	writeJSON(w, http.StatusOK, marshal(map[string]any{"banks": out}))
}

func (s *Server) handleRoutes(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.routes == nil {
		s.fail(w, ri, unavailableAdmin("routing"))
		return
	}
	t, err := s.routes.Current(r.Context())
	if err != nil {
		s.adminError(w, ri, err, "routing table")
		return
	}
	writeJSON(w, http.StatusOK, marshal(t))
}

func (s *Server) handleRoutesValidate(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.routes == nil {
		s.fail(w, ri, unavailableAdmin("routing"))
		return
	}
	body, ae := s.readBody(w, r)
	if ae != nil {
		s.fail(w, ri, ae)
		return
	}
	problems, err := s.routes.Validate(r.Context(), body)
	if err != nil {
		s.adminError(w, ri, err, "routing validation")
		return
	}
	if problems == nil {
		problems = []string{}
	}
	writeJSON(w, http.StatusOK, marshal(struct {
		Valid    bool     `json:"valid"`
		Problems []string `json:"problems"`
	}{len(problems) == 0, problems}))
}

func (s *Server) handleRoutesReload(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.routes == nil {
		s.fail(w, ri, unavailableAdmin("routing"))
		return
	}
	t, problems, err := s.routes.Reload(r.Context())
	if err != nil {
		s.adminError(w, ri, err, "routing reload")
		return
	}
	if len(problems) > 0 {
		s.log.Warn().Int("problems", len(problems)).Str("client", ri.client).Msg("routing table reload refused; the table in force stays")
		s.fail(w, ri, &apiError{Status: http.StatusConflict, Code: codeInvalidState,
			Message: "routing table refused (" + strconv.Itoa(len(problems)) + " problems); the table in force stays", Details: problems})
		return
	}
	s.log.Info().Str("client", ri.client).Msg("routing table reloaded by operator")
	writeJSON(w, http.StatusOK, marshal(struct {
		Reloaded bool `json:"reloaded"`
		Table    any  `json:"table"`
	}{true, t}))
}

func (s *Server) handleRoutesExplain(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.routes == nil {
		s.fail(w, ri, unavailableAdmin("routing"))
		return
	}
	qv := r.URL.Query()
	if ae := strictQuery(qv, "pan", "amount", "currency", "merchant_id", "mcc", "type"); ae != nil {
		s.fail(w, ri, ae)
		return
	}
	v := &validator{}
	pan := qv.Get("pan")
	// A full PAN must never travel in a URL (proxy and access logs keep
	// query strings): the router needs no more than 11 digits.
	if len(pan) < 6 || len(pan) > 11 || !isDigits(pan) {
		v.fail("pan", "must be 6 to 11 digits (a BIN or PAN prefix); never send a full PAN")
	}
	amount, err := strconv.ParseInt(qv.Get("amount"), 10, 64)
	if err != nil {
		v.fail("amount", "must be an integer from 1 to 999999999999 (minor units)")
	}
	v.amount("amount", amount)
	if !s.currencies.Known(qv.Get("currency")) {
		v.fail("currency", "must be a currency the switch knows (ISO 4217 alpha-3)")
	}
	typ := qv.Get("type")
	if typ == "" {
		typ = "purchase"
	}
	v.oneOf("type", typ, "purchase", "preauth")
	if m := qv.Get("merchant_id"); m != "" {
		v.ans("merchant_id", m, 1, 15)
	}
	if m := qv.Get("mcc"); m != "" {
		v.digits("mcc", m, 4)
	}
	if v.err != nil {
		s.fail(w, ri, badRequest(v.err))
		return
	}
	q := ExplainQuery{PANPrefix: pan, Amount: amount, Currency: qv.Get("currency"),
		MerchantID: qv.Get("merchant_id"), MCC: qv.Get("mcc"), Type: typ}
	out, err := s.routes.Explain(r.Context(), q)
	if err != nil {
		s.adminError(w, ri, err, "routing explain")
		return
	}
	writeJSON(w, http.StatusOK, marshal(out))
}

func (s *Server) handleSAFList(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.saf == nil {
		s.fail(w, ri, unavailableAdmin("store-and-forward"))
		return
	}
	items, err := s.saf.ListSAF(r.Context())
	if err != nil {
		s.adminError(w, ri, err, "SAF list")
		return
	}
	out := make([]safJSON, 0, len(items))
	for _, it := range items {
		out = append(out, safJSON{
			ID: it.ID, Bank: it.Bank, Kind: it.Kind, PaymentID: it.PaymentID, OperationID: it.OperationID,
			State: it.State, Attempts: it.Attempts, NextAttemptAt: s.ts(it.NextAttemptAt),
			LastError: maskDigitRuns(it.LastError), CreatedAt: s.ts(it.CreatedAt),
		})
	}
	writeJSON(w, http.StatusOK, marshal(map[string]any{"items": out}))
}

func (s *Server) handleSAFRetry(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.saf == nil {
		s.fail(w, ri, unavailableAdmin("store-and-forward"))
		return
	}
	id := r.PathValue("id")
	if !safIDPattern.MatchString(id) {
		s.fail(w, ri, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "SAF item not found"})
		return
	}
	if err := s.saf.RetrySAF(r.Context(), id); err != nil {
		s.adminError(w, ri, err, "SAF retry")
		return
	}
	s.log.Info().Str("client", ri.client).Str("saf_id", id).Msg("SAF item made due by operator")
	writeJSON(w, http.StatusOK, marshal(map[string]any{"id": id, "due": true}))
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request, _ *reqInfo) {
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// handleReadyz runs every readiness check (each bounded by 2 s). The
// answer names failing checks but not their errors, which go to the log.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request, ri *reqInfo) {
	if s.draining.Load() {
		s.fail(w, ri, classify(ErrShuttingDown))
		return
	}
	var failed []string
	for _, c := range s.checks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := c.Check(ctx)
		cancel()
		if err != nil {
			failed = append(failed, c.Name+": not ready")
			s.log.Warn().Err(err).Str("check", c.Name).Msg("readiness check failed")
		}
	}
	if len(failed) > 0 {
		s.fail(w, ri, &apiError{Status: http.StatusServiceUnavailable, Code: "not_ready", Message: "not ready", Details: failed})
		return
	}
	writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
}
