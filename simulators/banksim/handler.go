package banksim

import (
	"errors"
	"time"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/simulators/wire"
	"github.com/acquirer/h2hswitch/specs/clearing"
)

// Required request fields, from bank-a-h2h.md's message table (Bank B:
// "as Bank A's for the same use"). Read-only.
var (
	reqAuth      = []int{2, 3, 4, 7, 11, 12, 13, 14, 18, 22, 25, 32, 37, 41, 42, 43, 49}
	reqRefund    = []int{2, 3, 4, 7, 11, 12, 13, 14, 18, 22, 25, 32, 37, 41, 42, 43, 49, 90}
	reqAdvice    = []int{2, 3, 4, 7, 11, 12, 13, 18, 32, 37, 38, 41, 42, 49, 90}
	reqReversal  = []int{2, 3, 4, 7, 11, 32, 37, 41, 42, 49, 90}
	reqNetwork   = []int{7, 11, 70}
	echoedFields = []int{3, 4, 7, 11, 37, 41, 42, 49}
)

const (
	procPurchase  = "000000"
	procRefund    = "200000"
	codeFormat    = "30"
	codeInvalid   = "12"
	codeIssuerOff = "91"
	codeMerchant  = "03"
)

var errFormat = errors.New("format error")

// isResponse reports an MTI whose function digit is odd (x1xx response,
// x3xx advice response, ...): the switch answering something. Only even
// function digits are requests the host answers, which also keeps
// responseMTI's increment a digit.
func isResponse(mti [4]byte) bool { return (mti[2]-'0')%2 == 1 }

// responseMTI is the answer's MTI: function digit + 1, origin digit 0
// (0401 -> 0410, 0221 -> 0230).
func responseMTI(mti [4]byte) string {
	mti[2]++
	mti[3] = '0'
	return string(mti[:])
}

func echoFields(req, resp *wire.Msg) {
	for _, f := range echoedFields {
		copyField(req, resp, f)
	}
}

func copyField(req, resp *wire.Msg, f int) {
	if req.Has(f) {
		resp.SetBytes(f, req.Bytes(f))
	}
}

func missing(m *wire.Msg, fields []int) bool {
	for _, f := range fields {
		if !m.Has(f) {
			return true
		}
	}
	return false
}

// handle answers one request into resp.
func (c *conn) handle(req, resp *wire.Msg) outcome {
	s := c.s
	mti := req.MTIBytes()
	resp.Reset()
	resp.SetMTI(responseMTI(mti))
	if string(mti[:2]) == "08" {
		return c.handleNetwork(req, resp)
	}
	echoFields(req, resp)
	if s.codec.Binary() && !c.signedOn.Load() {
		s.notSignedOn.Add(1)
		resp.Set(39, codeIssuerOff)
		return outReply
	}
	code, out := c.dispatch(req, resp, string(mti[:]))
	resp.Set(39, code)
	return out
}

func (c *conn) dispatch(req, resp *wire.Msg, mti string) (string, outcome) {
	binary := c.s.codec.Binary()
	proc := string(req.Bytes(3))
	switch {
	case mti == "0100" || mti == "0200" && proc == procPurchase:
		if proc != procPurchase {
			return codeInvalid, outReply
		}
		if missing(req, reqAuth) {
			return codeFormat, outReply
		}
		kind := ledger.KindPurchase
		if mti == "0100" {
			kind = ledger.KindPreauth
		}
		return c.authorize(req, resp, kind)
	case !binary && mti == "0200" && proc == procRefund,
		binary && (mti == "0220" || mti == "0221") && proc == procRefund:
		if missing(req, reqRefund) {
			return codeFormat, outReply
		}
		return c.refund(req, mti[3] == '1'), outReply
	case mti == "0220" || mti == "0221" || mti == "0120" || mti == "0121":
		if proc != procPurchase {
			return codeInvalid, outReply
		}
		if missing(req, reqAdvice) {
			return codeFormat, outReply
		}
		if mti[1] == '1' || req.Has(39) {
			return c.advice(req, mti[1] == '1'), outReply
		}
		return c.complete(req), outReply
	case !binary && (mti == "0400" || mti == "0401"),
		binary && (mti == "0420" || mti == "0421"):
		if missing(req, reqReversal) {
			return codeFormat, outReply
		}
		return c.reverse(req), outReply
	}
	return codeInvalid, outReply
}

func (c *conn) handleNetwork(req, resp *wire.Msg) outcome {
	copyField(req, resp, 7)
	copyField(req, resp, 11)
	copyField(req, resp, 70)
	if req.MTI() != "0800" {
		resp.Set(39, codeInvalid)
		return outReply
	}
	if missing(req, reqNetwork) {
		resp.Set(39, codeFormat)
		return outReply
	}
	switch string(req.Bytes(70)) {
	case "301":
	case "001":
		c.signedOn.Store(true)
		c.s.signOns.Add(1)
		c.log.Info().Msg("signed on")
	case "002":
		c.signedOn.Store(false)
		c.s.signOffs.Add(1)
		c.log.Info().Msg("signed off")
	default:
		resp.Set(39, codeInvalid)
		return outReply
	}
	resp.Set(39, "00")
	return outReply
}

// common is what every financial message carries, parsed.
type common struct {
	key      ledger.Key
	amount   int64
	currency string
	local    time.Time
}

func (c *conn) parseCommon(req *wire.Msg, needLocal bool) (common, string) {
	var cm common
	acq := wire.TrimZeros(string(req.Bytes(32)))
	if want := c.s.cfg.AcquirerID; want != "" && acq != wire.TrimZeros(want) {
		return cm, codeMerchant
	}
	cm.key = ledger.Key{STAN: string(req.Bytes(11)), DE7: string(req.Bytes(7)), AcquirerID: acq}
	amt, err := wire.ParseAmount(req.Bytes(4))
	if err != nil {
		return cm, codeFormat
	}
	cm.amount = amt
	cm.currency = string(req.Bytes(49))
	if !c.currencyAccepted(cm.currency) {
		return cm, codeInvalid
	}
	if needLocal {
		lt, err := c.localTime(req.Bytes(13), req.Bytes(12))
		if err != nil {
			return cm, codeFormat
		}
		cm.local = lt
	}
	return cm, ""
}

// currencyAccepted: Bank B takes KZT, USD and EUR (bank-b-h2h.md); Bank A
// any currency its clearing file can carry.
func (c *conn) currencyAccepted(num string) bool {
	if c.s.codec.Binary() {
		return num == "398" || num == "840" || num == "978"
	}
	cur, ok := clearing.CurrencyByNumeric(num)
	return ok && clearing.ACarries(cur)
}

// localTime reads DE13 (MMDD) and DE12 (hhmmss) in the bank's zone. The
// year is the one that puts the date nearest to the host's clock.
func (c *conn) localTime(mmdd, hhmmss []byte) (time.Time, error) {
	if len(mmdd) != 4 || len(hhmmss) != 6 {
		return time.Time{}, errFormat
	}
	n := func(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }
	mo, d := n(mmdd[0:2]), n(mmdd[2:4])
	h, mi, se := n(hhmmss[0:2]), n(hhmmss[2:4]), n(hhmmss[4:6])
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, errFormat
	}
	loc := c.s.cal.Location()
	now := c.s.cfg.Now().In(loc)
	best := time.Time{}
	for _, y := range []int{now.Year() - 1, now.Year(), now.Year() + 1} {
		t := time.Date(y, time.Month(mo), d, h, mi, se, 0, loc)
		if t.Day() != d {
			continue // 29 February of a common year, 31 April...
		}
		if best.IsZero() || absDur(t.Sub(now)) < absDur(best.Sub(now)) {
			best = t
		}
	}
	if best.IsZero() {
		return time.Time{}, errFormat
	}
	return best, nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func (c *conn) authorize(req, resp *wire.Msg, kind ledger.Kind) (string, outcome) {
	s := c.s
	binary := s.codec.Binary()
	cm, code := c.parseCommon(req, true)
	if code != "" {
		return code, outReply
	}
	pan := req.Bytes(2)
	if !wire.Luhn(pan) {
		return "14", outReply
	}
	if code, ok := s.cfg.CardRules[string(pan)]; ok {
		return code, outReply
	}
	if code := c.expiryCheck(req.Bytes(14)); code != "" {
		return code, outReply
	}
	var (
		sc  *wire.StoredCredential
		cvv string
		err error
	)
	if binary {
		if req.Has(126) {
			if cvv, err = wire.CVVFromDE126(req.Bytes(126)); err != nil {
				return codeFormat, outReply
			}
		}
		if req.Has(61) {
			if sc, err = wire.ParseDE61(req.Bytes(61)); err != nil {
				return codeFormat, outReply
			}
		}
	} else if req.Has(48) {
		tlvs, err := wire.ParseDE48(req.Bytes(48))
		if err != nil {
			return codeFormat, outReply
		}
		cvv, _ = wire.FindDE48(tlvs, "92")
		if sc, err = wire.StoredCredentialA(tlvs); err != nil {
			return codeFormat, outReply
		}
	}
	if cvv == "000" {
		return cvvFailure(binary), outReply
	}
	var panHash string
	if sc != nil {
		panHash = s.ledger.HashPAN(pan)
		if sc.Initiator == 'M' && sc.Subsequent &&
			(sc.NetworkTransactionID == "" || !s.ledger.KnownNTID(sc.NetworkTransactionID, panHash)) {
			return unknownNTID(binary), outReply
		}
	}
	r := s.rules[cm.amount%100]
	if r.code != "" {
		return r.code, outReply
	}
	out, response := outReply, "sent"
	switch r.act {
	case actClose:
		return "", outClose
	case actLate:
		out, response = outLate, "late"
	case actSilent:
		out, response = outNone, "withheld"
	}
	authCode, ntid, code := s.ledger.Approve(ledger.Approval{
		Kind: kind, MTI: req.MTI(), Key: cm.key,
		RRN: string(req.Bytes(37)), TerminalID: trimSpace(req.Bytes(41)), MerchantID: trimSpace(req.Bytes(42)),
		MaskedPAN: wire.MaskPAN(pan), PANHash: panHash, LocalTime: cm.local,
		Amount: cm.amount, Currency: cm.currency, Response: response,
		IssueNTID: sc != nil && !sc.Subsequent,
	}, s.cfg.Now())
	if code != ledger.CodeApproved {
		return code, outReply
	}
	resp.Set(38, authCode)
	if ntid != "" {
		if binary {
			resp.Set(62, ntid)
		} else {
			de48, err := wire.BuildDE48(wire.TLV{Tag: "22", Value: ntid})
			if err == nil {
				resp.Set(48, de48)
			}
		}
	}
	if c.log.Debug().Enabled() {
		c.log.Debug().Str("stan", cm.key.STAN).Str("card", wire.MaskPAN(pan)).Int64("amount", cm.amount).Str("auth_code", authCode).Str("response", response).Msg("approved")
	}
	return ledger.CodeApproved, out
}

// expiryCheck returns 54 for an expiry before the current month in the
// bank's zone, 30 for a malformed one.
func (c *conn) expiryCheck(yymm []byte) string {
	if len(yymm) != 4 {
		return codeFormat
	}
	yy := int(yymm[0]-'0')*10 + int(yymm[1]-'0')
	mm := int(yymm[2]-'0')*10 + int(yymm[3]-'0')
	if mm < 1 || mm > 12 {
		return codeFormat
	}
	now := c.s.cfg.Now().In(c.s.cal.Location())
	if 2000+yy < now.Year() || 2000+yy == now.Year() && mm < int(now.Month()) {
		return "54"
	}
	return ""
}

func trimSpace(b []byte) string {
	i := len(b)
	for i > 0 && b[i-1] == ' ' {
		i--
	}
	return string(b[:i])
}

func (c *conn) original(req *wire.Msg) (wire.Original, ledger.Key, bool) {
	o, err := wire.ParseDE90(req.Bytes(90))
	if err != nil {
		return o, ledger.Key{}, false
	}
	return o, ledger.Key{STAN: o.STAN, DE7: o.DE7, AcquirerID: o.AcquirerID}, true
}

func (c *conn) refund(req *wire.Msg, repeat bool) string {
	cm, code := c.parseCommon(req, true)
	if code != "" {
		return code
	}
	_, ok, valid := c.original(req)
	if !valid {
		return codeFormat
	}
	return c.s.ledger.Refund(ledger.RefundRequest{
		Key: cm.key, RRN: string(req.Bytes(37)), LocalTime: cm.local,
		Amount: cm.amount, Currency: cm.currency, Original: ok, Repeat: repeat,
	})
}

func (c *conn) complete(req *wire.Msg) string {
	cm, code := c.parseCommon(req, true)
	if code != "" {
		return code
	}
	_, ok, valid := c.original(req)
	if !valid {
		return codeFormat
	}
	return c.s.ledger.Complete(ledger.CompletionRequest{
		Key: cm.key, RRN: string(req.Bytes(37)), LocalTime: cm.local, Amount: cm.amount, Original: ok,
	})
}

// advice records a stand-in advice. One whose DE39 is not 00 reports a
// stand-in decline: acknowledged, nothing recorded.
func (c *conn) advice(req *wire.Msg, preauth bool) string {
	if req.Has(39) && string(req.Bytes(39)) != "00" {
		return ledger.CodeApproved
	}
	cm, code := c.parseCommon(req, true)
	if code != "" {
		return code
	}
	_, ok, valid := c.original(req)
	if !valid {
		return codeFormat
	}
	kind, mti := ledger.KindPurchase, "0220"
	if preauth {
		kind, mti = ledger.KindPreauth, "0120"
	}
	pan := req.Bytes(2)
	return c.s.ledger.RecordAdvice(ledger.Advice{
		Approval: ledger.Approval{
			Kind: kind, MTI: mti, Key: cm.key, RRN: string(req.Bytes(37)),
			TerminalID: trimSpace(req.Bytes(41)), MerchantID: trimSpace(req.Bytes(42)),
			MaskedPAN: wire.MaskPAN(pan), LocalTime: cm.local, Amount: cm.amount,
			Currency: cm.currency, Response: "sent", AuthCode: trimSpace(req.Bytes(38)),
		},
		Original: &ok,
	}, c.s.cfg.Now())
}

func (c *conn) reverse(req *wire.Msg) string {
	if _, code := c.parseCommon(req, false); code != "" {
		return code
	}
	o, ok, valid := c.original(req)
	if !valid {
		return codeFormat
	}
	rv := ledger.ReversalRequest{STAN: string(req.Bytes(11)), Original: ok, OriginalMTI: o.MTI}
	if req.Has(95) {
		rem, err := wire.ParseDE95(req.Bytes(95))
		if err != nil {
			return codeFormat
		}
		rv.Replacement = &rem
	}
	return c.s.ledger.Reverse(rv)
}
