package queuepass_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/queuepass/queuepass"
)

func TestDrawOrderIsASeededPermutation(t *testing.T) {
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprint("ticket-", i)
	}
	in := slices.Clone(ids)
	seed := [32]byte{1, 2, 3}
	a := queuepass.DrawOrder(seed, ids)
	if !slices.Equal(ids, in) {
		t.Fatal("DrawOrder modified its input")
	}
	if got := slices.Sorted(slices.Values(a)); !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
		t.Fatalf("DrawOrder = %v, not a permutation of its input", a)
	}
	if b := queuepass.DrawOrder(seed, ids); !slices.Equal(a, b) {
		t.Error("DrawOrder with one seed gave two orders")
	}
	// The order does not depend on the order the IDs come in.
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	if b := queuepass.DrawOrder(seed, rev); !slices.Equal(a, b) {
		t.Error("DrawOrder depends on the input order")
	}
	if b := queuepass.DrawOrder([32]byte{9}, ids); slices.Equal(a, b) {
		t.Error("two seeds gave the same order of 50")
	}
}

// TestDrawOrderIsUniform checks that each ticket lands in each place about
// equally often over many seeds: a chi-square test on the 4×4 table of
// (ticket, place) counts, with fixed seeds so the result is deterministic.
func TestDrawOrderIsUniform(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	const draws = 4000
	var counts [4][4]int
	for i := range draws {
		order := queuepass.DrawOrder([32]byte{byte(i), byte(i >> 8), 7}, ids)
		for place, id := range order {
			counts[slices.Index(ids, id)][place]++
		}
	}
	expected := float64(draws) / 4
	chi2 := 0.0
	for _, row := range counts {
		for _, c := range row {
			d := float64(c) - expected
			chi2 += d * d / expected
		}
	}
	// 9 degrees of freedom; 27.88 is the 0.999 quantile.
	if chi2 > 27.88 {
		t.Errorf("chi-square = %.1f over %v, want < 27.88 for a uniform draw", chi2, counts)
	}
}
