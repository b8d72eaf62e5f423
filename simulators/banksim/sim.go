// Package banksim is the reference bank host simulator of simulator.md for
// both dialects: it accepts the switch's TCP connections, answers ISO 8583
// requests by the test-card and amount rules, keeps a ledger of what it
// approved, enforces Bank B's sign-on and sends its echoes, produces the
// bank's clearing file from the ledger and takes faults injected at run
// time. It is a library so that tests start it in-process on 127.0.0.1:0;
// cmd/banksim is a thin main around it.
//
// Each connection has one reader goroutine, which decodes and handles every
// message in order, and one writer goroutine, which coalesces queued frames
// into as few writes as the socket allows.
package banksim

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/simulators/settlement"
	"github.com/acquirer/h2hswitch/simulators/wire"
	"github.com/acquirer/h2hswitch/specs/calendar"
)

// Faults are the failures injected at run time. The zero value is a healthy
// host.
type Faults struct {
	// StopAnswering reads and discards every request (nothing is recorded),
	// as if the host behind the front end were down. Host echoes go on.
	StopAnswering bool `json:"stop_answering"`
	// Delay holds every answer for this long.
	Delay time.Duration `json:"delay"`
	// RefuseConnections accepts and at once closes new connections.
	RefuseConnections bool `json:"refuse_connections"`
	// Garbage replaces every answer: "framed" sends a well-framed message
	// of random bytes, "raw" sends random bytes with no valid frame.
	Garbage string `json:"garbage,omitempty"`
	// StopEchoes stops the host-initiated 0800 301.
	StopEchoes bool `json:"stop_echoes"`
}

// Garbage modes.
const (
	GarbageFramed = "framed"
	GarbageRaw    = "raw"
)

// Validate checks a fault set.
func (f Faults) Validate() error {
	if f.Delay < 0 || f.Delay > time.Hour {
		return fmt.Errorf("delay: want 0..1h, got %s", f.Delay)
	}
	if f.Garbage != "" && f.Garbage != GarbageFramed && f.Garbage != GarbageRaw {
		return fmt.Errorf("garbage: want %q, %q or empty, got %q", GarbageFramed, GarbageRaw, f.Garbage)
	}
	return nil
}

// Stats are running counters.
type Stats struct {
	Connections    int64 `json:"connections"`
	Accepted       int64 `json:"accepted"`
	Received       int64 `json:"received"`
	Answered       int64 `json:"answered"`
	Unsolicited    int64 `json:"unsolicited"`
	EchoesSent     int64 `json:"echoes_sent"`
	EchoesAnswered int64 `json:"echoes_answered"`
	EchoTimeouts   int64 `json:"echo_timeouts"`
	SignOns        int64 `json:"sign_ons"`
	SignOffs       int64 `json:"sign_offs"`
	// NotSignedOn counts requests answered 91 because their connection
	// was not signed on (Bank B).
	NotSignedOn      int64 `json:"not_signed_on"`
	FormatErrors     int64 `json:"format_errors"`
	LedgerTxns       int64 `json:"ledger_transactions"`
	ClosedByRule97   int64 `json:"closed_by_rule_97"`
	DroppedByFault   int64 `json:"dropped_by_fault"`
	RefusedByFault   int64 `json:"refused_by_fault"`
	RefusedByMaxConn int64 `json:"refused_by_max_connections"`
}

// Sim is one simulated bank host.
type Sim struct {
	cfg    Config
	codec  *wire.Codec
	rules  amountRules
	cal    *calendar.Calendar
	ledger *ledger.Ledger
	log    zerolog.Logger
	faults atomic.Pointer[Faults]

	mu     sync.Mutex
	ln     net.Listener
	conns  map[*conn]struct{}
	closed bool
	cancel context.CancelFunc
	wg     sync.WaitGroup

	hostSTAN atomic.Uint32
	bufs     sync.Pool

	accepted, received, answered, unsolicited, echoesSent, echoTimeouts atomic.Int64
	formatErrors, closed97, droppedFault, refusedFault, refusedMax      atomic.Int64
	echoesAnswered, signOns, signOffs, notSignedOn                      atomic.Int64
}

// New validates cfg and builds a host; Start begins listening.
func New(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("banksim config: %w", err)
	}
	codec, err := wire.NewCodec(cfg.Dialect)
	if err != nil {
		return nil, err
	}
	rules, err := buildRules(codec.Binary(), cfg.AmountRules)
	if err != nil {
		return nil, fmt.Errorf("banksim config: amount_rules: %w", err)
	}
	cal, err := calendar.New(cfg.Calendar)
	if err != nil {
		return nil, fmt.Errorf("banksim config: %w", err)
	}
	s := &Sim{
		cfg: cfg, codec: codec, rules: rules, cal: cal,
		ledger: ledger.New(cfg.AuthCodeSeed),
		log:    cfg.Logger.With().Str("component", "banksim").Str("dialect", cfg.Dialect).Logger(),
		conns:  make(map[*conn]struct{}),
	}
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	s.faults.Store(&Faults{})
	return s, nil
}

// Start listens on the configured address and serves until ctx ends or
// Close is called. It returns once the listener is open.
func (s *Sim) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.closed {
		return errors.New("banksim: Start called twice or after Close")
	}
	var lc net.ListenConfig
	tcfg, err := s.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("banksim: listening on %s: %w", s.cfg.Listen, err)
	}
	if tcfg != nil {
		ln = tls.NewListener(ln, tcfg)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.ln, s.cancel = ln, cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		_ = s.shutdown()
	}()
	go func() {
		defer s.wg.Done()
		s.acceptLoop(ctx, ln)
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("bank host listening")
	return nil
}

func (s *Sim) tlsConfig() (*tls.Config, error) {
	if s.cfg.TLS != nil {
		c := s.cfg.TLS.Clone()
		if c.MinVersion < tls.VersionTLS12 {
			c.MinVersion = tls.VersionTLS12
		}
		return c, nil
	}
	if s.cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("banksim: loading tls_cert_file/tls_key_file: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Addr is the listening address ("" before Start).
func (s *Sim) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops listening, closes every connection and waits for the host's
// goroutines to end. Late answers still pending are dropped.
func (s *Sim) Close() error {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	err := s.shutdown()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	return err
}

func (s *Sim) shutdown() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	for _, c := range conns {
		c.close("host shutting down")
	}
	return err
}

// Dialect is the host's dialect name.
func (s *Sim) Dialect() string { return s.cfg.Dialect }

// Ledger is the host's ledger.
func (s *Sim) Ledger() *ledger.Ledger { return s.ledger }

// Faults returns the faults in force.
func (s *Sim) Faults() Faults { return *s.faults.Load() }

// SetFaults replaces the faults in force.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faults.Store(&f)
	s.log.Warn().Interface("faults", f).Msg("faults changed")
	return nil
}

// DropConnections closes every open connection now and returns how many.
func (s *Sim) DropConnections() int {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close("dropped by fault injection")
	}
	return len(conns)
}

// Stats returns the running counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return Stats{
		Connections: int64(n), Accepted: s.accepted.Load(), Received: s.received.Load(),
		Answered: s.answered.Load(), Unsolicited: s.unsolicited.Load(),
		EchoesSent: s.echoesSent.Load(), EchoesAnswered: s.echoesAnswered.Load(), EchoTimeouts: s.echoTimeouts.Load(),
		SignOns: s.signOns.Load(), SignOffs: s.signOffs.Load(), NotSignedOn: s.notSignedOn.Load(),
		FormatErrors: s.formatErrors.Load(), LedgerTxns: int64(s.ledger.Len()),
		ClosedByRule97: s.closed97.Load(), DroppedByFault: s.droppedFault.Load(),
		RefusedByFault: s.refusedFault.Load(), RefusedByMaxConn: s.refusedMax.Load(),
	}
}

// Clearing builds the clearing file of req.Date from the ledger and returns
// its name and content.
func (s *Sim) Clearing(req settlement.Request) (string, []byte, error) {
	b := s.bank()
	recs, err := settlement.Records(b, s.ledger.Snapshot(), req)
	if err != nil {
		return "", nil, fmt.Errorf("building clearing file for %s: %w", req.Date, err)
	}
	var buf bytes.Buffer
	if err := settlement.Write(&buf, b, recs, req); err != nil {
		return "", nil, fmt.Errorf("writing clearing file for %s: %w", req.Date, err)
	}
	return settlement.FileName(b.BankB, req.Date), buf.Bytes(), nil
}

func (s *Sim) bank() settlement.Bank {
	return settlement.Bank{BankB: s.codec.Binary(), Fees: s.cfg.Fees, Calendar: s.cal, AcquirerID: s.cfg.AcquirerID}
}

// Calendar is the bank's business-day calendar.
func (s *Sim) Calendar() *calendar.Calendar { return s.cal }

func (s *Sim) acceptLoop(ctx context.Context, ln net.Listener) {
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary accept failures (EMFILE...): back off, keep serving.
			s.log.Error().Err(err).Msg("accepting connection")
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			if backoff < time.Second {
				backoff *= 2
			}
			continue
		}
		backoff = 5 * time.Millisecond
		s.accepted.Add(1)
		if s.faults.Load().RefuseConnections {
			s.refusedFault.Add(1)
			s.log.Warn().Str("remote", nc.RemoteAddr().String()).Msg("connection refused by fault injection")
			_ = nc.Close()
			continue
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		if s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections {
			s.mu.Unlock()
			s.refusedMax.Add(1)
			s.log.Warn().Int("max", s.cfg.MaxConnections).Msg("connection refused: max_connections reached")
			_ = nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve(ctx)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Sim) getBuf() *[]byte {
	return s.bufs.Get().(*[]byte)
}

func (s *Sim) putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	s.bufs.Put(b)
}
