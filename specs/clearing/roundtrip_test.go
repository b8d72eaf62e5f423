package clearing

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// genRecords returns n valid records of settlement date sd, covering every
// row type, several currencies (JPY included), masked PANs of different
// lengths and boundary amounts. forB fills the Bank B originals, otherwise
// the Bank A ones.
func genRecords(n int, seed uint64, sd calendar.Date, forB bool) []Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	curs := []Currency{KZT, KZT, KZT, USD, EUR, RUB, JPY}
	pans := []string{"400000******0010", "510000******0008", "220000******0004", "400012*******1234", "489537***0106", "400000*********9999"}
	out := make([]Record, n)
	for i := range out {
		typ := Type(1 + rng.IntN(4))
		if i < 4 {
			typ = Type(1 + i)
		}
		r := Record{
			Type:       typ,
			STAN:       fmt.Sprintf("%06d", rng.IntN(1000000)),
			TerminalID: fmt.Sprintf("T%07d", rng.IntN(10000000))[:1+rng.IntN(8)],
			MerchantID: fmt.Sprintf("M%014d", rng.Int64N(1e14))[:1+rng.IntN(15)],
			MaskedPAN:  pans[rng.IntN(len(pans))],
			OperDate:   sd.AddDays(-rng.IntN(5)),
			OperTime:   TimeOfDay{uint8(rng.IntN(24)), uint8(rng.IntN(60)), uint8(rng.IntN(60))},
			Currency:   curs[rng.IntN(len(curs))],
			SettleDate: sd,
		}
		switch rng.IntN(10) {
		case 0:
			r.Amount = 0
		case 1:
			r.Amount = MaxAmount
			if r.Currency == JPY {
				r.Amount /= 1000 // keeps Bank A's trailer (in hundredths) within 15 digits
			}
		default:
			r.Amount = 1 + rng.Int64N(10_000_000)
		}
		if typ == Purchase {
			r.Fee = r.Amount * 18 / 1000
			if rng.IntN(20) == 0 {
				r.Fee = r.Amount + 2500 // fee above a tiny amount: negative settlement
			}
			if r.Fee > maxFee {
				r.Fee = maxFee
			}
		}
		r.SettleAmount = typ.ExpectedSettle(r.Amount, r.Fee)
		if typ != Refund && (typ == Purchase || rng.IntN(2) == 0) {
			r.AuthCode = fmt.Sprintf("%06X", rng.IntN(1<<24))
		}
		if !forB {
			r.RRN = fmt.Sprintf("6331%08d", i)
			if typ != Purchase {
				r.OrigRRN = fmt.Sprintf("6330%08d", rng.IntN(1e8))
			}
		} else if typ != Purchase {
			r.OrigAuthCode = fmt.Sprintf("%06X", rng.IntN(1<<24))
			r.OrigSTAN = fmt.Sprintf("%06d", rng.IntN(1000000))
		}
		out[i] = r
	}
	return out
}

func TestARoundTrip(t *testing.T) {
	sd := d(2026, 12, 31)
	recs := genRecords(3000, 42, sd, false)
	src := writeA(t, recs)
	got, err := readAllA(t, src, ReaderOptions{SettleDate: sd})
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, recs)
}

func TestBRoundTrip(t *testing.T) {
	sd := d(2027, 1, 4)
	recs := genRecords(3000, 7, sd, true)
	var buf bytes.Buffer
	w, err := NewBWriter(&buf, BHeader{SettleDate: sd, AcquirerID: "98765432101", Sequence: 999999})
	if err != nil {
		t.Fatal(err)
	}
	var amt, net int64
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%+v): %v", r, err)
		}
		amt += r.Amount
		net += r.SettleAmount
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != (len(recs)+2)*(BRecordLen+1) {
		t.Fatalf("file is %d bytes", buf.Len())
	}
	r := NewBReader(&buf, ReaderOptions{SettleDate: sd})
	var got []Record
	for r.Next() {
		got = append(got, r.Record())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, recs)
	h, _ := r.Header()
	tr, _ := r.Trailer()
	if h.AcquirerID != "98765432101" || h.Sequence != 999999 || tr != (BTrailer{Count: 3000, AmountSum: amt, Net: net}) {
		t.Errorf("header %+v trailer %+v", h, tr)
	}
}
