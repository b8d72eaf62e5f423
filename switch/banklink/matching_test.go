package banklink

import (
	"bytes"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
)

// A response that echoes the request's STAN but another DE37 answers
// someone else (bank-a-h2h.md "Matching": a response whose echoed
// DE11/DE37 matches no outstanding request is unsolicited). It must not
// complete the request; the right answer that follows does.
func TestResponseWithOtherRRNIsUnsolicited(t *testing.T) {
	for _, dialect := range []string{dialectA, dialectB} {
		t.Run(dialect, func(t *testing.T) {
			d := testDialect(t, dialect)
			p := newPeer(t, d, nil)
			p.requireSignOn = d.SignOn
			p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
				if mti, _ := msg.GetMTI(); mti != "0200" {
					return false
				}
				wrong := iso8583.NewMessage(d.Spec)
				wrong.MTI("0210")
				for id, v := range map[int]string{11: fieldOf(msg, 11), 37: "999999999999", 39: "05"} {
					if err := wrong.Field(id, v); err != nil {
						t.Errorf("set DE%d: %v", id, err)
					}
				}
				_ = pc.send(wrong)
				// The link may dispatch inbound messages concurrently: let
				// the wrong one arrive first.
				time.Sleep(50 * time.Millisecond)
				pc.reply(msg, "00")
				return true
			})
			unsol := make(chan *iso8583.Message, 2)
			cfg := testConfig("bank", dialect, p.addr)
			cfg.Connections = 1
			l := openLink(t, cfg, d, WithOnUnsolicited(func(_ string, m *iso8583.Message) { unsol <- m }))
			resp, err := send(t, l, purchase(t, d, "0200", ""))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if rrn, rc := fieldOf(resp, 37), fieldOf(resp, 39); rrn != "633100000123" || rc != "00" {
				t.Fatalf("Send returned DE37 %q DE39 %q, want the request's RRN and 00", rrn, rc)
			}
			select {
			case m := <-unsol:
				if fieldOf(m, 37) != "999999999999" {
					t.Fatalf("unsolicited DE37 %q", fieldOf(m, 37))
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the response with another RRN did not reach OnUnsolicited")
			}
		})
	}
}

// A response frame with bytes after its last field is malformed for both
// documents; the link discards it (it is neither an answer nor handed to
// OnUnsolicited) and keeps the connection for the next, well-formed one.
func TestMalformedResponseDiscarded(t *testing.T) {
	for _, dialect := range []string{dialectA, dialectB} {
		t.Run(dialect, func(t *testing.T) {
			d := testDialect(t, dialect)
			p := newPeer(t, d, nil)
			p.requireSignOn = d.SignOn
			p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
				if mti, _ := msg.GetMTI(); mti != "0200" {
					return false
				}
				resp := iso8583.NewMessage(d.Spec)
				resp.MTI("0210")
				for id, v := range map[int]string{11: fieldOf(msg, 11), 37: fieldOf(msg, 37), 39: "05"} {
					if err := resp.Field(id, v); err != nil {
						t.Errorf("set DE%d: %v", id, err)
					}
				}
				packed, err := resp.Pack()
				if err != nil {
					t.Errorf("pack: %v", err)
					return true
				}
				var frame bytes.Buffer
				if err := d.Framing.WriteMessage(&frame, append(packed, '7')); err != nil {
					t.Errorf("frame: %v", err)
				}
				pc.wmu.Lock()
				_, _ = pc.c.Write(frame.Bytes())
				pc.wmu.Unlock()
				pc.reply(msg, "00")
				return true
			})
			unsol := make(chan *iso8583.Message, 2)
			cfg := testConfig("bank", dialect, p.addr)
			cfg.Connections = 1
			l := openLink(t, cfg, d, WithOnUnsolicited(func(_ string, m *iso8583.Message) { unsol <- m }))
			resp, err := send(t, l, purchase(t, d, "0200", ""))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if rc := fieldOf(resp, 39); rc != "00" {
				t.Fatalf("Send returned DE39 %q: the malformed 05 was taken as the answer", rc)
			}
			select {
			case m := <-unsol:
				t.Fatalf("malformed frame reached OnUnsolicited: DE39 %q", fieldOf(m, 39))
			case <-time.After(100 * time.Millisecond):
			}
			if h := l.Health(); h.Reconnects != 0 || h.Up != 1 {
				t.Fatalf("connection not kept: %+v", h)
			}
		})
	}
}
