package routing

// brand is a bit set of card brands so that a rule's brands list is one AND.
type brand uint8

const (
	brandVisa brand = 1 << iota
	brandMastercard
	brandMir
	brandAmex
	brandUnionPay
	brandJCB
)

// brandOf maps a brand name as written in a table or an Input to its bit;
// 0 for an unknown name.
func brandOf(name string) brand {
	switch name {
	case BrandVisa:
		return brandVisa
	case BrandMastercard:
		return brandMastercard
	case BrandMir:
		return brandMir
	case BrandAmex:
		return brandAmex
	case BrandUnionPay:
		return brandUnionPay
	case BrandJCB:
		return brandJCB
	}
	return 0
}

// String names the brand as the table does; "" for none.
func (b brand) String() string {
	switch b {
	case brandVisa:
		return BrandVisa
	case brandMastercard:
		return BrandMastercard
	case brandMir:
		return BrandMir
	case brandAmex:
		return BrandAmex
	case brandUnionPay:
		return BrandUnionPay
	case brandJCB:
		return BrandJCB
	}
	return ""
}

// DetectBrand names the card brand of a PAN (or of its leading digits) by
// the usual issuer identification ranges, or returns "" when none applies.
// Mir's 2200-2204 is tested before Mastercard's 2221-2720, which it does not
// overlap anyway.
func DetectBrand(pan string) string {
	var d digits
	d.set(pan)
	return detectBrand(&d).String()
}

func detectBrand(d *digits) brand {
	if d.n == 0 {
		return 0
	}
	if d.d[0] == 4 {
		return brandVisa
	}
	if d.n < 2 {
		return 0
	}
	switch v2 := d.value(2); {
	case v2 >= 51 && v2 <= 55:
		return brandMastercard
	case v2 == 34 || v2 == 37:
		return brandAmex
	case v2 == 62:
		return brandUnionPay
	}
	if d.n < 4 {
		return 0
	}
	switch v4 := d.value(4); {
	case v4 >= 2200 && v4 <= 2204:
		return brandMir
	case v4 >= 2221 && v4 <= 2720:
		return brandMastercard
	case v4 >= 3528 && v4 <= 3589:
		return brandJCB
	}
	return 0
}

// digits holds the first MaxBinDigits leading decimal digits of a PAN: all
// that routing ever needs, so a full PAN is never kept.
type digits struct {
	d [MaxBinDigits]uint8
	n int
}

// set takes the leading decimal digits of s, at most MaxBinDigits of them.
func (d *digits) set(s string) {
	d.n = 0
	for i := 0; i < len(s) && d.n < MaxBinDigits; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			break
		}
		d.d[d.n] = c - '0'
		d.n++
	}
}

// value is the number formed by the first k digits; k must be <= d.n.
func (d *digits) value(k int) uint64 {
	var v uint64
	for i := 0; i < k; i++ {
		v = v*10 + uint64(d.d[i])
	}
	return v
}
