// Package control is the bank simulator's small HTTP/JSON control API:
// fault injection at run time, the ledger, clearing files and health. It
// is meant for test harnesses and operators on a test bench, never for
// exposure beyond localhost: it has no authentication.
package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/simulators/settlement"
	"github.com/acquirer/h2hswitch/specs/calendar"
)

// Host is what the API drives; *banksim.Sim implements it.
type Host interface {
	Dialect() string
	Ledger() *ledger.Ledger
	Faults() banksim.Faults
	SetFaults(banksim.Faults) error
	DropConnections() int
	Stats() banksim.Stats
	Clearing(settlement.Request) (string, []byte, error)
}

const maxBody = 1 << 20

// FaultsDoc is the JSON form of banksim.Faults. In a POST every field is
// optional and only the fields present change.
type FaultsDoc struct {
	StopAnswering     *bool   `json:"stop_answering,omitempty"`
	DelayMS           *int64  `json:"delay_ms,omitempty"`
	RefuseConnections *bool   `json:"refuse_connections,omitempty"`
	Garbage           *string `json:"garbage,omitempty"`
	StopEchoes        *bool   `json:"stop_echoes,omitempty"`
}

func docOf(f banksim.Faults) FaultsDoc {
	ms := f.Delay.Milliseconds()
	g := f.Garbage
	return FaultsDoc{&f.StopAnswering, &ms, &f.RefuseConnections, &g, &f.StopEchoes}
}

func (d FaultsDoc) apply(f banksim.Faults) banksim.Faults {
	if d.StopAnswering != nil {
		f.StopAnswering = *d.StopAnswering
	}
	if d.DelayMS != nil {
		f.Delay = time.Duration(*d.DelayMS) * time.Millisecond
	}
	if d.RefuseConnections != nil {
		f.RefuseConnections = *d.RefuseConnections
	}
	if d.Garbage != nil {
		f.Garbage = *d.Garbage
	}
	if d.StopEchoes != nil {
		f.StopEchoes = *d.StopEchoes
	}
	return f
}

// NewHandler returns the API's routes.
func NewHandler(h Host, log zerolog.Logger) http.Handler {
	a := &api{h: h, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", a.health)
	mux.HandleFunc("GET /faults", a.getFaults)
	mux.HandleFunc("POST /faults", a.postFaults)
	mux.HandleFunc("DELETE /faults", a.clearFaults)
	mux.HandleFunc("POST /faults/drop-connections", a.drop)
	mux.HandleFunc("GET /ledger", a.getLedger)
	mux.HandleFunc("DELETE /ledger", a.resetLedger)
	mux.HandleFunc("GET /clearing", a.getClearing)
	mux.HandleFunc("POST /clearing", a.postClearing)
	return mux
}

type api struct {
	h   Host
	log zerolog.Logger
}

func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "dialect": a.h.Dialect(), "stats": a.h.Stats()})
}

func (a *api) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, docOf(a.h.Faults()))
}

func (a *api) postFaults(w http.ResponseWriter, r *http.Request) {
	var d FaultsDoc
	if !readJSON(w, r, &d) {
		return
	}
	f := d.apply(a.h.Faults())
	if err := a.h.SetFaults(f); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, docOf(f))
}

func (a *api) clearFaults(w http.ResponseWriter, _ *http.Request) {
	if err := a.h.SetFaults(banksim.Faults{}); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, docOf(banksim.Faults{}))
}

func (a *api) drop(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int{"dropped": a.h.DropConnections()})
}

func (a *api) getLedger(w http.ResponseWriter, r *http.Request) {
	if rrn := r.URL.Query().Get("rrn"); rrn != "" {
		tx, ok := a.h.Ledger().ByRRN(rrn)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("rrn %q: no such transaction", rrn))
			return
		}
		writeJSON(w, http.StatusOK, tx)
		return
	}
	txns := a.h.Ledger().Snapshot()
	if txns == nil {
		txns = []ledger.Txn{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"transactions": txns})
}

func (a *api) resetLedger(w http.ResponseWriter, _ *http.Request) {
	a.h.Ledger().Reset()
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) getClearing(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d, err := calendar.ParseDate(q.Get("date"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("date: %w", err))
		return
	}
	req := settlement.Request{Date: d}
	if s := q.Get("sequence"); s != "" {
		if req.Sequence, err = strconv.Atoi(s); err != nil {
			writeError(w, http.StatusBadRequest, errors.New("sequence: want an integer"))
			return
		}
	}
	a.clearing(w, req)
}

func (a *api) postClearing(w http.ResponseWriter, r *http.Request) {
	var req settlement.Request
	if !readJSON(w, r, &req) {
		return
	}
	a.clearing(w, req)
}

func (a *api) clearing(w http.ResponseWriter, req settlement.Request) {
	name, body, err := a.h.Clearing(req)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	a.log.Info().Str("file", name).Int("bytes", len(body)).Msg("clearing file produced")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("X-Clearing-File-Name", name)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("reading JSON body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
