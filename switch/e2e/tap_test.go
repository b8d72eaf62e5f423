package e2e

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

// frame is one request the switch sent to a bank, as decoded by the
// simulators' codec: the MTI and every field's value.
type frame struct {
	MTI    string
	Fields map[int]string
}

// tap relays TCP between the switch and a simulator and records every
// frame the switch sends. Closing it refuses new connections and cuts the
// open ones, which to the switch is a bank that went down.
type tap struct {
	t      *testing.T
	codec  *wire.Codec
	target string
	ln     net.Listener

	mu     sync.Mutex
	frames []frame
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startTap(t *testing.T, dialect, target string) *tap {
	t.Helper()
	codec, err := wire.NewCodec(dialect)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{t: t, codec: codec, target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	tp.wg.Add(1)
	go tp.accept()
	t.Cleanup(tp.close)
	return tp
}

func (tp *tap) addr() string { return tp.ln.Addr().String() }

func (tp *tap) accept() {
	defer tp.wg.Done()
	for {
		c, err := tp.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", tp.target)
		if err != nil {
			c.Close()
			continue
		}
		tp.mu.Lock()
		if tp.closed {
			tp.mu.Unlock()
			c.Close()
			b.Close()
			return
		}
		tp.conns[c], tp.conns[b] = struct{}{}, struct{}{}
		tp.mu.Unlock()
		tp.wg.Add(2)
		go func() { // bank -> switch: plain copy
			defer tp.wg.Done()
			_, _ = io.Copy(c, b)
			c.Close()
			b.Close()
		}()
		go func() { // switch -> bank: forward and decode
			defer tp.wg.Done()
			tp.record(io.TeeReader(c, b))
			c.Close()
			b.Close()
		}()
	}
}

// record decodes frames from r (whose bytes are already being forwarded)
// until the connection ends. A frame the codec cannot read is kept as an
// MTI-less entry, so a test sees that something malformed was sent.
func (tp *tap) record(r io.Reader) {
	br := bufio.NewReader(r)
	buf := make([]byte, tp.codec.MaxLen())
	var m wire.Msg
	for {
		b, err := tp.codec.ReadFrame(br, buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				_, _ = io.Copy(io.Discard, br) // keep forwarding
			}
			return
		}
		f := frame{Fields: map[int]string{}}
		if err := tp.codec.Decode(b, &m); err == nil {
			f.MTI = m.MTI()
			for _, n := range m.Fields() {
				f.Fields[n] = m.Get(n)
			}
		}
		tp.mu.Lock()
		tp.frames = append(tp.frames, f)
		tp.mu.Unlock()
	}
}

// sent returns the recorded frames with one of the given MTIs (all when
// none is given).
func (tp *tap) sent(mtis ...string) []frame {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []frame
	for _, f := range tp.frames {
		if len(mtis) == 0 {
			out = append(out, f)
			continue
		}
		for _, m := range mtis {
			if f.MTI == m {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// withRRN returns the requests carrying this DE37.
func (tp *tap) withRRN(rrn string) []frame {
	var out []frame
	for _, f := range tp.sent() {
		if f.Fields[37] == rrn {
			out = append(out, f)
		}
	}
	return out
}

// close stops accepting and cuts every relayed connection.
func (tp *tap) close() {
	tp.mu.Lock()
	if tp.closed {
		tp.mu.Unlock()
		return
	}
	tp.closed = true
	for c := range tp.conns {
		c.Close()
	}
	tp.mu.Unlock()
	tp.ln.Close()
	tp.wg.Wait()
}
