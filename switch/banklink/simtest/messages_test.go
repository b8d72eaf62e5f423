package simtest

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
)

// bankCase is what each bank's document says, written out literally (not
// read from the specs.Dialect under test) so that a wrong Ops table fails.
type bankCase struct {
	name    string
	dialect string
	// Refund: Bank A an online 0200 200000 answered 0210; Bank B a 0220
	// advice answered 0230, repeated as 0221.
	refundMTI, refundRepeatMTI, refundResp string
	// Reversal: Bank A 0400/0401/0410; Bank B 0420/0421/0430.
	revMTI, revRepeatMTI, revResp string
	// Dialect-specific decline codes of simulator.md.
	cvvFail, authRequired, unknownNTID string
}

var bankCases = [...]bankCase{
	{
		name: "bankA", dialect: specs.DialectASCII,
		refundMTI: "0200", refundResp: "0210",
		revMTI: "0400", revRepeatMTI: "0401", revResp: "0410",
		cvvFail: "82", authRequired: "05", unknownNTID: "12",
	},
	{
		name: "bankB", dialect: specs.DialectBinary,
		refundMTI: "0220", refundRepeatMTI: "0221", refundResp: "0230",
		revMTI: "0420", revRepeatMTI: "0421", revResp: "0430",
		cvvFail: "N7", authRequired: "1A", unknownNTID: "R0",
	},
}

// TestEveryMessageType drives every message type of both dialects through
// bankmsg.Encode -> banklink.Link.Send -> banksim -> bankmsg.DecodeResponse
// and checks the answer and the simulator's ledger after each step.
func TestEveryMessageType(t *testing.T) {
	for _, bc := range bankCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			// Both sides log at debug level into one buffer, which must
			// end up holding no card data (checked at the end).
			logs := &syncBuffer{}
			logger := zerolog.New(logs).Level(zerolog.DebugLevel)
			e := newEnv(t, bc.dialect, func(c *banksim.Config) { c.Logger = logger }, nil, banklink.WithLogger(logger))
			defer checkNoCardData(t, logs)

			if bc.dialect == specs.DialectBinary {
				step(t, e, "0800 sign-on", func(t *testing.T) {
					r := e.network(specs.OpSignOn)
					res := e.exchange(r, "0810", "00")
					if res.resp.NetworkCode != "001" {
						t.Errorf("DE70 %q, want 001", res.resp.NetworkCode)
					}
				})
			}
			step(t, e, "0800 echo", func(t *testing.T) {
				res := e.exchange(e.network(specs.OpEcho), "0810", "00")
				if res.resp.NetworkCode != "301" {
					t.Errorf("DE70 %q, want 301", res.resp.NetworkCode)
				}
			})

			// Pre-authorization, its completion and the completion's repeat.
			var preauth *bankmsg.Request
			var preauthCode string
			step(t, e, "0100 pre-authorization", func(t *testing.T) {
				preauth = e.auth(specs.OpPreauth, 250000)
				res := e.exchange(preauth, "0110", "00")
				preauthCode = res.resp.AuthCode
				tx := e.txn(preauth.RRN)
				checkApproved(t, res.resp, tx)
				if tx.Kind != ledger.KindPreauth || tx.State != ledger.StateAuthorized || tx.Amount != 250000 || tx.MTI != "0100" {
					t.Errorf("ledger: %s", tx.String())
				}
			})
			var completion *bankmsg.Request
			step(t, e, "0220 completion", func(t *testing.T) {
				completion = e.follow(specs.OpCompletion, preauth, "0100", 200000)
				completion.AuthCode = preauthCode // DE38 of the pre-authorization
				e.exchange(completion, "0230", "00")
				tx := e.txn(preauth.RRN)
				if tx.State != ledger.StateCompleted || tx.Completion == nil || tx.Completion.Amount != 200000 || tx.Completion.STAN != completion.STAN {
					t.Errorf("ledger after completion: %s %+v", tx.String(), tx.Completion)
				}
			})
			step(t, e, "0221 completion repeat", func(t *testing.T) {
				rep := e.repeat(completion)
				res := e.exchange(rep, "0230", "00")
				if got, _ := res.req.GetMTI(); got != "0221" {
					t.Fatalf("repeat sent as %s, want 0221", got)
				}
				tx := e.txn(preauth.RRN)
				if tx.Completion == nil || tx.Completion.STAN != completion.STAN || tx.Completion.Amount != 200000 {
					t.Errorf("repeat changed the completion: %+v", tx.Completion)
				}
			})

			// Purchase and its refund.
			var purchase *bankmsg.Request
			step(t, e, "0200 purchase", func(t *testing.T) {
				purchase = e.auth(specs.OpPurchase, 150000)
				res := e.exchange(purchase, "0210", "00")
				tx := e.txn(purchase.RRN)
				checkApproved(t, res.resp, tx)
				if res.resp.NetworkTransactionID != "" {
					t.Errorf("a payment without stored credential got a network transaction ID")
				}
				if tx.Kind != ledger.KindPurchase || tx.State != ledger.StateAuthorized || tx.Amount != 150000 || tx.MaskedPAN != "400000******0010" {
					t.Errorf("ledger: %s", tx.String())
				}
			})
			var refund *bankmsg.Request
			step(t, e, bc.refundMTI+" refund", func(t *testing.T) {
				refund = e.follow(specs.OpRefund, purchase, "0200", 50000)
				refund.RRN = e.newRRN() // a refund has an RRN of its own
				res := e.exchange(refund, bc.refundResp, "00")
				if got, _ := res.req.GetMTI(); got != bc.refundMTI {
					t.Fatalf("refund sent as %s, want %s", got, bc.refundMTI)
				}
				if pc, _ := res.req.GetString(3); pc != "200000" || res.resp.ProcessingCode != "200000" {
					t.Errorf("refund DE3 sent %q echoed %q, want 200000", pc, res.resp.ProcessingCode)
				}
				tx := e.txn(purchase.RRN)
				if len(tx.Refunds) != 1 || tx.Refunds[0].Amount != 50000 || tx.Refunds[0].RRN != refund.RRN {
					t.Errorf("ledger refunds: %+v", tx.Refunds)
				}
			})
			if bc.refundRepeatMTI != "" {
				step(t, e, bc.refundRepeatMTI+" refund repeat", func(t *testing.T) {
					res := e.exchange(e.repeat(refund), bc.refundResp, "00")
					if got, _ := res.req.GetMTI(); got != bc.refundRepeatMTI {
						t.Fatalf("refund repeat sent as %s", got)
					}
					if tx := e.txn(purchase.RRN); len(tx.Refunds) != 1 {
						t.Errorf("repeat stored a second refund: %+v", tx.Refunds)
					}
				})
			}

			// Stand-in advices.
			step(t, e, "0220 stand-in advice", func(t *testing.T) {
				adv := e.standIn(specs.OpAdvicePurchase, "0200", 70000, "SI0001")
				e.exchange(adv, "0230", "00")
				tx := e.txn(adv.RRN)
				if !tx.StandIn || tx.Kind != ledger.KindPurchase || tx.AuthCode != "SI0001" || tx.Amount != 70000 {
					t.Errorf("ledger: %s stand_in=%v auth=%s", tx.String(), tx.StandIn, tx.AuthCode)
				}
			})
			var advPre *bankmsg.Request
			step(t, e, "0120 stand-in advice", func(t *testing.T) {
				advPre = e.standIn(specs.OpAdvicePreauth, "0100", 80000, "SI0002")
				e.exchange(advPre, "0130", "00")
				tx := e.txn(advPre.RRN)
				if !tx.StandIn || tx.Kind != ledger.KindPreauth || tx.AuthCode != "SI0002" {
					t.Errorf("ledger: %s stand_in=%v", tx.String(), tx.StandIn)
				}
			})
			step(t, e, "0121 advice repeat", func(t *testing.T) {
				n := e.sim.Ledger().Len()
				res := e.exchange(e.repeat(advPre), "0130", "00")
				if got, _ := res.req.GetMTI(); got != "0121" {
					t.Fatalf("repeat sent as %s, want 0121", got)
				}
				if e.sim.Ledger().Len() != n {
					t.Errorf("repeat recorded a second transaction")
				}
			})

			// Reversals: full, its repeat, partial.
			var rev *bankmsg.Request
			var revPurchase *bankmsg.Request
			step(t, e, bc.revMTI+" full reversal", func(t *testing.T) {
				revPurchase = e.auth(specs.OpPurchase, 90000)
				e.exchange(revPurchase, "0210", "00")
				rev = e.follow(specs.OpReversal, revPurchase, "0200", 90000)
				res := e.exchange(rev, bc.revResp, "00")
				if got, _ := res.req.GetMTI(); got != bc.revMTI {
					t.Fatalf("reversal sent as %s, want %s", got, bc.revMTI)
				}
				tx := e.txn(revPurchase.RRN)
				if tx.State != ledger.StateReversed || tx.Authorized != 0 || len(tx.ReversalSTANs) != 1 {
					t.Errorf("ledger: %s", tx.String())
				}
			})
			step(t, e, bc.revRepeatMTI+" reversal repeat", func(t *testing.T) {
				res := e.exchange(e.repeat(rev), bc.revResp, "00")
				if got, _ := res.req.GetMTI(); got != bc.revRepeatMTI {
					t.Fatalf("repeat sent as %s, want %s", got, bc.revRepeatMTI)
				}
				if tx := e.txn(revPurchase.RRN); tx.State != ledger.StateReversed || len(tx.ReversalSTANs) != 1 {
					t.Errorf("ledger after repeat: %s %v", tx.String(), tx.ReversalSTANs)
				}
			})
			step(t, e, bc.revMTI+" second reversal of the same original", func(t *testing.T) {
				again := e.follow(specs.OpReversal, revPurchase, "0200", 90000)
				e.exchange(again, bc.revResp, "25")
			})
			step(t, e, bc.revMTI+" partial reversal (DE95)", func(t *testing.T) {
				pre := e.auth(specs.OpPreauth, 150000)
				e.exchange(pre, "0110", "00")
				part := e.follow(specs.OpReversal, pre, "0100", 150000)
				remaining := int64(100000)
				part.Replacement = &remaining
				res := e.exchange(part, bc.revResp, "00")
				if v, _ := res.req.GetString(95); v != "000000100000"+"000000000000000000000000000000" {
					t.Errorf("DE95 sent %q", v)
				}
				tx := e.txn(pre.RRN)
				if tx.State != ledger.StatePartiallyReversed || tx.Authorized != 100000 || tx.Amount != 150000 {
					t.Errorf("ledger: %s authorized=%d", tx.String(), tx.Authorized)
				}
			})

			// E-commerce extras and stored credentials.
			step(t, e, "0200 with 3-D Secure and CVV2", func(t *testing.T) {
				r := e.auth(specs.OpPurchase, 120000)
				r.ThreeDS = &bankmsg.ThreeDS{ECI: "05", AuthenticationValue: testCAVV,
					DSTransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"}
				r.CVV = "123"
				res := e.exchange(r, "0210", "00")
				checkApproved(t, res.resp, e.txn(r.RRN))
			})
			step(t, e, "0200 wallet network token", func(t *testing.T) {
				r := e.auth(specs.OpPurchase, 110000)
				r.PAN, r.CardSource = cardToken, bankmsg.SourceNetworkToken
				r.Wallet = &bankmsg.Wallet{Kind: bankmsg.WalletApplePay, Cryptogram: testCryptogram, ECI: "07"}
				res := e.exchange(r, "0210", "00")
				checkApproved(t, res.resp, e.txn(r.RRN))
			})
			var ntid string
			step(t, e, "0200 initial stored credential", func(t *testing.T) {
				r := e.auth(specs.OpPurchase, 130000)
				r.StoredCredential = &bankmsg.StoredCredential{Initiator: bankmsg.InitiatorCardholder,
					Type: bankmsg.CredentialRecurring, Sequence: bankmsg.SequenceInitial}
				res := e.exchange(r, "0210", "00")
				tx := e.txn(r.RRN)
				checkApproved(t, res.resp, tx)
				ntid = res.resp.NetworkTransactionID
				if len(ntid) != 15 || ntid != tx.NetworkTransactionID {
					t.Fatalf("network transaction ID %q, ledger issued %q", ntid, tx.NetworkTransactionID)
				}
			})
			step(t, e, "0200 merchant-initiated subsequent", func(t *testing.T) {
				r := e.auth(specs.OpPurchase, 130000)
				r.CardSource = bankmsg.SourceCredentialOnFile
				r.StoredCredential = &bankmsg.StoredCredential{Initiator: bankmsg.InitiatorMerchant,
					Type: bankmsg.CredentialRecurring, Sequence: bankmsg.SequenceSubsequent, NetworkTransactionID: ntid}
				res := e.exchange(r, "0210", "00")
				checkApproved(t, res.resp, e.txn(r.RRN))
				if res.resp.NetworkTransactionID != "" {
					t.Errorf("a subsequent payment got a network transaction ID %q", res.resp.NetworkTransactionID)
				}
				r2 := e.auth(specs.OpPurchase, 130000)
				r2.CardSource, r2.StoredCredential = r.CardSource, r.StoredCredential
				r2.StoredCredential = &bankmsg.StoredCredential{Initiator: bankmsg.InitiatorMerchant,
					Type: bankmsg.CredentialRecurring, Sequence: bankmsg.SequenceSubsequent, NetworkTransactionID: "999999999999999"}
				e.exchange(r2, "0210", bc.unknownNTID)
			})

			step(t, e, "declines", func(t *testing.T) {
				for _, dc := range []struct {
					name   string
					amount int64
					pan    string
					cvv    string
					want   string
				}{
					{"amount 05", 100005, cardApprove, "", "05"},
					{"amount 51", 100051, cardApprove2, "", "51"},
					{"amount 54", 100054, cardApprove, "", "54"},
					{"amount 77", 100077, cardApprove, "", bc.authRequired},
					{"amount 82", 100082, cardApprove, "", bc.cvvFail},
					{"amount 91", 100091, cardApprove, "", "91"},
					{"amount 96", 100096, cardApprove, "", "96"},
					{"decline card", 100000, cardDecline, "", "05"},
					{"CVV 000", 100000, cardApprove, "000", bc.cvvFail},
				} {
					n := e.sim.Ledger().Len()
					r := e.auth(specs.OpPurchase, dc.amount)
					r.PAN, r.CVV = dc.pan, dc.cvv
					res := e.exchange(r, "0210", dc.want)
					if res.resp.AuthCode != "" {
						t.Errorf("%s: decline carries DE38 %q", dc.name, res.resp.AuthCode)
					}
					if e.sim.Ledger().Len() != n {
						t.Errorf("%s: decline was recorded", dc.name)
					}
				}
			})

			if bc.dialect == specs.DialectBinary {
				step(t, e, "0800 sign-off", func(t *testing.T) {
					res := e.exchange(e.network(specs.OpSignOff), "0810", "00")
					if res.resp.NetworkCode != "002" {
						t.Errorf("DE70 %q, want 002", res.resp.NetworkCode)
					}
					// The host now refuses financial traffic on this
					// connection until it is signed on again.
					r := e.auth(specs.OpPurchase, 100000)
					e.exchange(r, "0210", "91")
					if st := e.sim.Stats(); st.SignOffs != 1 || st.NotSignedOn != 1 {
						t.Errorf("stats: %+v", st)
					}
				})
			}
		})
	}
}

// network is an 0800 of op.
func (e *env) network(op specs.Op) *bankmsg.Request {
	return &bankmsg.Request{Op: op, STAN: e.stan(), TransmissionTime: e.now()}
}

// standIn is a stand-in advice of a request (origMTI) that got no answer:
// DE38 the switch's stand-in code, DE39 00, DE90 the unanswered request.
func (e *env) standIn(op specs.Op, origMTI string, amount int64, code string) *bankmsg.Request {
	orig := e.auth(specs.OpPurchase, amount)
	r := e.follow(op, orig, origMTI, amount)
	r.RRN = orig.RRN
	r.AuthCode, r.ResponseCode = code, "00"
	return r
}

// checkApproved: an approved authorization carries DE38, the ledger's code.
func checkApproved(t *testing.T, resp *bankmsg.Response, tx ledger.Txn) {
	t.Helper()
	if len(resp.AuthCode) != 6 || resp.AuthCode != tx.AuthCode {
		t.Errorf("DE38 %q, ledger auth code %q", resp.AuthCode, tx.AuthCode)
	}
}

// step runs one stage of a scenario as a subtest with e bound to it, and
// skips the stages after a failed one (they build on its result).
func step(t *testing.T, e *env, name string, f func(t *testing.T)) {
	t.Helper()
	if t.Failed() {
		return
	}
	t.Run(name, func(t *testing.T) {
		e.t = t
		f(t)
	})
}

// Card data the scenario sends; none of it may appear in a log line.
const (
	testCAVV       = "AAABBEg0VhI0VniQEjRWAAAAAAA="
	testCryptogram = "AgAAAAAABk4DWZ4C28yUQAAAAAA="
)

// syncBuffer is a bytes.Buffer safe for the loggers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkNoCardData fails if the link's or the simulator's log holds a full
// test PAN, an authentication value or a cryptogram.
func checkNoCardData(t *testing.T, logs *syncBuffer) {
	t.Helper()
	out := logs.String()
	if !strings.Contains(out, "signed on") && !strings.Contains(out, "connected") {
		t.Fatalf("the log buffer caught nothing; the check would be void:\n%s", out)
	}
	for _, secret := range []string{cardApprove, cardApprove2, cardDecline, cardToken, testCAVV, testCryptogram} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds card data %q", secret[:6]+"...")
		}
	}
}
