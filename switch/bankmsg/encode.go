package bankmsg

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
)

// Stored-credential and wallet vocabulary of the model.
const (
	InitiatorCardholder = "cardholder"
	InitiatorMerchant   = "merchant"

	CredentialOneClick    = "one_click"
	CredentialRecurring   = "recurring"
	CredentialUnscheduled = "unscheduled"

	SequenceInitial    = "initial"
	SequenceSubsequent = "subsequent"

	WalletApplePay  = "apple_pay"
	WalletGooglePay = "google_pay"
)

// Encode builds the ISO 8583 message that carries r in dialect d: the MTI
// and processing code come from the dialect's Ops table, the fields are the
// ones the bank's Messages table requires for that MTI. Fields are set
// directly on the message (no reflection), since this is the hot path.
func Encode(d *specs.Dialect, r *Request) (*iso8583.Message, error) {
	if d == nil || r == nil {
		return nil, errors.New("encoding request: nil dialect or request")
	}
	op, err := d.Op(r.Op)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	mti := op.MTI
	if r.Repeat {
		if op.RepeatMTI == "" {
			return nil, fmt.Errorf("encoding %s: dialect %s never repeats it", r.Op, d.Name)
		}
		mti = op.RepeatMTI
	}
	e := &encoder{d: d, r: r, msg: d.NewMessage()}
	e.msg.MTI(mti)

	switch r.Op {
	case specs.OpEcho, specs.OpSignOn, specs.OpSignOff:
		e.network(op)
	case specs.OpPurchase, specs.OpPreauth:
		e.authorization(op)
		e.extras(true)
	case specs.OpRefund:
		e.authorization(op)
		e.original()
		e.extras(false)
	case specs.OpCompletion:
		e.advice(op, false)
	case specs.OpAdvicePurchase, specs.OpAdvicePreauth:
		e.advice(op, true)
	case specs.OpReversal:
		e.reversal()
	default:
		return nil, fmt.Errorf("encoding request: operation %q has no mapping", r.Op)
	}
	if e.err != nil {
		return nil, fmt.Errorf("encoding %s %s for %s: %w", r.Op, mti, d.Name, e.err)
	}
	return e.msg, nil
}

// encoder keeps the first error so the field-by-field code stays linear.
type encoder struct {
	d   *specs.Dialect
	r   *Request
	msg *iso8583.Message
	err error
}

// field returns a setter for field id that takes a formatter's (value,
// error) pair, so that e.field(4)(amount12(...)) reads as one step. After
// the first error nothing more is set.
func (e *encoder) field(id int) func(string, error) {
	return func(v string, err error) {
		if e.err != nil {
			return
		}
		if err != nil {
			e.err = err
			return
		}
		if err := e.msg.Field(id, v); err != nil {
			e.err = fmt.Errorf("DE%d: %w", id, err)
		}
	}
}

// put stores an already valid value in field id.
func (e *encoder) put(id int, v string) { e.field(id)(v, nil) }

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *encoder) header() {
	e.field(7)(transmission("DE7", e.r.TransmissionTime))
	e.field(11)(fixedDigits("DE11", "STAN", e.r.STAN, 6))
}

func (e *encoder) network(op specs.OpSpec) {
	e.header()
	e.put(70, op.NetworkCode)
}

// localTime sets DE12/DE13 in the bank's time zone. A zero LocalTime means
// "the moment of transmission" on a first attempt and is an error on a
// repeat.
func (e *encoder) localTime() {
	lt := e.r.LocalTime
	if lt.IsZero() {
		if e.r.Repeat {
			// A repeat carries its first attempt's content; only DE7 is new.
			e.fail(errors.New("DE12/DE13 local time: a repeat must carry its first attempt's"))
			return
		}
		lt = e.r.TransmissionTime
	}
	if lt.IsZero() {
		e.fail(errors.New("DE12/DE13 local time: required"))
		return
	}
	lt = lt.In(e.d.Location)
	e.put(12, lt.Format("150405"))
	e.put(13, lt.Format("0102"))
}

func (e *encoder) pan() {
	e.field(2)(varDigits("DE2", "PAN", e.r.PAN, 12, 19))
}

func (e *encoder) merchantFields() {
	e.field(32)(varDigits("DE32", "acquiring institution ID", e.r.AcquirerID, 1, 11))
	e.field(37)(fixedDigits("DE37", "RRN", e.r.RRN, 12))
	e.field(41)(ansFixed("DE41", "terminal ID", e.r.TerminalID, 8, true))
	e.field(42)(ansFixed("DE42", "merchant ID", e.r.MerchantID, 15, true))
}

func (e *encoder) currency() {
	e.field(49)(fixedDigits("DE49", "currency", e.r.CurrencyNumeric, 3))
}

// authorization sets the fields of 0100 / 0200 (and Bank B's refund 0220):
// 2, 3, 4, 7, 11, 12, 13, 14, 18, 22, 25, 32, 37, 41, 42, 43, 49.
func (e *encoder) authorization(op specs.OpSpec) {
	r := e.r
	e.pan()
	e.put(3, op.ProcessingCode)
	e.field(4)(amount12("DE4", r.Amount))
	e.header()
	e.localTime()
	e.field(14)(expiry(r.Expiry))
	e.field(18)(fixedDigits("DE18", "MCC", r.MCC, 4))
	mode, ok := e.d.EntryModes[string(r.CardSource)]
	if !ok {
		e.fail(fmt.Errorf("DE22 entry mode: unknown card source %q", r.CardSource))
	}
	e.put(22, mode)
	cond := specs.ConditionECommerce
	if r.MerchantInitiated || (r.StoredCredential != nil && r.StoredCredential.Initiator == InitiatorMerchant) {
		cond = specs.ConditionMerchantInitiated
	}
	e.put(25, cond)
	e.merchantFields()
	e.field(43)(cardAcceptor(r.MerchantName, r.MerchantCity, r.MerchantCountry))
	e.currency()
}

// advice sets the fields of 0220 / 0120 (completion and stand-in advices):
// 2, 3, 4, 7, 11, 12, 13, 18, 32, 37, 38, 41, 42, 49, 90; stand-in
// advices add 39.
func (e *encoder) advice(op specs.OpSpec, standIn bool) {
	r := e.r
	e.pan()
	e.put(3, op.ProcessingCode)
	e.field(4)(amount12("DE4", r.Amount))
	e.header()
	e.localTime()
	e.field(18)(fixedDigits("DE18", "MCC", r.MCC, 4))
	e.merchantFields()
	e.field(38)(ansFixed("DE38", "authorization code", r.AuthCode, 6, true))
	if standIn {
		code := r.ResponseCode
		if code == "" {
			code = "00"
		}
		e.field(39)(alnumFixed("DE39", "response code", code, 2))
	}
	e.currency()
	e.original()
}

// reversal sets the fields of 0400 / 0420: 2, 3, 4, 7, 11, 32, 37, 41, 42,
// 49, 90, and 95 for a partial reversal. DE3 repeats the original's.
func (e *encoder) reversal() {
	r := e.r
	e.pan()
	pc := specs.ProcPurchase
	if r.Original != nil && r.Original.ProcessingCode != "" {
		pc = r.Original.ProcessingCode
	}
	e.field(3)(fixedDigits("DE3", "processing code", pc, 6))
	e.field(4)(amount12("DE4", r.Amount))
	e.header()
	e.merchantFields()
	e.currency()
	e.original()
	if r.Replacement != nil {
		if *r.Replacement <= 0 || *r.Replacement >= r.Amount {
			e.fail(errors.New("DE95 replacement amount: must be above 0 and below DE4 (use a full reversal otherwise)"))
			return
		}
		a, err := amount12("DE95", *r.Replacement)
		e.field(95)(a+strings.Repeat("0", 30), err)
	}
}

// original sets DE90: MTI(4) + STAN(6) + DE7(10) + acquirer ID right-
// justified zero-filled (11) + 11 zeros.
func (e *encoder) original() {
	o := e.r.Original
	if o == nil {
		e.fail(errors.New("DE90 original data elements: required"))
		return
	}
	mti, err := fixedDigits("DE90", "original MTI", o.MTI, 4)
	if err != nil {
		e.fail(err)
		return
	}
	stan, err := fixedDigits("DE90", "original STAN", o.STAN, 6)
	if err != nil {
		e.fail(err)
		return
	}
	dt, err := transmission("DE90 original", o.TransmissionTime)
	if err != nil {
		e.fail(err)
		return
	}
	acq := o.AcquirerID
	if acq == "" {
		acq = e.r.AcquirerID
	}
	if _, err := varDigits("DE90", "original acquiring institution ID", acq, 1, 11); err != nil {
		e.fail(err)
		return
	}
	e.put(90, mti+stan+dt+zeroPad(acq, 11)+strings.Repeat("0", 11))
}

func expiry(v string) (string, error) {
	if _, err := fixedDigits("DE14", "expiry", v, 4); err != nil {
		return "", err
	}
	if m, _ := strconv.Atoi(v[2:]); m < 1 || m > 12 {
		return "", errors.New("DE14 expiry: month must be 01-12")
	}
	return v, nil
}

// cardAcceptor builds DE43: name 1-25, city 26-38, country 39-40.
func cardAcceptor(name, city, country string) (string, error) {
	n, err := ansFixed("DE43", "merchant name", name, 25, true)
	if err != nil {
		return "", err
	}
	c, err := ansFixed("DE43", "merchant city", city, 13, false)
	if err != nil {
		return "", err
	}
	if len(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' || country[1] > 'Z' {
		return "", errors.New("DE43 merchant country: want ISO 3166 alpha-2 in capitals")
	}
	return n + c + country, nil
}
