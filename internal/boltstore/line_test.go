package boltstore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLineIndex checks the index against a sorted slice of slots through
// random joins (always at the end, as stores hand out slots), leaves and
// admissions (from the front), so that it grows and compacts many times.
func TestLineIndex(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		r := rand.New(rand.NewPCG(seed, seed))
		var (
			l     lineIndex
			model []uint64 // waiting slots, ascending
			next  uint64   = 1
		)
		for step := range 20000 {
			switch k := r.IntN(10); {
			case k < 5 || (step < 5000 && k < 8): // join, growing the line at first
				l.add(next)
				model = append(model, next)
				next += 1 + uint64(r.IntN(3)) // gaps, as prequeue tickets and other events leave
			case k < 7 && len(model) > 0: // leave from anywhere
				i := r.IntN(len(model))
				l.remove(model[i])
				model = slices.Delete(model, i, i+1)
			case len(model) > 0: // admit from the front
				n := min(len(model), 1+r.IntN(8))
				for _, slot := range model[:n] {
					l.remove(slot)
				}
				model = model[n:]
			}
			if l.len() != len(model) {
				t.Fatalf("seed %d step %d: len() = %d, want %d", seed, step, l.len(), len(model))
			}
			if len(model) == 0 || step%7 != 0 {
				continue
			}
			for _, i := range []int{0, len(model) / 2, len(model) - 1, r.IntN(len(model))} {
				if got := l.position(model[i]); got != i+1 {
					t.Fatalf("seed %d step %d: position(%d) = %d, want %d", seed, step, model[i], got, i+1)
				}
			}
			if got := l.position(next + 64); got != 0 {
				t.Fatalf("seed %d step %d: position(unused slot) = %d, want 0", seed, step, got)
			}
		}
	}
}

// TestLineIndexCompacts checks that a line that moves forward forever
// keeps an index proportional to its span, not to every slot ever used.
func TestLineIndexCompacts(t *testing.T) {
	var l lineIndex
	for slot := uint64(1); slot <= 1_000_000; slot++ {
		l.add(slot)
		if slot > 100 {
			l.remove(slot - 100)
		}
	}
	if got := len(l.words); got > 64 {
		t.Errorf("after 1M slots with 100 waiting, the index has %d words, want at most 64", got)
	}
	if got := l.position(1_000_000); got != 100 {
		t.Errorf("position(last) = %d, want 100", got)
	}
}
