package standin

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // the bank's day must not depend on the host having zoneinfo

	"github.com/acquirer/h2hswitch/switch/currency"
)

// DefaultTimeZone is the zone whose calendar day the per-card daily limits
// count in when a bank does not name one: both banks keep Almaty time.
const DefaultTimeZone = "Asia/Almaty"

// Config is the "standin" section of the switch configuration: the stand-in
// rules of each bank by bank name. A bank that is not listed never stands in.
type Config struct {
	Banks map[string]BankConfig `yaml:"banks" mapstructure:"banks"`
}

// BankConfig is one bank's stand-in rules, its time zone and its
// per-merchant overrides.
type BankConfig struct {
	Rules `yaml:",inline" mapstructure:",squash"`
	// TimeZone is the IANA zone of the bank's day for the daily limits
	// (default Asia/Almaty).
	TimeZone string `yaml:"time_zone" mapstructure:"time_zone"`
	// Merchants overrides rules for single merchants (by merchant id,
	// matched case-insensitively). Every key an override gives replaces the
	// bank's value of that key entirely (lists and maps included); keys it
	// leaves out are inherited from the bank.
	Merchants map[string]Rules `yaml:"merchants" mapstructure:"merchants"`
}

// Rules are the stand-in rules of a bank or a merchant override. Pointer,
// slice and map fields that are nil are "not given" (an override inherits
// them); an empty list or map is "given, empty".
type Rules struct {
	// Enabled turns stand-in on. Default false.
	Enabled *bool `yaml:"enabled" mapstructure:"enabled"`
	// Types are the payment types that may be stood in: purchase, preauth.
	// Default both. Refunds are never stood in: "refund" is refused.
	Types []string `yaml:"types" mapstructure:"types"`
	// MaxAmount is the largest single payment in minor units by ISO 4217
	// alpha-3 currency. A currency not listed is never stood in.
	MaxAmount map[string]int64 `yaml:"max_amount" mapstructure:"max_amount"`
	// DailyCount is how many stand-in approvals one card may get at this
	// bank per bank-local day. Required when enabled.
	DailyCount *int64 `yaml:"daily_count" mapstructure:"daily_count"`
	// DailyAmount is the most one card may be approved in stand-in at this
	// bank per bank-local day, by currency, in minor units. Required for
	// every currency of MaxAmount when enabled.
	DailyAmount map[string]int64 `yaml:"daily_amount" mapstructure:"daily_amount"`
	// MCCAllow, when not empty, is the only MCCs that may be stood in.
	MCCAllow []string `yaml:"mcc_allow" mapstructure:"mcc_allow"`
	// MCCDeny are MCCs never stood in; deny wins over allow.
	MCCDeny []string `yaml:"mcc_deny" mapstructure:"mcc_deny"`
	// MerchantInitiated lets merchant-initiated (recurring, unscheduled)
	// subsequent payments be stood in. Default false.
	MerchantInitiated *bool `yaml:"merchant_initiated" mapstructure:"merchant_initiated"`
	// OnTimeout asks the engine to stand in (after reversing) when the bank
	// did not answer in time, not only when no bank was usable. Default false.
	OnTimeout *bool `yaml:"on_timeout" mapstructure:"on_timeout"`
}

// rules are resolved Rules: every value known, maps keyed upper-case.
type rules struct {
	enabled     bool
	types       map[PaymentType]bool
	maxAmount   map[string]int64
	dailyCount  int64
	dailyAmount map[string]int64
	mccAllow    map[string]bool
	mccDeny     map[string]bool
	mit         bool
	onTimeout   bool
}

// bankPolicy is one bank's compiled configuration.
type bankPolicy struct {
	name      string
	loc       *time.Location
	base      rules
	merchants map[string]rules // upper-cased merchant id
}

// rulesFor returns the rules for a merchant of the bank.
func (b *bankPolicy) rulesFor(merchantID string) *rules {
	if r, ok := b.merchants[strings.ToUpper(merchantID)]; ok {
		return &r
	}
	return &b.base
}

// Validate checks the configuration and reports every problem, each naming
// its key (e.g. "standin.banks.alfa.max_amount.KZT: must be positive").
func (c Config) Validate() error {
	_, problems := compile(c)
	return errors.Join(problems...)
}

// compile validates c and builds the per-bank policies.
func compile(c Config) (map[string]*bankPolicy, []error) {
	var problems []error
	bad := func(key, format string, args ...any) {
		problems = append(problems, fmt.Errorf("standin.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	ccy := currency.New()
	out := make(map[string]*bankPolicy, len(c.Banks))
	for _, name := range sortedKeys(c.Banks) {
		bc := c.Banks[name]
		key := "banks." + name
		if strings.TrimSpace(name) == "" || name != strings.TrimSpace(name) {
			bad(key, "bank name must be non-empty without surrounding spaces")
			continue
		}
		bp := &bankPolicy{name: name, merchants: make(map[string]rules, len(bc.Merchants))}
		tz := bc.TimeZone
		if tz == "" {
			tz = DefaultTimeZone
		}
		loc, err := time.LoadLocation(tz)
		if err != nil {
			bad(key+".time_zone", "unknown time zone %q", tz)
			loc = time.UTC
		}
		bp.loc = loc
		defaults := rules{
			types:       map[PaymentType]bool{Purchase: true, Preauth: true},
			maxAmount:   map[string]int64{},
			dailyAmount: map[string]int64{},
			mccAllow:    map[string]bool{},
			mccDeny:     map[string]bool{},
		}
		bp.base = resolve(defaults, bc.Rules, key, ccy, bad)
		checkResolved(bp.base, key, bad)
		for _, mid := range sortedKeys(bc.Merchants) {
			mkey := key + ".merchants." + mid
			norm := strings.ToUpper(strings.TrimSpace(mid))
			if norm == "" || len(norm) > 15 || norm != strings.ToUpper(mid) {
				bad(mkey, "merchant id must be 1..15 characters without spaces")
				continue
			}
			if _, dup := bp.merchants[norm]; dup {
				bad(mkey, "merchant %s has more than one override (ids are matched case-insensitively)", norm)
				continue
			}
			r := resolve(bp.base, bc.Merchants[mid], mkey, ccy, bad)
			checkResolved(r, mkey, bad)
			bp.merchants[norm] = r
		}
		out[name] = bp
	}
	return out, problems
}

// resolve applies the given keys of r over base, validating each.
func resolve(base rules, r Rules, key string, ccy *currency.Table, bad func(key, format string, args ...any)) rules {
	out := base
	if r.Enabled != nil {
		out.enabled = *r.Enabled
	}
	if r.MerchantInitiated != nil {
		out.mit = *r.MerchantInitiated
	}
	if r.OnTimeout != nil {
		out.onTimeout = *r.OnTimeout
	}
	if r.Types != nil {
		out.types = make(map[PaymentType]bool, len(r.Types))
		for i, t := range r.Types {
			switch pt := PaymentType(strings.ToLower(strings.TrimSpace(t))); pt {
			case Purchase, Preauth:
				out.types[pt] = true
			case Refund:
				bad(fmt.Sprintf("%s.types[%d]", key, i), "refunds are never stood in")
			default:
				bad(fmt.Sprintf("%s.types[%d]", key, i), "%q is not purchase or preauth", t)
			}
		}
	}
	if r.MaxAmount != nil {
		out.maxAmount = amounts(r.MaxAmount, key+".max_amount", ccy, bad)
	}
	if r.DailyAmount != nil {
		out.dailyAmount = amounts(r.DailyAmount, key+".daily_amount", ccy, bad)
	}
	if r.DailyCount != nil {
		if *r.DailyCount < 1 {
			bad(key+".daily_count", "must be at least 1 (disable stand-in instead)")
		}
		out.dailyCount = *r.DailyCount
	}
	if r.MCCAllow != nil {
		out.mccAllow = mccs(r.MCCAllow, key+".mcc_allow", bad)
	}
	if r.MCCDeny != nil {
		out.mccDeny = mccs(r.MCCDeny, key+".mcc_deny", bad)
	}
	return out
}

// checkResolved checks what only the resolved rules can tell: an enabled
// bank or merchant must have bounded exposure in every currency it accepts.
func checkResolved(r rules, key string, bad func(key, format string, args ...any)) {
	if !r.enabled {
		return
	}
	if len(r.types) == 0 {
		bad(key+".types", "stand-in is enabled but no payment type is allowed")
	}
	if len(r.maxAmount) == 0 {
		bad(key+".max_amount", "required when stand-in is enabled (a currency not listed is never stood in)")
	}
	if r.dailyCount < 1 {
		bad(key+".daily_count", "required when stand-in is enabled")
	}
	for _, c := range sortedKeys(r.maxAmount) {
		if _, ok := r.dailyAmount[c]; !ok {
			bad(key+".daily_amount."+c, "required: max_amount allows %s", c)
		}
	}
}

func amounts(m map[string]int64, key string, ccy *currency.Table, bad func(key, format string, args ...any)) map[string]int64 {
	out := make(map[string]int64, len(m))
	for _, k := range sortedKeys(m) {
		c := strings.ToUpper(strings.TrimSpace(k))
		ckey := key + "." + c
		if !ccy.Known(c) {
			bad(key+"."+k, "%q is not a known ISO 4217 alpha-3 currency", k)
			continue
		}
		if _, dup := out[c]; dup {
			bad(ckey, "given more than once")
			continue
		}
		if m[k] <= 0 {
			bad(ckey, "must be a positive amount in minor units")
			continue
		}
		out[c] = m[k]
	}
	return out
}

func mccs(list []string, key string, bad func(key, format string, args ...any)) map[string]bool {
	out := make(map[string]bool, len(list))
	for i, m := range list {
		if !isMCC(m) {
			bad(fmt.Sprintf("%s[%d]", key, i), "%q is not a 4-digit MCC", m)
			continue
		}
		out[m] = true
	}
	return out
}

func isMCC(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
