package clearing

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// BRecordLen is the length of every Bank B record, without its '\n'.
const BRecordLen = 150

// BFileName returns Bank B's clearing file name for settlement date d:
// B<YYYYMMDD>.DAT.
func BFileName(d calendar.Date) string { return "B" + d.YYYYMMDD() + ".DAT" }

// ParseBFileName returns the settlement date in a Bank B clearing file name.
func ParseBFileName(name string) (calendar.Date, error) {
	if len(name) != 13 || name[0] != 'B' || name[9:] != ".DAT" {
		return calendar.Date{}, errors.New("bank B clearing file name: want B<YYYYMMDD>.DAT")
	}
	d, err := calendar.ParseYYYYMMDD(name[1:9])
	if err != nil {
		return calendar.Date{}, fmt.Errorf("bank B clearing file name: %w", err)
	}
	return d, nil
}

// BHeader is the content of Bank B's header record.
type BHeader struct {
	SettleDate calendar.Date
	// AcquirerID is DE32, 1..11 digits; written zero-filled to 11. A reader
	// returns the 11 digits as they stand in the file.
	AcquirerID string
	// Sequence is the file sequence number, 0..999999.
	Sequence int
}

// BTrailer is the content of Bank B's trailer record.
type BTrailer struct {
	Count     int64 // number of detail records
	AmountSum int64 // sum of the detail amounts, minor units
	Net       int64 // C amounts minus D amounts, signed
}

// BWriter writes a Bank B clearing file one detail record at a time. It
// buffers internally; Close flushes. It is not safe for concurrent use.
type BWriter struct {
	bw     *bufio.Writer
	date   calendar.Date
	tot    BTrailer
	buf    []byte
	err    error
	closed bool
}

// NewBWriter validates h, starts a Bank B clearing file on w and buffers its
// header record. Every detail written must carry h.SettleDate.
func NewBWriter(w io.Writer, h BHeader) (*BWriter, error) {
	switch {
	case !h.SettleDate.Valid():
		return nil, errors.New("bank B clearing writer: invalid settlement date")
	case len(h.AcquirerID) == 0 || len(h.AcquirerID) > 11 || !isDigits(h.AcquirerID, len(h.AcquirerID)):
		return nil, errors.New("bank B clearing writer: acquirer ID: want 1-11 digits")
	case h.Sequence < 0 || h.Sequence > 999999:
		return nil, errors.New("bank B clearing writer: sequence: want 0..999999")
	}
	bw := &BWriter{bw: bufio.NewWriterSize(w, 64<<10), date: h.SettleDate, buf: make([]byte, 0, BRecordLen+1)}
	b := append(bw.buf[:0], "HBANKB"...)
	b = h.SettleDate.AppendYYYYMMDD(b)
	b = appendZeroPadded(b, h.AcquirerID, 11)
	b = appendNum(b, int64(h.Sequence), 6)
	bw.put(endRecord(b))
	return bw, nil
}

func (w *BWriter) put(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("writing bank B clearing file: %w", err)
	}
}

// Write validates rec and appends it as one detail record. A Record that
// breaks the format (see ErrInvalidRecord) is not written and leaves the
// totals alone; a write error is sticky. RRN and OrigRRN are not part of
// this format and are ignored.
func (w *BWriter) Write(rec Record) error {
	if w.closed {
		return errors.New("bank B clearing writer: write after Close")
	}
	if w.err != nil {
		return w.err
	}
	if err := checkB(&rec, w.date); err != nil {
		return err
	}
	if w.tot.Count >= 99_999_999 {
		return errors.New("bank B clearing writer: more than 99999999 records")
	}
	if w.tot.AmountSum+rec.Amount > maxTotal || abs(w.tot.Net+rec.SettleAmount) > maxTotal {
		return errors.New("bank B clearing writer: totals would exceed 15 digits")
	}
	w.tot.Count++
	w.tot.AmountSum += rec.Amount
	w.tot.Net += rec.SettleAmount
	w.put(appendBDetail(w.buf[:0], &rec))
	return w.err
}

// Totals returns the trailer values of the records written so far.
func (w *BWriter) Totals() BTrailer { return w.tot }

// Close writes the trailer computed from the records written and flushes.
// It does not close the underlying writer.
func (w *BWriter) Close() error { return w.CloseWithTrailer(w.tot) }

// CloseWithTrailer writes t as the trailer instead of the computed one and
// flushes. It exists to build deliberately inconsistent files for tests and
// simulators; production code calls Close. Values that do not fit their
// fields are an error.
func (w *BWriter) CloseWithTrailer(t BTrailer) error {
	if w.closed {
		return errors.New("bank B clearing writer: Close called twice")
	}
	w.closed = true
	if t.Count < 0 || t.Count > 99_999_999 || t.AmountSum < 0 || t.AmountSum > maxTotal || abs(t.Net) > maxTotal {
		return errors.New("bank B clearing writer: trailer values do not fit their fields")
	}
	b := append(w.buf[:0], 'T')
	b = appendNum(b, t.Count, 8)
	b = appendNum(b, t.AmountSum, 15)
	if t.Net < 0 {
		b = append(b, 'D')
	} else {
		b = append(b, 'C')
	}
	b = appendNum(b, abs(t.Net), 15)
	w.put(endRecord(b))
	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("flushing bank B clearing file: %w", err)
		}
	}
	return w.err
}

func bCode(t Type) string {
	switch t {
	case Purchase:
		return "05"
	case Refund:
		return "06"
	case Chargeback:
		return "15"
	case ChargebackReversal:
		return "35"
	}
	return ""
}

func checkB(r *Record, settleDate calendar.Date) error {
	if err := checkCommon(r, settleDate); err != nil {
		return err
	}
	if r.Type == Purchase {
		if r.OrigAuthCode != "" || r.OrigSTAN != "" {
			return fieldError("OrigAuthCode", "must be empty for a purchase, as must OrigSTAN")
		}
	} else {
		if !isAlnum(r.OrigAuthCode, 6) {
			return fieldError("OrigAuthCode", msgAuth)
		}
		if !isDigits(r.OrigSTAN, 6) {
			return fieldError("OrigSTAN", msgSTAN)
		}
	}
	return nil
}

func appendBDetail(b []byte, r *Record) []byte {
	b = append(b, 'D')
	b = append(b, bCode(r.Type)...)
	b = append(b, r.STAN...)
	b = appendSpacePadded(b, r.TerminalID, 8)
	b = appendSpacePadded(b, r.MerchantID, 15)
	b = appendSpacePadded(b, r.MaskedPAN, 19)
	b = r.OperDate.AppendYYYYMMDD(b)
	b = appendClock(b, r.OperTime, 0)
	b = appendSpacePadded(b, r.AuthCode, 6)
	b = appendNum(b, r.Amount, 12)
	b = append(b, r.Currency.Numeric...)
	b = appendNum(b, r.Fee, 10)
	if r.SettleAmount < 0 {
		b = append(b, 'D')
	} else {
		b = append(b, 'C')
	}
	b = appendNum(b, abs(r.SettleAmount), 12)
	b = r.SettleDate.AppendYYYYMMDD(b)
	if r.Type != Purchase {
		b = append(b, r.OrigAuthCode...)
		b = append(b, r.OrigSTAN...)
	}
	return endRecord(b)
}

// endRecord space-fills b to BRecordLen and appends '\n'.
func endRecord(b []byte) []byte {
	for len(b) < BRecordLen {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

func appendSpacePadded(b []byte, s string, n int) []byte {
	b = append(b, s...)
	for i := len(s); i < n; i++ {
		b = append(b, ' ')
	}
	return b
}

func appendZeroPadded(b []byte, s string, n int) []byte {
	for i := len(s); i < n; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendNum appends non-negative v right-justified and zero-filled to n
// digits. Callers guarantee v fits.
func appendNum(b []byte, v int64, n int) []byte {
	start := len(b)
	for i := 0; i < n; i++ {
		b = append(b, '0')
	}
	for i := len(b) - 1; i >= start && v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}
