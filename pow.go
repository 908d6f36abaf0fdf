package queuepass

import (
	"context"
	"crypto/sha256"
	"math/bits"
	"strconv"
)

// Proof of work makes every new ticket in an event with a
// ChallengeDifficulty cost its maker some computing: cheap for one person
// joining once, expensive for a bot farm making thousands of tickets. The
// server hands out single-use challenges (opaque ASCII strings); a join
// must bring a challenge together with a nonce such that
//
//	SHA-256(challenge ‖ nonce)
//
// begins with at least difficulty zero bits, both taken as their ASCII
// bytes. Finding a nonce takes 2^difficulty hashes on average; checking one
// takes one.

// Limits of a challenge's difficulty and of a nonce's length.
const (
	MaxChallengeDifficulty = 32
	MaxNonceLength         = 64
)

// LeadingZeroBits is the number of zero bits that sum begins with.
func LeadingZeroBits(sum [sha256.Size]byte) int {
	n := 0
	for _, b := range sum {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// ChallengeSolved reports whether nonce solves challenge to difficulty.
func ChallengeSolved(challenge, nonce string, difficulty int) bool {
	return LeadingZeroBits(sha256.Sum256([]byte(challenge+nonce))) >= difficulty
}

// SolveChallenge finds a nonce (decimal digits) that solves challenge to
// difficulty, trying 0, 1, 2, … in turn. It takes about 2^difficulty
// hashes and stops early with ctx's error when ctx ends.
func SolveChallenge(ctx context.Context, challenge string, difficulty int) (string, error) {
	buf := []byte(challenge)
	for i := uint64(0); ; i++ {
		if i%(1<<14) == 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
		buf = strconv.AppendUint(buf[:len(challenge)], i, 10)
		if LeadingZeroBits(sha256.Sum256(buf)) >= difficulty {
			return string(buf[len(challenge):]), nil
		}
	}
}
