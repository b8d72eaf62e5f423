package clearing

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// AHeaderLine is Bank A's column-name line, without its CRLF.
const AHeaderLine = "RRN;AUTH_CODE;STAN;TERMINAL_ID;MERCHANT_ID;CARD;OPER_DATE;OPER_TIME;OPER_TYPE;AMOUNT;CURRENCY;FEE;SETTLE_AMOUNT;SETTLE_DATE;ORIG_RRN"

// AFileName returns Bank A's clearing file name for settlement date d:
// A_CLR_<YYYYMMDD>.csv.
func AFileName(d calendar.Date) string { return "A_CLR_" + d.YYYYMMDD() + ".csv" }

// ParseAFileName returns the settlement date in a Bank A clearing file name.
func ParseAFileName(name string) (calendar.Date, error) {
	const prefix, suffix = "A_CLR_", ".csv"
	if len(name) != len(prefix)+8+len(suffix) || name[:len(prefix)] != prefix || name[len(name)-len(suffix):] != suffix {
		return calendar.Date{}, errors.New("bank A clearing file name: want A_CLR_<YYYYMMDD>.csv")
	}
	d, err := calendar.ParseYYYYMMDD(name[len(prefix) : len(prefix)+8])
	if err != nil {
		return calendar.Date{}, fmt.Errorf("bank A clearing file name: %w", err)
	}
	return d, nil
}

// ATrailer is the content of Bank A's TOTAL line. Sums are in hundredths of
// a major unit (the trailer's two decimals), whatever the rows' currencies.
type ATrailer struct {
	Rows   int64
	Amount int64 // sum of AMOUNT
	Fee    int64 // sum of FEE
	Settle int64 // sum of SETTLE_AMOUNT, signed
}

// AWriter writes a Bank A clearing file one row at a time. It buffers
// internally; Close flushes. It is not safe for concurrent use.
type AWriter struct {
	bw     *bufio.Writer
	date   calendar.Date
	tot    ATrailer
	buf    []byte
	err    error // sticky write error
	closed bool
}

// NewAWriter starts the clearing file of settlement date settleDate on w and
// buffers its header line. Every row written must carry that SettleDate.
func NewAWriter(w io.Writer, settleDate calendar.Date) (*AWriter, error) {
	if !settleDate.Valid() {
		return nil, errors.New("bank A clearing writer: invalid settlement date")
	}
	aw := &AWriter{bw: bufio.NewWriterSize(w, 64<<10), date: settleDate, buf: make([]byte, 0, 256)}
	aw.put(append(aw.buf[:0], AHeaderLine+"\r\n"...))
	return aw, nil
}

func (w *AWriter) put(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("writing bank A clearing file: %w", err)
	}
}

// Write validates rec and appends it as one row. A Record that breaks the
// format (see ErrInvalidRecord) is not written and leaves the totals alone;
// a write error is sticky. OrigAuthCode and OrigSTAN are not part of this
// format and are ignored.
func (w *AWriter) Write(rec Record) error {
	if w.closed {
		return errors.New("bank A clearing writer: write after Close")
	}
	if w.err != nil {
		return w.err
	}
	if err := checkA(&rec, w.date); err != nil {
		return err
	}
	if !ACarries(rec.Currency) {
		return fieldError("Currency", rec.Currency.Alpha+" has more than 2 decimals; the Bank A file carries at most 2")
	}
	if w.tot.Rows >= maxTotal {
		return errors.New("bank A clearing writer: too many rows")
	}
	amt, fee, set := toHundredths(rec.Amount, rec.Currency), toHundredths(rec.Fee, rec.Currency), toHundredths(rec.SettleAmount, rec.Currency)
	if w.tot.Amount+amt > maxTotal || w.tot.Fee+fee > maxTotal || abs(w.tot.Settle+set) > maxTotal {
		return errors.New("bank A clearing writer: totals would exceed 15 digits")
	}
	w.tot.Rows++
	w.tot.Amount += amt
	w.tot.Fee += fee
	w.tot.Settle += set
	w.put(appendARow(w.buf[:0], &rec))
	return w.err
}

// Totals returns the trailer values of the rows written so far.
func (w *AWriter) Totals() ATrailer { return w.tot }

// Close writes the trailer computed from the rows written and flushes. It
// does not close the underlying writer.
func (w *AWriter) Close() error { return w.CloseWithTrailer(w.tot) }

// CloseWithTrailer writes t as the trailer instead of the computed one and
// flushes. It exists to build deliberately inconsistent files for tests and
// simulators; production code calls Close.
func (w *AWriter) CloseWithTrailer(t ATrailer) error {
	if w.closed {
		return errors.New("bank A clearing writer: Close called twice")
	}
	w.closed = true
	b := append(w.buf[:0], "TOTAL;"...)
	b = strconv.AppendInt(b, t.Rows, 10)
	b = append(b, ';')
	b = appendMajor(b, t.Amount, 2)
	b = append(b, ';')
	b = appendMajor(b, t.Fee, 2)
	b = append(b, ';')
	b = appendMajor(b, t.Settle, 2)
	b = append(b, '\r', '\n')
	w.put(b)
	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("flushing bank A clearing file: %w", err)
		}
	}
	return w.err
}

func checkA(r *Record, settleDate calendar.Date) error {
	if err := checkCommon(r, settleDate); err != nil {
		return err
	}
	if !isAlnum(r.RRN, 12) {
		return fieldError("RRN", msgRRN)
	}
	if r.Type == Purchase {
		if r.OrigRRN != "" {
			return fieldError("OrigRRN", "must be empty for a purchase")
		}
	} else if !isAlnum(r.OrigRRN, 12) {
		return fieldError("OrigRRN", msgRRN)
	}
	return nil
}

func appendARow(b []byte, r *Record) []byte {
	b = append(b, r.RRN...)
	b = append(b, ';')
	b = append(b, r.AuthCode...)
	b = append(b, ';')
	b = append(b, r.STAN...)
	b = append(b, ';')
	b = append(b, r.TerminalID...)
	b = append(b, ';')
	b = append(b, r.MerchantID...)
	b = append(b, ';')
	b = append(b, r.MaskedPAN...)
	b = append(b, ';')
	b = r.OperDate.AppendDMY(b)
	b = append(b, ';')
	b = appendClock(b, r.OperTime, ':')
	b = append(b, ';')
	b = append(b, r.Type.String()...)
	b = append(b, ';')
	b = appendMajor(b, r.Amount, r.Currency.Exponent)
	b = append(b, ';')
	b = append(b, r.Currency.Alpha...)
	b = append(b, ';')
	b = appendMajor(b, r.Fee, r.Currency.Exponent)
	b = append(b, ';')
	b = appendMajor(b, r.SettleAmount, r.Currency.Exponent)
	b = append(b, ';')
	b = r.SettleDate.AppendDMY(b)
	b = append(b, ';')
	b = append(b, r.OrigRRN...)
	return append(b, '\r', '\n')
}

// appendMajor appends minor-unit value v as major units with a decimal
// comma and exp decimals: 150000, 2 → "1500,00"; -50000, 2 → "-500,00".
func appendMajor(b []byte, v int64, exp int) []byte {
	u := uint64(v)
	if v < 0 {
		b = append(b, '-')
		u = uint64(-v)
	}
	var tmp [24]byte
	i := len(tmp)
	for d := 0; d < exp; d++ {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
	}
	if exp > 0 {
		i--
		tmp[i] = ','
	}
	for {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// toHundredths converts minor units of c to hundredths of a major unit.
func toHundredths(v int64, c Currency) int64 {
	for e := c.Exponent; e < 2; e++ {
		v *= 10
	}
	return v
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
