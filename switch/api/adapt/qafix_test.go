package adapt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/engine"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// An item whose operation the bank already acknowledged (the synchronous
// attempt) is not listed for operators; an item still owed is.
func TestSAFListLeavesOutAcknowledgedItems(t *testing.T) {
	st := openJournal(t, filepath.Join(t.TempDir(), "j.db"))
	defer st.Close()
	ctx := t.Context()
	key, hashKey := make([]byte, 32), make([]byte, 32)
	for i := range key {
		key[i], hashKey[i] = byte(i+7), byte(90-i)
	}
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: key}, HashKey: hashKey})
	if err != nil {
		t.Fatal(err)
	}
	id := journal.NewPaymentID()
	card, err := journal.SealCard(v, id, "4000000000000010", "2812", "visa")
	if err != nil {
		t.Fatal(err)
	}
	p := &journal.Payment{
		ID: id, Client: "gw", RequestID: "r-saf", Type: journal.TypePreauth, Status: journal.PaymentApproved,
		Amount: 1000, Currency: "KZT", Card: card, Bank: "sber", Route: "r", AcquirerID: "654321",
		Merchant: journal.Merchant{ID: "M1", TerminalID: "T0000123", MCC: "5411", Name: "DEMO", City: "ALMATY", Country: "KZ"},
	}
	auth := &journal.Operation{ID: journal.NewID(journal.PrefixOperation), Kind: journal.OpAuthorization, Bank: "sber", MTI: "0100",
		Amount: 1000, Currency: "KZT", Status: journal.OpApproved}
	if err := st.CreatePayment(ctx, p, auth); err != nil {
		t.Fatal(err)
	}
	acked := &journal.Operation{ID: journal.NewID(journal.PrefixOperation), PaymentID: id, Kind: journal.OpCapture, Bank: "sber",
		MTI: "0220", Amount: 1000, Currency: "KZT", Status: journal.OpAcknowledged}
	owed := &journal.Operation{ID: journal.NewID(journal.PrefixOperation), PaymentID: id, Kind: journal.OpVoid, Bank: "sber",
		MTI: "0420", Amount: 1000, Currency: "KZT", Status: journal.OpQueued}
	later := time.Now().Add(time.Minute)
	itAcked := &journal.SAFItem{Bank: "sber", Kind: journal.SAFCompletion, PaymentID: id, OperationID: acked.ID, Payload: []byte(`{}`), NextAttemptAt: later}
	itOwed := &journal.SAFItem{Bank: "sber", Kind: journal.SAFReversal, PaymentID: id, OperationID: owed.ID, Payload: []byte(`{}`), NextAttemptAt: later}
	if err := st.Write(ctx, journal.InsertOperation(acked), journal.InsertOperation(owed), journal.EnqueueSAF(itAcked), journal.EnqueueSAF(itOwed)); err != nil {
		t.Fatal(err)
	}
	got, err := SAF{Store: st}.ListSAF(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != itOwed.ID || got[0].Kind != "reversal" {
		t.Fatalf("listed %+v, want only the owed reversal %s", got, itOwed.ID)
	}
}

// Operation statuses as the API shows them: one word per outcome.
func TestOperationStatusWords(t *testing.T) {
	cases := []struct {
		kind   journal.OpKind
		status journal.OpStatus
		want   string
		answer bool
	}{
		{journal.OpRefund, journal.OpDeclined, "declined", true},
		{journal.OpRefund, journal.OpFailed, "declined", false},
		{journal.OpRefund, journal.OpTimeout, "declined", false},
		{journal.OpAuthorization, journal.OpTimeout, "declined", false},
		{journal.OpAuthorization, journal.OpApproved, "approved", true},
		{journal.OpAuthorization, journal.OpSent, "pending", false},
		{journal.OpCapture, journal.OpFailed, "failed", false},
		{journal.OpCapture, journal.OpQueued, "queued", false},
		{journal.OpReversal, journal.OpAcknowledged, "acknowledged", true},
	}
	for _, c := range cases {
		ep := &engine.Payment{Payment: journal.Payment{ID: "pay_x", Status: journal.PaymentApproved},
			Operations: []*journal.Operation{{Kind: c.kind, Status: c.status, LatencyMS: 0}}}
		op := Payments{}.payment(ep).Operations[0]
		if op.Status != c.want || op.BankAnswered != c.answer {
			t.Errorf("%s %s shown as %q answered=%v, want %q answered=%v", c.kind, c.status, op.Status, op.BankAnswered, c.want, c.answer)
		}
	}
}
