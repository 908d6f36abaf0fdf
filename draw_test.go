package queuepass_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
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
	a, hashes := queuepass.DrawOrder(seed, ids)
	if !slices.Equal(ids, in) {
		t.Fatal("DrawOrder modified its input")
	}
	if got := slices.Sorted(slices.Values(a)); !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
		t.Fatalf("DrawOrder = %v, not a permutation of its input", a)
	}
	for i, id := range a {
		if hashes[i] != queuepass.DrawHash(id) {
			t.Fatalf("DrawOrder hash %d = %x, want DrawHash(%q)", i, hashes[i], id)
		}
	}
	if b, _ := queuepass.DrawOrder(seed, ids); !slices.Equal(a, b) {
		t.Error("DrawOrder with one seed gave two orders")
	}
	// The order does not depend on the order the IDs come in.
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	if b, _ := queuepass.DrawOrder(seed, rev); !slices.Equal(a, b) {
		t.Error("DrawOrder depends on the input order")
	}
	if b, _ := queuepass.DrawOrder([32]byte{9}, ids); slices.Equal(a, b) {
		t.Error("two seeds gave the same order of 50")
	}
}

// TestDrawPermutationIsShuffleDraw checks that the draw as indices is the
// published procedure (ShuffleDraw, which VerifyDraw recomputes).
func TestDrawPermutationIsShuffleDraw(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100, 1000} {
		hashes := make([][sha256.Size]byte, n)
		for i := range hashes {
			hashes[i] = queuepass.DrawHash(fmt.Sprint("t", i))
		}
		seed := [32]byte{byte(n), 7}
		want := queuepass.ShuffleDraw(seed, hashes)
		perm := queuepass.DrawPermutation(seed, hashes)
		if len(perm) != n {
			t.Fatalf("DrawPermutation of %d = %d places", n, len(perm))
		}
		for k, i := range perm {
			if hashes[i] != want[k] {
				t.Fatalf("DrawPermutation of %d: place %d is entrant %d, ShuffleDraw puts %x there", n, k, i, want[k])
			}
		}
	}
}

// TestDrawIsUniform checks that every order of four entrants is drawn
// equally often: a chi-square goodness-of-fit test of the counts of all 24
// permutations over 24,000 draws, at significance 0.001, with seeds fixed
// so that the result is deterministic (it cannot flake; a biased shuffle
// fails it).
func TestDrawIsUniform(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	const draws = 24000
	counts := map[string]int{}
	seeds := rand.New(rand.NewPCG(1, 2))
	for range draws {
		var seed [32]byte
		for i := range seed {
			seed[i] = byte(seeds.Uint32())
		}
		order, _ := queuepass.DrawOrder(seed, ids)
		counts[fmt.Sprint(order)]++
	}
	if len(counts) != 24 {
		t.Fatalf("%d draws gave %d of the 24 orders of 4", draws, len(counts))
	}
	chi2 := chiSquare(counts, draws, 24)
	// 23 degrees of freedom: P(χ² > 49.73) = 0.001 for a uniform draw.
	if chi2 > 49.73 {
		t.Errorf("chi-square = %.1f over %v, want < 49.73 for a uniform draw", chi2, counts)
	}
}

// TestChiSquareCatchesBias checks that the uniformity test has teeth: a
// shuffle that is off by a little (the classic "swap with any place"
// mistake) fails it with the same counts and threshold.
func TestChiSquareCatchesBias(t *testing.T) {
	const draws = 24000
	counts := map[string]int{}
	r := rand.New(rand.NewPCG(1, 2))
	for range draws {
		p := []int{0, 1, 2, 3}
		for i := range p {
			j := r.IntN(len(p)) // biased: Fisher–Yates takes j in [0, i]
			p[i], p[j] = p[j], p[i]
		}
		counts[fmt.Sprint(p)]++
	}
	if chi2 := chiSquare(counts, draws, 24); chi2 <= 49.73 {
		t.Errorf("chi-square of a biased shuffle = %.1f, want > 49.73", chi2)
	}
}

func chiSquare(counts map[string]int, n, cells int) float64 {
	expected := float64(n) / float64(cells)
	chi2 := float64(cells-len(counts)) * expected // cells never seen
	for _, c := range counts {
		d := float64(c) - expected
		chi2 += d * d / expected
	}
	return chi2
}

func TestVerifyDraw(t *testing.T) {
	seed := [32]byte{7, 7, 7}
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = queuepass.NewTicketID(uint64(i+1), [queuepass.TicketSecretSize]byte{byte(i)})
	}
	_, order := queuepass.DrawOrder(seed, ids)
	commitment := queuepass.DrawCommitment(seed)
	if err := queuepass.VerifyDraw(commitment, seed, order); err != nil {
		t.Fatalf("VerifyDraw of an honest draw: %v", err)
	}
	if err := queuepass.VerifyDraw(commitment, seed, nil); err != nil {
		t.Errorf("VerifyDraw of an empty draw: %v", err)
	}

	swapped := slices.Clone(order)
	swapped[3], swapped[11] = swapped[11], swapped[3]
	dup := slices.Clone(order)
	dup[5] = dup[6]
	other := [32]byte{7, 7, 8}
	_, otherOrder := queuepass.DrawOrder(other, ids)
	stranger := slices.Clone(order)
	stranger[0] = sha256.Sum256([]byte("a ticket nobody holds"))
	for _, tt := range []struct {
		name       string
		commitment [32]byte
		seed       [32]byte
		order      [][32]byte
		want       error
	}{
		{"another seed", commitment, other, order, queuepass.ErrDrawCommitment},
		{"another seed with its own order", commitment, other, otherOrder, queuepass.ErrDrawCommitment},
		{"another commitment", queuepass.DrawCommitment(other), seed, order, queuepass.ErrDrawCommitment},
		{"two places swapped", commitment, seed, swapped, queuepass.ErrDrawOrder},
		{"an entrant twice", commitment, seed, dup, queuepass.ErrDrawOrder},
		{"an entrant replaced", commitment, seed, stranger, queuepass.ErrDrawOrder},
		{"the last entrant dropped", commitment, seed, order[:len(order)-1], queuepass.ErrDrawOrder},
	} {
		if err := queuepass.VerifyDraw(tt.commitment, tt.seed, tt.order); !errors.Is(err, tt.want) {
			t.Errorf("VerifyDraw with %s = %v, want %v", tt.name, err, tt.want)
		}
	}
}
