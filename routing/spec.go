package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Table format limits. They bound what a hostile or mistaken file can make
// the switch allocate; a real acquirer's table is far below them.
const (
	// MaxTableBytes is the largest table file or request body accepted.
	MaxTableBytes = 32 << 20
	// MaxRules is the largest number of rules in a table.
	MaxRules = 100_000
	// MaxBinEntries is the largest number of bins entries over all rules.
	MaxBinEntries = 500_000
	// MaxProblems is how many problems a refusal lists; the rest are
	// counted in a last problem, so a broken huge file gives a readable
	// answer.
	MaxProblems = 1000
	// MaxWeight is the largest split weight; it keeps weight sums far from
	// overflow.
	MaxWeight = 1_000_000
	// MaxNameLen is the longest rule name.
	MaxNameLen = 64
	// MaxMerchantIDLen is the longest merchant id (upstream-api.md: up to 15).
	MaxMerchantIDLen = 15
	// MaxBinDigits is the longest BIN prefix; a PAN's first MaxBinDigits
	// digits decide every bins match.
	MaxBinDigits = 11
	// MinBinDigits is the shortest BIN prefix.
	MinBinDigits = 6
)

// Brands a rule may name, as written in the table.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	BrandMir        = "mir"
	BrandAmex       = "amex"
	BrandUnionPay   = "unionpay"
	BrandJCB        = "jcb"
)

// Transaction types a rule may name.
const (
	TypePurchase = "purchase"
	TypePreauth  = "preauth"
)

// RuleSpec is one rule as the operator wrote it. It is what GET
// /v1/admin/routes shows and marshals back to the file's JSON form. Values
// reachable from a table in force are shared and must not be modified.
type RuleSpec struct {
	Name  string     `json:"name"`
	Line  int        `json:"line,omitempty"`
	Match *MatchSpec `json:"match,omitempty"`
	Banks []string   `json:"banks,omitempty"`
	Split Split      `json:"split,omitempty"`
}

// MatchSpec is a rule's match block; a nil list means the key is absent.
type MatchSpec struct {
	Bins       []string    `json:"bins,omitempty"`
	Brands     []string    `json:"brands,omitempty"`
	Currencies []string    `json:"currencies,omitempty"`
	Amount     *AmountSpec `json:"amount,omitempty"`
	Types      []string    `json:"types,omitempty"`
	Merchants  []string    `json:"merchants,omitempty"`
	MCCs       []string    `json:"mccs,omitempty"`
}

// AmountSpec bounds the amount in minor units, inclusive; either bound may
// be absent.
type AmountSpec struct {
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
}

// Weight is one bank's share in a split.
type Weight struct {
	Bank   string `json:"bank"`
	Weight int    `json:"weight"`
}

// Split is a rule's weighted split in the order the file gives it. It
// marshals to a JSON object ({"alfa": 70, "sber": 30}) as in the file.
type Split []Weight

// MarshalJSON writes the split as an object, keeping the file's order.
func (s Split) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, w := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(w.Bank)
		if err != nil {
			return nil, fmt.Errorf("marshal split bank: %w", err)
		}
		b.Write(k)
		fmt.Fprintf(&b, ":%d", w.Weight)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
