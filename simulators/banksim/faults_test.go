package banksim

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

func TestFaultStopAnswering(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			if err := s.SetFaults(Faults{StopAnswering: true}); err != nil {
				t.Fatal(err)
			}
			lost := c.auth(authOpts{amount: 1000})
			c.send(lost)
			c.send(c.network("301"))
			c.expectSilence(300 * time.Millisecond)
			if s.Ledger().Len() != 0 {
				t.Fatal("request recorded while not answering")
			}
			if err := s.SetFaults(Faults{}); err != nil {
				t.Fatal(err)
			}
			code(t, c, c.auth(authOpts{amount: 1000}), "00")
			// The dropped request was never seen: its reversal finds nothing.
			code(t, c, c.reversal(lost, false, "", nil), "25")
			if s.Stats().DroppedByFault != 2 {
				t.Fatalf("dropped %d", s.Stats().DroppedByFault)
			}
		})
	}
}

func TestFaultDelay(t *testing.T) {
	s := startSim(t, wire.DialectBinary, nil)
	c := dialSignedOn(t, s)
	if err := s.SetFaults(Faults{Delay: 250 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code(t, c, c.auth(authOpts{amount: 1000}), "00")
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("answered after %s, want >= 250ms", el)
	}
	if err := s.SetFaults(Faults{Delay: -time.Second}); err == nil {
		t.Fatal("negative delay accepted")
	}
}

func TestFaultDropAndRefuseConnections(t *testing.T) {
	s := startSim(t, wire.DialectASCII, nil)
	c1, c2 := dial(t, s), dial(t, s)
	code(t, c1, c1.network("301"), "00")
	code(t, c2, c2.network("301"), "00")
	if n := s.DropConnections(); n != 2 {
		t.Fatalf("dropped %d connections, want 2", n)
	}
	c1.expectClosed(time.Second)
	c2.expectClosed(time.Second)

	if err := s.SetFaults(Faults{RefuseConnections: true}); err != nil {
		t.Fatal(err)
	}
	c3 := dial(t, s)
	c3.send(c3.network("301"))
	c3.expectClosed(time.Second)
	if err := s.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	c4 := dial(t, s)
	code(t, c4, c4.network("301"), "00")
	// The host notices closed connections asynchronously: wait for the
	// count to settle instead of reading it once.
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := s.Stats()
		if st.RefusedByFault == 1 && st.Connections == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMaxConnections(t *testing.T) {
	s := startSim(t, wire.DialectASCII, func(c *Config) { c.MaxConnections = 1 })
	c1 := dial(t, s)
	code(t, c1, c1.network("301"), "00")
	c2 := dial(t, s)
	c2.expectClosed(time.Second)
	code(t, c1, c1.network("301"), "00")
}

func TestFaultGarbage(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			if err := s.SetFaults(Faults{Garbage: GarbageFramed}); err != nil {
				t.Fatal(err)
			}
			c.send(c.auth(authOpts{amount: 1000}))
			_, err := c.recv(time.Second)
			var de *wire.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("framed garbage decoded or did not come: %v", err)
			}
			if err := s.SetFaults(Faults{Garbage: GarbageRaw}); err != nil {
				t.Fatal(err)
			}
			c.send(c.auth(authOpts{amount: 1000}))
			_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
			_, err = c.codec.ReadFrame(bufio.NewReader(c.nc), nil)
			var ne net.Error
			if err == nil || errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("raw garbage read as a frame: %v", err)
			}
			if err := s.SetFaults(Faults{Garbage: "noise"}); err == nil {
				t.Fatal("unknown garbage mode accepted")
			}
		})
	}
}

func TestFaultStopEchoes(t *testing.T) {
	s := startSim(t, wire.DialectBinary, func(c *Config) {
		c.EchoInterval = 50 * time.Millisecond
		c.EchoTimeout = time.Second
	})
	if err := s.SetFaults(Faults{StopEchoes: true}); err != nil {
		t.Fatal(err)
	}
	c := dialSignedOn(t, s)
	c.expectSilence(300 * time.Millisecond)
	if err := s.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	m, err := c.recv(time.Second)
	if err != nil || m.MTI() != "0800" || m.Get(70) != "301" {
		t.Fatalf("echo after clearing the fault: %v %v", m, err)
	}
}
