package banksim

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

// BenchmarkHost drives the host over loopback TCP the way the switch's
// benchmark does: 16 connections, each with up to 64 requests in flight,
// purchases that are approved and recorded. It reports messages per second
// (answers received); the client shares the CPU with the host, so the
// figure is a lower bound of what the host alone sustains.
//
//	go test -run '^$' -bench Host -benchtime 200000x ./simulators/banksim/
func BenchmarkHost(b *testing.B) {
	for _, d := range dialects {
		b.Run(d, func(b *testing.B) { benchHost(b, d, 16, 64) })
	}
}

func benchHost(b *testing.B, dialect string, conns, window int) {
	s, err := New(Config{Dialect: dialect, EchoInterval: -1, Logger: zerolog.Nop(),
		Now: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	codec, _ := wire.NewCodec(dialect)

	per := b.N / conns
	if per == 0 {
		per = 1
	}
	var ready, wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, conns)
	for ci := 0; ci < conns; ci++ {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		if codec.Binary() {
			var m wire.Msg
			m.SetMTI("0800")
			m.Set(7, "1127050000")
			m.Set(11, "000001")
			m.Set(70, "001")
			f, _ := codec.AppendFrame(nil, &m)
			if _, err := nc.Write(f); err != nil {
				b.Fatal(err)
			}
			if _, err := codec.ReadFrame(bufio.NewReader(nc), nil); err != nil {
				b.Fatal(err)
			}
		}
		ready.Add(1)
		wg.Add(2)
		slots := make(chan struct{}, window)
		go func(ci int) { // writer
			defer wg.Done()
			bw := bufio.NewWriterSize(nc, 32<<10)
			var m wire.Msg
			buf := make([]byte, 0, 512)
			ready.Done()
			<-start
			for i := 0; i < per; i++ {
				select {
				case slots <- struct{}{}:
				default:
					if err := bw.Flush(); err != nil {
						errs <- err
						return
					}
					slots <- struct{}{}
				}
				benchPurchase(&m, ci, i)
				var err error
				if buf, err = codec.AppendFrame(buf[:0], &m); err != nil {
					errs <- err
					return
				}
				if _, err := bw.Write(buf); err != nil {
					errs <- err
					return
				}
			}
			if err := bw.Flush(); err != nil {
				errs <- err
			}
		}(ci)
		go func() { // reader
			defer wg.Done()
			br := bufio.NewReaderSize(nc, 64<<10)
			buf := make([]byte, 0, codec.MaxLen())
			var m wire.Msg
			for i := 0; i < per; i++ {
				f, err := codec.ReadFrame(br, buf)
				if err != nil {
					errs <- err
					return
				}
				if err := codec.Decode(f, &m); err != nil || string(m.Bytes(39)) != "00" {
					errs <- fmt.Errorf("answer %d: %v code %q", i, err, m.Bytes(39))
					return
				}
				<-slots
			}
		}()
	}
	ready.Wait()
	b.ResetTimer()
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(per*conns)/el.Seconds(), "msgs/s")
}

func benchPurchase(m *wire.Msg, conn, i int) {
	m.Reset()
	m.SetMTI("0200")
	m.Set(2, cardVisa)
	m.Set(3, "000000")
	m.Set(4, "000000150000")
	m.Set(7, fmt.Sprintf("11%02d%06d", conn%24, i/1000000))
	m.Set(11, fmt.Sprintf("%06d", i%1000000))
	m.Set(12, "100000")
	m.Set(13, "1127")
	m.Set(14, "2812")
	m.Set(18, "5999")
	m.Set(22, "812")
	m.Set(25, "59")
	m.Set(32, testAcq)
	m.Set(37, fmt.Sprintf("%02d%010d", conn, i))
	m.Set(41, "T0000123")
	m.Set(42, "M00000000000123")
	m.Set(43, "SHOP                     ALMATY       KZ")
	m.Set(49, "398")
}
