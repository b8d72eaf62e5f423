package control

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/simulators/wire"
)

func setup(t *testing.T) (*banksim.Sim, *httptest.Server) {
	t.Helper()
	sim, err := banksim.New(banksim.Config{Dialect: wire.DialectASCII, AcquirerID: "12345",
		Now: func() time.Time { return time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(sim, zerolog.Nop()))
	t.Cleanup(func() {
		srv.Close()
		_ = sim.Close()
	})
	return sim, srv
}

func do(t *testing.T, method, url, body string, wantStatus int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, wantStatus, b)
	}
	return b
}

func TestFaultEndpoints(t *testing.T) {
	sim, srv := setup(t)
	do(t, "POST", srv.URL+"/faults", `{"stop_answering":true,"delay_ms":250}`, 200)
	do(t, "POST", srv.URL+"/faults", `{"garbage":"framed","stop_echoes":true,"refuse_connections":true}`, 200)
	f := sim.Faults()
	if !f.StopAnswering || f.Delay != 250*time.Millisecond || f.Garbage != "framed" || !f.StopEchoes || !f.RefuseConnections {
		t.Fatalf("faults after two POSTs: %+v", f)
	}
	var doc FaultsDoc
	if err := json.Unmarshal(do(t, "GET", srv.URL+"/faults", "", 200), &doc); err != nil || *doc.DelayMS != 250 {
		t.Fatalf("GET /faults: %+v %v", doc, err)
	}
	do(t, "POST", srv.URL+"/faults", `{"garbage":"confetti"}`, 400)
	do(t, "POST", srv.URL+"/faults", `{"delay":5}`, 400) // unknown field
	do(t, "DELETE", srv.URL+"/faults", "", 200)
	if sim.Faults() != (banksim.Faults{}) {
		t.Fatalf("faults not cleared: %+v", sim.Faults())
	}

	nc, err := net.Dial("tcp", sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(2 * time.Second)
	for sim.Stats().Connections != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var dropped map[string]int
	if err := json.Unmarshal(do(t, "POST", srv.URL+"/faults/drop-connections", "", 200), &dropped); err != nil || dropped["dropped"] != 1 {
		t.Fatalf("drop: %v %v", dropped, err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection not dropped")
	}
}

func TestLedgerClearingHealth(t *testing.T) {
	sim, srv := setup(t)
	almaty := time.FixedZone("+05", 5*3600)
	_, _, code := sim.Ledger().Approve(ledger.Approval{
		Kind: ledger.KindPurchase, MTI: "0200", Key: ledger.Key{STAN: "000123", DE7: "1127051500", AcquirerID: "12345"},
		RRN: "633100000123", TerminalID: "T0000123", MerchantID: "M00000000000123", MaskedPAN: "400000******0010",
		LocalTime: time.Date(2026, 11, 27, 10, 15, 0, 0, almaty), Amount: 150000, Currency: "398", Response: "sent", AuthCode: "A1B2C3",
	}, time.Now())
	if code != "00" {
		t.Fatal(code)
	}
	body := do(t, "GET", srv.URL+"/ledger", "", 200)
	if !strings.Contains(string(body), `"rrn": "633100000123"`) || !strings.Contains(string(body), `"card": "400000******0010"`) {
		t.Fatalf("ledger JSON: %s", body)
	}
	var one ledger.Txn
	if err := json.Unmarshal(do(t, "GET", srv.URL+"/ledger?rrn=633100000123", "", 200), &one); err != nil || one.AuthCode != "A1B2C3" || one.State != ledger.StateAuthorized {
		t.Fatalf("ledger by rrn: %+v %v", one, err)
	}
	do(t, "GET", srv.URL+"/ledger?rrn=000000000000", "", 404)
	want := "RRN;AUTH_CODE;STAN;TERMINAL_ID;MERCHANT_ID;CARD;OPER_DATE;OPER_TIME;OPER_TYPE;AMOUNT;CURRENCY;FEE;SETTLE_AMOUNT;SETTLE_DATE;ORIG_RRN\r\n" +
		"633100000123;A1B2C3;000123;T0000123;M00000000000123;400000******0010;27.11.2026;10:15:00;PURCHASE;1500,00;KZT;30,00;1470,00;30.11.2026;\r\n" +
		"TOTAL;1;1500,00;30,00;1470,00\r\n"
	if got := string(do(t, "GET", srv.URL+"/clearing?date=2026-11-30", "", 200)); got != want {
		t.Fatalf("GET clearing:\n%s", got)
	}
	got := string(do(t, "POST", srv.URL+"/clearing", `{"date":"2026-11-30","chargebacks":[{"rrn":"633100000123","amount":50000}],"breaks":[{"type":"duplicate","rrn":"633100000123"}]}`, 200))
	if strings.Count(got, ";PURCHASE;") != 2 || !strings.Contains(got, ";CHARGEBACK;500,00;KZT;0,00;-500,00;30.11.2026;633100000123\r\n") ||
		!strings.HasSuffix(got, "TOTAL;3;3500,00;60,00;2440,00\r\n") {
		t.Fatalf("POST clearing:\n%s", got)
	}
	do(t, "GET", srv.URL+"/clearing?date=2026-11-28", "", 422) // Saturday
	do(t, "GET", srv.URL+"/clearing?date=tomorrow", "", 400)
	do(t, "POST", srv.URL+"/clearing", `{"date":"2026-11-30","breaks":[{"type":"missing","rrn":"999999999999"}]}`, 422)

	var h struct {
		Status  string        `json:"status"`
		Dialect string        `json:"dialect"`
		Stats   banksim.Stats `json:"stats"`
	}
	if err := json.Unmarshal(do(t, "GET", srv.URL+"/health", "", 200), &h); err != nil || h.Status != "ok" || h.Dialect != wire.DialectASCII || h.Stats.LedgerTxns != 1 {
		t.Fatalf("health %+v %v", h, err)
	}
	do(t, "DELETE", srv.URL+"/ledger", "", 204)
	if sim.Ledger().Len() != 0 {
		t.Fatal("ledger not reset")
	}
}
