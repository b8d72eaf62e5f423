package banksim

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
)

// TestInteropWithSpecs talks to the host with the switch's own dialect
// definitions (package specs, moov-io/iso8583): two independent readings of
// the interface documents must agree on the bytes.
func TestInteropWithSpecs(t *testing.T) {
	for _, name := range dialects {
		t.Run(name, func(t *testing.T) {
			d, err := specs.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			s := startSim(t, name, nil)
			nc, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			rt := func(m *iso8583.Message) *iso8583.Message {
				t.Helper()
				if err := d.WriteMessage(nc, m); err != nil {
					t.Fatal(err)
				}
				_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
				r, err := d.ReadMessage(nc)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			get := func(m *iso8583.Message, f int) string {
				v, _ := m.GetString(f)
				return v
			}
			if d.SignOn {
				m := d.NewMessage()
				m.MTI("0800")
				set(t, m, map[int]string{7: "1127050000", 11: "000001", 70: "001"})
				if r := rt(m); get(r, 39) != "00" || get(r, 70) != "001" {
					t.Fatalf("sign-on: %q", get(r, 39))
				}
			}
			m := d.NewMessage()
			m.MTI("0200")
			fields := map[int]string{
				2: cardVisa, 3: "000000", 4: "000000150000", 7: "1127050000", 11: "000002",
				12: "100000", 13: "1127", 14: "2812", 18: "5999", 22: "812", 25: "59", 32: testAcq,
				37: "633100000002", 41: "T0000123", 42: "M00000000000123",
				43: "SHOP                     ALMATY       KZ", 49: "398",
			}
			if d.SignOn {
				fields[61] = "C20" + strings.Repeat(" ", 15)
				fields[126] = " 05" + strings.Repeat(" ", 84) + "123 "
			} else {
				fields[48] = "20002CR21001I92003123"
			}
			set(t, m, fields)
			r := rt(m)
			mti, _ := r.GetMTI()
			if mti != "0210" || get(r, 39) != "00" || len(get(r, 38)) != 6 || get(r, 11) != "000002" || get(r, 37) != "633100000002" {
				t.Fatalf("purchase answer %s %q %q", mti, get(r, 39), get(r, 38))
			}
			var ntid string
			if d.SignOn {
				ntid = get(r, 62)
			} else {
				sub, err := specs.ParseDE48([]byte(get(r, 48)))
				if err != nil {
					t.Fatal(err)
				}
				ntid = sub["22"]
			}
			if len(ntid) != 15 {
				t.Fatalf("network transaction id %q", ntid)
			}
			// Partial reversal: DE90 names the purchase, DE95 what remains.
			rev := d.NewMessage()
			revMTI, revAns := "0400", "0410"
			if d.SignOn {
				revMTI, revAns = "0420", "0430"
			}
			rev.MTI(revMTI)
			set(t, rev, map[int]string{
				2: cardVisa, 3: "000000", 4: "000000150000", 7: "1127051000", 11: "000003", 32: testAcq,
				37: "633100000002", 41: "T0000123", 42: "M00000000000123", 49: "398",
				90: "0200" + "000002" + "1127050000" + "00000012345" + "00000000000",
				95: "000000100000" + strings.Repeat("0", 30),
			})
			r = rt(rev)
			if mti, _ := r.GetMTI(); mti != revAns || get(r, 39) != "00" {
				t.Fatalf("reversal answer %s %q", mti, get(r, 39))
			}
			tx, ok := s.Ledger().ByRRN("633100000002")
			if !ok || tx.Authorized != 100000 || tx.Cleared() != 100000 {
				t.Fatalf("after partial reversal: %+v", tx)
			}
		})
	}
}

func set(t *testing.T, m *iso8583.Message, fields map[int]string) {
	t.Helper()
	for f, v := range fields {
		if err := m.Field(f, v); err != nil {
			t.Fatalf("DE%d: %v", f, err)
		}
	}
}
