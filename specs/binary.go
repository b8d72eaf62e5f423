package specs

import (
	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// DialectBinary is Bank B's dialect name.
const DialectBinary = "h2h87-binary"

// binarySpec builds Bank B's message spec (bank-b-h2h.md, "Message format").
// As for Bank A, fixed fields have no padder: values are formatted to their
// exact digit or character count by the mapping. An odd-length n field is
// left-padded with a zero nibble by the BCD encoder; on decode the nibble
// must be zero and is dropped.
func binarySpec() *iso8583.MessageSpec {
	n := func(digits int, desc string) *field.String {
		return field.NewString(&field.Spec{Length: digits, Description: desc, Enc: bcdEncoder{}, Pref: prefix.BCD.Fixed})
	}
	nvar := func(max int, desc string) *field.String {
		// 1-byte BCD count of digits, then left-padded BCD digits.
		return field.NewString(&field.Spec{Length: max, Description: desc, Enc: bcdEncoder{}, Pref: bcdLen{2}})
	}
	ans := func(length int, desc string) *field.String {
		return field.NewString(&field.Spec{Length: length, Description: desc, Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed})
	}
	lllvar := func(desc string) *field.String {
		// 2-byte BCD count of bytes (0x01 0x23 = 123), then ASCII.
		return field.NewString(&field.Spec{Length: 999, Description: desc, Enc: encoding.ASCII, Pref: bcdLen{3}})
	}
	return &iso8583.MessageSpec{
		Name: DialectBinary,
		Fields: map[int]field.Field{
			0: n(4, "Message Type Indicator"),
			1: field.NewBitmap(&field.Spec{
				Length:      8,
				Description: "Bitmap",
				Enc:         encoding.Binary,
				Pref:        prefix.Binary.Fixed,
			}),
			2:   nvar(19, "Primary Account Number"),
			3:   n(6, "Processing Code"),
			4:   n(12, "Amount, Transaction"),
			7:   n(10, "Transmission Date & Time"),
			11:  n(6, "Systems Trace Audit Number (STAN)"),
			12:  n(6, "Time, Local Transaction"),
			13:  n(4, "Date, Local Transaction"),
			14:  n(4, "Date, Expiration"),
			18:  n(4, "Merchant Type"),
			22:  n(3, "POS Entry Mode"),
			25:  n(2, "POS Condition Code"),
			32:  nvar(11, "Acquiring Institution Identification Code"),
			37:  ans(12, "Retrieval Reference Number"),
			38:  ans(6, "Authorization Identification Response"),
			39:  ans(2, "Response Code"),
			41:  ans(8, "Card Acceptor Terminal Identification"),
			42:  ans(15, "Card Acceptor Identification Code"),
			43:  ans(40, "Card Acceptor Name/Location"),
			49:  n(3, "Currency Code, Transaction"),
			61:  lllvar("Stored credential data"),
			62:  lllvar("Network transaction ID"),
			63:  lllvar("Sub-merchant ID"),
			70:  n(3, "Network Management Information Code"),
			90:  n(42, "Original Data Elements"),
			95:  ans(42, "Replacement Amounts"),
			126: lllvar("E-commerce data"),
		},
	}
}
