// Package standin decides whether the switch may approve a payment itself
// ("stand-in processing", STIP) when the bank the routing table chose cannot
// take it, and generates the stand-in authorization code.
//
// The rules are per bank with per-merchant overrides (Config): enabled,
// payment types (purchase, preauth; refunds never), a maximum amount per
// currency, per-card daily count and amount limits counted over the bank's
// local day, MCC allow and deny lists, merchant-initiated payments, and
// whether a bank timeout may end in stand-in. The per-card counters are the
// card's stand-in payments of the day in the journal plus in-process
// reservations, so concurrent decisions never exceed a limit (within one
// process; see docs/standin.md for several processes on one journal).
//
// Typical use by the engine, once no bank took the payment:
//
//	d, err := policy.Decide(ctx, in)
//	if err != nil || !d.Approve { decline issuer_unavailable }
//	... journal the payment approved in stand-in with d.AuthCode and queue its advice ...
//	if journaled { policy.Commit(d) } else { policy.Release(d) }
package standin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// PaymentType is what the upstream asked for.
type PaymentType string

// Payment types. Refund is listed so that callers can ask; it is never
// approved.
const (
	Purchase PaymentType = "purchase"
	Preauth  PaymentType = "preauth"
	Refund   PaymentType = "refund"
)

// Reasons a stand-in is declined (Decision.Reason), for logs and metrics.
const (
	ReasonWithinLimits       = "within_limits" // the metrics label of an approval
	ReasonNotConfigured      = "bank_not_configured"
	ReasonDisabled           = "disabled"
	ReasonRefund             = "refund"
	ReasonTypeNotAllowed     = "type_not_allowed"
	ReasonCurrencyNotAllowed = "currency_not_allowed"
	ReasonAmountOverLimit    = "amount_over_limit"
	ReasonMCCDenied          = "mcc_denied"
	ReasonMCCNotAllowed      = "mcc_not_allowed"
	ReasonMerchantInitiated  = "merchant_initiated"
	ReasonInitialCredential  = "initial_stored_credential"
	ReasonCardDailyCount     = "card_daily_count"
	ReasonCardDailyAmount    = "card_daily_amount"
	ReasonCardActivityBound  = "card_activity_unbounded"
	ReasonInvalidInput       = "invalid_input"
	ReasonError              = "error"
)

// ErrInvalidInput is returned (wrapped) for an Input the engine should
// never build: a caller bug, not a rule.
var ErrInvalidInput = errors.New("standin: invalid input")

// Journal is what stand-in reads from the journal (journal.Store satisfies
// it): the card's payments of the day.
type Journal interface {
	ListPayments(ctx context.Context, f journal.PaymentFilter) ([]*journal.Payment, error)
}

// Options are a Policy's collaborators.
type Options struct {
	// Journal is required.
	Journal Journal
	// Metrics may be nil (nothing recorded).
	Metrics *Metrics
	// Now is the clock for Input.Now's default and reservation expiry;
	// nil means time.Now.
	Now func() time.Time
	// Rand is the entropy of authorization codes; nil means crypto/rand.
	Rand io.Reader
	// ReservationTTL is how long an approval nobody Commits or Releases
	// keeps counting against its card (a safety net for a lost call).
	// Zero means DefaultReservationTTL.
	ReservationTTL time.Duration
}

// DefaultReservationTTL bounds how long an unsettled reservation counts.
const DefaultReservationTTL = 5 * time.Minute

// activityPageSize and maxActivityPages bound the journal read of one card's
// day: a card with more payments than that at one bank in one day is not
// stood in at all.
const (
	activityPageSize = 1000
	maxActivityPages = 10
	maxCodeDraws     = 16
)

// Input is the payment asking to be stood in.
type Input struct {
	Bank       string // the bank the payment would have gone to (and whose advice it owes)
	MerchantID string
	MCC        string
	Type       PaymentType
	Amount     int64  // minor units
	Currency   string // ISO 4217 alpha-3
	PANHash    string // journal.Card.PANHash
	// MerchantInitiated: a stored-credential payment the merchant initiated
	// (recurring, unscheduled). Subsequent: a payment on a credential
	// already stored. StoresCredential: the initial payment that stores the
	// credential, never stood in (only the issuer can return the network
	// transaction id later merchant-initiated payments need).
	MerchantInitiated bool
	Subsequent        bool
	StoresCredential  bool
	// PaymentID is the payment being decided; it is left out of the card's
	// counts should it already be in the journal.
	PaymentID string
	// Now is the time the payment is journaled under (its CreatedAt): it
	// picks the bank-local day. Zero means the Policy's clock.
	Now time.Time
}

func (in *Input) validate() error {
	switch {
	case in.Bank == "":
		return fmt.Errorf("%w: bank is empty", ErrInvalidInput)
	case in.Amount <= 0:
		return fmt.Errorf("%w: amount %d is not positive", ErrInvalidInput, in.Amount)
	case len(in.Currency) != 3:
		return fmt.Errorf("%w: currency %q is not alpha-3", ErrInvalidInput, in.Currency)
	case in.PANHash == "":
		return fmt.Errorf("%w: PAN hash is empty", ErrInvalidInput)
	}
	return nil
}

// Decision is Decide's answer. When Approve is false, Reason says which rule
// declined. An approval holds a reservation against the card's daily limits
// that the caller settles with Commit or Release.
type Decision struct {
	Approve  bool
	Reason   string
	AuthCode string // the stand-in DE38 when approved
	// Bank and Day identify the bank and its local day the approval counts
	// against (the day as the local midnight starting it).
	Bank string
	Day  time.Time

	reservation uint64
}

// Policy applies the stand-in rules. It is safe for concurrent use.
type Policy struct {
	banks   atomic.Pointer[map[string]*bankPolicy]
	journal Journal
	metrics *Metrics
	now     func() time.Time
	rand    io.Reader
	ttl     time.Duration
	ledger  *ledger
	// pageSize and maxPages bound the journal read (tests lower them).
	pageSize, maxPages int
}

// New validates cfg and builds a Policy.
func New(cfg Config, opts Options) (*Policy, error) {
	if opts.Journal == nil {
		return nil, errors.New("standin: Options.Journal is required")
	}
	banks, problems := compile(cfg)
	if len(problems) > 0 {
		return nil, fmt.Errorf("standin: invalid configuration: %w", errors.Join(problems...))
	}
	p := &Policy{
		journal: opts.Journal, metrics: opts.Metrics, now: opts.Now,
		rand: opts.Rand, ttl: opts.ReservationTTL, ledger: newLedger(),
		pageSize: activityPageSize, maxPages: maxActivityPages,
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.ttl <= 0 {
		p.ttl = DefaultReservationTTL
	}
	p.banks.Store(&banks)
	return p, nil
}

// Update replaces the rules (configuration reload). An invalid cfg is
// refused as a whole and the rules in force stay. Reservations carry over.
func (p *Policy) Update(cfg Config) error {
	banks, problems := compile(cfg)
	if len(problems) > 0 {
		return fmt.Errorf("standin: invalid configuration: %w", errors.Join(problems...))
	}
	p.banks.Store(&banks)
	return nil
}

func (p *Policy) bank(name string) *bankPolicy { return (*p.banks.Load())[name] }

// Enabled reports whether the bank stands in at all (for the merchant, when
// merchantID is not empty).
func (p *Policy) Enabled(bank, merchantID string) bool {
	b := p.bank(bank)
	return b != nil && b.rulesFor(merchantID).enabled
}

// OnTimeout reports whether the engine may stand in for a payment the bank
// did not answer in time (after queuing its reversal). Default false.
func (p *Policy) OnTimeout(bank, merchantID string) bool {
	b := p.bank(bank)
	if b == nil {
		return false
	}
	r := b.rulesFor(merchantID)
	return r.enabled && r.onTimeout
}

// Decide applies the rules to in. An error means no decision could be made
// (the journal could not be read, ctx ended, or in is malformed); the caller
// declines with issuer_unavailable. Every decision is counted in Metrics.
func (p *Policy) Decide(ctx context.Context, in Input) (Decision, error) {
	d, err := p.decide(ctx, in)
	p.metrics.decision(in.Bank, d)
	return d, err
}

func (p *Policy) decide(ctx context.Context, in Input) (Decision, error) {
	no := func(reason string) Decision { return Decision{Reason: reason, Bank: in.Bank} }
	if err := in.validate(); err != nil {
		return no(ReasonInvalidInput), err
	}
	if err := ctx.Err(); err != nil {
		return no(ReasonError), fmt.Errorf("standin: deciding for bank %s: %w", in.Bank, err)
	}
	b := p.bank(in.Bank)
	if b == nil {
		return no(ReasonNotConfigured), nil
	}
	r := b.rulesFor(in.MerchantID)
	currency := strings.ToUpper(in.Currency)
	if reason := r.check(&in, currency); reason != "" {
		return no(reason), nil
	}

	at := in.Now
	if at.IsZero() {
		at = p.now()
	}
	dayStart, dayEnd := localDay(at, b.loc)
	key := cardKey{bank: in.Bank, panHash: in.PANHash, day: dayStart.Unix()}

	start := p.ledger.begin()
	defer func() { p.ledger.end(start, p.now()) }()
	act, err := p.activity(ctx, &in, currency, dayStart, dayEnd)
	if err != nil {
		return no(ReasonError), err
	}
	if act.unbounded {
		return no(ReasonCardActivityBound), nil
	}

	l := p.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	now := p.now()
	u := l.usageLocked(key, currency, start, now, act.standInCodes)
	if act.count+u.count+1 > r.dailyCount {
		return no(ReasonCardDailyCount), nil
	}
	if limit := r.dailyAmount[currency]; act.amount+u.amount > limit-in.Amount {
		return no(ReasonCardDailyAmount), nil
	}
	code, err := p.authCode(act.codes, u.codes)
	if err != nil {
		return no(ReasonError), err
	}
	id := l.reserveLocked(key, currency, in.Amount, code, now.Add(p.ttl))
	return Decision{Approve: true, AuthCode: code, Bank: in.Bank, Day: dayStart, reservation: id}, nil
}

// Commit tells the Policy that the approval d is durable in the journal (as
// a stand-in payment): from now on the journal counts it. Call it after the
// write returned; calling it for a declined or settled Decision does nothing.
func (p *Policy) Commit(d Decision) {
	if d.reservation != 0 {
		p.ledger.commit(d.reservation, p.now())
	}
}

// Release gives back the reservation of an approval that was not journaled
// (the write failed, or the engine chose not to use it), so that it stops
// counting against the card.
func (p *Policy) Release(d Decision) {
	if d.reservation != 0 {
		p.ledger.release(d.reservation, p.now())
	}
}

// RecordLoss counts a stand-in approval whose advice the bank declined: the
// processor approved money the issuer refuses to pay.
func (p *Policy) RecordLoss(bank, currency string, amount int64) {
	p.metrics.loss(bank, strings.ToUpper(currency), amount)
}

// check applies the rules that need no journal. It returns the reason of a
// decline or "".
func (r *rules) check(in *Input, currency string) string {
	switch {
	case in.Type == Refund:
		return ReasonRefund
	case !r.enabled:
		return ReasonDisabled
	case !r.types[in.Type]:
		return ReasonTypeNotAllowed
	}
	max, ok := r.maxAmount[currency]
	switch {
	case !ok:
		return ReasonCurrencyNotAllowed
	case in.Amount > max:
		return ReasonAmountOverLimit
	case r.mccDeny[in.MCC]:
		return ReasonMCCDenied
	case len(r.mccAllow) > 0 && !r.mccAllow[in.MCC]:
		return ReasonMCCNotAllowed
	case in.StoresCredential:
		return ReasonInitialCredential
	case in.MerchantInitiated && !(r.mit && in.Subsequent):
		return ReasonMerchantInitiated
	}
	return ""
}

// localDay returns the bounds [start, end) of the calendar day of t in loc.
func localDay(t time.Time, loc *time.Location) (time.Time, time.Time) {
	lt := t.In(loc)
	y, m, d := lt.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// activity is a card's stand-in use of one day as the journal shows it.
type activity struct {
	count  int64
	amount int64           // in the decision's currency
	codes  map[string]bool // every auth code of the card's day
	// standInCodes are the codes of the stand-in payments found (whether
	// counted or not): reservations carrying them are already journaled.
	standInCodes map[string]bool
	unbounded    bool // more payments than the read is allowed to scan
}

// activity reads the card's payments at the bank during [from, to) and sums
// its stand-in approvals (any status but declined: a voided stand-in
// approval still used the card's allowance). It also collects every auth
// code the card got that day, so that a new code never repeats one.
func (p *Policy) activity(ctx context.Context, in *Input, currency string, from, to time.Time) (activity, error) {
	a := activity{codes: map[string]bool{}, standInCodes: map[string]bool{}}
	f := journal.PaymentFilter{PANHash: in.PANHash, Bank: in.Bank, CreatedFrom: from, CreatedBefore: to, Limit: p.pageSize}
	for page := 0; ; page++ {
		if page == p.maxPages {
			a.unbounded = true
			return a, nil
		}
		ps, err := p.journal.ListPayments(ctx, f)
		if err != nil {
			return a, fmt.Errorf("standin: reading the card's stand-in activity at bank %s: %w", in.Bank, err)
		}
		for _, pay := range ps {
			if pay.AuthCode != "" {
				a.codes[pay.AuthCode] = true
				if pay.StandIn {
					a.standInCodes[pay.AuthCode] = true
				}
			}
			if !pay.StandIn || pay.Status == journal.PaymentDeclined || pay.ID == in.PaymentID {
				continue
			}
			a.count++
			if strings.EqualFold(pay.Currency, currency) {
				a.amount += pay.Amount
			}
		}
		if len(ps) < p.pageSize {
			return a, nil
		}
		f.AfterID = ps[len(ps)-1].ID
	}
}

// authCode draws a code that is not among the card's codes of the day.
func (p *Policy) authCode(taken ...map[string]bool) (string, error) {
	for range maxCodeDraws {
		code, err := newAuthCode(p.rand)
		if err != nil {
			return "", err
		}
		used := false
		for _, m := range taken {
			used = used || m[code]
		}
		if !used {
			return code, nil
		}
	}
	return "", errors.New("standin: no unused authorization code after repeated draws (entropy source broken?)")
}
