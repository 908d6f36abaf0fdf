package boltstore

import "math/bits"

// lineIndex is the order-statistic index of one event's line: which slots
// hold a waiting ticket, and how many waiting tickets precede a slot. It is
// a bitset of slots with a Fenwick tree over the population counts of its
// 64-bit words, so add, remove and position all take O(log n) time in the
// span of the line and about 1/8 + 1/16 bytes per slot.
//
// Slots are handed out in increasing order and leave from anywhere, so the
// live span moves forward; when a new slot falls past the end, the index
// drops the empty words at its front and doubles the rest (amortized O(1)).
//
// A lineIndex is not safe for concurrent use; the Store guards it.
type lineIndex struct {
	base  uint64   // slot of bit 0 of words[0], a multiple of 64
	words []uint64 // bit i of words[w]: slot base+64w+i is waiting
	tree  []int32  // Fenwick tree, 1-based: tree[i] sums popcounts of words (i-lowbit(i), i]
	n     int      // slots set
}

// add marks slot as waiting.
func (l *lineIndex) add(slot uint64) {
	if slot < l.base || (slot-l.base)/64 >= uint64(len(l.words)) {
		l.grow(slot)
	}
	w := int((slot - l.base) / 64)
	bit := uint64(1) << (slot % 64)
	if l.words[w]&bit != 0 {
		return
	}
	l.words[w] |= bit
	l.n++
	l.update(w, 1)
}

// remove marks slot as no longer waiting.
func (l *lineIndex) remove(slot uint64) {
	w, bit, ok := l.locate(slot)
	if !ok {
		return
	}
	l.words[w] &^= bit
	l.n--
	l.update(w, -1)
}

// position returns 1 + the number of waiting slots before slot, or 0 if
// slot is not waiting.
func (l *lineIndex) position(slot uint64) int {
	w, bit, ok := l.locate(slot)
	if !ok {
		return 0
	}
	p := 1 + bits.OnesCount64(l.words[w]&(bit-1))
	for i := w; i > 0; i -= i & -i {
		p += int(l.tree[i])
	}
	return p
}

// len returns the number of waiting slots.
func (l *lineIndex) len() int { return l.n }

// locate returns the word and bit of slot if it is waiting.
func (l *lineIndex) locate(slot uint64) (w int, bit uint64, ok bool) {
	if slot < l.base || (slot-l.base)/64 >= uint64(len(l.words)) {
		return 0, 0, false
	}
	w = int((slot - l.base) / 64)
	bit = uint64(1) << (slot % 64)
	return w, bit, l.words[w]&bit != 0
}

// update adds d to the count of word w.
func (l *lineIndex) update(w int, d int32) {
	for i := w + 1; i < len(l.tree); i += i & -i {
		l.tree[i] += d
	}
}

// grow rebuilds the index so that it covers slot and every waiting slot,
// with room for as many again, in O(span) time.
func (l *lineIndex) grow(slot uint64) {
	first, last := -1, -1
	for i, word := range l.words {
		if word != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	lo, hi := slot&^63, slot&^63
	if first >= 0 {
		lo = min(lo, l.base+uint64(first)*64)
		hi = max(hi, l.base+uint64(last)*64)
	}
	span := int((hi-lo)/64) + 1
	words := make([]uint64, max(2*span, 16))
	if first >= 0 {
		copy(words[(l.base+uint64(first)*64-lo)/64:], l.words[first:last+1])
	}
	l.base, l.words = lo, words
	l.tree = make([]int32, len(words)+1)
	for i, word := range words {
		l.tree[i+1] += int32(bits.OnesCount64(word))
		if j := (i + 1) + (i+1)&-(i+1); j < len(l.tree) {
			l.tree[j] += l.tree[i+1]
		}
	}
}
