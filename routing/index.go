package routing

import "math/bits"

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
	// nodes is the frozen trie in breadth-first order: a node's children
	// are consecutive, found from first and the digit bit mask, so a node
	// takes 16 bytes and the upper levels share a few cache lines.
	nodes []node
	// entries are grouped by node (node.off, .cnt), each group in rule
	// order.
	entries []binEntry

	// Build-time state, dropped by freeze.
	build   []buildNode
	pending []pendingEntry
}

type node struct {
	first    int32 // index of the first child
	off, cnt int32 // the node's entries
	mask     uint16
}

// buildNode is a node while the table is built; a child index of 0 means
// no child (the root is never a child).
type buildNode struct {
	kids [10]int32
}

// binEntry is one bins entry of a rule: the n-digit values lo..hi (equal
// for a prefix).
type binEntry struct {
	lo, hi uint64
	rule   int32
	n      uint8
}

type pendingEntry struct {
	node int32 // build node
	e    binEntry
}

// newBinIndex sizes the build for entries bins entries: a typical table
// needs about three nodes per entry (shared upper levels, a few private
// lower ones).
func newBinIndex(entries int) binIndex {
	return binIndex{
		build:   make([]buildNode, 1, 3*entries+64),
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
		next := x.build[cur].kids[lo[i]]
		if next == 0 {
			x.build = append(x.build, buildNode{})
			next = int32(len(x.build) - 1)
			x.build[cur].kids[lo[i]] = next
		}
		cur = next
	}
	x.pending = append(x.pending, pendingEntry{node: cur, e: binEntry{lo: br.lo, hi: br.hi, rule: ri, n: br.n}})
}

// freeze lays the trie out breadth-first and groups the entries by node,
// keeping rule order within a node (a stable counting sort).
func (x *binIndex) freeze() {
	n := len(x.build)
	x.nodes = make([]node, n)
	newIdx := make([]int32, n) // build index -> frozen index
	order := make([]int32, 1, n)
	for h := 0; h < len(order); h++ {
		b := &x.build[order[h]]
		newIdx[order[h]] = int32(h)
		nd := &x.nodes[h]
		nd.first = int32(len(order))
		for dgt, k := range b.kids {
			if k != 0 {
				nd.mask |= 1 << dgt
				order = append(order, k)
			}
		}
	}
	for _, p := range x.pending {
		x.nodes[newIdx[p.node]].cnt++
	}
	off := int32(0)
	for i := range x.nodes {
		x.nodes[i].off = off
		off += x.nodes[i].cnt
		x.nodes[i].cnt = 0
	}
	x.entries = make([]binEntry, len(x.pending))
	for _, p := range x.pending {
		nd := &x.nodes[newIdx[p.node]]
		x.entries[nd.off+nd.cnt] = p.e
		nd.cnt++
	}
	x.build, x.pending = nil, nil
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
		bit := uint16(1) << d.d[i]
		if nd.mask&bit == 0 {
			return nl
		}
		cur = nd.first + int32(bits.OnesCount16(nd.mask&(bit-1)))
	}
}
