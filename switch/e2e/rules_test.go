package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
)

// messages are the cardholder messages of reason-codes.md, by reason.
var messages = map[string][3]string{
	"approved":                    {"Payment approved", "Оплата прошла успешно", "Төлем сәтті өтті"},
	"insufficient_funds":          {"Insufficient funds on the card", "Недостаточно средств на карте", "Картада қаражат жеткіліксіз"},
	"expired_card":                {"The card has expired", "Истёк срок действия карты", "Картаның мерзімі өтіп кеткен"},
	"incorrect_cvv":               {"Incorrect CVV2/CVC2 code", "Неверный код CVV2/CVC2", "CVV2/CVC2 коды қате"},
	"invalid_card_number":         {"Incorrect card number", "Неверный номер карты", "Карта нөмірі қате"},
	"restricted_card":             {"The card is blocked. Contact your bank", "Карта заблокирована. Обратитесь в банк", "Карта бұғатталған. Банкке хабарласыңыз"},
	"suspected_fraud":             {"The payment was declined for security reasons", "Платёж отклонён по соображениям безопасности", "Төлем қауіпсіздік мақсатында қабылданбады"},
	"not_permitted_to_cardholder": {"This card can't be used for this payment", "Операция по карте запрещена", "Бұл картамен операция жасауға болмайды"},
	"exceeds_amount_limit":        {"Card limit exceeded", "Превышен лимит по карте", "Карта лимиті асып кетті"},
	"authentication_required":     {"Additional authentication required. Try again with 3-D Secure", "Требуется дополнительная аутентификация 3-D Secure", "Қосымша 3-D Secure аутентификациясы қажет"},
	"recurring_revoked":           {"The cardholder cancelled this regular payment at the bank", "Держатель карты отменил регулярный платёж в банке", "Карта иесі банкте тұрақты төлемді тоқтатты"},
	"issuer_unavailable":          {"The bank is temporarily unavailable. Try again later", "Банк временно недоступен. Повторите попытку позже", "Банк уақытша қолжетімсіз. Кейінірек қайталап көріңіз"},
	"system_error":                {"Technical error. Try again", "Техническая ошибка. Повторите попытку", "Техникалық қате. Қайталап көріңіз"},
	"do_not_honor":                {"Your bank declined the payment. Contact your bank or use another card", "Банк отклонил платёж. Обратитесь в банк или используйте другую карту", "Банк төлемді қабылдамады. Банкке хабарласыңыз немесе басқа картаны пайдаланыңыз"},
	"invalid_transaction":         {"Your bank declined the payment. Contact your bank or use another card", "Банк отклонил платёж. Обратитесь в банк или используйте другую карту", "Банк төлемді қабылдамады. Банкке хабарласыңыз немесе басқа картаны пайдаланыңыз"},
}

// outcome is what the API must answer for one simulator rule.
type outcome struct {
	reason     string
	reasonCode float64
	response   string
	bankCode   string // bank_response_code; "" when it must be absent
}

func declined(reason string, code float64, resp, bankCode string) outcome {
	return outcome{reason: reason, reasonCode: code, response: resp, bankCode: bankCode}
}

// checkOutcome asserts a payment answer against an expected outcome,
// cardholder messages included.
func checkOutcome(t *testing.T, p map[string]any, want outcome) {
	t.Helper()
	status := "declined"
	if want.reason == "approved" {
		status = "approved"
	}
	if p["status"] != status || p["reason"] != want.reason || p["reason_code"] != want.reasonCode || p["response_code"] != want.response {
		t.Errorf("status/reason/reason_code/response_code = %v/%v/%v/%v, want %s/%s/%v/%s",
			p["status"], p["reason"], p["reason_code"], p["response_code"], status, want.reason, want.reasonCode, want.response)
	}
	if got, _ := p["bank_response_code"].(string); got != want.bankCode {
		t.Errorf("bank_response_code = %q, want %q", got, want.bankCode)
	}
	msg, ok := messages[want.reason]
	if !ok {
		t.Fatalf("no cardholder message for %s in the test table", want.reason)
	}
	cm, _ := p["cardholder_message"].(map[string]any)
	if cm["en"] != msg[0] || cm["ru"] != msg[1] || cm["kk"] != msg[2] {
		t.Errorf("cardholder_message = %v, want %q", cm, msg)
	}
	if status == "approved" {
		if ac, _ := p["auth_code"].(string); len(ac) != 6 {
			t.Errorf("auth_code %q", p["auth_code"])
		}
	} else if _, has := p["auth_code"]; has {
		t.Errorf("declined payment carries auth_code %v", p["auth_code"])
	}
}

var twelveDigits = regexp.MustCompile(`^[0-9]{12}$`)

// TestAmountRulesBothBanks drives every amount rule of simulator.md through
// the switch to each bank and checks the normalized answer.
func TestAmountRulesBothBanks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})

	unavailable := declined("issuer_unavailable", 5091, "91", "")
	common := map[string]outcome{
		"00": {reason: "approved", response: "00"},
		"05": declined("do_not_honor", 5005, "05", ""),
		"14": declined("invalid_card_number", 5014, "14", ""),
		"51": declined("insufficient_funds", 5051, "51", ""),
		"54": declined("expired_card", 5054, "54", ""),
		"57": declined("not_permitted_to_cardholder", 5057, "57", ""),
		"59": declined("suspected_fraud", 5059, "59", ""),
		"61": declined("exceeds_amount_limit", 5061, "61", ""),
		"62": declined("restricted_card", 5062, "62", ""),
		"91": unavailable,
		"96": declined("system_error", 5096, "96", ""),
		"97": unavailable, // the host closes the connection
		"98": unavailable, // approved after the switch's timeout: reversed
		"99": unavailable, // approved, answer lost: reversed
	}
	perBank := map[string]map[string]outcome{
		"alfa": {
			"77": declined("do_not_honor", 5005, "05", ""),
			"82": declined("incorrect_cvv", 5082, "82", ""),
		},
		"sber": {
			"77": declined("authentication_required", 5208, "05", "1A"),
			"82": declined("incorrect_cvv", 5082, "82", "N7"),
		},
	}
	for _, b := range []*bank{e.alfa, e.sber} {
		currency := map[string]string{"alfa": "KZT", "sber": "USD"}[b.name]
		cases := map[string]outcome{}
		for k, v := range common {
			cases[k] = v
		}
		for k, v := range perBank[b.name] {
			cases[k] = v
		}
		for suffix, want := range cases {
			t.Run(b.name+"/"+suffix, func(t *testing.T) {
				t.Parallel()
				amount := int64(1234500)
				if suffix != "00" {
					amount = 100000 + int64(suffix[0]-'0')*10 + int64(suffix[1]-'0')
				}
				p := s.pay(req{ID: uniq("rule" + suffix), Amount: amount, Currency: currency, PAN: "4000000000000028", CVV: "8264"}.json())
				if p["bank"] != b.name {
					t.Fatalf("routed to %v, want %s", p["bank"], b.name)
				}
				checkOutcome(t, p, want)
				if !twelveDigits.MatchString(fmt.Sprint(p["rrn"])) {
					t.Errorf("rrn %v", p["rrn"])
				}
				rrn, _ := p["rrn"].(string)
				switch suffix {
				case "97":
					// Not recorded at the host; nothing may stand.
					if _, ok := b.sim.Ledger().ByRRN(rrn); ok {
						t.Errorf("rule 97 recorded at the host")
					}
				case "98", "99":
					// Approved at the host; the switch owes and sends a
					// reversal until it is acknowledged.
					waitFor(t, "the reversal of a timed-out approval", func() bool {
						tx, ok := b.sim.Ledger().ByRRN(rrn)
						return ok && tx.State == ledger.StateReversed
					})
				case "00":
					tx, ok := b.sim.Ledger().ByRRN(rrn)
					if !ok || tx.State != ledger.StateAuthorized || tx.AuthCode != p["auth_code"] || tx.Amount != amount {
						t.Errorf("host ledger %+v (found %v)", tx, ok)
					}
				}
			})
		}
		// The always-declining test card and the CVV2-failure CVV.
		t.Run(b.name+"/decline-card", func(t *testing.T) {
			t.Parallel()
			p := s.pay(req{ID: uniq("card05"), Amount: 150000, Currency: currency, PAN: banksim.DeclineTestPAN, CVV: "8264"}.json())
			checkOutcome(t, p, declined("do_not_honor", 5005, "05", ""))
		})
		t.Run(b.name+"/cvv-000", func(t *testing.T) {
			t.Parallel()
			p := s.pay(req{ID: uniq("cvv000"), Amount: 150000, Currency: currency, PAN: "5100000000000008", CVV: "000"}.json())
			checkOutcome(t, p, perBank[b.name]["82"])
		})
	}
}

// TestIdentifiersAndLogs: payment ids are pay_ + ULID and sort by
// creation; the switch's JSON access log line of a payment names its
// request id, payment id, bank, STAN and masked PAN.
func TestIdentifiersAndLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	var ids []string
	for i := range 5 {
		p := s.pay(req{ID: uniq("id"), Amount: int64(150000 + i*100), PAN: "4000000000000010", CVV: "9417"}.json())
		ids = append(ids, p["id"].(string))
	}
	for i, id := range ids {
		if !regexp.MustCompile(`^pay_[0-9A-HJKMNP-TV-Z]{26}$`).MatchString(id) {
			t.Errorf("payment id %q is not pay_ + ULID", id)
		}
		if i > 0 && strings.Compare(ids[i-1], id) >= 0 {
			t.Errorf("ids not increasing: %s then %s", ids[i-1], id)
		}
	}

	p := s.pay(req{ID: uniq("log"), Amount: 150000, Currency: "USD", PAN: "4000000000000010", CVV: "9417"}.json())
	found := false
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["message"] != "request" || m["payment_id"] != p["id"] {
			continue
		}
		found = true
		if m["request_id"] != p["request_id"] || m["bank"] != "sber" || m["stan"] != p["stan"] || m["masked_pan"] != "400000******0010" || m["level"] != "info" || m["time"] == nil {
			t.Errorf("access log line %s", line)
		}
	}
	if !found {
		t.Errorf("no access log line for %v", p["id"])
	}
}
