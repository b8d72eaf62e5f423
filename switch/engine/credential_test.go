package engine

import (
	"testing"

	"github.com/acquirer/h2hswitch/switch/bankmsg"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// Stored credentials: the initial payment gets a network transaction id
// from the bank, the merchant-initiated subsequent one sends it back (DE25
// 08, credential on file); an id the bank never issued is refused.
func TestStoredCredentialChain(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, c := range []struct {
		bank, pan, unknownReason string
	}{{"alfa", "4000000000000010", "invalid_transaction"}, {"sber", "5100000000000008", "recurring_revoked"}} {
		t.Run(c.bank, func(t *testing.T) {
			in := purchaseInput("sc-init-"+c.bank, TypePurchase, 3000, c.pan)
			in.StoredCredential = &bankmsg.StoredCredential{Initiator: "cardholder", Type: "recurring", Sequence: "initial"}
			first := h.authorize(in)
			if first.Status != journal.PaymentApproved || first.NetworkTransactionID == "" {
				t.Fatalf("initial: %s, ntid %q", first.Status, first.NetworkTransactionID)
			}
			if first.Card.Source != string(bankmsg.SourceKeyed) {
				t.Fatalf("initial card source %s", first.Card.Source)
			}
			sub := purchaseInput("sc-sub-"+c.bank, TypePurchase, 3000, c.pan)
			sub.Card.CVV = ""
			sub.StoredCredential = &bankmsg.StoredCredential{Initiator: "merchant", Type: "recurring", Sequence: "subsequent", NetworkTransactionID: first.NetworkTransactionID}
			p := h.authorize(sub)
			if p.Status != journal.PaymentApproved || p.Card.Source != string(bankmsg.SourceCredentialOnFile) {
				t.Fatalf("subsequent: %s %s (%s)", p.Status, p.Reason, p.Card.Source)
			}
			bad := purchaseInput("sc-bad-"+c.bank, TypePurchase, 3000, c.pan)
			bad.Card.CVV = ""
			bad.StoredCredential = &bankmsg.StoredCredential{Initiator: "merchant", Type: "recurring", Sequence: "subsequent", NetworkTransactionID: "999999999999999"}
			p = h.authorize(bad)
			if p.Status != journal.PaymentDeclined || p.Reason != c.unknownReason {
				t.Fatalf("unknown ntid: %s %s", p.Status, p.Reason)
			}
		})
	}
}

// A wallet payment: network token with cryptogram; the cryptogram never
// reaches the message log.
func TestWalletPayment(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	in := purchaseInput("wallet", TypePurchase, 4500, "")
	in.Card = nil
	in.NetworkToken = &NetworkTokenInput{Token: "4895370000000106", Expiry: "2812", Cryptogram: "AgAAAAAABk4DWZ4C28yUQAAAAAA=", Wallet: "apple_pay", ECI: "07"}
	p := h.authorize(in)
	if p.Status != journal.PaymentApproved || p.Card.Source != string(bankmsg.SourceNetworkToken) || p.Card.Wallet != "apple_pay" {
		t.Fatalf("wallet payment %s %s source %s wallet %s", p.Status, p.Reason, p.Card.Source, p.Card.Wallet)
	}
	msgs, err := h.store.ListMessages(h.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		for k, v := range m.Fields {
			if v == in.NetworkToken.Cryptogram || k == "48.11" {
				t.Fatalf("cryptogram in message log field %s", k)
			}
		}
	}
	if msgs[0].Fields["22"] != "812" || msgs[0].Fields["48.10"] != "AP" {
		t.Fatalf("entry mode %q wallet %q", msgs[0].Fields["22"], msgs[0].Fields["48.10"])
	}
}
