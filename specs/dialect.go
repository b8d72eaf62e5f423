// Package specs holds the banks' ISO 8583 dialects as data: message specs,
// framing, which MTI and processing code each operation uses, entry-mode
// values and response-code tables. Nothing here talks to a network.
package specs

import (
	"fmt"
	"time"

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

// Processing codes (DE3) and network management codes (DE70).
const (
	ProcPurchase = "000000"
	ProcRefund   = "200000"

	NetSignOn  = "001"
	NetSignOff = "002"
	NetEcho    = "301"
)

// OpSpec says how a dialect carries one operation.
type OpSpec struct {
	MTI            string // first attempt, e.g. "0400"
	RepeatMTI      string // repeat of an unanswered first attempt, e.g. "0401"; empty if never repeated
	ResponseMTI    string // e.g. "0410"
	ProcessingCode string // DE3; empty when the message has none (reversals repeat the original's)
	NetworkCode    string // DE70 for network management
	Advice         bool   // the bank acknowledges rather than decides; repeated until acknowledged
}

// PrivateData says where a dialect carries the e-commerce, wallet, stored
// credential, sub-merchant and CVV data.
type PrivateData int

const (
	// PrivateDE48TLV is Bank A: DE48 TLV subelements.
	PrivateDE48TLV PrivateData = iota + 1
	// PrivatePositional is Bank B: DE61 (stored credential), DE63
	// (sub-merchant), DE126 (e-commerce data); DE62 in responses.
	PrivatePositional
)

// Card sources as keys of Dialect.EntryModes. They equal the values of
// bankmsg.CardSource; specs cannot import bankmsg (bankmsg imports specs).
const (
	SourceKeyed            = "keyed"
	SourceNetworkToken     = "network_token"
	SourceCredentialOnFile = "credential_on_file"
)

// POS condition codes (DE25), the same for both banks.
const (
	ConditionECommerce         = "59"
	ConditionMerchantInitiated = "08"
)

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

	// EntryModes maps a card source (SourceKeyed, ...) to DE22.
	EntryModes map[string]string
	// Private says which fields carry the e-commerce extras.
	Private PrivateData
	// Location is the bank's time zone for DE12/DE13 (Asia/Almaty).
	Location *time.Location
}

// Lookup returns the dialect with the given name. Each call returns a fresh
// value; dialects are immutable after construction.
func Lookup(name string) (*Dialect, error) {
	switch name {
	case DialectASCII:
		return &Dialect{
			Name:    DialectASCII,
			Spec:    asciiSpec(),
			Framing: framing.ASCII4{},
			SignOn:  false,
			Ops: map[Op]OpSpec{
				OpPurchase:       {MTI: "0200", ResponseMTI: "0210", ProcessingCode: ProcPurchase},
				OpPreauth:        {MTI: "0100", ResponseMTI: "0110", ProcessingCode: ProcPurchase},
				OpCompletion:     {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: ProcPurchase, Advice: true},
				OpRefund:         {MTI: "0200", ResponseMTI: "0210", ProcessingCode: ProcRefund},
				OpReversal:       {MTI: "0400", RepeatMTI: "0401", ResponseMTI: "0410", Advice: true},
				OpAdvicePurchase: {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: ProcPurchase, Advice: true},
				OpAdvicePreauth:  {MTI: "0120", RepeatMTI: "0121", ResponseMTI: "0130", ProcessingCode: ProcPurchase, Advice: true},
				OpEcho:           {MTI: "0800", ResponseMTI: "0810", NetworkCode: NetEcho},
			},
			EntryModes: map[string]string{
				SourceKeyed:            "810",
				SourceNetworkToken:     "812",
				SourceCredentialOnFile: "102",
			},
			Private:  PrivateDE48TLV,
			Location: almaty(),
		}, nil
	case DialectBinary:
		return &Dialect{
			Name:    DialectBinary,
			Spec:    binarySpec(),
			Framing: framing.Binary2{},
			SignOn:  true,
			Ops: map[Op]OpSpec{
				OpPurchase:       {MTI: "0200", ResponseMTI: "0210", ProcessingCode: ProcPurchase},
				OpPreauth:        {MTI: "0100", ResponseMTI: "0110", ProcessingCode: ProcPurchase},
				OpCompletion:     {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: ProcPurchase, Advice: true},
				OpRefund:         {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: ProcRefund, Advice: true},
				OpReversal:       {MTI: "0420", RepeatMTI: "0421", ResponseMTI: "0430", Advice: true},
				OpAdvicePurchase: {MTI: "0220", RepeatMTI: "0221", ResponseMTI: "0230", ProcessingCode: ProcPurchase, Advice: true},
				OpAdvicePreauth:  {MTI: "0120", RepeatMTI: "0121", ResponseMTI: "0130", ProcessingCode: ProcPurchase, Advice: true},
				OpSignOn:         {MTI: "0800", ResponseMTI: "0810", NetworkCode: NetSignOn},
				OpSignOff:        {MTI: "0800", ResponseMTI: "0810", NetworkCode: NetSignOff},
				OpEcho:           {MTI: "0800", ResponseMTI: "0810", NetworkCode: NetEcho},
			},
			EntryModes: map[string]string{
				SourceKeyed:            "812",
				SourceNetworkToken:     "817",
				SourceCredentialOnFile: "100",
			},
			Private:  PrivatePositional,
			Location: almaty(),
		}, nil
	default:
		return nil, fmt.Errorf("unknown dialect %q (want %s or %s)", name, DialectASCII, DialectBinary)
	}
}

// Op returns how the dialect carries op, or an error naming the op when the
// dialect has no such operation (e.g. sign-on on Bank A).
func (d *Dialect) Op(op Op) (OpSpec, error) {
	s, ok := d.Ops[op]
	if !ok {
		return OpSpec{}, fmt.Errorf("dialect %s has no operation %q", d.Name, op)
	}
	return s, nil
}

// ResponseMTI returns the response MTI for a request MTI: the function digit
// becomes "response" and a repeat answers as its first attempt (0221 ->
// 0230, 0401 -> 0410). It reports false for anything that is not a request.
func ResponseMTI(mti string) (string, bool) {
	if len(mti) != 4 || !isDigits(mti) {
		return "", false
	}
	switch mti[2] {
	case '0', '2':
		if mti[3] != '0' && mti[3] != '1' {
			return "", false
		}
		return mti[:2] + string(mti[2]+1) + "0", true
	default:
		return "", false
	}
}

// almatyOffset is UTC+5, Kazakhstan's single time zone since 1 March 2024.
const almatyOffset = 5 * 60 * 60

// almaty returns the bank's time zone. The system's tzdata is preferred
// (time/tzdata is embedded as a fallback); a copy older than the 2024 change
// of Asia/Almaty from +06 to +05 is detected and replaced by a fixed +05:00
// zone, as is a missing one.
func almaty() *time.Location {
	loc, err := time.LoadLocation("Asia/Almaty")
	if err == nil {
		if _, off := time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC).In(loc).Zone(); off == almatyOffset {
			return loc
		}
	}
	return time.FixedZone("Asia/Almaty", almatyOffset)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
