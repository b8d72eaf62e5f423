package journaltest

import (
	"errors"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

func testEncryption(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p := newPayment(t, v, reqID(t, 1), 100)
	mustCreate(t, s, p, nil)
	got, err := s.GetPayment(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	pan, exp, err := journal.OpenCard(v, got)
	if err != nil || pan != testPAN || exp != testExpiry {
		t.Fatalf("OpenCard: %s %q %v", cardvault.MaskPAN(pan), exp, err)
	}
	if got.Card.PANHash != v.Hash(testPAN) || got.Card.PANHash == v.Hash(testPAN2) {
		t.Fatal("PAN hash does not identify the card")
	}
	// The ciphertext is bound to its payment: copied to another, it fails.
	moved := *got
	moved.ID = journal.NewPaymentID()
	if _, _, err := journal.OpenCard(v, &moved); !errors.Is(err, cardvault.ErrDecrypt) {
		t.Fatalf("ciphertext opened under another payment id: %v", err)
	}
	// Another vault (other keys) cannot open it.
	if _, _, err := journal.OpenCard(testVault(t), got); err == nil {
		t.Fatal("a foreign key opened the card")
	}
}

func testKeyRotation(t *testing.T, open Opener, _ options) {
	ctx := ctxT(t)
	k1, k2, hk := randomKey(t), randomKey(t), randomKey(t)
	v1 := newVault(t, 1, map[uint32][]byte{1: k1}, hk)
	s := open(t)
	old := newPayment(t, v1, reqID(t, 1), 100)
	mustCreate(t, s, old, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Key 2 becomes current; key 1 stays for reading.
	v2 := newVault(t, 2, map[uint32][]byte{1: k1, 2: k2}, hk)
	s = open(t)
	got, err := s.GetPayment(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Card.KeyID != 1 {
		t.Fatalf("old payment under key %d", got.Card.KeyID)
	}
	if pan, _, err := journal.OpenCard(v2, got); err != nil || pan != testPAN {
		t.Fatalf("reading key-1 data after rotation: %v", err)
	}
	fresh := newPayment(t, v2, reqID(t, 2), 200)
	mustCreate(t, s, fresh, nil)
	if fresh.Card.KeyID != 2 || fresh.Card.PANHash != got.Card.PANHash {
		t.Fatalf("new payment key %d, hash equal %v", fresh.Card.KeyID, fresh.Card.PANHash == got.Card.PANHash)
	}
	// Re-encrypt the old payment, then retire key 1.
	kid, ct, err := v2.Reseal(got.ID, got.Card.KeyID, got.Card.Ciphertext)
	if err != nil || kid != 2 {
		t.Fatalf("Reseal: %d %v", kid, err)
	}
	if err := s.Write(ctx, journal.RekeyCard(got.ID, kid, ct)); err != nil {
		t.Fatalf("RekeyCard: %v", err)
	}
	v3 := newVault(t, 2, map[uint32][]byte{2: k2}, hk)
	for _, id := range []string{old.ID, fresh.ID} {
		p, err := s.GetPayment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if pan, exp, err := journal.OpenCard(v3, p); err != nil || pan != testPAN || exp != testExpiry {
			t.Fatalf("payment %s after retiring key 1: %v", id, err)
		}
	}
	if _, _, err := journal.OpenCard(v3, got); !errors.Is(err, cardvault.ErrUnknownKey) {
		t.Fatalf("a retired key's ciphertext: %v", err)
	}
}
