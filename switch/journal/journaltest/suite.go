// Package journaltest is the conformance suite every journal.Store
// implementation must pass. The driver tests of package journal run it
// against SQLite and PostgreSQL; a new implementation runs it the same way.
package journaltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// Opener returns a new Store on the database of t. The first call for a t
// creates a fresh, empty database; later calls for the same t open that same
// database again (a second switch process, or a restart). The opener closes
// what it opened when t ends; Close must therefore be idempotent.
type Opener func(t *testing.T) journal.Store

// Dumper returns the raw content of t's database (file bytes, or every
// table as text) so that the suite can prove no clear PAN or CVV reached it.
type Dumper func(t *testing.T) []byte

// Option tunes Run.
type Option func(*options)

type options struct {
	dump Dumper
}

// WithDump lets the suite scan the raw database for card data.
func WithDump(d Dumper) Option { return func(o *options) { o.dump = d } }

// Test cards from the simulator contract (never a real person's card).
const (
	testPAN    = "4000000000000010"
	testPAN2   = "5100000000000008"
	testExpiry = "2812"
	// testCVV is distinctive so that a scan of the raw database can find it.
	testCVV = "8642"
	// testCryptogram is a token cryptogram / CAVV that must never be stored.
	testCryptogram = "CRYPTOGRAMzzQ9AAAABk4DWZ4C28yUQAAAAAA="
)

// Run runs the conformance suite.
func Run(t *testing.T, open Opener, opts ...Option) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener, o options)
	}{
		{"PaymentCRUD", testPaymentCRUD},
		{"Operations", testOperations},
		{"WriteIsAtomic", testWriteAtomic},
		{"ConcurrentWritersGroupCommit", testConcurrentWriters},
		{"Idempotency", testIdempotency},
		{"IdempotencyConcurrentBegin", testIdempotencyConcurrent},
		{"Sequences", testSequences},
		{"SequencesAcrossStores", testSequencesAcrossStores},
		{"SAFLifecycle", testSAFLifecycle},
		{"SAFLeaseTakeover", testSAFLeaseTakeover},
		{"SAFEnqueueWithOperation", testSAFEnqueueWithOperation},
		{"MessageLogMasking", testMessageMasking},
		{"EncryptionRoundTrip", testEncryption},
		{"KeyRotation", testKeyRotation},
		{"ReopenPersists", testReopen},
		{"ClosedStore", testClosed},
		{"NoCardDataAtRest", testNoCardDataAtRest},
		{"FindOperationsBySTAN", testFindBySTAN},
		{"Paging", testPaging},
		{"StoredMatchesReadBack", testStoredMatchesReadBack},
		{"MessagesInOneWrite", testMessagesInOneWrite},
		{"SaveIndexedColumns", testSaveIndexedColumns},
		{"ReconStates", testReconStates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open, o)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randomKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// newVault builds a vault from freshly generated keys: test key material is
// random per run, never written in code.
func newVault(t *testing.T, current uint32, keys map[uint32][]byte, hashKey []byte) *cardvault.Vault {
	t.Helper()
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: current, Keys: keys, HashKey: hashKey})
	if err != nil {
		t.Fatalf("building vault: %v", err)
	}
	return v
}

func testVault(t *testing.T) *cardvault.Vault {
	return newVault(t, 1, map[uint32][]byte{1: randomKey(t)}, randomKey(t))
}

// newPayment builds a pending payment with its card sealed under v.
func newPayment(t *testing.T, v *cardvault.Vault, reqID string, amount int64) *journal.Payment {
	t.Helper()
	id := journal.NewPaymentID()
	card, err := journal.SealCard(v, id, testPAN, testExpiry, "")
	if err != nil {
		t.Fatalf("sealing card: %v", err)
	}
	card.Source = "keyed"
	return &journal.Payment{
		ID: id, Client: "gw", RequestID: reqID, Type: journal.TypePreauth, Status: journal.PaymentPending,
		Amount: amount, Currency: "KZT",
		Merchant: journal.Merchant{ID: "M00000000000123", TerminalID: "T0000123", MCC: "5411", Name: "DEMO SHOP",
			City: "ALMATY", Country: "KZ", SubMerchantID: "S-778"},
		OrderID: "INV-1001", Description: "Order 1001", Card: card,
		Bank: "alfa", Route: "kzt-default", AcquirerID: "12345678901",
	}
}

func authOp(amount int64) *journal.Operation {
	return &journal.Operation{Kind: journal.OpAuthorization, RequestID: "req", Bank: "alfa", MTI: "0100",
		Amount: amount, Currency: "KZT", Status: journal.OpPending}
}

func mustCreate(t *testing.T, s journal.Store, p *journal.Payment, op *journal.Operation) {
	t.Helper()
	if err := s.CreatePayment(ctxT(t), p, op); err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func reqID(t *testing.T, n int) string {
	return fmt.Sprintf("%s-%d", strings.NewReplacer("/", "-").Replace(t.Name()), n)
}

// assertNoCardData fails when the dump holds the test PAN (in any usual
// text or binary form), the test CVV or the cryptogram.
func assertNoCardData(t *testing.T, o options, pans ...string) {
	t.Helper()
	if o.dump == nil {
		t.Fatal("the conformance suite needs WithDump to prove card data never reaches the database")
	}
	raw := o.dump(t)
	if len(raw) == 0 {
		t.Fatal("database dump is empty")
	}
	for _, pan := range pans {
		if bytes.Contains(raw, []byte(pan)) {
			t.Errorf("database holds the full PAN %s in clear", cardvault.MaskPAN(pan))
		}
		// A PAN stored as UTF-16 or hex text would also be a leak.
		if bytes.Contains(bytes.ToLower(raw), []byte(fmt.Sprintf("%x", pan))) {
			t.Errorf("database holds the PAN %s hex-encoded", cardvault.MaskPAN(pan))
		}
	}
	// The CVV is searched in the forms it travels in (DE48 tag 92, DE126
	// tail), since four bare digits also occur by chance in any database.
	for _, secret := range []string{"92004" + testCVV, "2.2.0   " + testCVV, testCryptogram} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("database holds a CVV or cryptogram")
		}
	}
}
