package bankmsg

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
)

// Golden fixtures are written by hand from the contract's tables, one piece
// per data element: for Bank A the ASCII text as it goes on the wire, for
// Bank B the hex bytes (with asc() for the ASCII of an/ans fields, which is
// plain ASCII and nothing of ours). Bitmaps are worked out by hand; the
// comment next to each lists the bits. The expected bytes are never
// produced by our encoder.

// wf is one data element of a fixture.
type wf struct {
	id   int    // 0 = MTI, 1 = bitmap(s), else the DE number
	wire string // Bank A: ASCII text; Bank B: hex
	val  string // the field's value after unpacking (GetString); unused for the bitmap
}

// asc is the hex of an ASCII string, for Bank B's an/ans fields.
func asc(s string) string { return hex.EncodeToString([]byte(s)) }

// spaces returns n spaces.
func spaces(n int) string { return strings.Repeat(" ", n) }

// de43 is the card acceptor name/location used by every fixture:
// "ACME SHOP" in 25, "ALMATY" in 13, "KZ".
var de43 = "ACME SHOP" + spaces(16) + "ALMATY" + spaces(7) + "KZ"

// wireBytes concatenates a fixture's pieces into the message bytes.
func wireBytes(t *testing.T, d *specs.Dialect, pieces []wf) []byte {
	t.Helper()
	var b []byte
	for _, p := range pieces {
		if d.Name == specs.DialectASCII {
			b = append(b, p.wire...)
			continue
		}
		h, err := hex.DecodeString(strings.ReplaceAll(p.wire, " ", ""))
		if err != nil {
			t.Fatalf("fixture DE%d: bad hex: %v", p.id, err)
		}
		b = append(b, h...)
	}
	return b
}

// checkUnpacked unpacks want and checks every field against the fixture,
// and that no other field is present.
func checkUnpacked(t *testing.T, d *specs.Dialect, raw []byte, pieces []wf) *iso8583.Message {
	t.Helper()
	msg, err := d.Unpack(raw)
	if err != nil {
		t.Fatalf("unpacking fixture: %v", err)
	}
	var wantIDs, gotIDs []int
	for _, p := range pieces {
		switch p.id {
		case 0:
			if got, _ := msg.GetMTI(); got != p.wire && got != p.val {
				t.Errorf("MTI = %q, want %q", got, p.val)
			}
		case 1:
		default:
			wantIDs = append(wantIDs, p.id)
			got, err := msg.GetString(p.id)
			if err != nil {
				t.Errorf("DE%d: %v", p.id, err)
			}
			if got != p.val {
				t.Errorf("DE%d = %q, want %q", p.id, got, p.val)
			}
		}
	}
	for id := range msg.GetFields() {
		if id > 1 {
			gotIDs = append(gotIDs, id)
		}
	}
	sort.Ints(gotIDs)
	sort.Ints(wantIDs)
	if !reflect.DeepEqual(gotIDs, wantIDs) {
		t.Errorf("unpacked fields %v, want %v", gotIDs, wantIDs)
	}
	return msg
}

// checkPacked packs msg and compares with the fixture byte for byte.
func checkPacked(t *testing.T, d *specs.Dialect, msg *iso8583.Message, want []byte) {
	t.Helper()
	got, err := d.Pack(msg)
	if err != nil {
		t.Fatalf("packing: %v", err)
	}
	if !bytes.Equal(got, want) {
		if d.Name == specs.DialectASCII {
			t.Errorf("packed\n got %q\nwant %q", got, want)
		} else {
			t.Errorf("packed\n got %x\nwant %x", got, want)
		}
	}
}

// normalized returns a copy of r with times in UTC, so that requests built
// by hand and decoded ones compare with reflect.DeepEqual.
func normalized(r *Request) Request {
	c := *r
	c.TransmissionTime = c.TransmissionTime.UTC()
	c.LocalTime = c.LocalTime.UTC()
	if c.Original != nil {
		o := *c.Original
		o.TransmissionTime = o.TransmissionTime.UTC()
		c.Original = &o
	}
	return c
}

// goldenRequest is one request fixture: the model value, its wire form,
// and the "now" at which it is decoded (for the year of DE7).
type goldenRequest struct {
	name   string
	req    *Request
	pieces []wf
	// decoded is what DecodeRequest returns when it differs from req
	// (e.g. LocalTime filled in, Original.ProcessingCode read back).
	decoded *Request
}

func runGoldenRequests(t *testing.T, d *specs.Dialect, cases []goldenRequest) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := wireBytes(t, d, tc.pieces)
			msg, err := Encode(d, tc.req)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			checkPacked(t, d, msg, want)
			un := checkUnpacked(t, d, want, tc.pieces)
			got, err := decodeRequestAt(d, un, goldenNow)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			exp := tc.req
			if tc.decoded != nil {
				exp = tc.decoded
			}
			if g, w := normalized(got), normalized(exp); !reflect.DeepEqual(g, w) {
				t.Errorf("DecodeRequest\n got %+v\nwant %+v", g, w)
			}
		})
	}
}

// goldenResponse is one response fixture, built with RespondWith from the
// unpacked request fixture.
type goldenResponse struct {
	name    string
	request []wf
	reply   Reply
	pieces  []wf
	want    Response
}

func runGoldenResponses(t *testing.T, d *specs.Dialect, cases []goldenResponse) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := d.Unpack(wireBytes(t, d, tc.request))
			if err != nil {
				t.Fatalf("unpacking request fixture: %v", err)
			}
			resp, err := RespondWith(d, req, tc.reply)
			if err != nil {
				t.Fatalf("RespondWith: %v", err)
			}
			want := wireBytes(t, d, tc.pieces)
			checkPacked(t, d, resp, want)
			un := checkUnpacked(t, d, want, tc.pieces)
			got, err := decodeResponseAt(d, un, goldenNow)
			if err != nil {
				t.Fatalf("DecodeResponse: %v", err)
			}
			got.TransmissionTime = got.TransmissionTime.UTC()
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("DecodeResponse\n got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// Times used by the fixtures. t0 = 27 Nov 2026 10:15:00 UTC is 15:15:00 in
// Almaty (UTC+5).
var (
	goldenNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	t0        = time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC)
	tRefund   = time.Date(2026, 11, 27, 12, 15, 0, 0, time.UTC)
	tCapture  = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
)

func mustDialect(t *testing.T, name string) *specs.Dialect {
	t.Helper()
	d, err := specs.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func i64(v int64) *int64 { return &v }

// goldenModels are the model requests both dialects' golden fixtures encode:
// the same business messages, so each bank's hand-worked hex shows how that
// bank carries them.
type goldenModels struct {
	preauth          *Request
	purchase         *Request
	refund           *Request
	completion       *Request
	completionRepeat *Request
	advice           *Request
	advicePre        *Request
	advicePreRepeat  *Request
	reversal         *Request
	partial          *Request
	reversalRepeat   *Request
}

func newGoldenModels() goldenModels {
	preauth := aAuthRequest(specs.OpPreauth, "000123", "633100000123")
	preauth.CardSource = SourceCredentialOnFile
	preauth.MerchantInitiated = true
	preauth.StoredCredential = &StoredCredential{Initiator: InitiatorMerchant, Type: CredentialRecurring,
		Sequence: SequenceSubsequent, NetworkTransactionID: "123456789012345"}

	purchase := aAuthRequest(specs.OpPurchase, "000125", "633100000125")
	purchase.ThreeDS = &ThreeDS{ECI: "05", AuthenticationValue: "AAABBEg0VhI0VniQEjRWAAAAAAA=",
		DSTransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"}
	purchase.CVV = "123"
	purchase.SubMerchantID = "SELLER-0042"

	refund := aAuthRequest(specs.OpRefund, "000188", "633100000188")
	refund.TransmissionTime, refund.LocalTime = tRefund, tRefund
	refund.Amount = 50000
	refund.SubMerchantID = "SELLER-0042"
	refund.Original = &Original{MTI: "0200", STAN: "000125", TransmissionTime: t0, AcquirerID: "12345678"}

	completion := aAdviceRequest(specs.OpCompletion, "000126", "633100000123")
	completion.TransmissionTime, completion.LocalTime = tCapture, tCapture
	completion.Amount = 120000
	completion.AuthCode = "A1B2C3"
	completion.Original = &Original{MTI: "0100", STAN: "000123", TransmissionTime: t0, AcquirerID: "12345678"}

	completionRepeat := *completion
	completionRepeat.Repeat = true
	completionRepeat.TransmissionTime = tCapture.Add(30e9)

	advice := aAdviceRequest(specs.OpAdvicePurchase, "000128", "633100000127")
	advice.AuthCode, advice.ResponseCode = "SI0127", "00"
	advice.Original = &Original{MTI: "0200", STAN: "000127", TransmissionTime: t0, AcquirerID: "12345678"}

	advicePre := aAdviceRequest(specs.OpAdvicePreauth, "000130", "633100000129")
	advicePre.AuthCode, advicePre.ResponseCode = "SI0129", "00"
	advicePre.Original = &Original{MTI: "0100", STAN: "000129", TransmissionTime: t0, AcquirerID: "12345678"}

	advicePreRepeat := *advicePre
	advicePreRepeat.Repeat = true
	advicePreRepeat.TransmissionTime = t0.Add(30e9)

	reversal := &Request{
		Op: specs.OpReversal, STAN: "000131", RRN: "633100000125", TransmissionTime: t0.Add(20e9),
		PAN: "4000000000000010", Amount: 150000, CurrencyNumeric: "398", AcquirerID: "12345678",
		TerminalID: "T0000123", MerchantID: "M00000000000123",
		Original: &Original{MTI: "0200", STAN: "000125", TransmissionTime: t0, AcquirerID: "12345678", ProcessingCode: "000000"},
	}
	partial := *reversal
	partial.STAN = "000132"
	partial.Replacement = i64(100000)
	reversalRepeat := *reversal
	reversalRepeat.Repeat = true
	reversalRepeat.TransmissionTime = t0.Add(50e9)

	return goldenModels{
		preauth:          preauth,
		purchase:         purchase,
		refund:           refund,
		completion:       completion,
		completionRepeat: &completionRepeat,
		advice:           advice,
		advicePre:        advicePre,
		advicePreRepeat:  &advicePreRepeat,
		reversal:         reversal,
		partial:          &partial,
		reversalRepeat:   &reversalRepeat,
	}
}
