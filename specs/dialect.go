// Package specs holds the banks' ISO 8583 dialects as data: message specs,
// framing, which MTI and processing code each operation uses, entry-mode
// values and response-code tables. Nothing here talks to a network.
package specs

import (
	"fmt"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs/framing"
)

// Op is an operation the switch asks a bank to perform. The dialect decides
// which MTI and processing code carry it.
type Op string

const (
	OpPurchase       Op = "purchase"        // one-stage authorization + financial
	OpPreauth        Op = "preauth"         // two-stage authorization
	OpCompletion     Op = "completion"      // capture of a preauth
	OpRefund         Op = "refund"          // online refund (A) or refund advice (B)
	OpReversal       Op = "reversal"        // void, timeout or late-response reversal
	OpAdvicePurchase Op = "advice_purchase" // stand-in advice of a purchase
	OpAdvicePreauth  Op = "advice_preauth"  // stand-in advice of a preauth
	OpEcho           Op = "echo"            // 0800 / 301
	OpSignOn         Op = "sign_on"         // 0800 / 001
	OpSignOff        Op = "sign_off"        // 0800 / 002
)

// OpSpec says how a dialect carries one operation.
type OpSpec struct {
	MTI            string // first attempt, e.g. "0400"
	RepeatMTI      string // repeat of an unanswered first attempt, e.g. "0401"; empty if never repeated
	ResponseMTI    string // e.g. "0410"
	ProcessingCode string // DE3; empty when the message has none
	NetworkCode    string // DE70 for network management
	Advice         bool   // the bank acknowledges rather than decides
}

// Dialect is one bank's ISO 8583 dialect.
type Dialect struct {
	Name    string // "h2h87-ascii" or "h2h87-binary"
	Spec    *iso8583.MessageSpec
	Framing framing.Framing
	// SignOn is true when a connection must be signed on (0800/001) before
	// it may carry anything else, and signed off (0800/002) before a
	// deliberate close.
	SignOn bool
	Ops    map[Op]OpSpec
}

// Lookup returns the dialect with the given name. Each call returns a fresh
// value; dialects are immutable after construction.
func Lookup(name string) (*Dialect, error) {
	switch name {
	default:
		return nil, fmt.Errorf("unknown dialect %q (want h2h87-ascii or h2h87-binary)", name)
	}
}
