package clearing

// Currency is an ISO 4217 currency: alpha code, numeric code and the number
// of minor-unit digits (the exponent).
type Currency struct {
	Alpha    string // e.g. "KZT"
	Numeric  string // three digits, e.g. "398"
	Exponent int    // e.g. 2: 1500,00 KZT is 150000 minor units
}

// IsZero reports whether c is the zero Currency.
func (c Currency) IsZero() bool { return c == Currency{} }

// String returns the alpha code.
func (c Currency) String() string { return c.Alpha }

// Supported currencies. Every exponent is at most 2, which is what lets
// Bank A's trailer sum amounts of different currencies in hundredths.
var (
	KZT = Currency{"KZT", "398", 2}
	USD = Currency{"USD", "840", 2}
	EUR = Currency{"EUR", "978", 2}
	RUB = Currency{"RUB", "643", 2}
	GBP = Currency{"GBP", "826", 2}
	CNY = Currency{"CNY", "156", 2}
	KGS = Currency{"KGS", "417", 2}
	UZS = Currency{"UZS", "860", 2}
	TRY = Currency{"TRY", "949", 2}
	AED = Currency{"AED", "784", 2}
	CHF = Currency{"CHF", "756", 2}
	JPY = Currency{"JPY", "392", 0}
)

// CurrencyByAlpha looks up a supported currency by its alpha-3 code.
func CurrencyByAlpha(s string) (Currency, bool) {
	switch s {
	case "KZT":
		return KZT, true
	case "USD":
		return USD, true
	case "EUR":
		return EUR, true
	case "RUB":
		return RUB, true
	case "GBP":
		return GBP, true
	case "CNY":
		return CNY, true
	case "KGS":
		return KGS, true
	case "UZS":
		return UZS, true
	case "TRY":
		return TRY, true
	case "AED":
		return AED, true
	case "CHF":
		return CHF, true
	case "JPY":
		return JPY, true
	}
	return Currency{}, false
}

// CurrencyByNumeric looks up a supported currency by its numeric code.
func CurrencyByNumeric(s string) (Currency, bool) {
	switch s {
	case "398":
		return KZT, true
	case "840":
		return USD, true
	case "978":
		return EUR, true
	case "643":
		return RUB, true
	case "826":
		return GBP, true
	case "156":
		return CNY, true
	case "417":
		return KGS, true
	case "860":
		return UZS, true
	case "949":
		return TRY, true
	case "784":
		return AED, true
	case "756":
		return CHF, true
	case "392":
		return JPY, true
	}
	return Currency{}, false
}

// supported reports whether c is exactly one of the supported currencies.
func (c Currency) supported() bool {
	v, ok := CurrencyByAlpha(c.Alpha)
	return ok && v == c
}
