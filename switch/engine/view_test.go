package engine

import (
	"reflect"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// Authorize answers from memory instead of reading the payment back; the
// answer must be exactly what a read-back (Get) returns, for approvals and
// declines at both banks, and the messages must be in the journal with
// the write-ahead record and the answer (one per direction).
func TestAuthorizeAnswerEqualsJournal(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	cases := []struct {
		name   string
		typ    PaymentType
		amount int64
		pan    string
		status journal.PaymentStatus
	}{
		{"bank A approved", TypePurchase, 10000, "4000000000000010", journal.PaymentApproved},
		{"bank B approved preauth", TypePreauth, 20000, "5100000000000008", journal.PaymentApproved},
		{"bank A declined 51", TypePurchase, 10051, "4000000000000010", journal.PaymentDeclined},
		{"bank B declined 05", TypePurchase, 10005, "5100000000000008", journal.PaymentDeclined},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := purchaseInput("view-"+string(rune('a'+i)), c.typ, c.amount, c.pan)
			in.Description = "order for 4000000000000010 \x00"
			got := h.authorize(in)
			if got.Status != c.status {
				t.Fatalf("status %s, want %s", got.Status, c.status)
			}
			want, err := h.eng.Get(h.ctx, got.ID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("Authorize's answer differs from the journal:\nanswer  %+v\njournal %+v", got, want)
			}
			if got.Card.Ciphertext != nil || got.Card.PANHash != "" || got.Card.KeyID != 0 {
				t.Fatal("the answer carries card ciphertext, hash or key id")
			}
			msgs, err := h.store.ListMessages(h.ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 2 || msgs[0].Direction != journal.DirOut || msgs[1].Direction != journal.DirIn ||
				msgs[0].OperationID != got.Operations[0].ID || msgs[1].OperationID != got.Operations[0].ID {
				t.Fatalf("message log: %+v", msgs)
			}
		})
	}
}

// Capture and Void answer from memory too: equal to a read-back.
func TestAdviceAnswerEqualsJournal(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for i, pan := range []string{"4000000000000010", "5100000000000008"} {
		pre := h.authorize(purchaseInput("adv-pre-"+string(rune('a'+i)), TypePreauth, 30000, pan))
		pur := h.authorize(purchaseInput("adv-pur-"+string(rune('a'+i)), TypePurchase, 30000, pan))
		if pre.Status != journal.PaymentApproved || pur.Status != journal.PaymentApproved {
			t.Fatalf("setup: %s %s", pre.Status, pur.Status)
		}
		half := int64(15000)
		captured, err := h.eng.Capture(h.ctx, OperationInput{Client: "gateway", PaymentID: pre.ID, RequestID: "adv-cap-" + pan, Amount: &half})
		if err != nil {
			t.Fatalf("Capture: %v", err)
		}
		void, err := h.eng.Void(h.ctx, OperationInput{Client: "gateway", PaymentID: pur.ID, RequestID: "adv-void-" + pan})
		if err != nil {
			t.Fatalf("Void: %v", err)
		}
		for _, got := range []*Payment{captured, void} {
			want, err := h.eng.Get(h.ctx, got.ID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("answer differs from the journal:\nanswer  %+v\njournal %+v", got, want)
			}
		}
		if captured.CapturedAmount != 15000 || len(captured.Operations) != 2 || captured.Operations[1].Status != journal.OpAcknowledged {
			t.Fatalf("capture answer: captured %d, ops %+v", captured.CapturedAmount, captured.Operations)
		}
		if void.Status != journal.PaymentVoided || len(void.Operations) != 2 || void.Operations[1].Kind != journal.OpVoid {
			t.Fatalf("void answer: %s, ops %+v", void.Status, void.Operations)
		}
	}
}
