package clearing

import (
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// contractSampleA is the sample file of bank-a-h2h.md, "Daily clearing
// file", verbatim, with the CRLF line ends the section prescribes.
const contractSampleA = "RRN;AUTH_CODE;STAN;TERMINAL_ID;MERCHANT_ID;CARD;OPER_DATE;OPER_TIME;OPER_TYPE;AMOUNT;CURRENCY;FEE;SETTLE_AMOUNT;SETTLE_DATE;ORIG_RRN\r\n" +
	"633100000123;A1B2C3;000123;T0000123;M00000000000123;400000******0010;27.11.2026;10:15:00;PURCHASE;1500,00;KZT;30,00;1470,00;30.11.2026;\r\n" +
	"633100000188;;000188;T0000123;M00000000000123;400000******0010;27.11.2026;12:01:44;REFUND;500,00;KZT;0,00;-500,00;30.11.2026;633100000123\r\n" +
	"TOTAL;2;2000,00;30,00;970,00\r\n"

// Bank B sample, written by hand from the tables of bank-b-h2h.md, "Daily
// clearing file". Each piece is commented with its 1-based positions.
const (
	sampleBHeader = "H" + // 1
		"BANKB" + // 2-6
		"20261130" + // 7-14 settlement date
		"00000123456" + // 15-25 acquirer ID 123456, zero-filled
		"000007" + // 26-31 file sequence 7
		"                                                                                                                       " // 32-150 (119)

	// A sale: 1500,00 KZT, fee 1.8% + 25,00 = 52,00, settle C 1448,00.
	sampleBSale = "D" + // 1
		"05" + // 2-3 sale
		"000123" + // 4-9 STAN
		"T0000123" + // 10-17 terminal
		"M00000000000123" + // 18-32 merchant
		"400000******0010   " + // 33-51 masked PAN, space-filled to 19
		"20261127" + // 52-59 local date
		"101500" + // 60-65 local time
		"A1B2C3" + // 66-71 auth code
		"000000150000" + // 72-83 amount
		"398" + // 84-86 KZT
		"0000005200" + // 87-96 fee
		"C" + // 97
		"000000144800" + // 98-109 settlement amount
		"20261130" + // 110-117 settlement date
		"            " + // 118-129 spaces for a sale
		"                     " // 130-150

	// A refund of 500,00 KZT of that sale: no fee, D 500,00.
	sampleBRefund = "D" + "06" + "000188" + "T0000123" + "M00000000000123" +
		"400000******0010   " + // 33-51
		"20261127" + "120144" +
		"      " + // 66-71 spaces for a refund
		"000000050000" + "398" + "0000000000" +
		"D" + "000000050000" + "20261130" +
		"A1B2C3" + "000123" + // 118-129 original auth code + STAN
		"                     "

	// A chargeback of a 100,00 USD sale with a 13-digit card: D 100,00.
	sampleBChargeback = "D" + "15" + "000150" + "T0000124" + "M00000000000124" +
		"510000***0008      " + // 33-51: 13-character masked PAN
		"20261120" + "093000" +
		"Z9Y8X7" + // 66-71
		"000000010000" + "840" + "0000000000" +
		"D" + "000000010000" + "20261130" +
		"Z9Y8X7" + "000150" +
		"                     "

	// Its reversal: C 100,00 USD; no authorization code given.
	sampleBChargebackReversal = "D" + "35" + "000150" + "T0000124" + "M00000000000124" +
		"510000***0008      " +
		"20261120" + "093000" +
		"      " +
		"000000010000" + "840" + "0000000000" +
		"C" + "000000010000" + "20261130" +
		"Z9Y8X7" + "000150" +
		"                     "

	// 4 details; amounts 150000+50000+10000+10000 = 220000; net
	// 144800-50000-10000+10000 = C 94800.
	sampleBTrailer = "T" + // 1
		"00000004" + // 2-9
		"000000000220000" + // 10-24
		"C" + // 25
		"000000000094800" + // 26-40
		"                                                                                                              " // 41-150 (110)

	sampleB = sampleBHeader + "\n" + sampleBSale + "\n" + sampleBRefund + "\n" +
		sampleBChargeback + "\n" + sampleBChargebackReversal + "\n" + sampleBTrailer + "\n"
)

func d(y, m, day int) calendar.Date { return calendar.Date{Year: y, Month: timeMonth(m), Day: day} }

// wantSampleA are the rows of contractSampleA.
func wantSampleA() []Record {
	return []Record{{
		Type: Purchase, RRN: "633100000123", AuthCode: "A1B2C3", STAN: "000123",
		TerminalID: "T0000123", MerchantID: "M00000000000123", MaskedPAN: "400000******0010",
		OperDate: d(2026, 11, 27), OperTime: TimeOfDay{10, 15, 0},
		Amount: 150000, Currency: KZT, Fee: 3000, SettleAmount: 147000, SettleDate: d(2026, 11, 30),
	}, {
		Type: Refund, RRN: "633100000188", STAN: "000188",
		TerminalID: "T0000123", MerchantID: "M00000000000123", MaskedPAN: "400000******0010",
		OperDate: d(2026, 11, 27), OperTime: TimeOfDay{12, 1, 44},
		Amount: 50000, Currency: KZT, Fee: 0, SettleAmount: -50000, SettleDate: d(2026, 11, 30),
		OrigRRN: "633100000123",
	}}
}

// wantSampleB are the details of sampleB.
func wantSampleB() []Record {
	return []Record{{
		Type: Purchase, AuthCode: "A1B2C3", STAN: "000123",
		TerminalID: "T0000123", MerchantID: "M00000000000123", MaskedPAN: "400000******0010",
		OperDate: d(2026, 11, 27), OperTime: TimeOfDay{10, 15, 0},
		Amount: 150000, Currency: KZT, Fee: 5200, SettleAmount: 144800, SettleDate: d(2026, 11, 30),
	}, {
		Type: Refund, STAN: "000188",
		TerminalID: "T0000123", MerchantID: "M00000000000123", MaskedPAN: "400000******0010",
		OperDate: d(2026, 11, 27), OperTime: TimeOfDay{12, 1, 44},
		Amount: 50000, Currency: KZT, SettleAmount: -50000, SettleDate: d(2026, 11, 30),
		OrigAuthCode: "A1B2C3", OrigSTAN: "000123",
	}, {
		Type: Chargeback, AuthCode: "Z9Y8X7", STAN: "000150",
		TerminalID: "T0000124", MerchantID: "M00000000000124", MaskedPAN: "510000***0008",
		OperDate: d(2026, 11, 20), OperTime: TimeOfDay{9, 30, 0},
		Amount: 10000, Currency: USD, SettleAmount: -10000, SettleDate: d(2026, 11, 30),
		OrigAuthCode: "Z9Y8X7", OrigSTAN: "000150",
	}, {
		Type: ChargebackReversal, STAN: "000150",
		TerminalID: "T0000124", MerchantID: "M00000000000124", MaskedPAN: "510000***0008",
		OperDate: d(2026, 11, 20), OperTime: TimeOfDay{9, 30, 0},
		Amount: 10000, Currency: USD, SettleAmount: 10000, SettleDate: d(2026, 11, 30),
		OrigAuthCode: "Z9Y8X7", OrigSTAN: "000150",
	}}
}

func TestSampleBIsWellFormedByHand(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(sampleB, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		if len(l) != BRecordLen {
			t.Errorf("hand-written line %d is %d characters", i+1, len(l))
		}
	}
}
