package banksim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

// outcome says what the reader does after handling one message.
type outcome uint8

const (
	outReply outcome = iota // send the response now (after any fault delay)
	outLate                 // send it after LateDelay (rule 98)
	outNone                 // send nothing (rule 99, unsolicited responses)
	outClose                // close the connection without answering (rule 97)
)

const writeQueue = 1024

type conn struct {
	s   *Sim
	nc  net.Conn
	log zerolog.Logger

	out       chan *[]byte
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // writer, echo loop and delayed sends

	signedOn atomic.Bool

	echoMu   sync.Mutex
	echoSTAN string // outstanding host echo, "" when none
}

func newConn(s *Sim, nc net.Conn) *conn {
	return &conn{
		s: s, nc: nc,
		log:  s.log.With().Str("remote", nc.RemoteAddr().String()).Logger(),
		out:  make(chan *[]byte, writeQueue),
		done: make(chan struct{}),
	}
}

func (c *conn) close(why string) {
	c.closeOnce.Do(func() {
		c.log.Info().Str("reason", why).Msg("closing connection")
		close(c.done)
		_ = c.nc.Close()
	})
}

func (c *conn) serve(ctx context.Context) {
	c.log.Info().Msg("connection accepted")
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.writeLoop()
	}()
	if c.s.cfg.EchoInterval > 0 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.echoLoop(ctx)
		}()
	}
	c.readLoop()
	c.close("reader finished")
	c.wg.Wait()
	// Frames still queued are dropped with the connection.
	for {
		select {
		case b := <-c.out:
			c.s.putBuf(b)
		default:
			return
		}
	}
}

func (c *conn) readLoop() {
	s := c.s
	br := bufio.NewReaderSize(c.nc, 64<<10)
	buf := make([]byte, 0, s.codec.MaxLen())
	var req, resp wire.Msg
	for {
		frame, err := s.codec.ReadFrame(br, buf)
		if err != nil {
			select {
			case <-c.done:
			default:
				if errors.Is(err, io.EOF) {
					c.log.Info().Msg("peer closed connection")
				} else {
					c.log.Warn().Err(err).Msg("reading frame; dropping connection")
				}
			}
			return
		}
		s.received.Add(1)
		if derr := s.codec.Decode(frame, &req); derr != nil {
			s.formatErrors.Add(1)
			c.log.Warn().Err(derr).Str("mti", printableMTI(&req)).Msg("undecodable message")
			if !c.formatError(&req, &resp) {
				continue
			}
		} else {
			mti := req.MTIBytes()
			if isResponse(mti) {
				c.handleResponse(&req)
				continue
			}
			f := s.faults.Load()
			if f.StopAnswering {
				s.droppedFault.Add(1)
				continue
			}
			switch c.handle(&req, &resp) {
			case outNone:
				continue
			case outClose:
				s.closed97.Add(1)
				c.close("rule 97: close without answering")
				return
			case outLate:
				c.sendAfter(&resp, s.cfg.LateDelay)
				continue
			}
		}
		c.sendAfter(&resp, 0)
	}
}

// formatError prepares a 30 answer to a request that could not be fully
// decoded, echoing what was decoded. It returns false when the MTI itself
// is unusable or the message is not a request.
func (c *conn) formatError(req, resp *wire.Msg) bool {
	mti := req.MTIBytes()
	for _, ch := range mti {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	if isResponse(mti) || c.s.faults.Load().StopAnswering {
		return false
	}
	resp.Reset()
	resp.SetMTI(responseMTI(mti))
	echoFields(req, resp)
	if mti[1] == '8' {
		copyField(req, resp, 70)
	}
	resp.Set(39, "30")
	return true
}

func printableMTI(m *wire.Msg) string {
	mti := m.MTIBytes()
	for _, ch := range mti {
		if ch < '0' || ch > '9' {
			return "????"
		}
	}
	return string(mti[:])
}

// sendAfter encodes resp now and queues it after delay plus any injected
// delay.
func (c *conn) sendAfter(resp *wire.Msg, delay time.Duration) {
	s := c.s
	f := s.faults.Load()
	delay += f.Delay
	b := s.getBuf()
	var err error
	switch f.Garbage {
	case GarbageFramed:
		*b = garbageFrame((*b)[:0], s.codec)
	case GarbageRaw:
		*b = append((*b)[:0], 0xff, 0xfe, 0x00, 0x13)
		*b = appendRandom(*b, 32)
	default:
		*b, err = s.codec.AppendFrame((*b)[:0], resp)
	}
	if err != nil {
		s.putBuf(b)
		c.log.Error().Err(err).Str("mti", resp.MTI()).Msg("encoding response")
		return
	}
	if delay <= 0 {
		c.enqueue(b)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			c.enqueue(b)
		case <-c.done:
			s.putBuf(b)
		}
	}()
}

func garbageFrame(dst []byte, codec *wire.Codec) []byte {
	body := appendRandom([]byte{0xff}, 23)
	dst = append(dst, make([]byte, codec.PrefixLen())...)
	wire.PutPrefix(codec, dst[len(dst)-codec.PrefixLen():], len(body))
	return append(dst, body...)
}

func appendRandom(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, byte(rand.IntN(256)))
	}
	return b
}

func (c *conn) enqueue(b *[]byte) {
	select {
	case c.out <- b:
	case <-c.done:
		c.s.putBuf(b)
	}
}

// writeLoop writes queued frames, flushing only when the queue is empty so
// that a burst of answers leaves in few syscalls.
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 32<<10)
	for {
		select {
		case <-c.done:
			return
		case b := <-c.out:
			if !c.write(bw, b) {
				return
			}
		drain:
			for {
				select {
				case b := <-c.out:
					if !c.write(bw, b) {
						return
					}
				default:
					break drain
				}
			}
			if err := bw.Flush(); err != nil {
				c.log.Warn().Err(err).Msg("writing to connection")
				c.close("write failed")
				return
			}
		}
	}
}

func (c *conn) write(bw *bufio.Writer, b *[]byte) bool {
	_, err := bw.Write(*b)
	c.s.putBuf(b)
	if err != nil {
		c.log.Warn().Err(err).Msg("writing to connection")
		c.close("write failed")
		return false
	}
	c.s.answered.Add(1)
	return true
}

// echoLoop sends the host's 0800 301 every EchoInterval on a signed-on
// connection (any connection for a dialect without sign-on) and closes the
// connection when the 0810 does not come within EchoTimeout.
func (c *conn) echoLoop(ctx context.Context) {
	s := c.s
	tick := time.NewTicker(s.cfg.EchoInterval)
	defer tick.Stop()
	var deadline <-chan time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case <-deadline:
			deadline = nil
			c.echoMu.Lock()
			stan := c.echoSTAN
			c.echoMu.Unlock()
			if stan != "" {
				s.echoTimeouts.Add(1)
				c.log.Warn().Str("stan", stan).Dur("timeout", s.cfg.EchoTimeout).Msg("no 0810 to host echo")
				c.close("host echo not answered in time")
				return
			}
		case <-tick.C:
			if s.faults.Load().StopEchoes || (s.codec.Binary() && !c.signedOn.Load()) {
				continue
			}
			c.echoMu.Lock()
			if c.echoSTAN != "" {
				c.echoMu.Unlock()
				continue
			}
			stan := s.nextHostSTAN()
			c.echoSTAN = stan
			c.echoMu.Unlock()
			var m wire.Msg
			m.SetMTI("0800")
			m.Set(7, s.cfg.Now().UTC().Format("0102150405"))
			m.Set(11, stan)
			m.Set(70, "301")
			b := s.getBuf()
			var err error
			if *b, err = s.codec.AppendFrame((*b)[:0], &m); err != nil {
				s.putBuf(b)
				c.log.Error().Err(err).Msg("encoding host echo")
				continue
			}
			s.echoesSent.Add(1)
			c.enqueue(b)
			if timer == nil {
				timer = time.NewTimer(s.cfg.EchoTimeout)
			} else {
				timer.Reset(s.cfg.EchoTimeout)
			}
			deadline = timer.C
		}
	}
}

func (s *Sim) nextHostSTAN() string {
	for {
		n := s.hostSTAN.Add(1) % 1000000
		if n != 0 {
			return fmt.Sprintf("%06d", n)
		}
	}
}

// handleResponse takes a response from the switch: the 0810 to a host echo
// clears it; anything else is unsolicited and only logged.
func (c *conn) handleResponse(m *wire.Msg) {
	mti := m.MTIBytes()
	if string(mti[:]) == "0810" {
		c.echoMu.Lock()
		if c.echoSTAN != "" && string(m.Bytes(11)) == c.echoSTAN {
			c.echoSTAN = ""
			c.echoMu.Unlock()
			c.s.echoesAnswered.Add(1)
			if code := string(m.Bytes(39)); code != "00" {
				c.log.Warn().Str("response_code", code).Msg("switch answered host echo with a non-00 code")
			}
			return
		}
		c.echoMu.Unlock()
	}
	c.s.unsolicited.Add(1)
	c.log.Warn().Str("mti", string(mti[:])).Str("stan", string(m.Bytes(11))).Msg("unsolicited response from switch ignored")
}
