package routing

import "sort"

// iso4217 is the embedded list of active ISO 4217 alpha-3 currency codes in
// which card payments are made: sorted, three letters per code, no
// separators. Precious metals (XAU, XAG, ...), fund and testing codes (XTS,
// XXX, BOV, CHE, ...) are left out because no card payment is made in them.
const iso4217 = "" +
	"AEDAFNALLAMDANGAOAARSAUDAWGAZNBAMBBDBDTBGNBHDBIFBMDBNDBOBBRL" +
	"BSDBTNBWPBYNBZDCADCDFCHFCLPCNYCOPCRCCUCCUPCVECZKDJFDKKDOPDZD" +
	"EGPERNETBEURFJDFKPGBPGELGHSGIPGMDGNFGTQGYDHKDHNLHTGHUFIDRILS" +
	"INRIQDIRRISKJMDJODJPYKESKGSKHRKMFKPWKRWKWDKYDKZTLAKLBPLKRLRD" +
	"LSLLYDMADMDLMGAMKDMMKMNTMOPMRUMURMVRMWKMXNMYRMZNNADNGNNIONOK" +
	"NPRNZDOMRPABPENPGKPHPPKRPLNPYGQARRONRSDRUBRWFSARSBDSCRSDGSEK" +
	"SGDSHPSLESLLSOSSRDSSPSTNSVCSYPSZLTHBTJSTMTTNDTOPTRYTTDTWDTZS" +
	"UAHUGXUSDUYUUZSVEDVESVNDVUVWSTXAFXCDXCGXOFXPFYERZARZMWZWGZWL"

// KnownCurrency reports whether code is in the embedded ISO 4217 list. It is
// the default for Options.Currencies.
func KnownCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	n := len(iso4217) / 3
	i := sort.Search(n, func(i int) bool { return iso4217[3*i:3*i+3] >= code })
	return i < n && iso4217[3*i:3*i+3] == code
}
