package routing

import "slices"

// binIndex finds, for a card's leading digits, the rules whose bins hold
// it, in rule order, with memory linear in the number of bins entries.
//
// It is a decimal trie over BIN digits. Each bins entry is stored once, at
// the node of the longest common prefix of its two ends: a prefix at the
// node of the whole prefix, a range LOW-HIGH at the node where LOW and HIGH
// part. A lookup walks at most MaxBinDigits nodes down the card's digits;
// every entry met on the way is a candidate and is confirmed by comparing
// the card's first N digits with the entry's ends. Entries below the path
// cannot hold the card (their common prefix differs from the card's), so
// nothing else needs checking. Ranges meeting at one node each straddle one
// of the nine boundaries between its children, so a node holds at most nine
// disjoint ranges; only ranges that overlap each other add to a lookup's
// work. Each node's entries are kept in rule order and the lists met on the
// path are merged, which preserves first-match order across rules.
type binIndex struct {
	nodes []trieNode
	// entries are grouped by node (trieNode.off, .cnt), each group in rule
	// order.
	entries []binEntry
	// pending collects entries with their node while the table is built.
	pending []pendingEntry
}

// trieNode keeps its children inline (48 bytes), so that each level of a
// lookup touches one node; a child index of 0 means no child (the root is
// never a child).
type trieNode struct {
	kids     [10]int32
	off, cnt int32
}

// binEntry is one bins entry of a rule: the n-digit values lo..hi (equal
// for a prefix).
type binEntry struct {
	lo, hi uint64
	rule   int32
	n      uint8
}

type pendingEntry struct {
	node int32
	e    binEntry
}

// newBinIndex sizes the build for entries bins entries: a typical table
// needs about three nodes per entry (shared upper levels, a few private
// lower ones), so most tables build without growing the node slice.
func newBinIndex(entries int) binIndex {
	return binIndex{
		nodes:   make([]trieNode, 1, 3*entries+64),
		pending: make([]pendingEntry, 0, entries),
	}
}

// pow10 is 10^k for the small k of BIN lengths.
func pow10(k int) uint64 {
	v := uint64(1)
	for ; k > 0; k-- {
		v *= 10
	}
	return v
}

// add stores one bins entry of rule ri. Entries must be added in rule
// order.
func (x *binIndex) add(br binRange, ri int32) {
	n := int(br.n)
	var lo, hi [MaxBinDigits]uint8
	for i, a, b := n-1, br.lo, br.hi; i >= 0; i-- {
		lo[i], hi[i] = uint8(a%10), uint8(b%10)
		a, b = a/10, b/10
	}
	cur := int32(0)
	for i := 0; i < n && lo[i] == hi[i]; i++ {
		next := x.nodes[cur].kids[lo[i]]
		if next == 0 {
			x.nodes = append(x.nodes, trieNode{})
			next = int32(len(x.nodes) - 1)
			x.nodes[cur].kids[lo[i]] = next
		}
		cur = next
	}
	x.pending = append(x.pending, pendingEntry{node: cur, e: binEntry{lo: br.lo, hi: br.hi, rule: ri, n: br.n}})
}

// freeze groups the entries by node, keeping rule order within a node (a
// stable counting sort), and drops the build-time data.
func (x *binIndex) freeze() {
	for _, p := range x.pending {
		x.nodes[p.node].cnt++
	}
	off := int32(0)
	for i := range x.nodes {
		x.nodes[i].off = off
		off += x.nodes[i].cnt
		x.nodes[i].cnt = 0
	}
	x.entries = make([]binEntry, len(x.pending))
	for _, p := range x.pending {
		nd := &x.nodes[p.node]
		x.entries[nd.off+nd.cnt] = p.e
		nd.cnt++
	}
	x.pending = nil
	if len(x.nodes) < cap(x.nodes)/2 {
		x.nodes = slices.Clone(x.nodes) // the size estimate was generous
	} else {
		x.nodes = slices.Clip(x.nodes)
	}
}

// maxLists is how many entry lists one lookup can meet: the root's and one
// per digit.
const maxLists = MaxBinDigits + 1

// walk collects the non-empty entry lists on d's path, root first.
func (x *binIndex) walk(d *digits, out *[maxLists][]binEntry) int {
	nl := 0
	cur := int32(0)
	for i := 0; ; i++ {
		nd := &x.nodes[cur]
		if nd.cnt > 0 {
			out[nl] = x.entries[nd.off : nd.off+nd.cnt]
			nl++
		}
		if i == d.n {
			return nl
		}
		cur = nd.kids[d.d[i]]
		if cur == 0 {
			return nl
		}
	}
}
