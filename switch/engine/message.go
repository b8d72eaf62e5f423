package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// rrnSequence names the journal counter of one bank's RRNs.
func rrnSequence(bank string) string { return "rrn:" + bank }

// rrnModulus bounds the sequence part of an RRN (8 digits).
const rrnModulus = 100_000_000

// FormatRRN builds a 12-digit RRN: the last digit of the year and the
// 3-digit day of the year of local (the bank's date), then the per-bank
// sequence number modulo 10^8, zero-filled. Two RRNs of one bank can only
// collide when they share the year digit and day (10 years apart) and the
// sequence (10^8 apart), so they are unique far beyond the 400 days the
// banks require. Example: 27 Nov 2026, sequence 123 -> 633100000123.
func FormatRRN(local time.Time, seq int64) string {
	if seq < 0 {
		seq = -seq
	}
	return fmt.Sprintf("%d%03d%08d", local.Year()%10, local.YearDay(), seq%rrnModulus)
}

// nextRRN allocates the next RRN of bank from the journal's sequence.
func (e *Engine) nextRRN(ctx context.Context, b *Bank, now time.Time) (string, error) {
	seq, err := e.seq.Next(ctx, rrnSequence(b.Name))
	if err != nil {
		return "", fmt.Errorf("allocating RRN for %s: %w", b.Name, err)
	}
	return FormatRRN(now.In(b.Dialect.Location), seq), nil
}

// opFor maps a payment type to the dialect operation of its authorization.
func opFor(t PaymentType) specs.Op {
	if t == TypePreauth {
		return specs.OpPreauth
	}
	return specs.OpPurchase
}

// encode builds the ISO message for r on bank b and returns it with its MTI.
func encode(b *Bank, r *bankmsg.Request) (*iso8583.Message, string, error) {
	msg, err := bankmsg.Encode(b.Dialect, r)
	if err != nil {
		return nil, "", fmt.Errorf("encoding %s for %s: %w", r.Op, b.Name, err)
	}
	mti, err := msg.GetMTI()
	if err != nil {
		return nil, "", fmt.Errorf("reading MTI of %s for %s: %w", r.Op, b.Name, err)
	}
	return msg, mti, nil
}

// logFields turns an ISO message into the journal's masked field map: DE2
// masked 6+4; expiry, track data, PIN block and ICC data left out; Bank A
// DE48 without its authentication value (02), cryptogram (11) and CVV2
// (92); Bank B DE126 with the authentication value and CVV2 positions
// blanked. The journal sanitizes again: this is the first line of defence.
func logFields(msg *iso8583.Message) map[string]string {
	out := make(map[string]string)
	if mti, err := msg.GetMTI(); err == nil {
		out["0"] = mti
	}
	ids := make([]int, 0, 16)
	for id := range msg.GetFields() {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		if id <= 1 {
			continue // MTI and bitmap
		}
		f := msg.GetField(id)
		key := fmt.Sprint(id)
		switch id {
		case 14, 35, 36, 45, 52, 55:
			continue
		case 2:
			if v, err := f.String(); err == nil {
				out[key] = cardvault.MaskPAN(v)
			}
			continue
		case 48:
			subs, err := specs.SubelementsOf(f)
			if err != nil {
				continue // cannot locate the secrets: leave it out
			}
			for tag, v := range subs {
				if tag == "02" || tag == "11" || tag == "92" {
					continue
				}
				out["48."+tag] = v
			}
			continue
		case 126:
			v, err := f.String()
			if err != nil || len(v) != specs.DE126Len {
				continue
			}
			out[key] = v[:3] + strings.Repeat(" ", 40) + v[43:87] + "    "
			continue
		}
		v, err := f.String()
		if err != nil {
			continue
		}
		out[key], _ = cardvault.MaskPANsIn(v)
	}
	return out
}
