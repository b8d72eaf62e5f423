package bankmsg

import (
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs"
)

// Bank B (h2h87-binary) pieces, in hex. n fields are packed BCD (an odd
// digit count gets a leading zero nibble), n LLVAR has a 1-byte BCD digit
// count, ans LLLVAR a 2-byte BCD byte count, an/ans fixed fields are ASCII.
var (
	bPAN    = wf{2, "16" + "4000000000000010", "4000000000000010"} // 16 digits, 8 bytes
	bPC     = wf{3, "000000", "000000"}
	bAmt    = wf{4, "000000150000", "000000150000"}
	bDE7    = wf{7, "1127101500", "1127101500"}
	bDE12   = wf{12, "151500", "151500"}
	bDE13   = wf{13, "1127", "1127"}
	bDE14   = wf{14, "2812", "2812"}
	bMCC    = wf{18, "5999", "5999"}
	bDE32   = wf{32, "08" + "12345678", "12345678"}
	bTID    = wf{41, asc("T0000123"), "T0000123"}
	bMID    = wf{42, asc("M00000000000123"), "M00000000000123"}
	bDE43   = wf{43, asc(de43), de43}
	bKZT    = wf{49, "0398", "398"} // 3 digits, left-padded
	bRRN123 = wf{37, asc("633100000123"), "633100000123"}
	bRRN125 = wf{37, asc("633100000125"), "633100000125"}
	bDE63   = wf{63, "0011" + asc("SELLER-0042"), "SELLER-0042"}
)

// bDE90 is DE90 as 21 bytes of BCD for an original MTI, STAN and DE7 of
// acquirer 12345678.
func bDE90(mti, stan, de7 string) wf {
	v := mti + stan + de7 + "00012345678" + "00000000000"
	return wf{90, v, v}
}

// b126 is DE126 of the 3-D Secure purchase: no wallet, ECI 05, CAVV, DS
// transaction ID, version 2.2.0, CVV2 123.
var b126 = " " + "05" + "AAABBEg0VhI0VniQEjRWAAAAAAA=" + spaces(12) +
	"f25084f0-5b16-4c0a-ae5d-b24808a95e4b" + "2.2.0" + spaces(3) + "123" + spaces(1)

var (
	// 0100 pre-authorization, credential on file, merchant-initiated
	// subsequent recurring; DE61.
	bPreauth = []wf{
		{0, "0100", "0100"},
		// bits 2,3,4,7 | 11,12,13,14 | 18,22 | 25,32 | 37 | 41,42,43 | 49 | 61
		{1, "723C448108E08008", ""},
		bPAN, bPC, bAmt, bDE7,
		{11, "000123", "000123"},
		bDE12, bDE13, bDE14, bMCC,
		{22, "0100", "100"}, // credential on file
		{25, "08", "08"},
		bDE32, bRRN123, bTID, bMID, bDE43, bKZT,
		{61, "0018" + asc("M"+"2"+"1"+"123456789012345"), "M21123456789012345"},
	}
	// 0200 purchase, keyed, 3-D Secure, CVV2, sub-merchant: DE63, DE126.
	bPurchase = []wf{
		{0, "0200", "0200"},
		// bits 1,2,3,4,7 | 11,12,13,14 | 18,22 | 25,32 | 37 | 41,42,43 | 49 | 63
		// secondary: 126
		{1, "F23C448108E08002" + "0000000000000004", ""},
		bPAN, bPC, bAmt, bDE7,
		{11, "000125", "000125"},
		bDE12, bDE13, bDE14, bMCC,
		{22, "0812", "812"}, // e-commerce, keyed
		{25, "59", "59"},
		bDE32, bRRN125, bTID, bMID, bDE43, bKZT, bDE63,
		{126, "0091" + asc(b126), b126},
	}
	// 0220 refund advice (200000) of the purchase, with DE90.
	bRefund = []wf{
		{0, "0220", "0220"},
		// bits 1,2,3,4,7 | 11,12,13,14 | 18,22 | 25,32 | 37 | 41,42,43 | 49 | 63
		// secondary: 90
		{1, "F23C448108E08002" + "0000004000000000", ""},
		bPAN,
		{3, "200000", "200000"},
		{4, "000000050000", "000000050000"},
		{7, "1127121500", "1127121500"},
		{11, "000188", "000188"},
		{12, "171500", "171500"},
		bDE13, bDE14, bMCC,
		{22, "0812", "812"},
		{25, "59", "59"},
		bDE32,
		{37, asc("633100000188"), "633100000188"},
		bTID, bMID, bDE43, bKZT, bDE63,
		bDE90("0200", "000125", "1127101500"),
	}
	// 0220 completion of the 0100.
	bCompletion = []wf{
		{0, "0220", "0220"},
		// bits 1,2,3,4,7 | 11,12,13 | 18 | 32 | 37,38 | 41,42 | 49 | -
		// secondary: 90
		{1, "F23840010CC08000" + "0000004000000000", ""},
		bPAN, bPC,
		{4, "000000120000", "000000120000"},
		{7, "1128090000", "1128090000"},
		{11, "000126", "000126"},
		{12, "140000", "140000"},
		{13, "1128", "1128"},
		bMCC, bDE32, bRRN123,
		{38, asc("A1B2C3"), "A1B2C3"},
		bTID, bMID, bKZT,
		bDE90("0100", "000123", "1127101500"),
	}
	// 0221 repeat of the completion.
	bCompletionRepeat = []wf{
		{0, "0221", "0221"},
		{1, "F23840010CC08000" + "0000004000000000", ""},
		bPAN, bPC,
		{4, "000000120000", "000000120000"},
		{7, "1128090030", "1128090030"},
		{11, "000126", "000126"},
		{12, "140000", "140000"}, // DE12/13 as the first attempt
		{13, "1128", "1128"},
		bMCC, bDE32, bRRN123,
		{38, asc("A1B2C3"), "A1B2C3"},
		bTID, bMID, bKZT,
		bDE90("0100", "000123", "1127101500"),
	}
	// 0220 stand-in advice of a purchase.
	bAdvicePurchase = []wf{
		{0, "0220", "0220"},
		// bits 1,2,3,4,7 | 11,12,13 | 18 | 32 | 37,38,39 | 41,42 | 49 | -
		// secondary: 90
		{1, "F23840010EC08000" + "0000004000000000", ""},
		bPAN, bPC, bAmt, bDE7,
		{11, "000128", "000128"},
		bDE12, bDE13, bMCC, bDE32,
		{37, asc("633100000127"), "633100000127"},
		{38, asc("SI0127"), "SI0127"},
		{39, asc("00"), "00"},
		bTID, bMID, bKZT,
		bDE90("0200", "000127", "1127101500"),
	}
	// 0120 stand-in advice of a pre-authorization.
	bAdvicePreauth = []wf{
		{0, "0120", "0120"},
		{1, "F23840010EC08000" + "0000004000000000", ""},
		bPAN, bPC, bAmt, bDE7,
		{11, "000130", "000130"},
		bDE12, bDE13, bMCC, bDE32,
		{37, asc("633100000129"), "633100000129"},
		{38, asc("SI0129"), "SI0129"},
		{39, asc("00"), "00"},
		bTID, bMID, bKZT,
		bDE90("0100", "000129", "1127101500"),
	}
	// 0121 repeat of the 0120.
	bAdvicePreauthRepeat = []wf{
		{0, "0121", "0121"},
		{1, "F23840010EC08000" + "0000004000000000", ""},
		bPAN, bPC, bAmt,
		{7, "1127101530", "1127101530"},
		{11, "000130", "000130"},
		{12, "151500", "151500"}, // DE12/13 as the first attempt
		bDE13, bMCC, bDE32,
		{37, asc("633100000129"), "633100000129"},
		{38, asc("SI0129"), "SI0129"},
		{39, asc("00"), "00"},
		bTID, bMID, bKZT,
		bDE90("0100", "000129", "1127101500"),
	}
	// 0420 reversal advice of the 0200 purchase.
	bReversal = []wf{
		{0, "0420", "0420"},
		// bits 1,2,3,4,7 | 11 | - | 32 | 37 | 41,42 | 49 | -
		// secondary: 90
		{1, "F220000108C08000" + "0000004000000000", ""},
		bPAN, bPC, bAmt,
		{7, "1127101520", "1127101520"},
		{11, "000131", "000131"},
		bDE32, bRRN125, bTID, bMID, bKZT,
		bDE90("0200", "000125", "1127101500"),
	}
	// 0420 partial reversal, DE95: 1000.00 stays authorized.
	bReversalPartial = []wf{
		{0, "0420", "0420"},
		// secondary: 90, 95
		{1, "F220000108C08000" + "0000004200000000", ""},
		bPAN, bPC, bAmt,
		{7, "1127101520", "1127101520"},
		{11, "000132", "000132"},
		bDE32, bRRN125, bTID, bMID, bKZT,
		bDE90("0200", "000125", "1127101500"),
		{95, asc("000000100000" + strings.Repeat("0", 30)), "000000100000" + strings.Repeat("0", 30)},
	}
	// 0421 repeat of the 0420.
	bReversalRepeat = []wf{
		{0, "0421", "0421"},
		{1, "F220000108C08000" + "0000004000000000", ""},
		bPAN, bPC, bAmt,
		{7, "1127101550", "1127101550"},
		{11, "000131", "000131"},
		bDE32, bRRN125, bTID, bMID, bKZT,
		bDE90("0200", "000125", "1127101500"),
	}
)

// bNetwork is an 0800 with DE70 code: bits 1, 7, 11; secondary 70.
func bNetwork(stan, code string) []wf {
	return []wf{
		{0, "0800", "0800"},
		{1, "8220000000000000" + "0400000000000000", ""},
		bDE7,
		{11, stan, stan},
		{70, "0" + code, code},
	}
}

func goldenRequestsB() []goldenRequest {
	m := newGoldenModels()

	network := func(op specs.Op, stan, code string) *Request {
		return &Request{Op: op, STAN: stan, TransmissionTime: t0, NetworkCode: code}
	}

	return []goldenRequest{
		{name: "0100 preauth COF MIT", req: m.preauth, pieces: bPreauth},
		{name: "0200 purchase 3DS", req: m.purchase, pieces: bPurchase},
		{name: "0220 refund", req: m.refund, pieces: bRefund},
		{name: "0220 completion", req: m.completion, pieces: bCompletion},
		{name: "0221 completion repeat", req: m.completionRepeat, pieces: bCompletionRepeat},
		{name: "0220 stand-in advice", req: m.advice, pieces: bAdvicePurchase},
		{name: "0120 advice", req: m.advicePre, pieces: bAdvicePreauth},
		{name: "0121 advice repeat", req: m.advicePreRepeat, pieces: bAdvicePreauthRepeat},
		{name: "0420 full reversal", req: m.reversal, pieces: bReversal},
		{name: "0420 partial reversal", req: m.partial, pieces: bReversalPartial},
		{name: "0421 reversal repeat", req: m.reversalRepeat, pieces: bReversalRepeat},
		{name: "0800 sign-on", req: network(specs.OpSignOn, "000201", "001"), pieces: bNetwork("000201", "001")},
		{name: "0800 sign-off", req: network(specs.OpSignOff, "000202", "002"), pieces: bNetwork("000202", "002")},
		{name: "0800 echo", req: network(specs.OpEcho, "000203", "301"), pieces: bNetwork("000203", "301")},
	}
}

func TestGoldenRequestsBankB(t *testing.T) {
	runGoldenRequests(t, mustDialect(t, specs.DialectBinary), goldenRequestsB())
}

func TestGoldenResponsesBankB(t *testing.T) {
	cases := []goldenResponse{
		{
			name: "0110 approved with DE62", request: bPreauth,
			reply: Reply{ResponseCode: "00", AuthCode: "A1B2C3", NetworkTransactionID: "987654321098765"},
			pieces: []wf{
				{0, "0110", "0110"},
				// bits 3,4,7 | 11 | - | - | 37,38,39 | 41,42 | 49 | 62
				{1, "322000000EC08004", ""},
				bPC, bAmt, bDE7,
				{11, "000123", "000123"},
				bRRN123,
				{38, asc("A1B2C3"), "A1B2C3"},
				{39, asc("00"), "00"},
				bTID, bMID, bKZT,
				{62, "0015" + asc("987654321098765"), "987654321098765"},
			},
			want: Response{MTI: "0110", STAN: "000123", RRN: "633100000123", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0, TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "00", AuthCode: "A1B2C3",
				NetworkTransactionID: "987654321098765"},
		},
		{
			name: "0210 declined Q1", request: bPurchase, reply: Reply{ResponseCode: "Q1"},
			pieces: []wf{
				{0, "0210", "0210"},
				// bits 3,4,7 | 11 | - | - | 37,39 | 41,42 | 49 | -
				{1, "322000000AC08000", ""},
				bPC, bAmt, bDE7,
				{11, "000125", "000125"},
				bRRN125,
				{39, asc("Q1"), "Q1"},
				bTID, bMID, bKZT,
			},
			want: Response{MTI: "0210", STAN: "000125", RRN: "633100000125", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0, TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "Q1"},
		},
		{
			name: "0230 to a refund", request: bRefund, reply: Reply{ResponseCode: "00"},
			pieces: []wf{
				{0, "0230", "0230"},
				{1, "322000000AC08000", ""},
				{3, "200000", "200000"},
				{4, "000000050000", "000000050000"},
				{7, "1127121500", "1127121500"},
				{11, "000188", "000188"},
				{37, asc("633100000188"), "633100000188"},
				{39, asc("00"), "00"},
				bTID, bMID, bKZT,
			},
			want: Response{MTI: "0230", STAN: "000188", RRN: "633100000188", ProcessingCode: "200000",
				Amount: 50000, CurrencyNumeric: "398", TransmissionTime: tRefund, TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "00"},
		},
		{
			name: "0130 to a 0121", request: bAdvicePreauthRepeat, reply: Reply{ResponseCode: "00"},
			pieces: []wf{
				{0, "0130", "0130"},
				{1, "322000000AC08000", ""},
				bPC, bAmt,
				{7, "1127101530", "1127101530"},
				{11, "000130", "000130"},
				{37, asc("633100000129"), "633100000129"},
				{39, asc("00"), "00"},
				bTID, bMID, bKZT,
			},
			want: Response{MTI: "0130", STAN: "000130", RRN: "633100000129", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0.Add(30e9), TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "00"},
		},
		{
			name: "0430 to a 0421", request: bReversalRepeat, reply: Reply{ResponseCode: "00"},
			pieces: []wf{
				{0, "0430", "0430"},
				{1, "322000000AC08000", ""},
				bPC, bAmt,
				{7, "1127101550", "1127101550"},
				{11, "000131", "000131"},
				bRRN125,
				{39, asc("00"), "00"},
				bTID, bMID, bKZT,
			},
			want: Response{MTI: "0430", STAN: "000131", RRN: "633100000125", ProcessingCode: "000000",
				Amount: 150000, CurrencyNumeric: "398", TransmissionTime: t0.Add(50e9), TerminalID: "T0000123",
				MerchantID: "M00000000000123", ResponseCode: "00"},
		},
		{
			name: "0810 to sign-on", request: bNetwork("000201", "001"), reply: Reply{ResponseCode: "00"},
			pieces: []wf{
				{0, "0810", "0810"},
				// bits 1,7 | 11 | - | - | 39 | ... ; secondary: 70
				{1, "8220000002000000" + "0400000000000000", ""},
				bDE7,
				{11, "000201", "000201"},
				{39, asc("00"), "00"},
				{70, "0001", "001"},
			},
			want: Response{MTI: "0810", STAN: "000201", TransmissionTime: t0, ResponseCode: "00", NetworkCode: "001"},
		},
	}
	runGoldenResponses(t, mustDialect(t, specs.DialectBinary), cases)
}
