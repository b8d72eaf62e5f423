package bankmsg

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
)

// DecodeResponse reads a bank's response into the model. DE39 is required;
// every other field is read when present and checked for its format.
// DE7 gets the year that puts it nearest to the current time.
func DecodeResponse(d *specs.Dialect, msg *iso8583.Message) (*Response, error) {
	return decodeResponseAt(d, msg, time.Now())
}

func decodeResponseAt(d *specs.Dialect, msg *iso8583.Message, now time.Time) (*Response, error) {
	if d == nil || msg == nil {
		return nil, errors.New("decoding response: nil dialect or message")
	}
	g := getter{msg: msg}
	resp := &Response{MTI: g.str(0)}
	if len(resp.MTI) != 4 || !specs.IsDigits(resp.MTI) || resp.MTI[2] != '1' && resp.MTI[2] != '3' {
		return nil, fmt.Errorf("decoding %s response: MTI is not a response MTI", d.Name)
	}
	resp.ResponseCode = g.str(39)
	if _, err := alnumFixed("DE39", "response code", resp.ResponseCode, 2); err != nil {
		return nil, fmt.Errorf("decoding %s response %s: %w", d.Name, resp.MTI, err)
	}
	resp.STAN = g.digits(11, "STAN", 6)
	resp.RRN = g.digits(37, "RRN", 12)
	resp.ProcessingCode = g.digits(3, "processing code", 6)
	if v := g.str(4); v != "" && g.err == nil {
		resp.Amount, g.err = parseAmount("DE4", v)
	}
	resp.CurrencyNumeric = g.digits(49, "currency", 3)
	if v := g.str(7); v != "" && g.err == nil {
		resp.TransmissionTime, g.err = parseMMDDhhmmss("DE7", v, time.UTC, now)
	}
	resp.TerminalID = strings.TrimRight(g.str(41), " ")
	resp.MerchantID = strings.TrimRight(g.str(42), " ")
	resp.AuthCode = strings.TrimRight(g.str(38), " ")
	resp.NetworkCode = g.digits(70, "network management code", 3)
	switch d.Private {
	case specs.PrivateDE48TLV:
		if f := msg.GetField(48); f != nil && g.err == nil {
			tags, err := specs.SubelementsOf(f)
			if err != nil {
				g.err = err
			}
			resp.NetworkTransactionID = tags[specs.TagNetworkTxnID]
		}
	case specs.PrivatePositional:
		resp.NetworkTransactionID = strings.TrimRight(g.str(62), " ")
	}
	if g.err != nil {
		return nil, fmt.Errorf("decoding %s response %s: %w", d.Name, resp.MTI, g.err)
	}
	return resp, nil
}

// DecodeRequest reads a switch request into the model: the operation from
// the MTI, DE3 and DE70 (a 0220 or 0120 with DE39 is a stand-in advice,
// without it a completion), and every field and extra the dialect carries,
// CVV included. The simulator and tests use it; the switch never decodes
// its own requests.
func DecodeRequest(d *specs.Dialect, msg *iso8583.Message) (*Request, error) {
	return decodeRequestAt(d, msg, time.Now())
}

func decodeRequestAt(d *specs.Dialect, msg *iso8583.Message, now time.Time) (*Request, error) {
	if d == nil || msg == nil {
		return nil, errors.New("decoding request: nil dialect or message")
	}
	g := getter{msg: msg}
	mti := g.str(0)
	op, repeat, err := opOf(d, msg, mti)
	if err != nil {
		return nil, fmt.Errorf("decoding %s request: %w", d.Name, err)
	}
	r := &Request{Op: op, Repeat: repeat}
	r.STAN = g.digits(11, "STAN", 6)
	if v := g.str(7); v != "" && g.err == nil {
		r.TransmissionTime, g.err = parseMMDDhhmmss("DE7", v, time.UTC, now)
	}
	r.NetworkCode = g.digits(70, "network management code", 3)
	if t, l := g.str(13), g.str(12); t != "" && l != "" && g.err == nil {
		r.LocalTime, g.err = parseMMDDhhmmss("DE13/DE12", t+l, d.Location, now)
	}
	r.RRN = g.digits(37, "RRN", 12)
	if v := g.str(2); v != "" {
		if _, err := varDigits("DE2", "PAN", v, 12, 19); err != nil && g.err == nil {
			g.err = err
		}
		r.PAN = v
	}
	r.Expiry = g.digits(14, "expiry", 4)
	if v := g.str(22); v != "" {
		for src, mode := range d.EntryModes {
			if mode == v {
				r.CardSource = CardSource(src)
			}
		}
		if r.CardSource == "" && g.err == nil {
			g.err = errors.New("DE22 entry mode: not one the dialect defines")
		}
	}
	r.MerchantInitiated = g.str(25) == specs.ConditionMerchantInitiated
	if v := g.str(4); v != "" && g.err == nil {
		r.Amount, g.err = parseAmount("DE4", v)
	}
	r.CurrencyNumeric = g.digits(49, "currency", 3)
	r.MCC = g.digits(18, "MCC", 4)
	if v := g.str(32); v != "" {
		if _, err := varDigits("DE32", "acquiring institution ID", v, 1, 11); err != nil && g.err == nil {
			g.err = err
		}
		r.AcquirerID = v
	}
	r.TerminalID = strings.TrimRight(g.str(41), " ")
	r.MerchantID = strings.TrimRight(g.str(42), " ")
	if v := g.str(43); len(v) == 40 {
		r.MerchantName = strings.TrimRight(v[:25], " ")
		r.MerchantCity = strings.TrimRight(v[25:38], " ")
		r.MerchantCountry = v[38:]
	}
	r.AuthCode = strings.TrimRight(g.str(38), " ")
	r.ResponseCode = g.str(39)
	if v := g.str(90); v != "" && g.err == nil {
		r.Original, g.err = parseOriginal(v, now)
		if r.Original != nil && op == specs.OpReversal {
			r.Original.ProcessingCode = g.str(3)
		}
	}
	if v := g.str(95); v != "" && g.err == nil {
		var a int64
		if len(v) != 42 || v[12:] != strings.Repeat("0", 30) {
			g.err = errors.New("DE95: want 12-digit amount and 30 zeros")
		} else if a, g.err = parseAmount("DE95", v[:12]); g.err == nil {
			r.Replacement = &a
		}
	}
	if g.err == nil {
		g.err = decodeExtras(d, msg, r)
	}
	if g.err != nil {
		return nil, fmt.Errorf("decoding %s request %s: %w", d.Name, mti, g.err)
	}
	return r, nil
}

// opOf finds the operation of a request message.
func opOf(d *specs.Dialect, msg *iso8583.Message, mti string) (specs.Op, bool, error) {
	pc, _ := msg.GetString(3)
	nc, _ := msg.GetString(70)
	var found []specs.Op
	repeat := false
	for op, s := range d.Ops {
		isRepeat := s.RepeatMTI != "" && mti == s.RepeatMTI
		if mti != s.MTI && !isRepeat {
			continue
		}
		if s.NetworkCode != "" && s.NetworkCode != nc {
			continue
		}
		if s.ProcessingCode != "" && s.ProcessingCode != pc {
			continue
		}
		found = append(found, op)
		repeat = isRepeat
	}
	if len(found) > 1 {
		// Completion and stand-in advice of a purchase share 0220/000000;
		// only the advice carries DE39.
		sort.Slice(found, func(i, j int) bool { return found[i] < found[j] })
		want := specs.OpCompletion
		if rc, _ := msg.GetString(39); rc != "" {
			want = specs.OpAdvicePurchase
		}
		for _, op := range found {
			if op == want {
				return op, repeat, nil
			}
		}
		return "", false, fmt.Errorf("MTI %s is ambiguous", mti)
	}
	if len(found) == 0 {
		return "", false, fmt.Errorf("no operation of the dialect uses MTI %s with this DE3/DE70", mti)
	}
	return found[0], repeat, nil
}

// parseOriginal parses DE90.
func parseOriginal(v string, now time.Time) (*Original, error) {
	if len(v) != 42 || !specs.IsDigits(v) {
		return nil, errors.New("DE90: want 42 digits")
	}
	if v[31:] != "00000000000" {
		return nil, errors.New("DE90: positions 32-42 must be zeros")
	}
	t, err := parseMMDDhhmmss("DE90 original transmission time", v[10:20], time.UTC, now)
	if err != nil {
		return nil, err
	}
	acq := strings.TrimLeft(v[20:31], "0")
	if acq == "" {
		acq = "0"
	}
	return &Original{MTI: v[:4], STAN: v[4:10], TransmissionTime: t, AcquirerID: acq}, nil
}

// decodeExtras reads DE48 (Bank A) or DE61/DE63/DE126 (Bank B).
func decodeExtras(d *specs.Dialect, msg *iso8583.Message, r *Request) error {
	switch d.Private {
	case specs.PrivateDE48TLV:
		f := msg.GetField(48)
		if f == nil {
			return nil
		}
		t, err := specs.SubelementsOf(f)
		if err != nil {
			return err
		}
		return extrasFromDE48(t, r)
	case specs.PrivatePositional:
		r.SubMerchantID, _ = msg.GetString(63)
		if v, _ := msg.GetString(61); v != "" {
			s, err := specs.ParseDE61(v)
			if err != nil {
				return err
			}
			sc := &StoredCredential{Initiator: InitiatorCardholder, Type: CredentialOneClick, Sequence: SequenceInitial,
				NetworkTransactionID: s.NetworkTransactionID}
			if s.Initiator == 'M' {
				sc.Initiator = InitiatorMerchant
			}
			switch s.Type {
			case '2':
				sc.Type = CredentialRecurring
			case '3':
				sc.Type = CredentialUnscheduled
			}
			if s.Sequence == '1' {
				sc.Sequence = SequenceSubsequent
			}
			r.StoredCredential = sc
		}
		if v, _ := msg.GetString(126); v != "" {
			e, err := specs.ParseDE126(v)
			if err != nil {
				return err
			}
			r.CVV = e.CVV
			switch e.Wallet {
			case 'A':
				r.Wallet = &Wallet{Kind: WalletApplePay, Cryptogram: e.AuthValue, ECI: e.ECI}
			case 'G':
				r.Wallet = &Wallet{Kind: WalletGooglePay, Cryptogram: e.AuthValue, ECI: e.ECI}
			default:
				if e.ECI != "" || e.AuthValue != "" || e.DSTransactionID != "" || e.Version != "" {
					r.ThreeDS = &ThreeDS{ECI: e.ECI, AuthenticationValue: e.AuthValue, DSTransactionID: e.DSTransactionID, Version: e.Version}
				}
			}
		}
	}
	return nil
}

func extrasFromDE48(t map[string]string, r *Request) error {
	r.SubMerchantID = t[specs.TagSubMerchant]
	r.CVV = t[specs.TagCVV]
	if w, ok := t[specs.TagWallet]; ok {
		switch w {
		case "AP":
			r.Wallet = &Wallet{Kind: WalletApplePay}
		case "GP":
			r.Wallet = &Wallet{Kind: WalletGooglePay}
		default:
			return errors.New("DE48 tag 10 wallet: want AP or GP")
		}
		r.Wallet.Cryptogram = t[specs.TagTokenCryptogram]
		r.Wallet.ECI = t[specs.TagECI]
	} else if t[specs.TagECI] != "" || t[specs.TagAuthValue] != "" || t[specs.TagDSTransactionID] != "" || t[specs.TagThreeDSVersion] != "" {
		r.ThreeDS = &ThreeDS{
			ECI:                 t[specs.TagECI],
			AuthenticationValue: t[specs.TagAuthValue],
			DSTransactionID:     t[specs.TagDSTransactionID],
			Version:             t[specs.TagThreeDSVersion],
		}
	}
	sc, hasSC := t[specs.TagStoredCredential]
	seq, hasSeq := t[specs.TagStoredSequence]
	if !hasSC && !hasSeq {
		return nil
	}
	if len(sc) != 2 || (seq != "I" && seq != "S") {
		return errors.New("DE48 tags 20/21 stored credential: want initiator+type letters and I or S")
	}
	c := &StoredCredential{NetworkTransactionID: t[specs.TagNetworkTxnID]}
	switch sc[0] {
	case 'C':
		c.Initiator = InitiatorCardholder
	case 'M':
		c.Initiator = InitiatorMerchant
	default:
		return errors.New("DE48 tag 20 initiator: want C or M")
	}
	switch sc[1] {
	case 'O':
		c.Type = CredentialOneClick
	case 'R':
		c.Type = CredentialRecurring
	case 'U':
		c.Type = CredentialUnscheduled
	default:
		return errors.New("DE48 tag 20 type: want O, R or U")
	}
	c.Sequence = SequenceInitial
	if seq == "S" {
		c.Sequence = SequenceSubsequent
	}
	r.StoredCredential = c
	return nil
}

// getter reads string fields and keeps the first format error.
type getter struct {
	msg *iso8583.Message
	err error
}

func (g *getter) str(id int) string {
	v, err := g.msg.GetString(id)
	if err != nil && g.err == nil {
		g.err = fmt.Errorf("DE%d: %w", id, err)
	}
	return v
}

// digits returns field id, which must be n digits when present.
func (g *getter) digits(id int, name string, n int) string {
	v := g.str(id)
	if v == "" {
		return ""
	}
	if len(v) != n || !specs.IsDigits(v) {
		if g.err == nil {
			g.err = fmt.Errorf("DE%d %s: want %d digits", id, name, n)
		}
	}
	return v
}
