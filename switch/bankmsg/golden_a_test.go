package bankmsg

import (
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs"
)

// Bank A (h2h87-ascii) pieces shared by several fixtures. Every value is
// ASCII; n fields right-justified zero-filled, an/ans left-justified
// space-filled, LLVAR/LLLVAR with 2/3 ASCII length digits.
var (
	aPAN    = wf{2, "16" + "4000000000000010", "4000000000000010"} // LL=16
	aPC     = wf{3, "000000", "000000"}
	aAmt    = wf{4, "000000150000", "000000150000"} // 1500.00 KZT
	aDE7    = wf{7, "1127101500", "1127101500"}     // 27 Nov 10:15:00 UTC
	aDE12   = wf{12, "151500", "151500"}            // 15:15:00 Almaty (UTC+5)
	aDE13   = wf{13, "1127", "1127"}
	aDE14   = wf{14, "2812", "2812"}
	aMCC    = wf{18, "5999", "5999"}
	aDE32   = wf{32, "08" + "12345678", "12345678"} // LL=08
	aTID    = wf{41, "T0000123", "T0000123"}
	aMID    = wf{42, "M00000000000123", "M00000000000123"}
	aDE43   = wf{43, "ACME SHOP" + spaces(16) + "ALMATY" + spaces(7) + "KZ", de43}
	aKZT    = wf{49, "398", "398"}
	aRRN123 = wf{37, "633100000123", "633100000123"}
	aRRN125 = wf{37, "633100000125", "633100000125"}
)

// aDE90 is DE90 for an original MTI, STAN and DE7 of acquirer 12345678.
func aDE90(mti, stan, de7 string) wf {
	v := mti + stan + de7 + "00012345678" + "00000000000"
	return wf{90, v, v}
}

// Request fixtures of Bank A, one per message type of bank-a-h2h.md.
var (
	// 0100 pre-authorization, credential on file, merchant-initiated
	// subsequent recurring payment; DE48 tags 20, 21, 22.
	aPreauth = []wf{
		{0, "0100", "0100"},
		// bits 2,3,4,7 | 11,12,13,14 | 18,22 | 25,32 | 37 | 41,42,43,48 | 49 | -
		{1, "723C448108E18000", ""},
		aPAN, aPC, aAmt, aDE7,
		{11, "000123", "000123"},
		aDE12, aDE13, aDE14, aMCC,
		{22, "102", "102"}, // credential on file
		{25, "08", "08"},   // merchant-initiated
		aDE32, aRRN123, aTID, aMID, aDE43,
		{48, "033" + "20002MR" + "21001S" + "22015123456789012345", "20002MR21001S22015123456789012345"},
		aKZT,
	}
	// 0200 purchase, keyed, 3-D Secure, CVV2 and sub-merchant: DE48 tags
	// 01, 02, 03, 04, 30, 92 in ascending order.
	aPurchase = []wf{
		{0, "0200", "0200"},
		{1, "723C448108E18000", ""}, // as 0100
		aPAN, aPC, aAmt, aDE7,
		{11, "000125", "000125"},
		aDE12, aDE13, aDE14, aMCC,
		{22, "810", "810"}, // e-commerce, keyed
		{25, "59", "59"},
		aDE32, aRRN125, aTID, aMID, aDE43,
		{48, "115" +
			"01002" + "05" +
			"02028" + "AAABBEg0VhI0VniQEjRWAAAAAAA=" +
			"03036" + "f25084f0-5b16-4c0a-ae5d-b24808a95e4b" +
			"04005" + "2.2.0" +
			"30011" + "SELLER-0042" +
			"92003" + "123",
			"0100205" + "02028AAABBEg0VhI0VniQEjRWAAAAAAA=" + "03036f25084f0-5b16-4c0a-ae5d-b24808a95e4b" +
				"040052.2.0" + "30011SELLER-0042" + "92003123"},
		aKZT,
	}
	// 0200 online refund (200000) of the purchase above, with DE90.
	aRefund = []wf{
		{0, "0200", "0200"},
		// bits 1,2,3,4,7 | 11,12,13,14 | 18,22 | 25,32 | 37 | 41,42,43,48 | 49 | -
		// secondary: 90
		{1, "F23C448108E18000" + "0000004000000000", ""},
		aPAN,
		{3, "200000", "200000"},
		{4, "000000050000", "000000050000"},
		{7, "1127121500", "1127121500"},
		{11, "000188", "000188"},
		{12, "171500", "171500"},
		aDE13, aDE14, aMCC,
		{22, "810", "810"},
		{25, "59", "59"},
		aDE32,
		{37, "633100000188", "633100000188"},
		aTID, aMID, aDE43,
		{48, "016" + "30011" + "SELLER-0042", "30011SELLER-0042"},
		aKZT,
		aDE90("0200", "000125", "1127101500"),
	}
	// 0220 completion of the 0100: captured amount 1200.00, DE38, DE90.
	aCompletion = []wf{
		{0, "0220", "0220"},
		// bits 1,2,3,4,7 | 11,12,13 | 18 | 32 | 37,38 | 41,42 | 49 | -
		// secondary: 90
		{1, "F23840010CC08000" + "0000004000000000", ""},
		aPAN, aPC,
		{4, "000000120000", "000000120000"},
		{7, "1128090000", "1128090000"},
		{11, "000126", "000126"},
		{12, "140000", "140000"},
		{13, "1128", "1128"},
		aMCC, aDE32, aRRN123,
		{38, "A1B2C3", "A1B2C3"},
		aTID, aMID, aKZT,
		aDE90("0100", "000123", "1127101500"),
	}
	// 0221 repeat of the completion: same STAN, new DE7.
	aCompletionRepeat = []wf{
		{0, "0221", "0221"},
		{1, "F23840010CC08000" + "0000004000000000", ""},
		aPAN, aPC,
		{4, "000000120000", "000000120000"},
		{7, "1128090030", "1128090030"},
		{11, "000126", "000126"},
		{12, "140000", "140000"}, // DE12/13 as the first attempt
		{13, "1128", "1128"},
		aMCC, aDE32, aRRN123,
		{38, "A1B2C3", "A1B2C3"},
		aTID, aMID, aKZT,
		aDE90("0100", "000123", "1127101500"),
	}
	// 0220 stand-in advice of a purchase: DE38 stand-in code, DE39 00.
	aAdvicePurchase = []wf{
		{0, "0220", "0220"},
		// bits 1,2,3,4,7 | 11,12,13 | 18 | 32 | 37,38,39 | 41,42 | 49 | -
		// secondary: 90
		{1, "F23840010EC08000" + "0000004000000000", ""},
		aPAN, aPC, aAmt, aDE7,
		{11, "000128", "000128"},
		aDE12, aDE13, aMCC, aDE32,
		{37, "633100000127", "633100000127"},
		{38, "SI0127", "SI0127"},
		{39, "00", "00"},
		aTID, aMID, aKZT,
		aDE90("0200", "000127", "1127101500"),
	}
	// 0120 stand-in advice of a pre-authorization.
	aAdvicePreauth = []wf{
		{0, "0120", "0120"},
		{1, "F23840010EC08000" + "0000004000000000", ""}, // as the 0220 advice
		aPAN, aPC, aAmt, aDE7,
		{11, "000130", "000130"},
		aDE12, aDE13, aMCC, aDE32,
		{37, "633100000129", "633100000129"},
		{38, "SI0129", "SI0129"},
		{39, "00", "00"},
		aTID, aMID, aKZT,
		aDE90("0100", "000129", "1127101500"),
	}
	// 0121 repeat of the 0120.
	aAdvicePreauthRepeat = []wf{
		{0, "0121", "0121"},
		{1, "F23840010EC08000" + "0000004000000000", ""},
		aPAN, aPC, aAmt,
		{7, "1127101530", "1127101530"},
		{11, "000130", "000130"},
		{12, "151500", "151500"}, // DE12/13 as the first attempt
		aDE13, aMCC, aDE32,
		{37, "633100000129", "633100000129"},
		{38, "SI0129", "SI0129"},
		{39, "00", "00"},
		aTID, aMID, aKZT,
		aDE90("0100", "000129", "1127101500"),
	}
	// 0400 full reversal of the 0200 purchase.
	aReversal = []wf{
		{0, "0400", "0400"},
		// bits 1,2,3,4,7 | 11 | - | 32 | 37 | 41,42 | 49 | -
		// secondary: 90
		{1, "F220000108C08000" + "0000004000000000", ""},
		aPAN, aPC, aAmt,
		{7, "1127101520", "1127101520"},
		{11, "000131", "000131"},
		aDE32, aRRN125, aTID, aMID, aKZT,
		aDE90("0200", "000125", "1127101500"),
	}
	// 0400 partial reversal: 1000.00 stays authorized (DE95).
	aReversalPartial = []wf{
		{0, "0400", "0400"},
		// primary as the full reversal; secondary: 90, 95
		{1, "F220000108C08000" + "0000004200000000", ""},
		aPAN, aPC, aAmt,
		{7, "1127101520", "1127101520"},
		{11, "000132", "000132"},
		aDE32, aRRN125, aTID, aMID, aKZT,
		aDE90("0200", "000125", "1127101500"),
		{95, "000000100000" + strings.Repeat("0", 30), "000000100000" + strings.Repeat("0", 30)},
	}
	// 0401 repeat of the full reversal.
	aReversalRepeat = []wf{
		{0, "0401", "0401"},
		{1, "F220000108C08000" + "0000004000000000", ""},
		aPAN, aPC, aAmt,
		{7, "1127101550", "1127101550"},
		{11, "000131", "000131"},
		aDE32, aRRN125, aTID, aMID, aKZT,
		aDE90("0200", "000125", "1127101500"),
	}
	// 0800 echo test.
	aEcho = []wf{
		{0, "0800", "0800"},
		// bits 1,7 | 11 | ... ; secondary: 70
		{1, "8220000000000000" + "0400000000000000", ""},
		aDE7,
		{11, "000200", "000200"},
		{70, "301", "301"},
	}
)

func aAuthRequest(op specs.Op, stan, rrn string) *Request {
	return &Request{
		Op: op, STAN: stan, RRN: rrn, TransmissionTime: t0, LocalTime: t0,
		PAN: "4000000000000010", Expiry: "2812", CardSource: SourceKeyed,
		Amount: 150000, CurrencyNumeric: "398", MCC: "5999", AcquirerID: "12345678",
		TerminalID: "T0000123", MerchantID: "M00000000000123",
		MerchantName: "ACME SHOP", MerchantCity: "ALMATY", MerchantCountry: "KZ",
	}
}

func aAdviceRequest(op specs.Op, stan, rrn string) *Request {
	return &Request{
		Op: op, STAN: stan, RRN: rrn, TransmissionTime: t0, LocalTime: t0,
		PAN: "4000000000000010", Amount: 150000, CurrencyNumeric: "398", MCC: "5999",
		AcquirerID: "12345678", TerminalID: "T0000123", MerchantID: "M00000000000123",
	}
}

func goldenRequestsA() []goldenRequest {
	m := newGoldenModels()

	echo := &Request{Op: specs.OpEcho, STAN: "000200", TransmissionTime: t0, NetworkCode: "301"}

	return []goldenRequest{
		{name: "0100 preauth COF MIT", req: m.preauth, pieces: aPreauth},
		{name: "0200 purchase 3DS", req: m.purchase, pieces: aPurchase},
		{name: "0200 refund", req: m.refund, pieces: aRefund},
		{name: "0220 completion", req: m.completion, pieces: aCompletion},
		{name: "0221 completion repeat", req: m.completionRepeat, pieces: aCompletionRepeat},
		{name: "0220 stand-in advice", req: m.advice, pieces: aAdvicePurchase},
		{name: "0120 advice", req: m.advicePre, pieces: aAdvicePreauth},
		{name: "0121 advice repeat", req: m.advicePreRepeat, pieces: aAdvicePreauthRepeat},
		{name: "0400 full reversal", req: m.reversal, pieces: aReversal},
		{name: "0400 partial reversal", req: m.partial, pieces: aReversalPartial},
		{name: "0401 reversal repeat", req: m.reversalRepeat, pieces: aReversalRepeat},
		{name: "0800 echo", req: echo, pieces: aEcho},
	}
}

func TestGoldenRequestsBankA(t *testing.T) {
	runGoldenRequests(t, mustDialect(t, specs.DialectASCII), goldenRequestsA())
}

func TestGoldenResponsesBankA(t *testing.T) {
	// Responses echo 3, 4, 7, 11, 37, 41, 42, 49 and add 39 (and 38, 48).
	cases := []goldenResponse{
		{
			name: "0110 approved with network transaction ID", request: aPreauth,
			reply: Reply{ResponseCode: "00", AuthCode: "A1B2C3", NetworkTransactionID: "987654321098765"},
			pieces: []wf{
				{0, "0110", "0110"},
				// bits 3,4,7 | 11 | - | - | 37,38,39 | 41,42,48 | 49 | -
				{1, "322000000EC18000", ""},
				aPC, aAmt, aDE7,
				{11, "000123", "000123"},
				aRRN123,
				{38, "A1B2C3", "A1B2C3"},
				{39, "00", "00"},
				aTID, aMID,
				{48, "020" + "22015" + "987654321098765", "22015987654321098765"},
				aKZT,
			},
			want: Response{MTI: "0110", STAN: "000123", RRN: "633100000123", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0, TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "00", AuthCode: "A1B2C3",
				NetworkTransactionID: "987654321098765"},
		},
		{
			name: "0210 declined", request: aPurchase, reply: Reply{ResponseCode: "51"},
			pieces: []wf{
				{0, "0210", "0210"},
				// bits 3,4,7 | 11 | - | - | 37,39 | 41,42 | 49 | -
				{1, "322000000AC08000", ""},
				aPC, aAmt, aDE7,
				{11, "000125", "000125"},
				aRRN125,
				{39, "51", "51"},
				aTID, aMID, aKZT,
			},
			want: Response{MTI: "0210", STAN: "000125", RRN: "633100000125", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0, TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "51"},
		},
		{
			name: "0230 to a 0221", request: aCompletionRepeat, reply: Reply{ResponseCode: "00"},
			pieces: []wf{
				{0, "0230", "0230"},
				{1, "322000000AC08000", ""},
				aPC,
				{4, "000000120000", "000000120000"},
				{7, "1128090030", "1128090030"},
				{11, "000126", "000126"},
				aRRN123,
				{39, "00", "00"},
				aTID, aMID, aKZT,
			},
			want: Response{MTI: "0230", STAN: "000126", RRN: "633100000123", ProcessingCode: "000000",
				Amount: 120000, CurrencyNumeric: "398", TransmissionTime: tCapture.Add(30e9), TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "00"},
		},
		{
			name: "0130", request: aAdvicePreauth, reply: Reply{ResponseCode: "00"},
			pieces: []wf{
				{0, "0130", "0130"},
				{1, "322000000AC08000", ""},
				aPC, aAmt, aDE7,
				{11, "000130", "000130"},
				{37, "633100000129", "633100000129"},
				{39, "00", "00"},
				aTID, aMID, aKZT,
			},
			want: Response{MTI: "0130", STAN: "000130", RRN: "633100000129", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0, TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "00"},
		},
		{
			name: "0410 unknown original", request: aReversalRepeat, reply: Reply{ResponseCode: "25"},
			pieces: []wf{
				{0, "0410", "0410"},
				{1, "322000000AC08000", ""},
				aPC, aAmt,
				{7, "1127101550", "1127101550"},
				{11, "000131", "000131"},
				aRRN125,
				{39, "25", "25"},
				aTID, aMID, aKZT,
			},
			want: Response{MTI: "0410", STAN: "000131", RRN: "633100000125", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0.Add(50e9), TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "25"},
		},
		{
			name: "0810", request: aEcho, reply: Reply{ResponseCode: "00"},
			pieces: []wf{
				{0, "0810", "0810"},
				// bits 1,7 | 11 | - | - | 39 | ... ; secondary: 70
				{1, "8220000002000000" + "0400000000000000", ""},
				aDE7,
				{11, "000200", "000200"},
				{39, "00", "00"},
				{70, "301", "301"},
			},
			want: Response{MTI: "0810", STAN: "000200", TransmissionTime: t0, ResponseCode: "00", NetworkCode: "301"},
		},
	}
	runGoldenResponses(t, mustDialect(t, specs.DialectASCII), cases)
}
