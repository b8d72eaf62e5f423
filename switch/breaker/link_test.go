package breaker

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/banklink"
)

// bankHost is a Bank A host over real TCP: it declines every financial
// request with 05, or, when silent, reads requests and never answers.
type bankHost struct {
	t      *testing.T
	d      *specs.Dialect
	ln     net.Listener
	silent atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newBankHost(t *testing.T, d *specs.Dialect) *bankHost {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	h := &bankHost{t: t, d: d, ln: ln}
	h.wg.Add(1)
	go h.accept()
	t.Cleanup(h.stop)
	return h
}

func (h *bankHost) accept() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		h.wg.Add(1)
		go h.serve(c)
	}
}

func (h *bankHost) serve(c net.Conn) {
	defer h.wg.Done()
	for {
		req, err := h.d.ReadMessage(c)
		if err != nil {
			return
		}
		mti, _ := req.GetMTI()
		if h.silent.Load() && mti != "0800" {
			continue
		}
		resp := h.d.NewMessage()
		respMTI := []byte(mti)
		respMTI[2]++
		resp.MTI(string(respMTI))
		for _, f := range []int{3, 4, 7, 11, 37, 41, 42, 49, 70} {
			if v, err := req.GetString(f); err == nil && v != "" {
				_ = resp.Field(f, v)
			}
		}
		code := "05" // do not honor: a healthy bank's decline
		if mti == "0800" {
			code = "00"
		}
		_ = resp.Field(39, code)
		if err := h.d.WriteMessage(c, resp); err != nil {
			return
		}
	}
}

func (h *bankHost) stop() {
	_ = h.ln.Close()
	h.mu.Lock()
	for _, c := range h.conns {
		_ = c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func purchase(t *testing.T, d *specs.Dialect) *iso8583.Message {
	t.Helper()
	m := d.NewMessage()
	m.MTI("0200")
	for f, v := range map[int]string{
		2: "4000000000000010", 3: "000000", 4: "000000150000",
		7: time.Now().UTC().Format("0102150405"), 37: "633100000123",
	} {
		if err := m.Field(f, v); err != nil {
			t.Fatalf("DE%d: %v", f, err)
		}
	}
	return m
}

// TestRealLinkDeclinesAndTimeouts runs the breaker around a real banklink
// Link: a host that declines every request keeps the circuit closed; once
// it stops answering, the link's timeouts open it; when it answers again,
// the probe closes it.
func TestRealLinkDeclinesAndTimeouts(t *testing.T) {
	d, err := specs.Lookup(specs.DialectASCII)
	if err != nil {
		t.Fatal(err)
	}
	host := newBankHost(t, d)
	link, err := banklink.Open(banklink.Config{
		Bank: "alfa", Address: host.ln.Addr().String(), Connections: 1, MaxInFlight: 4,
		Timeout: 150 * time.Millisecond, EchoInterval: time.Minute, ReadTimeout: 2 * time.Minute,
		ConnectTimeout: time.Second, SignOffTimeout: 100 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	}, d)
	if err != nil {
		t.Fatalf("banklink.Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = link.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := link.WaitUsable(ctx); err != nil {
		t.Fatalf("link not usable: %v", err)
	}

	c := newClock()
	set, err := NewSet(map[string]Config{"alfa": {FailureThreshold: 3, Window: time.Minute, CoolDown: 5 * time.Second}},
		Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	br, _ := set.Get("alfa")
	exchange := func() (Outcome, error) {
		ok, done := set.Allow("alfa")
		if !ok {
			return 0, errors.New("circuit refused the request")
		}
		resp, err := link.Send(ctx, purchase(t, d))
		o := Classify(err)
		if err == nil {
			code, _ := resp.GetString(39)
			o = set.ResponseOutcome("alfa", code)
			if code != "05" {
				t.Fatalf("host answered %q", code)
			}
		}
		done(o)
		return o, err
	}

	for i := range 6 {
		if o, err := exchange(); err != nil || o != Success {
			t.Fatalf("declined request %d: outcome %s, err %v", i, o, err)
		}
	}
	if br.State() != Closed {
		t.Fatalf("declines opened the circuit: %+v", br.Status())
	}

	host.silent.Store(true)
	for i := range 3 {
		o, err := exchange()
		if !errors.Is(err, banklink.ErrTimeout) || o != Failure {
			t.Fatalf("silent host, request %d: outcome %s, err %v", i, o, err)
		}
	}
	if br.State() != Open || set.Usable("alfa", link.Usable()) {
		t.Fatalf("after 3 timeouts: %+v (link usable %v)", br.Status(), link.Usable())
	}
	if _, err := exchange(); err == nil {
		t.Fatal("open circuit let a request reach the link")
	}

	host.silent.Store(false)
	c.Advance(5 * time.Second)
	if !set.Usable("alfa", link.Usable()) {
		t.Fatal("half-open circuit not usable for the probe")
	}
	if o, err := exchange(); err != nil || o != Success {
		t.Fatalf("probe: outcome %s, err %v", o, err)
	}
	if br.State() != Closed {
		t.Fatalf("successful probe left %+v", br.Status())
	}
}
