package recon

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// SettlementConfig is the processor's commission and payout calendar.
type SettlementConfig struct {
	// DefaultRate is the commission on a sale, as a percentage with at most
	// four decimals ("2.5%" or "2.5"). Default "2.5%".
	DefaultRate string `mapstructure:"default_rate" yaml:"default_rate"`
	// MerchantRates overrides DefaultRate per merchant id (DE42).
	MerchantRates map[string]string `mapstructure:"merchant_rates" yaml:"merchant_rates"`
	// Currency is the settlement currency (default KZT); rows in other
	// currencies are reported separately, never converted.
	Currency string `mapstructure:"currency" yaml:"currency"`
	// Calendar is the processor's payout calendar (default: Almaty,
	// weekends off, no holidays): payouts are made on the next business
	// day after the bank's settlement day.
	Calendar calendar.Config `mapstructure:"calendar" yaml:"calendar"`
}

// Rate is a commission rate in millionths (2.5% = 25000).
type Rate int64

// ParseRate parses a percentage with at most four decimals: "2.5%", "2.5",
// "0", "1.2345%". It must be between 0 and 100.
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if t == "" {
		return 0, fmt.Errorf("rate %q: want a percentage such as 2.5%%", s)
	}
	intPart, frac, _ := strings.Cut(t, ".")
	if intPart == "" || len(intPart) > 3 || len(frac) > 4 {
		return 0, fmt.Errorf("rate %q: want a percentage with at most 4 decimals", s)
	}
	var v int64
	for _, c := range intPart + frac + strings.Repeat("0", 4-len(frac)) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("rate %q: want a percentage with at most 4 decimals", s)
		}
		v = v*10 + int64(c-'0')
	}
	// v is in 1/10000 of a percent = millionths.
	if v > 1_000_000 {
		return 0, fmt.Errorf("rate %q: more than 100%%", s)
	}
	return Rate(v), nil
}

// String formats r as a percentage ("2.5%").
func (r Rate) String() string {
	s := fmt.Sprintf("%d.%04d", int64(r)/10000, int64(r)%10000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// Commission returns r of amount (minor units) rounded half away from zero
// to the minor unit, so that a negative amount (a debit) gets exactly the
// negation of the positive one: 2.5% of 1025 = 25.625 → 26, of −1025 → −26.
func (r Rate) Commission(amount int64) int64 {
	// |amount| ≤ 999 999 999 999 and r ≤ 1 000 000: the product fits int64.
	if amount < 0 {
		return -((-amount*int64(r) + 500_000) / 1_000_000)
	}
	return (amount*int64(r) + 500_000) / 1_000_000
}

type rateTable struct {
	def       Rate
	merchants map[string]Rate
	currency  string
}

func newRateTable(c SettlementConfig) (*rateTable, error) {
	t := &rateTable{merchants: map[string]Rate{}, currency: c.Currency}
	if t.currency == "" {
		t.currency = "KZT"
	}
	def := c.DefaultRate
	if def == "" {
		def = "2.5%"
	}
	r, err := ParseRate(def)
	if err != nil {
		return nil, fmt.Errorf("settlement.default_rate: %w", err)
	}
	t.def = r
	for m, s := range c.MerchantRates {
		r, err := ParseRate(s)
		if err != nil {
			return nil, fmt.Errorf("settlement.merchant_rates.%s: %w", m, err)
		}
		t.merchants[strings.ToUpper(m)] = r // viper lower-cases map keys
		t.merchants[m] = r
	}
	return t, nil
}

func (t *rateTable) rate(merchant string) Rate {
	if r, ok := t.merchants[merchant]; ok {
		return r
	}
	return t.def
}

// MerchantSettlement is what the processor owes one merchant for one
// settlement day in one currency. Amounts are minor units.
type MerchantSettlement struct {
	MerchantID string `json:"merchant_id"`
	Currency   string `json:"currency"`
	// SettlementCurrency is false for rows in a currency other than the
	// configured settlement currency (reported separately, not converted).
	SettlementCurrency bool `json:"settlement_currency"`

	SalesCount          int64  `json:"sales_count"`
	Sales               int64  `json:"gross_sales"`
	RefundsCount        int64  `json:"refunds_count"`
	Refunds             int64  `json:"refunds"`
	ChargebacksCount    int64  `json:"chargebacks_count"`
	Chargebacks         int64  `json:"chargebacks"`
	CBReversalsCount    int64  `json:"chargeback_reversals_count"`
	ChargebackReversals int64  `json:"chargeback_reversals"`
	BankFees            int64  `json:"bank_fees"`
	Rate                string `json:"commission_rate"`
	Commission          int64  `json:"commission"`
	// Held are clearing rows with a break (unknown, mismatched, duplicate,
	// reversed-but-cleared sales, unknown refunds): neither paid nor
	// deducted until an operator resolves them.
	HeldCount int64 `json:"held_count"`
	Held      int64 `json:"held"`
	// Net = Sales − Refunds − Chargebacks + ChargebackReversals − Commission.
	// Negative: the merchant owes the processor (carried to the next payout).
	Net int64 `json:"net_payout"`
}

// SettlementRun names a run the settlement is built from.
type SettlementRun struct {
	Bank     string `json:"bank"`
	RunID    string `json:"run_id"`
	FileName string `json:"file_name"`
	Breaks   int64  `json:"breaks"`
}

// Settlement is the merchant payouts of one bank settlement day.
type Settlement struct {
	Date       calendar.Date        `json:"settlement_date"`
	PayoutDate calendar.Date        `json:"payout_date"`
	Currency   string               `json:"settlement_currency"`
	Runs       []SettlementRun      `json:"runs"`
	Missing    []string             `json:"banks_without_file"`
	Merchants  []MerchantSettlement `json:"merchants"`
	// Totals per currency.
	Totals []MerchantSettlement `json:"totals"`
}

// Settlement computes the merchant payouts for bank settlement day d from
// the accepted runs of that day.
func (s *Service) Settlement(ctx context.Context, d calendar.Date) (*Settlement, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("%w: invalid date", ErrBadRequest)
	}
	runs, err := s.store.ActiveRuns(ctx, d)
	if err != nil {
		return nil, err
	}
	out := &Settlement{Date: d, PayoutDate: s.pcal.NextBusinessDay(d), Currency: s.rates.currency}
	seen := map[string]bool{}
	for _, r := range runs {
		out.Runs = append(out.Runs, SettlementRun{Bank: r.Bank, RunID: r.ID, FileName: r.FileName, Breaks: r.Summary.Breaks})
		seen[r.Bank] = true
	}
	for name := range s.cfg.Banks {
		if !seen[name] {
			out.Missing = append(out.Missing, name)
		}
	}
	sort.Strings(out.Missing)
	type key struct{ m, c string }
	acc := map[key]*MerchantSettlement{}
	err = s.store.settlementRows(ctx, d, func(r *settleRow) error {
		k := key{r.MerchantID, r.Currency}
		ms := acc[k]
		if ms == nil {
			rate := s.rates.rate(r.MerchantID)
			ms = &MerchantSettlement{MerchantID: r.MerchantID, Currency: r.Currency, Rate: rate.String(),
				SettlementCurrency: r.Currency == s.rates.currency}
			acc[k] = ms
		}
		ms.BankFees += r.Fee
		if !r.Payable {
			ms.HeldCount++
			ms.Held += r.Amount
			return nil
		}
		switch r.Kind {
		case KindSale:
			ms.SalesCount++
			ms.Sales += r.Amount
			ms.Commission += s.rates.rate(r.MerchantID).Commission(r.Amount)
		case KindRefund:
			ms.RefundsCount++
			ms.Refunds += r.Amount
		case KindChargeback:
			ms.ChargebacksCount++
			ms.Chargebacks += r.Amount
		case KindChargebackReversal:
			ms.CBReversalsCount++
			ms.ChargebackReversals += r.Amount
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	totals := map[string]*MerchantSettlement{}
	for _, ms := range acc {
		ms.Net = ms.Sales - ms.Refunds - ms.Chargebacks + ms.ChargebackReversals - ms.Commission
		out.Merchants = append(out.Merchants, *ms)
		t := totals[ms.Currency]
		if t == nil {
			t = &MerchantSettlement{MerchantID: "TOTAL", Currency: ms.Currency, SettlementCurrency: ms.SettlementCurrency}
			totals[ms.Currency] = t
		}
		t.SalesCount += ms.SalesCount
		t.Sales += ms.Sales
		t.RefundsCount += ms.RefundsCount
		t.Refunds += ms.Refunds
		t.ChargebacksCount += ms.ChargebacksCount
		t.Chargebacks += ms.Chargebacks
		t.CBReversalsCount += ms.CBReversalsCount
		t.ChargebackReversals += ms.ChargebackReversals
		t.BankFees += ms.BankFees
		t.Commission += ms.Commission
		t.HeldCount += ms.HeldCount
		t.Held += ms.Held
		t.Net += ms.Net
	}
	less := func(a, b *MerchantSettlement) bool {
		if a.SettlementCurrency != b.SettlementCurrency {
			return a.SettlementCurrency
		}
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		return a.MerchantID < b.MerchantID
	}
	sort.Slice(out.Merchants, func(i, j int) bool { return less(&out.Merchants[i], &out.Merchants[j]) })
	for _, t := range totals {
		out.Totals = append(out.Totals, *t)
	}
	sort.Slice(out.Totals, func(i, j int) bool { return less(&out.Totals[i], &out.Totals[j]) })
	return out, nil
}
