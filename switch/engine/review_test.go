package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// Tests of the security and money-path review's findings (docs/failures.md
// "Recovery races", "Late responses", "Ambiguous journal writes").

// waitPending waits until the payment of (client gateway, reqID) has an
// operation of kind in status pending, and returns it.
func waitPending(t *testing.T, h *harness, kind journal.OpKind, paymentID func() string) *journal.Operation {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if id := paymentID(); id != "" {
			for _, op := range h.op(id, kind) {
				if op.Status == journal.OpPending {
					return op
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no pending %s operation appeared", kind)
	return nil
}

func byRequest(h *harness, reqID string) func() string {
	return func() string {
		p, err := h.store.GetPaymentByRequestID(h.ctx, "gateway", reqID)
		if err != nil {
			return ""
		}
		return p.ID
	}
}

// HIGH 1: Recover in the process that is waiting for the answer leaves the
// operation alone (in-flight set), so an approval is recorded as such.
func TestRecoverSkipsOperationsInFlight(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 3 * time.Second})
	if err := h.simA.SetFaults(banksim.Faults{Delay: 800 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		p   *Payment
		err error
	}
	res := make(chan result, 1)
	go func() {
		p, err := h.eng.Authorize(h.ctx, purchaseInput("inflight", TypePurchase, 10010, "4000000000000010"))
		res <- result{p, err}
	}()
	waitPending(t, h, journal.OpAuthorization, byRequest(h, "inflight"))
	time.Sleep(20 * time.Millisecond)
	if n, err := h.eng.Recover(h.ctx, time.Millisecond); err != nil || n != 0 {
		t.Fatalf("Recover while the answer is awaited = %d, %v; want 0", n, err)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("Authorize: %v", r.err)
	}
	if r.p.Status != journal.PaymentApproved {
		t.Fatalf("payment %s %s, want approved", r.p.Status, r.p.Reason)
	}
	if revs := h.op(r.p.ID, journal.OpReversal); len(revs) != 0 {
		t.Fatalf("reversal queued for an approval in flight: %+v", revs[0])
	}
}

// peerEngine is a second switch process on the same journal and links: its
// Recover does not know what the first one has in flight.
func peerEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	cfg.Owner, cfg.Metrics = "peer", nil
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("peer engine: %v", err)
	}
	return e
}

// ackWith25 plays the bank answering 25 to a reversal that overtook the
// request it reverses (the bank did not know it yet): the reversal ends.
func ackWith25(t *testing.T, h *harness, rev *journal.Operation) {
	t.Helper()
	rev.Status, rev.ResponseCode, rev.BankResponseCode = journal.OpAcknowledged, "25", "25"
	if err := h.store.UpdateOperation(h.ctx, rev); err != nil {
		t.Fatal(err)
	}
}

// HIGH 1: a peer's Recover declines an authorization still in flight and
// its reversal ends with 25; the bank then approves. The approval must not
// stand: the answer is recorded, a new reversal is queued and sent, and
// the gateway gets the declined payment (not a 500).
func TestLateApprovalAfterPeerRecoverIsReversed(t *testing.T) {
	var cfg Config
	h := newHarness(t, harnessOpts{timeout: 3 * time.Second, configure: func(_ *harness, c *Config) { cfg = *c }})
	peer := peerEngine(t, cfg)
	if err := h.simA.SetFaults(banksim.Faults{Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		p   *Payment
		err error
	}
	res := make(chan result, 1)
	go func() {
		p, err := h.eng.Authorize(h.ctx, purchaseInput("peer-recover", TypePurchase, 10010, "4000000000000010"))
		res <- result{p, err}
	}()
	auth := waitPending(t, h, journal.OpAuthorization, byRequest(h, "peer-recover"))
	time.Sleep(20 * time.Millisecond)
	if n, err := peer.Recover(h.ctx, time.Millisecond); err != nil || n != 1 {
		t.Fatalf("peer Recover = %d, %v; want 1", n, err)
	}
	revs := h.op(auth.PaymentID, journal.OpReversal)
	if len(revs) != 1 {
		t.Fatalf("peer queued %d reversals", len(revs))
	}
	ackWith25(t, h, revs[0])

	r := <-res
	if r.err != nil {
		t.Fatalf("Authorize after a peer settled it: %v (the gateway must get the journaled payment)", r.err)
	}
	if r.p.Status != journal.PaymentDeclined {
		t.Fatalf("payment %s, want declined as recovery journaled it", r.p.Status)
	}
	got, err := h.store.GetOperation(h.ctx, auth.ID)
	if err != nil || got.ResponseCode != "00" || !strings.Contains(got.LastError, "settled by recovery") {
		t.Fatalf("authorization after the late approval: %+v %v", got, err)
	}
	revs = h.op(auth.PaymentID, journal.OpReversal)
	if len(revs) != 2 || revs[1].Status != journal.OpQueued || revs[1].RefOperationID != auth.ID {
		t.Fatalf("reversals %+v, want a new queued one", revs)
	}
	if err := h.simA.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	drainSAF(t, h, func() bool {
		txn, _ := h.simA.Ledger().ByRRN(auth.RRN)
		return txn.State == ledger.StateReversed
	})
}

// HIGH 1, Bank A online refund: the same race on a refund; the approved
// refund is reversed at the bank (0400 DE3 200000).
func TestLateRefundApprovalAfterPeerRecoverIsReversed(t *testing.T) {
	var cfg Config
	h := newHarness(t, harnessOpts{timeout: 3 * time.Second, configure: func(_ *harness, c *Config) { cfg = *c }})
	peer := peerEngine(t, cfg)
	p := h.authorize(purchaseInput("peer-refund", TypePurchase, 10010, "4000000000000010"))
	if p.Status != journal.PaymentApproved || p.Bank != "alfa" {
		t.Fatalf("purchase %s at %s", p.Status, p.Bank)
	}
	if err := h.simA.SetFaults(banksim.Faults{Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		r   *Refund
		err error
	}
	res := make(chan result, 1)
	amt := int64(4000)
	go func() {
		r, err := h.eng.Refund(h.ctx, OperationInput{Client: "gateway", RequestID: "rf", PaymentID: p.ID, Amount: &amt})
		res <- result{r, err}
	}()
	ref := waitPending(t, h, journal.OpRefund, func() string { return p.ID })
	time.Sleep(20 * time.Millisecond)
	if n, err := peer.Recover(h.ctx, time.Millisecond); err != nil || n != 1 {
		t.Fatalf("peer Recover = %d, %v; want 1", n, err)
	}
	revs := h.op(p.ID, journal.OpReversal)
	if len(revs) != 1 {
		t.Fatalf("peer queued %d reversals", len(revs))
	}
	ackWith25(t, h, revs[0])
	r := <-res
	if r.err != nil {
		t.Fatalf("Refund after a peer settled it: %v", r.err)
	}
	if r.r.Status != "declined" {
		t.Fatalf("refund %s, want declined as recovery journaled it", r.r.Status)
	}
	revs = h.op(p.ID, journal.OpReversal)
	if len(revs) != 2 || revs[1].Status != journal.OpQueued || revs[1].RefOperationID != ref.ID {
		t.Fatalf("reversals %+v, want a new queued one of the refund", revs)
	}
	if err := h.simA.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	drainSAF(t, h, func() bool {
		txn, _ := h.simA.Ledger().ByRRN(p.RRN)
		return len(txn.Refunds) == 1 && txn.Refunded() == 0
	})
	if pay, _ := h.store.GetPayment(h.ctx, p.ID); pay.RefundedAmount != 0 {
		t.Fatalf("refunded amount %d, want 0 (the refund was reversed)", pay.RefundedAmount)
	}
}

// HIGH 2: operations recovery cannot settle never block the others, even
// more of them than a page holds.
func TestRecoverGoesPastFailingOperations(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.eng.recoverPage = 2
	old := time.Now().Add(-time.Hour)
	tmpl := h.authorize(purchaseInput("tmpl", TypePurchase, 10010, "4000000000000010"))
	for i := range 3 {
		// A bank this process does not know (configuration drift).
		pay, err := h.store.GetPayment(h.ctx, tmpl.ID)
		if err != nil {
			t.Fatal(err)
		}
		pay.ID, pay.RequestID, pay.Status, pay.Bank, pay.Version = journal.NewPaymentID(), fmt.Sprintf("ghost-%d", i), journal.PaymentPending, "ghost", 0
		pay.CreatedAt = old.Add(time.Duration(i) * time.Second)
		op := &journal.Operation{PaymentID: pay.ID, Kind: journal.OpAuthorization, Bank: "ghost", MTI: "0200", STAN: fmt.Sprintf("90000%d", i),
			Amount: pay.Amount, Currency: "KZT", Status: journal.OpPending, CreatedAt: pay.CreatedAt}
		if err := h.store.CreatePayment(h.ctx, pay, op); err != nil {
			t.Fatal(err)
		}
	}
	// A recoverable one, newer than the failing ones.
	p := h.authorize(purchaseInput("good", TypePurchase, 10010, "4000000000000028"))
	auth := h.op(p.ID, journal.OpAuthorization)[0]
	pay, _ := h.store.GetPayment(h.ctx, p.ID)
	pay.Status, auth.Status = journal.PaymentPending, journal.OpPending
	if err := h.store.Write(h.ctx, journal.SavePayment(pay), journal.SaveOperation(auth)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	n, err := h.eng.Recover(h.ctx, time.Millisecond)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want the good operation settled past 3 failing ones", n, err)
	}
	if got := counterValue(t, h.eng.m.recoverFailures); got != 3 {
		t.Fatalf("recover failures metric = %v, want 3", got)
	}
	if got, _ := h.eng.Get(h.ctx, p.ID); got.Status != journal.PaymentDeclined {
		t.Fatalf("good payment %s after recovery", got.Status)
	}
}

// MEDIUM 3: after a restart (empty in-memory index) a late approval is
// matched through the journal's bank + STAN look-up even behind more than
// a scan's worth (1000) of older timed-out operations.
func TestLateResponseMatchedBehindManyOldTimeouts(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{timeout: 200 * time.Millisecond, lateDelay: 800 * time.Millisecond, configure: func(_ *harness, c *Config) {
		c.Metrics = reg
	}})
	tmpl := h.authorize(purchaseInput("tmpl", TypePurchase, 20010, "5100000000000008"))
	base, err := h.store.GetPayment(h.ctx, tmpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-24 * time.Hour)
	var muts []journal.Mutation
	for i := range 1001 {
		pay := *base
		pay.ID, pay.RequestID, pay.Status, pay.Version = journal.NewPaymentID(), fmt.Sprintf("old-%d", i), journal.PaymentDeclined, 0
		pay.CreatedAt = old.Add(time.Duration(i) * time.Millisecond)
		op := &journal.Operation{ID: journal.NewID(journal.PrefixOperation), PaymentID: pay.ID, Kind: journal.OpAuthorization, Bank: "sber", MTI: "0200",
			STAN: fmt.Sprintf("%06d", 800000+i), RRN: fmt.Sprintf("%012d", i), Amount: pay.Amount, Currency: "KZT",
			Status: journal.OpTimeout, CreatedAt: pay.CreatedAt}
		muts = append(muts, journal.InsertPayment(&pay), journal.InsertOperation(op))
	}
	if err := h.store.Write(h.ctx, muts...); err != nil {
		t.Fatal(err)
	}
	p := h.authorize(purchaseInput("late", TypePurchase, 20098, "5100000000000008"))
	if p.Status != journal.PaymentDeclined {
		t.Fatalf("status %s, want declined after the timeout", p.Status)
	}
	// A restart: the in-memory index is gone.
	h.eng.lateMu.Lock()
	clear(h.eng.unanswered)
	h.eng.lateMu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if counterValue(t, h.eng.m.late.WithLabelValues("sber", "unmatched")) != 0 {
			t.Fatal("late approval was not matched to its operation")
		}
		auth := h.op(p.ID, journal.OpAuthorization)[0]
		if auth.ResponseCode == "00" && strings.Contains(auth.LastError, "late response") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("late approval never recorded on its operation: %+v", auth)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := counterValue(t, h.eng.m.late.WithLabelValues("sber", "approved")); got != 1 {
		t.Fatalf("late approvals counted %v, want 1", got)
	}
}

// SAF: a worker whose lease was taken over (its pre-send work outlived the
// lease) does not send the item: two processes never send it at once.
func TestSAFWorkerDoesNotSendAfterLosingLease(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond})
	p := h.authorize(purchaseInput("lease", TypePurchase, 10099, "4000000000000010"))
	if p.Status != journal.PaymentDeclined {
		t.Fatalf("status %s", p.Status)
	}
	mine, err := h.store.ClaimDue(h.ctx, h.eng.owner, 10, 20*time.Millisecond)
	if err != nil || len(mine) != 1 {
		t.Fatalf("claim: %d %v", len(mine), err)
	}
	time.Sleep(60 * time.Millisecond)
	theirs, err := h.store.ClaimDue(h.ctx, "peer", 10, time.Minute)
	if err != nil || len(theirs) != 1 {
		t.Fatalf("peer claim: %d %v", len(theirs), err)
	}
	_, err = h.eng.processItem(h.ctx, mine[0])
	if !errors.Is(err, journal.ErrLeaseLost) {
		t.Fatalf("processItem after losing the lease: %v, want ErrLeaseLost", err)
	}
	if txn, _ := h.simA.Ledger().ByRRN(p.RRN); txn.State == ledger.StateReversed || len(txn.ReversalSTANs) != 0 {
		t.Fatalf("the old owner sent the reversal: %+v", txn)
	}
}

// lostAckStore is the real journal with one fault injected: the next armed
// write commits, but its caller gets an error (a COMMIT whose
// acknowledgement was lost, or a context that ended while the batch
// committed) — the ambiguous case the engine must resolve by re-reading.
type lostAckStore struct {
	journal.Store
	armed atomic.Bool
}

var errLostAck = errors.New("test: commit acknowledgement lost")

func (s *lostAckStore) Write(ctx context.Context, muts ...journal.Mutation) error {
	err := s.Store.Write(ctx, muts...)
	if err == nil && s.armed.CompareAndSwap(true, false) {
		return errLostAck
	}
	return err
}

func (s *lostAckStore) CreatePayment(ctx context.Context, p *journal.Payment, op *journal.Operation) error {
	err := s.Store.CreatePayment(ctx, p, op)
	if err == nil && s.armed.CompareAndSwap(true, false) {
		return errLostAck
	}
	return err
}

func lostAckHarness(t *testing.T) (*harness, *lostAckStore) {
	var ls *lostAckStore
	h := newHarness(t, harnessOpts{configure: func(h *harness, c *Config) {
		ls = &lostAckStore{Store: c.Store}
		c.Store = ls
	}})
	return h, ls
}

// MEDIUM 6: a Bank B refund advice whose write committed although it
// reported an error is answered from the journal (approved), never 503, and
// the bank gets it exactly once.
func TestAmbiguousAdviceWriteAnswersFromJournal(t *testing.T) {
	h, ls := lostAckHarness(t)
	p := h.authorize(purchaseInput("amb-b", TypePurchase, 20010, "5100000000000008"))
	if p.Status != journal.PaymentApproved || p.Bank != "sber" {
		t.Fatalf("purchase %s at %s", p.Status, p.Bank)
	}
	amt := int64(5000)
	ls.armed.Store(true)
	r, err := h.eng.Refund(h.ctx, OperationInput{Client: "gateway", RequestID: "amb-rf", PaymentID: p.ID, Amount: &amt})
	if err != nil {
		t.Fatalf("Refund with a lost commit acknowledgement: %v (the refund is durable: answer from it)", err)
	}
	if r.Status != "approved" {
		t.Fatalf("refund %s", r.Status)
	}
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID, journal.SAFDone)) == 1 })
	txn, _ := h.simB.Ledger().ByRRN(p.RRN)
	if len(txn.Refunds) != 1 || txn.Refunded() != amt {
		t.Fatalf("bank refunds %+v, want exactly one of %d", txn.Refunds, amt)
	}
}

// MEDIUM 6: a Bank A online refund whose write committed although it
// reported an error was never sent: it is settled as not sent (declined,
// reservation released), never a 503 that lets the retry refund twice.
func TestAmbiguousOnlineRefundWriteSettlesNotSent(t *testing.T) {
	h, ls := lostAckHarness(t)
	p := h.authorize(purchaseInput("amb-a", TypePurchase, 10010, "4000000000000010"))
	if p.Status != journal.PaymentApproved || p.Bank != "alfa" {
		t.Fatalf("purchase %s at %s", p.Status, p.Bank)
	}
	amt := int64(3000)
	ls.armed.Store(true)
	r, err := h.eng.Refund(h.ctx, OperationInput{Client: "gateway", RequestID: "amb-rf", PaymentID: p.ID, Amount: &amt})
	if err != nil {
		t.Fatalf("Refund with a lost commit acknowledgement: %v", err)
	}
	if r.Status != "declined" {
		t.Fatalf("refund %s, want declined (not sent)", r.Status)
	}
	refs := h.op(p.ID, journal.OpRefund)
	if len(refs) != 1 || refs[0].Status != journal.OpFailed {
		t.Fatalf("refund operations %+v", refs)
	}
	if pay, _ := h.store.GetPayment(h.ctx, p.ID); pay.RefundedAmount != 0 {
		t.Fatalf("refunded amount %d still reserved", pay.RefundedAmount)
	}
	if txn, _ := h.simA.Ledger().ByRRN(p.RRN); len(txn.Refunds) != 0 {
		t.Fatalf("the bank got a refund: %+v", txn.Refunds)
	}
}

// MEDIUM 6: an authorization whose write-ahead record committed although
// it reported an error is not answered 503: the attempt is failed (nothing
// was sent) and the next bank is tried on the same payment.
func TestAmbiguousAuthorizationWriteFailsOver(t *testing.T) {
	h, ls := lostAckHarness(t)
	ls.armed.Store(true)
	p, err := h.eng.Authorize(h.ctx, purchaseInput("amb-auth", TypePurchase, 10010, "4000000000000010"))
	if err != nil {
		t.Fatalf("Authorize with a lost commit acknowledgement: %v", err)
	}
	auths := h.op(p.ID, journal.OpAuthorization)
	if len(auths) != 2 || auths[0].Status != journal.OpFailed || auths[0].Bank != "alfa" || auths[1].Bank != "sber" {
		t.Fatalf("attempts %+v", auths)
	}
	if p.Status != journal.PaymentApproved || p.Bank != "sber" {
		t.Fatalf("payment %s at %s", p.Status, p.Bank)
	}
	if _, ok := h.simA.Ledger().ByRRN(auths[0].RRN); ok {
		t.Fatal("the first bank got the authorization whose record was in doubt")
	}
}

// slowAckStore is the real journal whose next armed write is acknowledged
// late (a slow fsync, a busy database): the commit is done, the caller
// hears of it after delay.
type slowAckStore struct {
	journal.Store
	armed atomic.Bool
	delay time.Duration
}

func (s *slowAckStore) Write(ctx context.Context, muts ...journal.Mutation) error {
	err := s.Store.Write(ctx, muts...)
	if s.armed.CompareAndSwap(true, false) {
		time.Sleep(s.delay)
	}
	return err
}

// Duplicate sends: when the write that queues an advice is acknowledged so
// late that its SAF item is already due, the synchronous attempt is not
// made — the worker may own the item, and the two would send the same
// message at once. The worker then sends it exactly once.
func TestSyncAttemptSkippedWhenItemAlreadyDue(t *testing.T) {
	var ss *slowAckStore
	h := newHarness(t, harnessOpts{timeout: 300 * time.Millisecond, configure: func(_ *harness, c *Config) {
		ss = &slowAckStore{Store: c.Store}
		c.Store = ss
	}})
	p := h.authorize(purchaseInput("slow-cap", TypePreauth, 10010, "4000000000000010"))
	if p.Status != journal.PaymentApproved {
		t.Fatalf("preauth %s", p.Status)
	}
	b, _ := h.eng.bank("alfa")
	ss.delay = b.SyncTimeout + b.RepeatMin + 50*time.Millisecond
	ss.armed.Store(true)
	if _, err := h.eng.Capture(h.ctx, OperationInput{Client: "gateway", RequestID: "slow-cap-1", PaymentID: p.ID}); err != nil {
		t.Fatalf("Capture: %v", err)
	}
	capOp := h.op(p.ID, journal.OpCapture)[0]
	sent := func() int {
		msgs, err := h.store.ListMessages(h.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range msgs {
			if m.OperationID == capOp.ID && m.Direction == journal.DirOut {
				n++
			}
		}
		return n
	}
	if n := sent(); n != 0 || capOp.Attempts != 0 {
		t.Fatalf("synchronous attempt made after the item fell due: %d sends, %d attempts", n, capOp.Attempts)
	}
	drainSAF(t, h, func() bool { return len(safItems(t, h, p.ID, journal.SAFDone)) == 1 })
	if n := sent(); n != 1 {
		t.Fatalf("completion sent %d times, want once", n)
	}
	if c := h.op(p.ID, journal.OpCapture)[0]; c.Status != journal.OpAcknowledged || c.MTI != "0220" {
		t.Fatalf("completion %+v", c)
	}
}
