package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// client is the gateway side of a chaos run: it sends payments and follow-up
// operations over the real HTTP API and records what it was told.
type client struct {
	http   *http.Client
	prefix string // request_id prefix, unique per run
	token  string // the gateway's bearer token of this run

	mu   sync.Mutex
	told []Told
	sent int // payments attempted
	lost int // requests that never got an answer
}

func newClient(prefix string) *client {
	return &client{http: &http.Client{Timeout: 30 * time.Second}, prefix: prefix}
}

func (c *client) record(t Told) {
	c.mu.Lock()
	c.told = append(c.told, t)
	c.mu.Unlock()
}

type paymentJSON struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	Type           string `json:"type"`
	Amount         int64  `json:"amount"`
	StandIn        bool   `json:"stand_in"`
	CapturedAmount int64  `json:"captured_amount"`
	VoidedAmount   int64  `json:"voided_amount"`
	Bank           string `json:"bank"`
}

type refundJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Amount int64  `json:"amount"`
}

// errNoAnswer: the switch gave no usable answer (connection refused or
// reset, 5xx): the upstream knows nothing.
var errNoAnswer = errors.New("no answer")

// post sends one POST, retrying a refused connection or a 503 with the
// same request_id (as a gateway does) until deadline. It decodes a 200
// into out and reports 409 as ok=false.
func (c *client) post(ctx context.Context, bases func() []string, path string, body any, out any) (ok bool, err error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return false, fmt.Errorf("encoding request: %w", err)
	}
	deadline := time.Now().Add(8 * time.Second)
	for attempt := 0; ; attempt++ {
		for _, base := range bases() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+base+path, bytes.NewReader(raw))
			if err != nil {
				return false, fmt.Errorf("building request: %w", err)
			}
			req.Header.Set("Authorization", "Bearer "+c.token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.http.Do(req)
			if err != nil {
				continue // killed or restarting: try again (same request_id)
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				if err := json.Unmarshal(b, out); err != nil {
					return false, fmt.Errorf("decoding %s answer: %w", path, err)
				}
				return true, nil
			case http.StatusConflict:
				return false, nil
			case http.StatusServiceUnavailable:
				continue
			default:
				return false, fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, b)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false, errNoAnswer
		}
		select {
		case <-ctx.Done():
			return false, errNoAnswer
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// payment is one payment the load will make.
type payment struct {
	n      int
	typ    string
	amount int64
	pan    string
}

// luhnPAN completes a 15-digit body with its Luhn check digit.
func luhnPAN(body string) string {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + strconv.Itoa((10-sum%10)%10)
}

// testPAN returns the i-th test card of a brand's test range (simulator.md).
func testPAN(visa bool, i int) string {
	bin := "510000"
	if visa {
		bin = "400000"
	}
	return luhnPAN(fmt.Sprintf("%s%09d", bin, 100+i))
}

// run executes one payment and its follow-up operations. bases lists the
// switch API addresses to try, in order.
func (c *client) run(ctx context.Context, rng *rand.Rand, bases func() []string, p payment) error {
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
	reqID := fmt.Sprintf("%s-%05d", c.prefix, p.n)
	body := map[string]any{
		"request_id": reqID, "type": p.typ, "amount": p.amount, "currency": "KZT",
		"merchant": map[string]any{"id": "M00000000000123", "terminal_id": "T0000123", "mcc": "5411",
			"name": "CHAOS SHOP", "city": "ALMATY", "country": "KZ"},
		"card": map[string]any{"pan": p.pan, "expiry": "2812", "cvv": "123"},
	}
	var pay paymentJSON
	ok, err := c.post(ctx, bases, "/v1/payments", body, &pay)
	if errors.Is(err, errNoAnswer) {
		c.mu.Lock()
		c.lost++
		c.mu.Unlock()
		return nil
	}
	if err != nil || !ok {
		return fmt.Errorf("payment %s: %v", reqID, err)
	}
	c.record(Told{Kind: "authorize", RequestID: reqID, PaymentID: pay.ID, Status: pay.Status, StandIn: pay.StandIn, Amount: pay.Amount})
	if pay.Status != "approved" {
		return nil
	}
	op := func(kind, path string, amount int64, out any) (bool, error) {
		rid := reqID + "-" + kind
		ok, err := c.post(ctx, bases, "/v1/payments/"+pay.ID+path, map[string]any{"request_id": rid, "amount": amount}, out)
		if errors.Is(err, errNoAnswer) {
			c.mu.Lock()
			c.lost++
			c.mu.Unlock()
			return false, nil
		}
		return ok, err
	}
	refund := func(amount int64) error {
		var r refundJSON
		ok, err := op("refund", "/refunds", amount, &r)
		if err != nil || !ok {
			return err
		}
		c.record(Told{Kind: "refund", RequestID: reqID + "-refund", PaymentID: pay.ID, Status: r.Status, RefundID: r.ID, Amount: amount})
		return nil
	}
	dice := rng.IntN(100)
	switch {
	case p.typ == "purchase" && dice < 25:
		var v paymentJSON
		if ok, err := op("void", "/void", p.amount, &v); err != nil || !ok {
			return err
		}
		c.record(Told{Kind: "void", PaymentID: pay.ID, Status: v.Status, Amount: p.amount})
	case p.typ == "purchase" && dice < 50:
		return refund(p.amount / 2)
	case p.typ == "preauth" && dice < 30:
		var v paymentJSON
		if ok, err := op("void", "/void", p.amount, &v); err != nil || !ok {
			return err
		}
		c.record(Told{Kind: "void", PaymentID: pay.ID, Status: v.Status, Amount: p.amount})
	case p.typ == "preauth" && dice < 80:
		captured := p.amount - p.amount/4
		var v paymentJSON
		if ok, err := op("capture", "/capture", captured, &v); err != nil || !ok {
			return err
		}
		c.record(Told{Kind: "capture", PaymentID: pay.ID, Status: v.Status, Amount: captured})
		if dice < 55 {
			return refund(captured / 3)
		}
	}
	return nil
}

// drive runs payments on workers goroutines; each payment's outcome and
// follow-ups are independent. progress is called after each payment.
func (c *client) drive(ctx context.Context, workers int, seed uint64, payments []payment, bases func() []string, progress func(done int)) error {
	ch := make(chan payment)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		done  int
	)
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for p := range ch {
				err := c.run(ctx, rng, bases, p)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				done++
				d := done
				mu.Unlock()
				if progress != nil {
					progress(d)
				}
			}
		})
	}
	for _, p := range payments {
		select {
		case ch <- p:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
