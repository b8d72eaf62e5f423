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
