package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/queuepass/queuepass"
)

// purgeBatch is how many idempotency keys one purge script forgets at
// most, so that no script call blocks Redis for long.
const purgeBatch = 1000

// idemRecord is how an IdempotencyRecord is stored (JSON).
type idemRecord struct {
	Fingerprint []byte            `json:"f"`
	CreatedAt   time.Time         `json:"c"`
	Done        bool              `json:"d,omitempty"`
	Status      int               `json:"s,omitempty"`
	Header      map[string]string `json:"h,omitempty"`
	Body        []byte            `json:"b,omitempty"`
}

func marshalIdem(r queuepass.IdempotencyRecord) string {
	b, err := json.Marshal(idemRecord{r.Fingerprint[:], r.CreatedAt.UTC(), r.Done, r.Status, r.Header, r.Body})
	if err != nil {
		panic(fmt.Sprintf("redisstore: marshal idempotency record: %v", err)) // cannot happen: plain types
	}
	return string(b)
}

func unmarshalIdem(key, s string) (queuepass.IdempotencyRecord, error) {
	var r idemRecord
	if err := json.Unmarshal([]byte(s), &r); err != nil || len(r.Fingerprint) != 32 {
		return queuepass.IdempotencyRecord{}, fmt.Errorf("%w: idempotency record %q: %v", errCorrupt, key, err)
	}
	rec := queuepass.IdempotencyRecord{
		CreatedAt: r.CreatedAt, Done: r.Done, Status: r.Status, Header: maps.Clone(r.Header), Body: r.Body,
	}
	copy(rec.Fingerprint[:], r.Fingerprint)
	return rec, nil
}

// ClaimIdempotencyKey claims key in one script call. All idempotency
// records share one hash tag, so on a cluster they live in one slot.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, key string, fingerprint [32]byte, at time.Time) (queuepass.IdempotencyRecord, bool, error) {
	rec := queuepass.IdempotencyRecord{Fingerprint: fingerprint, CreatedAt: at}
	_, reply, err := s.eval(ctx, "claim idempotency key", s.scripts.claim, s.idemKeys(), key, micros(at), marshalIdem(rec))
	if err != nil {
		return queuepass.IdempotencyRecord{}, false, err
	}
	if len(reply) != 1 {
		return queuepass.IdempotencyRecord{}, false, fmt.Errorf("%w: claim reply of %d elements", errCorrupt, len(reply))
	}
	if reply[0].IsInt64() {
		return queuepass.IdempotencyRecord{}, true, nil
	}
	stored, err := reply[0].ToString()
	if err != nil {
		return queuepass.IdempotencyRecord{}, false, fmt.Errorf("%w: claim reply: %w", errCorrupt, err)
	}
	rec, err = unmarshalIdem(key, stored)
	return rec, false, err
}

// FinishIdempotencyKey stores the response for key.
func (s *Store) FinishIdempotencyKey(ctx context.Context, key string, resp queuepass.IdempotencyRecord) error {
	_, _, err := s.eval(ctx, "finish idempotency key", s.scripts.finish, s.idemKeys(), key, micros(resp.CreatedAt), marshalIdem(resp))
	return err
}

// ReleaseIdempotencyKey forgets key.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	_, _, err := s.eval(ctx, "release idempotency key", s.scripts.release, s.idemKeys(), key)
	return err
}

// PurgeIdempotencyKeys forgets keys created before before, in script calls
// of at most purgeBatch keys each.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time) error {
	for {
		_, reply, err := s.eval(ctx, "purge idempotency keys", s.scripts.purge, s.idemKeys(), micros(before), strconv.Itoa(purgeBatch))
		if err != nil {
			return err
		}
		if len(reply) != 1 {
			return fmt.Errorf("%w: purge reply of %d elements", errCorrupt, len(reply))
		}
		n, err := reply[0].AsInt64()
		if err != nil {
			return fmt.Errorf("%w: purge reply: %w", errCorrupt, err)
		}
		if n < purgeBatch {
			return nil
		}
	}
}
