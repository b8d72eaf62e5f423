// Package reconhttp exposes reconciliation and settlement as operator HTTP
// endpoints, for the API server to mount behind its operator-token check:
//
//	POST /v1/admin/recon?bank=alfa[&file_name=A_CLR_20261130.csv][&force=true]
//	     body: the clearing file as the bank delivered it
//	GET  /v1/admin/recon?bank=alfa&date=2026-11-30[&format=json|csv|html]
//	GET  /v1/admin/recon/payments/{id}
//	GET  /v1/admin/settlement?date=2026-11-30[&format=json|csv|xlsx]
//
// Errors use the contract's body {"error": {"code", "message", "field"}}.
// Messages never carry file contents: the clearing reader's errors name a
// line and a column, never a value.
package reconhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/recon"
	"github.com/acquirer/h2hswitch/switch/recon/report"
)

// Handlers serves the endpoints. Authentication and authorization are the
// mounting server's job.
type Handlers struct {
	Svc *recon.Service
	// MaxBody bounds an uploaded clearing file; default
	// recon.DefaultMaxUploadBytes (512 MiB), streamed to a spool file. The
	// API's 64 KiB limit for payment requests must not wrap these routes.
	MaxBody int64
}

// Route is one endpoint: method, Go 1.22 path pattern and handler.
type Route struct {
	Method, Pattern string
	Handler         http.HandlerFunc
}

// Routes returns the endpoints, for a server that mounts them behind its
// own authentication (switch/api's operator routes).
func (h *Handlers) Routes() []Route {
	return []Route{
		{http.MethodPost, "/v1/admin/recon", h.PostRecon},
		{http.MethodGet, "/v1/admin/recon", h.GetRecon},
		{http.MethodGet, "/v1/admin/recon/payments/{id}", h.GetPaymentState},
		{http.MethodGet, "/v1/admin/settlement", h.GetSettlement},
	}
}

// Register mounts the routes on mux (Go 1.22+ patterns).
func (h *Handlers) Register(mux *http.ServeMux) {
	for _, rt := range h.Routes() {
		mux.HandleFunc(rt.Method+" "+rt.Pattern, rt.Handler)
	}
}

// UploadTimeout bounds the upload and reconciliation of one file through
// PostRecon: the server's own read and write timeouts (seconds, sized for
// payment requests) are lifted for this request only.
const UploadTimeout = 15 * time.Minute

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]apiError{"error": {Code: code, Message: msg, Field: field}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fail maps a service error onto the contract's statuses.
func fail(w http.ResponseWriter, err error) {
	var fe *clearing.FileError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, recon.ErrFileTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "clearing file too large", "")
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_request", fe.Error(), "file")
	case errors.Is(err, recon.ErrUnknownBank):
		writeError(w, http.StatusBadRequest, "invalid_request", "unknown bank", "bank")
	case errors.Is(err, recon.ErrAlreadyReconciled):
		writeError(w, http.StatusConflict, "invalid_state", "a different clearing file was already reconciled for this bank and settlement day; repeat with force=true to replace it", "")
	case errors.Is(err, recon.ErrBadRequest):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error(), "")
	case errors.Is(err, recon.ErrStatesNotWritten):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the run is recorded but the payments' reconciliation states could not be written to the journal; upload the same file again to retry", "")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "overloaded", "the request was cancelled", "")
	default:
		writeError(w, http.StatusInternalServerError, "internal", "reconciliation failed; see the switch log", "")
	}
}

func dateParam(w http.ResponseWriter, r *http.Request) (calendar.Date, bool) {
	d, err := calendar.ParseISO(r.URL.Query().Get("date"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "date: want YYYY-MM-DD", "date")
		return calendar.Date{}, false
	}
	return d, true
}

// PostRecon reconciles the uploaded clearing file.
func (h *Handlers) PostRecon(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bank := q.Get("bank")
	if _, ok := h.Svc.Bank(bank); !ok {
		writeError(w, http.StatusBadRequest, "invalid_request", "unknown bank", "bank")
		return
	}
	force := false
	if v := q.Get("force"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "force: want true or false", "force")
			return
		}
		force = b
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = recon.DefaultMaxUploadBytes
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "clearing file too large", "")
		return
	}
	// A clearing file of a few hundred MiB takes longer to upload and
	// reconcile than the server's timeouts for payment requests allow.
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(UploadTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	body := http.MaxBytesReader(w, r.Body, limit)
	defer func() { _ = body.Close() }()
	res, err := h.Svc.Run(r.Context(), bank, body, recon.Options{FileName: q.Get("file_name"), Force: force})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, report.DocumentOf(res, nil))
}

// GetRecon returns the accepted run of a bank and day as JSON (summary and
// breaks), CSV (every item) or HTML (the operator page).
func (h *Handlers) GetRecon(w http.ResponseWriter, r *http.Request) {
	bank := r.URL.Query().Get("bank")
	if _, ok := h.Svc.Bank(bank); !ok {
		writeError(w, http.StatusBadRequest, "invalid_request", "unknown bank", "bank")
		return
	}
	d, ok := dateParam(w, r)
	if !ok {
		return
	}
	res, err := h.Svc.Result(r.Context(), bank, d)
	if err != nil {
		fail(w, err)
		return
	}
	if res == nil {
		writeError(w, http.StatusNotFound, "not_found", "no clearing file reconciled for this bank and day", "")
		return
	}
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, report.DocumentOf(res, nil))
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="recon_`+bank+`_`+d.YYYYMMDD()+`.csv"`)
		_ = report.ItemsCSV(r.Context(), w, h.Svc.Store(), res.Run.ID)
	case "html":
		st, err := h.Svc.Settlement(r.Context(), d)
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = report.HTML(w, res, st)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "format: want json, csv or html", "format")
	}
}

// GetPaymentState returns a payment's reconciliation items.
func (h *Handlers) GetPaymentState(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, "invalid_request", "payment id", "id")
		return
	}
	states, err := h.Svc.Store().PaymentStates(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	type stateJSON struct {
		Bank       string          `json:"bank"`
		SettleDate string          `json:"settlement_date"`
		RunID      string          `json:"run_id"`
		Item       report.ItemJSON `json:"item"`
	}
	out := struct {
		PaymentID string      `json:"payment_id"`
		State     string      `json:"recon_state"`
		Items     []stateJSON `json:"items"`
	}{PaymentID: id, Items: []stateJSON{}}
	for i := range states {
		s := &states[i]
		out.Items = append(out.Items, stateJSON{s.Bank, s.SettleDate.String(), s.RunID, report.ItemOf(&s.Item)})
		if s.Item.Kind == recon.KindSale {
			out.State = string(s.Item.Category)
		}
	}
	writeJSON(w, out)
}

// GetSettlement returns the merchant payouts of a bank settlement day.
func (h *Handlers) GetSettlement(w http.ResponseWriter, r *http.Request) {
	d, ok := dateParam(w, r)
	if !ok {
		return
	}
	st, err := h.Svc.Settlement(r.Context(), d)
	if err != nil {
		fail(w, err)
		return
	}
	name := "settlement_" + d.YYYYMMDD()
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, st)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		_ = report.SettlementCSV(w, st)
	case "xlsx":
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
		_ = report.SettlementXLSX(w, st)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "format: want json, csv or xlsx", "format")
	}
}
