package specs

import (
	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
	"github.com/moov-io/iso8583/sort"
)

// DialectASCII is Bank A's dialect name.
const DialectASCII = "h2h87-ascii"

// asciiSpec builds Bank A's message spec (bank-a-h2h.md, "Message format").
//
// Fixed fields carry no padder: the mapping in switch/bankmsg formats every
// value to its exact width (n zero-filled on the left, an/ans space-filled
// on the right), packing rejects a value of the wrong width, and unpacking
// returns the bytes exactly as received, so no leading zero of a STAN or
// processing code is ever lost.
func asciiSpec() *iso8583.MessageSpec {
	fixed := func(length int, desc string) *field.String {
		return field.NewString(&field.Spec{Length: length, Description: desc, Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed})
	}
	llvar := func(max int, desc string) *field.String {
		return field.NewString(&field.Spec{Length: max, Description: desc, Enc: encoding.ASCII, Pref: asciiLen{2}})
	}
	return &iso8583.MessageSpec{
		Name: DialectASCII,
		Fields: map[int]field.Field{
			0: fixed(4, "Message Type Indicator"),
			// Length 8 with auto-expand: 16 hex characters, and 16 more
			// only when a field 65-128 is present. Go's hex decoder accepts
			// either case; the encoder writes uppercase.
			1: field.NewBitmap(&field.Spec{
				Length:      8,
				Description: "Bitmap",
				Enc:         encoding.BytesToASCIIHex,
				Pref:        prefix.Hex.Fixed,
			}),
			2:  llvar(19, "Primary Account Number"),
			3:  fixed(6, "Processing Code"),
			4:  fixed(12, "Amount, Transaction"),
			7:  fixed(10, "Transmission Date & Time"),
			11: fixed(6, "Systems Trace Audit Number (STAN)"),
			12: fixed(6, "Time, Local Transaction"),
			13: fixed(4, "Date, Local Transaction"),
			14: fixed(4, "Date, Expiration"),
			18: fixed(4, "Merchant Type"),
			22: fixed(3, "POS Entry Mode"),
			25: fixed(2, "POS Condition Code"),
			32: llvar(11, "Acquiring Institution Identification Code"),
			37: fixed(12, "Retrieval Reference Number"),
			38: fixed(6, "Authorization Identification Response"),
			39: fixed(2, "Response Code"),
			41: fixed(8, "Card Acceptor Terminal Identification"),
			42: fixed(15, "Card Acceptor Identification Code"),
			43: fixed(40, "Card Acceptor Name/Location"),
			48: field.NewComposite(de48Spec()),
			49: fixed(3, "Currency Code, Transaction"),
			70: fixed(3, "Network Management Information Code"),
			90: fixed(42, "Original Data Elements"),
			95: fixed(42, "Replacement Amounts"),
		},
	}
}

// DE48 subelement tags (bank-a-h2h.md, "DE48 subelements").
const (
	TagECI              = "01"
	TagAuthValue        = "02"
	TagDSTransactionID  = "03"
	TagThreeDSVersion   = "04"
	TagWallet           = "10"
	TagTokenCryptogram  = "11"
	TagStoredCredential = "20"
	TagStoredSequence   = "21"
	TagNetworkTxnID     = "22"
	TagSubMerchant      = "30"
	TagCVV              = "92"
)

// de48MaxLen is the largest value of DE48 (ans..999 LLLVAR).
const de48MaxLen = 999

// de48Spec is DE48 as a tag-ordered TLV composite: 2-digit tag, 3-digit
// ASCII length, value; ascending tag order on send; unknown tags skipped on
// receive using the same 3-digit length.
func de48Spec() *field.Spec {
	sub := func(max int, desc string) *field.String {
		return field.NewString(&field.Spec{Length: max, Description: desc, Enc: encoding.ASCII, Pref: asciiLen{3}})
	}
	return &field.Spec{
		Length:      de48MaxLen,
		Description: "Additional Data, Private",
		Pref:        asciiLen{3},
		Tag: &field.TagSpec{
			Length:             2,
			Enc:                encoding.ASCII,
			Sort:               sort.StringsByInt,
			SkipUnknownTLVTags: true,
			PrefUnknownTLV:     asciiLen{3},
		},
		Subfields: map[string]field.Field{
			TagECI:              sub(2, "Electronic commerce indicator"),
			TagAuthValue:        sub(40, "Authentication value"),
			TagDSTransactionID:  sub(36, "3DS directory server transaction ID"),
			TagThreeDSVersion:   sub(8, "3DS protocol version"),
			TagWallet:           sub(2, "Wallet"),
			TagTokenCryptogram:  sub(40, "Token cryptogram"),
			TagStoredCredential: sub(2, "Stored credential"),
			TagStoredSequence:   sub(1, "Stored credential sequence"),
			TagNetworkTxnID:     sub(15, "Network transaction ID"),
			TagSubMerchant:      sub(15, "Sub-merchant ID"),
			TagCVV:              sub(4, "CVV2/CVC2"),
		},
	}
}
