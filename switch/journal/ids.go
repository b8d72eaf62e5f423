package journal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID prefixes.
const (
	PrefixPayment   = "pay_"
	PrefixOperation = "op_"
	PrefixRefund    = "ref_"
	PrefixSAF       = "saf_"
)

// NewID returns prefix + a ULID whose 80 random bits come straight from
// crypto/rand (not ULID's monotonic mode, whose increments are guessable):
// ids sort by creation millisecond and cannot be enumerated.
func NewID(prefix string) string {
	id, err := ulid.New(ulid.Timestamp(time.Now()), rand.Reader)
	if err != nil {
		// crypto/rand.Reader does not fail on supported platforms (Go 1.24+
		// crashes the program rather than return an error).
		panic("journal: crypto/rand failed: " + err.Error())
	}
	return prefix + id.String()
}

// NewPaymentID returns a new "pay_" id. The engine takes it before sealing
// the card (the id is the ciphertext's additional data).
func NewPaymentID() string { return NewID(PrefixPayment) }

// SequenceValue maps a NextSequence value onto 1..max, wrapping: STANs are
// SequenceValue(v, 999999).
func SequenceValue(v, maxValue int64) int64 {
	if maxValue <= 0 {
		return v
	}
	r := (v - 1) % maxValue
	if r < 0 {
		r += maxValue
	}
	return r + 1
}

// BodyHash is the idempotency hash of a request body: hex SHA-256. The API
// hashes the body as received (or its canonical form; it must be the same
// choice every time).
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
