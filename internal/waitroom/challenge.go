package waitroom

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/queuepass/queuepass"
)

// ChallengeTTL is how long a proof-of-work challenge may be used after it
// is issued: long enough for a slow phone to solve one, short enough that
// bots cannot stock up on them long before a drop.
const ChallengeTTL = 5 * time.Minute

// spentGrace is how much longer than its expiry a spent challenge is
// remembered. Nodes' clocks differ a little: one whose clock is behind
// still takes a challenge that has expired by the clock of another, whose
// joins may meanwhile have let the store forget it. Clocks kept by NTP
// are well within a minute of each other.
const spentGrace = time.Minute

// Challenge is a proof-of-work challenge for one join (see
// queuepass.ChallengeSolved).
type Challenge struct {
	Token      string // what the join sends back, with its nonce
	Difficulty int    // leading zero bits the solution needs
	ExpiresAt  time.Time
}

// A challenge token is issued without a write: it carries everything the
// server needs to check it, authenticated with a MAC under the pass keys'
// secret (pass.KeySet.MAC), so that any node sharing the key file checks
// any node's challenges. It is unpadded base64url of
//
//	version (1 byte, 1) ‖ expiry (8 bytes, Unix seconds, big-endian) ‖
//	difficulty (1 byte) ‖ id (16 random bytes) ‖ MAC (first 16 bytes)
//
// with the MAC over challengeMACPrefix ‖ event ID ‖ 0 ‖ event CreatedAt
// (8 bytes, Unix nanoseconds) ‖ the bytes before it, so a challenge of one
// event is useless for another, or for an event deleted and created again
// under the same ID (whose spent challenges went with it). The id is what the
// store spends (queuepass.JoinProof.Challenge): single use is the store's
// job, an atomic step of the join that uses it.
const (
	challengeVersion   = 1
	challengeIDSize    = 16
	challengeMACSize   = 16
	challengeBodySize  = 1 + 8 + 1 + challengeIDSize
	challengeSize      = challengeBodySize + challengeMACSize
	challengeMACPrefix = "queuepass challenge v1\x00"
)

// NewChallenge issues a challenge for a join of the event, at the event's
// ChallengeDifficulty (which may be 0: a challenge is then accepted but not
// needed). It writes nothing. It fails with queuepass.ErrEventNotFound or
// queuepass.ErrEventClosed.
func (r *Room) NewChallenge(ctx context.Context, eventID string) (Challenge, error) {
	ev, err := r.recentEvent(ctx, eventID)
	if err != nil {
		return Challenge{}, err
	}
	if ev.State == queuepass.StateClosed {
		return Challenge{}, queuepass.ErrEventClosed
	}
	exp := r.Now().Add(ChallengeTTL).Truncate(time.Second)
	b := make([]byte, challengeBodySize, challengeSize)
	b[0] = challengeVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(exp.Unix()))
	b[9] = byte(ev.ChallengeDifficulty)
	rand.Read(b[10:challengeBodySize])
	b = append(b, r.keys.MAC(challengeMessage(ev, b))[:challengeMACSize]...)
	return Challenge{
		Token:      base64.RawURLEncoding.EncodeToString(b),
		Difficulty: ev.ChallengeDifficulty,
		ExpiresAt:  exp,
	}, nil
}

func challengeMessage(ev queuepass.Event, body []byte) []byte {
	msg := make([]byte, 0, len(challengeMACPrefix)+len(ev.ID)+1+8+len(body))
	msg = append(msg, challengeMACPrefix...)
	msg = append(msg, ev.ID...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint64(msg, uint64(ev.CreatedAt.UnixNano()))
	return append(msg, body...)
}

// checkChallenge checks a solved challenge for a join of ev at now and
// returns what the store spends. It fails with a *queuepass.ChallengeError
// saying what is wrong.
func (r *Room) checkChallenge(ev queuepass.Event, token, nonce string, now time.Time) (queuepass.JoinProof, error) {
	fail := func(why string) (queuepass.JoinProof, error) {
		return queuepass.JoinProof{}, &queuepass.ChallengeError{Reason: why}
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != challengeSize || b[0] != challengeVersion {
		return fail("not a challenge this service issued")
	}
	body := b[:challengeBodySize]
	if !r.keys.CheckMAC(challengeMessage(ev, body), b[challengeBodySize:]) {
		return fail("not a challenge issued for this event")
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), 0).UTC()
	if !now.Before(exp) {
		return fail("the challenge expired; ask for a new one")
	}
	difficulty := int(b[9])
	if difficulty < ev.ChallengeDifficulty {
		return fail("the challenge was issued at a lower difficulty than the event now asks; ask for a new one")
	}
	if !ValidNonce(nonce) || !queuepass.ChallengeSolved(token, nonce, difficulty) {
		return fail("the nonce does not solve the challenge")
	}
	return queuepass.JoinProof{Challenge: string(b[10:challengeBodySize]), ChallengeExpires: exp.Add(spentGrace)}, nil
}

// ValidNonce reports whether s can be a nonce: 1 to
// queuepass.MaxNonceLength printable ASCII characters.
func ValidNonce(s string) bool {
	if len(s) == 0 || len(s) > queuepass.MaxNonceLength {
		return false
	}
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
