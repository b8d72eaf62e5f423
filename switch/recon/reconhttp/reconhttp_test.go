package reconhttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/clearing"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
	"github.com/acquirer/h2hswitch/switch/recon"
)

var almaty = time.FixedZone("+05", 5*3600)

// server builds the handlers over a real SQLite journal holding one
// approved Bank A payment (RRN 633100000123, 1500.00 KZT, Friday
// 27.11.2026) and a real recon store, behind httptest.
func server(t *testing.T, maxBody int64) (*httptest.Server, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	js, err := journal.Open(ctx, journal.Config{DSN: filepath.Join(dir, "journal.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close() })
	k := func() []byte { b := make([]byte, 32); _, _ = rand.Read(b); return b }
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: k()}, HashKey: k()})
	if err != nil {
		t.Fatal(err)
	}
	id := journal.NewPaymentID()
	card, err := journal.SealCard(v, id, "4000000000000010", "2812", "")
	if err != nil {
		t.Fatal(err)
	}
	local := time.Date(2026, 11, 27, 10, 15, 0, 0, almaty)
	if err := js.CreatePayment(ctx, &journal.Payment{ID: id, Client: "gw", RequestID: "r1", Type: journal.TypePurchase,
		Status: journal.PaymentApproved, Amount: 150000, Currency: "KZT", Card: card,
		Merchant: journal.Merchant{ID: "M00000000000123", TerminalID: "T0000123"}, Bank: "alfa", STAN: "000123",
		RRN: "633100000123", AuthCode: "A1B2C3", LocalTime: local, CreatedAt: local}, nil); err != nil {
		t.Fatal(err)
	}
	st, err := recon.OpenStore(ctx, recon.StoreConfig{DSN: filepath.Join(dir, "recon.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	calA, _ := calendar.New(calendar.BankA())
	svc, err := recon.NewService(recon.Config{Banks: map[string]recon.BankConfig{"alfa": {Format: recon.FormatA, Calendar: calA}}, TempDir: dir},
		recon.JournalSource{Store: js}, st)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&Handlers{Svc: svc, MaxBody: maxBody}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, id
}

func clearingFile(t *testing.T, amount int64, trailerDelta int64) []byte {
	t.Helper()
	S := calendar.NewDate(2026, 11, 30)
	var b bytes.Buffer
	w, _ := clearing.NewAWriter(&b, S)
	if err := w.Write(clearing.Record{Type: clearing.Purchase, RRN: "633100000123", AuthCode: "A1B2C3", STAN: "000123",
		TerminalID: "T0000123", MerchantID: "M00000000000123", MaskedPAN: "400000******0010",
		OperDate: calendar.NewDate(2026, 11, 27), OperTime: clearing.TimeOfDay{Hour: 10, Minute: 15}, Amount: amount,
		Currency: clearing.KZT, Fee: 3000, SettleAmount: amount - 3000, SettleDate: S}); err != nil {
		t.Fatal(err)
	}
	tot := w.Totals()
	tot.Amount += trailerDelta
	if err := w.CloseWithTrailer(tot); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type errBody struct {
	Error struct{ Code, Message, Field string } `json:"error"`
}

func do(t *testing.T, method, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func wantError(t *testing.T, resp *http.Response, b []byte, status int, code, field string) {
	t.Helper()
	var e errBody
	if resp.StatusCode != status || json.Unmarshal(b, &e) != nil || e.Error.Code != code || e.Error.Field != field {
		t.Fatalf("status %d body %s; want %d %s field %q", resp.StatusCode, b, status, code, field)
	}
}

func TestEndpoints(t *testing.T) {
	srv, paymentID := server(t, 1<<20)
	base := srv.URL + "/v1/admin/"

	resp, b := do(t, "POST", base+"recon?bank=alfa&file_name=A_CLR_20261130.csv", clearingFile(t, 150000, 0))
	var doc struct {
		Run struct {
			ID, Bank, SettleDate string
			Counts               map[string]int
		}
		Replayed bool
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil || doc.Replayed || doc.Run.Counts["matched"] != 1 {
		t.Fatalf("POST recon: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, "POST", base+"recon?bank=alfa", clearingFile(t, 150000, 0))
	if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil || !doc.Replayed {
		t.Fatalf("POST same file: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, "POST", base+"recon?bank=alfa", clearingFile(t, 140000, 0))
	wantError(t, resp, b, 409, "invalid_state", "")
	resp, b = do(t, "POST", base+"recon?bank=alfa&force=true", clearingFile(t, 140000, 1))
	wantError(t, resp, b, 400, "invalid_request", "file")
	resp, b = do(t, "POST", base+"recon?bank=nope", clearingFile(t, 150000, 0))
	wantError(t, resp, b, 400, "invalid_request", "bank")
	resp, b = do(t, "POST", base+"recon?bank=alfa&force=maybe", nil)
	wantError(t, resp, b, 400, "invalid_request", "force")

	resp, b = do(t, "GET", base+"recon?bank=alfa&date=2026-11-30&format=html", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Reconciliation of alfa") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET recon html: %d", resp.StatusCode)
	}
	resp, b = do(t, "GET", base+"recon?bank=alfa&date=2026-12-01", nil)
	wantError(t, resp, b, 404, "not_found", "")
	resp, b = do(t, "GET", base+"recon/payments/"+paymentID, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"recon_state": "matched"`) || strings.Contains(string(b), "4000000000000010") {
		t.Fatalf("GET payment state: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, "GET", base+"settlement?date=2026-11-30", nil)
	var st recon.Settlement
	// 1500.00 at the default 2.5%: commission 37.50, net 1462.50.
	if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil || len(st.Merchants) != 1 || st.Merchants[0].Net != 146250 {
		t.Fatalf("GET settlement: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, "GET", base+"settlement?date=2026-11-30&format=xlsx", nil)
	if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("PK")) {
		t.Fatalf("GET settlement xlsx: %d", resp.StatusCode)
	}
	resp, b = do(t, "GET", base+"settlement?date=30.11.2026", nil)
	wantError(t, resp, b, 400, "invalid_request", "date")
}

func TestUploadLimit(t *testing.T) {
	srv, _ := server(t, 100)
	resp, b := do(t, "POST", srv.URL+"/v1/admin/recon?bank=alfa", clearingFile(t, 150000, 0))
	wantError(t, resp, b, 413, "too_large", "")
}
