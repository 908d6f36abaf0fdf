package queuepass

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"slices"
)

// DrawOrder returns the order in which a scheduled event's pre-queue enters
// the line at opening: a uniformly random permutation of ticketIDs that
// anyone who knows the seed can recompute.
//
// The procedure is fixed, so that a published seed can be checked later:
//  1. sort the ticket IDs by the SHA-256 of their bytes (a canonical order
//     that does not depend on when or where each ticket was made);
//  2. shuffle them with Fisher–Yates (math/rand/v2 Rand.Shuffle) driven by
//     ChaCha8 keyed with the seed.
//
// DrawOrder does not modify ticketIDs.
func DrawOrder(seed [32]byte, ticketIDs []string) []string {
	type keyed struct {
		sum [sha256.Size]byte
		id  string
	}
	ks := make([]keyed, len(ticketIDs))
	for i, id := range ticketIDs {
		ks[i] = keyed{sha256.Sum256([]byte(id)), id}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return bytes.Compare(a.sum[:], b.sum[:]) })
	r := rand.New(rand.NewChaCha8(seed))
	r.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.id
	}
	return out
}
