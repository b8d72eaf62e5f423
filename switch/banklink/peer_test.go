package banklink

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
)

// peer is a real TCP bank host for the tests: it accepts connections,
// decodes frames with the dialect and answers through a per-test handler,
// falling back to contract behaviour (sign-on enforcement, echo, approve).
type peer struct {
	t       testing.TB
	d       *specs.Dialect
	tlsConf *tls.Config
	addr    string

	// requireSignOn makes the peer answer 91 to anything but 0800/001 on a
	// connection that has not signed on (Bank B).
	requireSignOn bool
	// refuseSignOn makes the peer answer sign-on with 91.
	refuseSignOn atomic.Bool

	handler atomic.Pointer[func(pc *peerConn, msg *iso8583.Message) bool]

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*peerConn]struct{}
	wg       sync.WaitGroup
	accepted atomic.Int32
	closedCh chan *peerConn // peer connections ended (by either side)

	recv chan received
}

type received struct {
	pc  *peerConn
	mti string
	msg *iso8583.Message
	at  time.Time
}

type peerConn struct {
	p        *peer
	c        net.Conn
	id       int32
	wmu      sync.Mutex
	signedOn atomic.Bool
}

func newPeer(t testing.TB, d *specs.Dialect, tlsConf *tls.Config) *peer {
	t.Helper()
	p := &peer{
		t: t, d: d, tlsConf: tlsConf,
		conns:    make(map[*peerConn]struct{}),
		recv:     make(chan received, 1024),
		closedCh: make(chan *peerConn, 64),
	}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.stop)
	return p
}

// setHandler installs h; h returns false to let the default answer.
func (p *peer) setHandler(h func(pc *peerConn, msg *iso8583.Message) bool) {
	p.handler.Store(&h)
}

func (p *peer) listen(addr string) {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the old port may linger briefly after restart
		ln, err = net.Listen("tcp", addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("peer listen %s: %v", addr, err)
	}
	if p.tlsConf != nil {
		ln = tls.NewListener(ln, p.tlsConf)
	}
	p.mu.Lock()
	p.ln = ln
	p.addr = ln.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *peer) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		pc := &peerConn{p: p, c: c, id: p.accepted.Add(1)}
		p.mu.Lock()
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go pc.serve()
	}
}

func (pc *peerConn) serve() {
	p := pc.p
	defer p.wg.Done()
	defer func() {
		pc.c.Close()
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
		p.closedCh <- pc
	}()
	for {
		raw, err := p.d.Framing.ReadMessage(pc.c)
		if err != nil {
			return
		}
		msg := iso8583.NewMessage(p.d.Spec)
		if err := msg.Unpack(raw); err != nil {
			p.t.Errorf("peer: undecodable message from link: %v", err)
			return
		}
		mti, _ := msg.GetMTI()
		select {
		case p.recv <- received{pc: pc, mti: mti, msg: msg, at: time.Now()}:
		default:
		}
		go pc.handle(msg)
	}
}

func (pc *peerConn) handle(msg *iso8583.Message) {
	if h := pc.p.handler.Load(); h != nil && (*h)(pc, msg) {
		return
	}
	pc.defaultAnswer(msg)
}

func (pc *peerConn) defaultAnswer(msg *iso8583.Message) {
	mti, _ := msg.GetMTI()
	if isResponseMTI(mti) {
		return
	}
	if mti == "0800" {
		switch networkCode(msg) {
		case nmSignOn:
			if pc.p.refuseSignOn.Load() {
				pc.reply(msg, "91")
				return
			}
			pc.signedOn.Store(true)
			pc.reply(msg, "00")
			return
		case nmSignOff:
			pc.signedOn.Store(false)
			pc.reply(msg, "00")
			return
		}
	}
	if pc.p.requireSignOn && !pc.signedOn.Load() {
		pc.reply(msg, "91")
		return
	}
	pc.reply(msg, "00")
}

// reply answers req with its response MTI, echoing 3, 4, 7, 11, 37, 70 and
// adding DE39 rc (never DE2, as the contract says).
func (pc *peerConn) reply(req *iso8583.Message, rc string) {
	mti, _ := req.GetMTI()
	respMTI, ok := responseMTI(mti)
	if !ok {
		pc.p.t.Errorf("peer: cannot answer MTI %q", mti)
		return
	}
	resp := iso8583.NewMessage(pc.p.d.Spec)
	resp.MTI(respMTI)
	for _, id := range []int{3, 4, 7, 11, 37, 70} {
		if v, _ := req.GetString(id); v != "" {
			if err := resp.Field(id, v); err != nil {
				pc.p.t.Errorf("peer: set DE%d: %v", id, err)
			}
		}
	}
	if err := resp.Field(39, rc); err != nil {
		pc.p.t.Errorf("peer: set DE39: %v", err)
	}
	_ = pc.send(resp)
}

func (pc *peerConn) send(msg *iso8583.Message) error {
	frame, err := encode(pc.p.d.Framing, msg)
	if err != nil {
		pc.p.t.Errorf("peer: encode: %v", err)
		return err
	}
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	_, err = pc.c.Write(frame)
	return err
}

func (pc *peerConn) close() { pc.c.Close() }

// closeConns drops every open connection (bank maintenance).
func (p *peer) closeConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.c.Close()
	}
}

func (p *peer) openConns() []*peerConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*peerConn, 0, len(p.conns))
	for pc := range p.conns {
		out = append(out, pc)
	}
	return out
}

// stop closes the listener and every connection and waits for them.
func (p *peer) stop() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.closeConns()
	p.wg.Wait()
}

// restart listens again on the same address.
func (p *peer) restart() { p.listen(p.addr) }

// expect waits for the next received message satisfying ok.
func (p *peer) expect(timeout time.Duration, what string, ok func(r received) bool) received {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case r := <-p.recv:
			if ok(r) {
				return r
			}
		case <-deadline.C:
			p.t.Fatalf("peer: no %s within %s", what, timeout)
			return received{}
		}
	}
}

func isNetwork(code string) func(r received) bool {
	return func(r received) bool { return r.mti == "0800" && networkCode(r.msg) == code }
}
