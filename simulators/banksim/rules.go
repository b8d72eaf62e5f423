package banksim

import (
	"fmt"
	"strconv"
)

// action is what the host does with a purchase or pre-authorization after
// the amount rule has matched.
type action uint8

const (
	actAnswer action = iota // answer with rule.code ("" = approve)
	actClose                // 97: close the connection, record nothing
	actLate                 // 98: approve, answer after LateDelay
	actSilent               // 99: approve and record, never answer
)

type rule struct {
	code string // decline code; "" approves
	act  action
}

// amountRules is indexed by the last two digits of DE4.
type amountRules [100]rule

// buildRules returns simulator.md's amount table for a dialect with the
// configured overrides applied.
func buildRules(binary bool, overrides map[string]string) (amountRules, error) {
	var r amountRules
	for _, c := range []int{5, 14, 51, 54, 57, 59, 61, 62, 91, 96} {
		r[c] = rule{code: fmt.Sprintf("%02d", c)}
	}
	if binary {
		r[77] = rule{code: "1A"}
		r[82] = rule{code: "N7"}
	} else {
		r[77] = rule{code: "05"}
		r[82] = rule{code: "82"}
	}
	r[97] = rule{act: actClose}
	r[98] = rule{act: actLate}
	r[99] = rule{act: actSilent}
	for k, v := range overrides {
		n, err := strconv.Atoi(k)
		if err != nil || len(k) != 2 || n < 0 || n > 99 {
			return r, fmt.Errorf("key %q: want the two last digits of an amount, 00-99", k)
		}
		switch v {
		case "approve", "00":
			r[n] = rule{}
		case "close":
			r[n] = rule{act: actClose}
		case "late":
			r[n] = rule{act: actLate}
		case "silent":
			r[n] = rule{act: actSilent}
		default:
			if !validCode(v) {
				return r, fmt.Errorf("%s: %q is neither a 2-character response code nor approve/close/late/silent", k, v)
			}
			r[n] = rule{code: v}
		}
	}
	return r, nil
}

// cvvFailure and unknownNTID are the dialects' codes for those card rules.
func cvvFailure(binary bool) string {
	if binary {
		return "N7"
	}
	return "82"
}

func unknownNTID(binary bool) string {
	if binary {
		return "R0"
	}
	return "12"
}
