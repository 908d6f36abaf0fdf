package queuepass_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/queuepass/queuepass"
)

func TestLeadingZeroBits(t *testing.T) {
	for _, tt := range []struct {
		prefix []byte
		want   int
	}{
		{[]byte{0x80}, 0},
		{[]byte{0x7f}, 1},
		{[]byte{0x01}, 7},
		{[]byte{0x00, 0xff}, 8},
		{[]byte{0x00, 0x00, 0x10}, 19},
	} {
		var sum [sha256.Size]byte
		copy(sum[:], tt.prefix)
		if got := queuepass.LeadingZeroBits(sum); got != tt.want {
			t.Errorf("LeadingZeroBits(%x…) = %d, want %d", tt.prefix, got, tt.want)
		}
	}
	if got := queuepass.LeadingZeroBits([sha256.Size]byte{}); got != 256 {
		t.Errorf("LeadingZeroBits(zero) = %d, want 256", got)
	}
}

func TestSolveChallenge(t *testing.T) {
	const challenge = "AQAAAABpH0Yt-example"
	for _, d := range []int{0, 1, 8, 12} {
		nonce, err := queuepass.SolveChallenge(t.Context(), challenge, d)
		if err != nil {
			t.Fatalf("SolveChallenge(%d): %v", d, err)
		}
		if !queuepass.ChallengeSolved(challenge, nonce, d) {
			t.Errorf("SolveChallenge(%d) = %q, which ChallengeSolved refuses", d, nonce)
		}
		sum := sha256.Sum256([]byte(challenge + nonce))
		if got := queuepass.LeadingZeroBits(sum); got < d {
			t.Errorf("SHA-256(challenge ‖ %q) has %d leading zero bits, want >= %d", nonce, got, d)
		}
	}
	// A nonce that solves a low difficulty rarely solves a high one; this
	// one (the first for 0) solves nothing above what its hash shows.
	sum := sha256.Sum256([]byte(challenge + "0"))
	if z := queuepass.LeadingZeroBits(sum); queuepass.ChallengeSolved(challenge, "0", z+1) {
		t.Errorf("ChallengeSolved(%q, 0, %d) = true for a hash with %d zero bits", challenge, z+1, z)
	}
}

func TestSolveChallengeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := queuepass.SolveChallenge(ctx, "x", queuepass.MaxChallengeDifficulty); err != context.Canceled {
		t.Errorf("SolveChallenge with a cancelled context = %v, want context.Canceled", err)
	}
}

func BenchmarkChallengeSolved(b *testing.B) {
	for b.Loop() {
		queuepass.ChallengeSolved("AQAAAABpH0Yt-0123456789abcdefghijklmnopqrs", "1234567", 20)
	}
}
