package routing_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/acquirer/h2hswitch/routing"
)

func ExampleTable_Decide() {
	src := []byte(`version: 7
rules:
  - name: mir-to-alfa
    match: {brands: [mir]}
    banks: [alfa, sber]
  - name: default
    split: {alfa: 70, sber: 30}
`)
	table, err := routing.Compile(src, routing.Options{Banks: []string{"alfa", "sber"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	alfaDown := func(bank string) bool { return bank != "alfa" }
	rnd := rand.New(rand.NewPCG(1, 2))

	d := table.Decide(routing.Input{PAN: "22000000000", Amount: 150000, Currency: "KZT", Type: "purchase"}, alfaDown, rnd)
	fmt.Println(d.Rule, d.UsableBanks(), d.AnyUsable)

	d = table.Decide(routing.Input{PAN: "40000000000", Amount: 150000, Currency: "KZT", Type: "purchase"}, alfaDown, rnd)
	fmt.Println(d)

	_, err = routing.Compile([]byte("version: 7\nrules:\n  - name: x\n    banks: [vtb]\n"), routing.Options{Banks: []string{"alfa"}})
	fmt.Println(err)
	// Output:
	// mir-to-alfa [sber] true
	// rule "default" banks sber alfa(down)
	// invalid routing table: line 4: rule "x": banks: unknown bank "vtb" (configured: alfa)
}
