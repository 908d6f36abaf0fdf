package boltstore

import (
	"bytes"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/queuepass/queuepass"
)

// forgetBatch bounds how many spent challenges one join forgets, so that a
// backlog of them (after a burst of joins) is worked off a few hundred
// deletes at a time rather than by one long join.
const forgetBatch = 256

// spendProof checks the proof that a new ticket in the event needs and
// spends it, all or nothing, in the order queuepass.Store.Join gives. It
// fails with ErrChallengeRequired, ErrChallengeFailed or ErrAccessDenied
// before it writes anything. An event without requirements costs it no
// lookup.
func spendProof(m *eventMeta, eb *bbolt.Bucket, proof queuepass.JoinProof, at time.Time) error {
	needChallenge := m.ChallengeDifficulty > 0
	if needChallenge {
		switch {
		case proof.Challenge == "":
			return queuepass.ErrChallengeRequired
		case len(proof.Challenge) > queuepass.MaxProofChallenge:
			return fmt.Errorf("%w: the challenge is longer than %d bytes", queuepass.ErrChallengeFailed, queuepass.MaxProofChallenge)
		}
		if sb := eb.Bucket(bucketSpent); sb != nil && sb.Get([]byte(proof.Challenge)) != nil {
			return fmt.Errorf("%w: the challenge is spent", queuepass.ErrChallengeFailed)
		}
	}
	needCode := m.Access == queuepass.AccessByCode
	var code queuepass.AccessCode
	if needCode {
		var v []byte
		if cb := eb.Bucket(bucketCodes); cb != nil && proof.Code != "" {
			v = cb.Get([]byte(proof.Code))
		}
		if v == nil {
			return fmt.Errorf("%w: no such access code", queuepass.ErrAccessDenied)
		}
		var err error
		if code, err = unmarshalCode(proof.Code, v); err != nil {
			return err
		}
		if code.Used >= code.Uses {
			return fmt.Errorf("%w: the access code is used up", queuepass.ErrAccessDenied)
		}
	}

	if needChallenge {
		// Remembered at least as long as asked, and never less than up to
		// the join that spends it.
		until := utc(proof.ChallengeExpires)
		if until.Before(at) {
			until = at
		}
		if err := spendChallenge(m, eb, proof.Challenge, until); err != nil {
			return err
		}
	}
	if needCode {
		code.Used++
		if err := eb.Bucket(bucketCodes).Put([]byte(code.Code), marshalCode(code)); err != nil {
			return err
		}
		m.Codes.Used++
	}
	return nil
}

// spendChallenge remembers challenge as spent until until.
func spendChallenge(m *eventMeta, eb *bbolt.Bucket, challenge string, until time.Time) error {
	sb, err := eb.CreateBucketIfNotExists(bucketSpent)
	if err != nil {
		return err
	}
	ib, err := eb.CreateBucketIfNotExists(bucketSpentTime)
	if err != nil {
		return err
	}
	if err := sb.Put([]byte(challenge), timeKey(until)); err != nil {
		return err
	}
	if err := ib.Put(append(timeKey(until), challenge...), nil); err != nil {
		return err
	}
	if m.SpentDue.IsZero() || until.Before(m.SpentDue) {
		m.SpentDue = until
	}
	return nil
}

// spentDue reports whether some of the event's spent challenges may be
// forgotten at at: those remembered until before at. (One remembered
// until at itself is kept for joins at that instant.)
func (m *eventMeta) spentDue(at time.Time) bool {
	return !m.SpentDue.IsZero() && m.SpentDue.Before(at)
}

// forgetSpent forgets, oldest first, up to forgetBatch of the event's
// spent challenges remembered until before at, and moves m.SpentDue to the
// earliest expiry left (zero: none).
func forgetSpent(m *eventMeta, eb *bbolt.Bucket, at time.Time) error {
	sb, ib := eb.Bucket(bucketSpent), eb.Bucket(bucketSpentTime)
	m.SpentDue = time.Time{}
	if sb == nil || ib == nil {
		return nil
	}
	limit := timeKey(at)
	var keys [][]byte
	c := ib.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(keys) == forgetBatch || bytes.Compare(k[:len(limit)], limit) >= 0 {
			m.SpentDue = keyTime(k)
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := sb.Delete(k[len(limit):]); err != nil {
			return err
		}
		if err := ib.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
