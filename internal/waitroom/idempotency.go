package waitroom

import (
	"context"
	"time"

	"github.com/queuepass/queuepass"
)

// StaleClaim is how long a claimed Idempotency-Key may stay unfinished before
// another request may take it over: longer than any request may run, so a
// claim is only stale when its request died with its process.
const StaleClaim = time.Minute

// ClaimIdempotencyKey claims key for a request whose content hashes to
// fingerprint, as queuepass.Store.ClaimIdempotencyKey does, except that an
// unfinished claim older than StaleClaim is taken over.
func (r *Room) ClaimIdempotencyKey(ctx context.Context, key string, fingerprint [32]byte) (queuepass.IdempotencyRecord, bool, error) {
	now := r.Now()
	rec, claimed, err := r.store.ClaimIdempotencyKey(ctx, key, fingerprint, now)
	if err != nil || claimed || rec.Done || now.Sub(rec.CreatedAt) < StaleClaim {
		return rec, claimed, err
	}
	r.log.Warn("taking over a stale idempotency claim", "claimed_at", rec.CreatedAt)
	if err := r.store.ReleaseIdempotencyKey(ctx, key); err != nil {
		return rec, false, err
	}
	return r.store.ClaimIdempotencyKey(ctx, key, fingerprint, now)
}

// FinishIdempotencyKey stores the response to replay for key.
func (r *Room) FinishIdempotencyKey(ctx context.Context, key string, resp queuepass.IdempotencyRecord) error {
	return r.store.FinishIdempotencyKey(ctx, key, resp)
}

// ReleaseIdempotencyKey forgets a claim whose request ended without a
// response worth replaying.
func (r *Room) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	return r.store.ReleaseIdempotencyKey(ctx, key)
}
