package queuepass

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// The draw orders a scheduled event's pre-queue at opening, so that
// everyone who joined before the event opened has the same chance of any
// place, however fast they clicked. It is verifiable: at creation the
// server draws a secret 32-byte seed and publishes only DrawCommitment of
// it; at opening it orders the pre-queue with DrawOrder and then publishes
// the seed and the order as the DrawHash of each ticket ID (never the IDs,
// which are their holders' credentials). Anyone can then check with
// VerifyDraw that the seed is the one committed to before anyone joined
// and that the order is exactly what the seed gives for the entrants, and
// a holder can find their own ticket's place by its hash.
//
// The procedure, fixed so that a published draw can be checked later:
//  1. hash every ticket ID with SHA-256 (DrawHash);
//  2. sort the hashes in increasing byte order, a canonical order that does
//     not depend on when or where each ticket was made;
//  3. shuffle them with Fisher–Yates as math/rand/v2's Rand.Shuffle does it,
//     driven by rand.NewChaCha8(seed).
//
// The result depends only on the seed and the set of hashes, so a verifier
// needs nothing but what is published.

// DrawHash is the form in which a draw publishes a ticket: the SHA-256 of
// its ID.
func DrawHash(ticketID string) [sha256.Size]byte {
	return sha256.Sum256([]byte(ticketID))
}

// DrawCommitment is the published commitment to a draw seed: its SHA-256.
func DrawCommitment(seed [32]byte) [sha256.Size]byte {
	return sha256.Sum256(seed[:])
}

// ShuffleDraw returns the draw of the entrants whose DrawHashes are hashes:
// sorted, then shuffled by the seed (steps 2 and 3 above). It does not
// modify hashes.
func ShuffleDraw(seed [32]byte, hashes [][sha256.Size]byte) [][sha256.Size]byte {
	out := slices.Clone(hashes)
	slices.SortFunc(out, compareHashes)
	shuffle(seed, out)
	return out
}

func compareHashes(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) }

// shuffle is step 3 of the draw, in place. The swaps it makes depend only
// on the seed and len(s), so shuffling a list of indices moves them as the
// entries they stand for would move.
func shuffle[T any](seed [32]byte, s []T) {
	r := rand.New(rand.NewChaCha8(seed))
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// DrawPermutation returns the draw of the entrants whose DrawHashes are
// hashes as indices into hashes: ShuffleDraw(seed, hashes)[k] is
// hashes[perm[k]]. It is for those who hold the entrants themselves (a
// store with its tickets), and spares them a lookup from hash to entrant.
// hashes must be distinct.
func DrawPermutation(seed [32]byte, hashes [][sha256.Size]byte) (perm []int) {
	perm = make([]int, len(hashes))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int { return compareHashes(hashes[a], hashes[b]) })
	shuffle(seed, perm)
	return perm
}

// DrawOrder returns the order in which a scheduled event's pre-queue enters
// the line at opening: ticketIDs shuffled as ShuffleDraw shuffles their
// hashes, a uniformly random permutation that anyone who knows the seed
// can recompute. It also returns the hashes in that order, as the draw is
// published. DrawOrder does not modify ticketIDs, which must be distinct.
func DrawOrder(seed [32]byte, ticketIDs []string) (order []string, hashes [][sha256.Size]byte) {
	byInput := make([][sha256.Size]byte, len(ticketIDs))
	for i, id := range ticketIDs {
		byInput[i] = DrawHash(id)
	}
	order = make([]string, len(ticketIDs))
	hashes = make([][sha256.Size]byte, len(ticketIDs))
	for k, i := range DrawPermutation(seed, byInput) {
		order[k], hashes[k] = ticketIDs[i], byInput[i]
	}
	return order, hashes
}

// Errors of VerifyDraw.
var (
	ErrDrawCommitment = errors.New("the seed does not match the commitment")
	ErrDrawOrder      = errors.New("the order is not the one the seed gives")
)

// VerifyDraw checks a published draw: that seed is the one committed to,
// and that order is exactly the draw of its own entrants under seed, each
// listed once. It fails with ErrDrawCommitment or ErrDrawOrder (wrapped,
// saying where the order is wrong).
func VerifyDraw(commitment [sha256.Size]byte, seed [32]byte, order [][sha256.Size]byte) error {
	if DrawCommitment(seed) != commitment {
		return ErrDrawCommitment
	}
	want := slices.Clone(order)
	slices.SortFunc(want, compareHashes)
	for i := 1; i < len(want); i++ {
		if want[i] == want[i-1] {
			return fmt.Errorf("%w: an entrant is listed twice (%x)", ErrDrawOrder, want[i])
		}
	}
	shuffle(seed, want)
	for i := range want {
		if want[i] != order[i] {
			return fmt.Errorf("%w: place %d of %d differs", ErrDrawOrder, i+1, len(order))
		}
	}
	return nil
}
