package reasons

import (
	"strings"
	"testing"
	"testing/fstest"
)

// contractRow is one row of reason-codes.md, copied from the contract.
type contractRow struct {
	reason       string
	reasonCode   int
	responseCode string
	bankA        []string
	bankB        []string
}

var contract = []contractRow{
	{"approved", 0, "00", []string{"00"}, []string{"00"}},
	{"refer_to_issuer", 5001, "01", []string{"01"}, []string{"01"}},
	{"invalid_merchant", 5003, "03", []string{"03"}, []string{"03"}},
	{"pick_up_card", 5004, "04", []string{"04"}, []string{"04"}},
	{"do_not_honor", 5005, "05", []string{"05"}, []string{"05"}},
	{"invalid_transaction", 5012, "12", []string{"12"}, []string{"12"}},
	{"invalid_amount", 5013, "13", []string{"13"}, []string{"13"}},
	{"invalid_card_number", 5014, "14", []string{"14"}, []string{"14"}},
	{"original_not_found", 5025, "25", []string{"25"}, []string{"25"}},
	{"format_error", 5030, "30", []string{"30"}, []string{"30"}},
	{"lost_card", 5041, "41", []string{"41"}, []string{"41"}},
	{"stolen_card", 5043, "43", []string{"43"}, []string{"43"}},
	{"insufficient_funds", 5051, "51", []string{"51"}, []string{"51"}},
	{"expired_card", 5054, "54", []string{"54"}, []string{"54"}},
	{"not_permitted_to_cardholder", 5057, "57", []string{"57"}, []string{"57"}},
	{"not_permitted_to_terminal", 5058, "58", []string{"58"}, []string{"58"}},
	{"suspected_fraud", 5059, "59", []string{"59"}, []string{"59"}},
	{"exceeds_amount_limit", 5061, "61", []string{"61"}, []string{"61"}},
	{"restricted_card", 5062, "62", []string{"62"}, []string{"62"}},
	{"exceeds_frequency_limit", 5065, "65", []string{"65"}, []string{"65"}},
	{"incorrect_cvv", 5082, "82", []string{"82"}, []string{"N7"}},
	{"issuer_unavailable", 5091, "91", []string{"91"}, []string{"91"}},
	{"duplicate_transmission", 5094, "94", []string{"94"}, []string{"94"}},
	{"system_error", 5096, "96", []string{"96"}, []string{"96"}},
	{"authentication_failed", 5206, "05", nil, []string{"Q1"}},
	{"authentication_required", 5208, "05", nil, []string{"1A"}},
	{"recurring_revoked", 5210, "05", nil, []string{"R0", "R1"}},
	{"risk_declined", 5300, "05", nil, []string{"9G"}},
}

// Cardholder messages, copied from the contract.
var (
	msgDefault = Messages{
		"Your bank declined the payment. Contact your bank or use another card",
		"Банк отклонил платёж. Обратитесь в банк или используйте другую карту",
		"Банк төлемді қабылдамады. Банкке хабарласыңыз немесе басқа картаны пайдаланыңыз",
	}
	msgBlocked = Messages{"The card is blocked. Contact your bank", "Карта заблокирована. Обратитесь в банк", "Карта бұғатталған. Банкке хабарласыңыз"}
	msgFraud   = Messages{"The payment was declined for security reasons", "Платёж отклонён по соображениям безопасности", "Төлем қауіпсіздік мақсатында қабылданбады"}
	msgNotPerm = Messages{"This card can't be used for this payment", "Операция по карте запрещена", "Бұл картамен операция жасауға болмайды"}
	msgLimit   = Messages{"Card limit exceeded", "Превышен лимит по карте", "Карта лимиті асып кетті"}
	msgTech    = Messages{"Technical error. Try again", "Техническая ошибка. Повторите попытку", "Техникалық қате. Қайталап көріңіз"}

	wantMessages = map[string]Messages{
		"approved":                    {"Payment approved", "Оплата прошла успешно", "Төлем сәтті өтті"},
		"insufficient_funds":          {"Insufficient funds on the card", "Недостаточно средств на карте", "Картада қаражат жеткіліксіз"},
		"expired_card":                {"The card has expired", "Истёк срок действия карты", "Картаның мерзімі өтіп кеткен"},
		"incorrect_cvv":               {"Incorrect CVV2/CVC2 code", "Неверный код CVV2/CVC2", "CVV2/CVC2 коды қате"},
		"invalid_card_number":         {"Incorrect card number", "Неверный номер карты", "Карта нөмірі қате"},
		"lost_card":                   msgBlocked,
		"stolen_card":                 msgBlocked,
		"pick_up_card":                msgBlocked,
		"restricted_card":             msgBlocked,
		"suspected_fraud":             msgFraud,
		"risk_declined":               msgFraud,
		"not_permitted_to_cardholder": msgNotPerm,
		"not_permitted_to_terminal":   msgNotPerm,
		"exceeds_amount_limit":        msgLimit,
		"exceeds_frequency_limit":     msgLimit,
		"authentication_failed":       {"3-D Secure authentication failed", "Не пройдена аутентификация 3-D Secure", "3-D Secure аутентификациясынан өтпеді"},
		"authentication_required":     {"Additional authentication required. Try again with 3-D Secure", "Требуется дополнительная аутентификация 3-D Secure", "Қосымша 3-D Secure аутентификациясы қажет"},
		"recurring_revoked":           {"The cardholder cancelled this regular payment at the bank", "Держатель карты отменил регулярный платёж в банке", "Карта иесі банкте тұрақты төлемді тоқтатты"},
		"issuer_unavailable":          {"The bank is temporarily unavailable. Try again later", "Банк временно недоступен. Повторите попытку позже", "Банк уақытша қолжетімсіз. Кейінірек қайталап көріңіз"},
		"system_error":                msgTech,
		"format_error":                msgTech,
		"duplicate_transmission":      msgTech,
	}
)

func messagesFor(reason string) Messages {
	if m, ok := wantMessages[reason]; ok {
		return m
	}
	return msgDefault
}

func TestEveryContractRow(t *testing.T) {
	tbl, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range contract {
		for dialect, codes := range map[string][]string{"h2h87-ascii": row.bankA, "h2h87-binary": row.bankB} {
			for _, code := range codes {
				got := tbl.Lookup(dialect, code)
				want := Reason{Reason: row.reason, ReasonCode: row.reasonCode, ResponseCode: row.responseCode,
					Messages: messagesFor(row.reason)}
				if code != row.responseCode {
					want.BankResponseCode = code
				}
				if got != want {
					t.Errorf("%s %s:\n got %+v\nwant %+v", dialect, code, got, want)
				}
				// The package-level Lookup agrees.
				if pkg := Lookup(dialect, code); pkg != got {
					t.Errorf("Lookup(%s, %s) = %+v, table says %+v", dialect, code, pkg, got)
				}
			}
		}
		r, ok := tbl.ByName(row.reason)
		if !ok || r.ReasonCode != row.reasonCode || r.Messages != messagesFor(row.reason) {
			t.Errorf("ByName(%s) = %+v, %v", row.reason, r, ok)
		}
	}
}

func TestUnlistedCodesAreDoNotHonor(t *testing.T) {
	tbl, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ dialect, code string }{
		{"h2h87-ascii", "55"}, // in Bank A's list, not in reason-codes.md
		{"h2h87-ascii", "Q1"}, // Bank B's own code
		{"h2h87-ascii", "N7"},
		{"h2h87-binary", "82"}, // Bank B uses N7
		{"h2h87-binary", "ZZ"},
		{"h2h87-binary", ""},
		{"unknown-dialect", "00"},
	}
	for _, tc := range cases {
		got := tbl.Lookup(tc.dialect, tc.code)
		if got.Reason != DoNotHonor || got.ReasonCode != 5005 || got.ResponseCode != "05" ||
			got.BankResponseCode != tc.code || got.Messages != msgDefault {
			t.Errorf("%s %q: %+v", tc.dialect, tc.code, got)
		}
	}
	// Lowercase is the same code.
	if got := tbl.Lookup("h2h87-binary", "n7"); got.Reason != "incorrect_cvv" || got.BankResponseCode != "n7" {
		t.Errorf("n7: %+v", got)
	}
}

func TestEveryBankCodeIsInTheContract(t *testing.T) {
	tbl, err := New()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, row := range contract {
		want["h2h87-ascii"] += len(row.bankA)
		want["h2h87-binary"] += len(row.bankB)
	}
	for _, d := range []string{"h2h87-ascii", "h2h87-binary"} {
		if got := len(tbl.banks[d]); got != want[d] {
			t.Errorf("%s: %d codes, contract has %d", d, got, want[d])
		}
	}
	if len(tbl.reasons) != len(contract) {
		t.Errorf("%d reasons, contract has %d", len(tbl.reasons), len(contract))
	}
}

func TestLoadRejectsBadData(t *testing.T) {
	good := `reasons:
  - {reason: approved, reason_code: 0, response_code: "00"}
  - {reason: do_not_honor, reason_code: 5005, response_code: "05"}
  - {reason: issuer_unavailable, reason_code: 5091, response_code: "91"}
messages:
  - reasons: [do_not_honor]
    default: true
    en: "a"
    ru: "б"
    kk: "в"
`
	cases := map[string]fstest.MapFS{
		"unknown reason in bank table": {
			"reasons.yaml": {Data: []byte(good)},
			"x.yaml":       {Data: []byte("dialect: x\ncodes:\n  \"00\": nope\n")},
		},
		"dialect does not match file": {
			"reasons.yaml": {Data: []byte(good)},
			"x.yaml":       {Data: []byte("dialect: y\ncodes:\n  \"00\": approved\n")},
		},
		"no default message": {
			"reasons.yaml": {Data: []byte(strings.Replace(good, "    default: true\n", "", 1))},
		},
		"missing language": {
			"reasons.yaml": {Data: []byte(strings.Replace(good, "    kk: \"в\"\n", "", 1))},
		},
		"three-character code": {
			"reasons.yaml": {Data: []byte(good)},
			"x.yaml":       {Data: []byte("dialect: x\ncodes:\n  \"000\": approved\n")},
		},
	}
	for name, fsys := range cases {
		if _, err := load(fsys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := fstest.MapFS{
		"reasons.yaml": {Data: []byte(good)},
		"x.yaml":       {Data: []byte("dialect: x\ncodes:\n  \"00\": approved\n")},
	}
	tbl, err := load(ok)
	if err != nil {
		t.Fatal(err)
	}
	if r := tbl.Lookup("x", "00"); r.Reason != Approved || r.Messages.EN != "a" {
		t.Errorf("minimal table: %+v", r)
	}
}
