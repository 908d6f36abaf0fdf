package waitroom

import (
	"context"
	"errors"
	"time"
)

// TickInterval is how often Run does the room's periodic work.
const TickInterval = time.Second

// Run does the room's periodic work every TickInterval until ctx ends:
// scheduled openings and closings happen on time even when nobody asks,
// passes that ran out free their place, and, every purgeInterval, old
// Idempotency-Keys are forgotten. Requests catch up on due transitions by themselves, so Run is
// about timeliness, not correctness. It returns when ctx is done.
func (r *Room) Run(ctx context.Context) {
	t := time.NewTicker(TickInterval)
	defer t.Stop()
	var purged time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Tick(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("periodic work failed", "err", err)
			}
			if now := r.Now(); now.Sub(purged) >= purgeInterval {
				purged = now
				if err := r.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
					r.log.Warn("purging idempotency keys failed", "err", err)
				}
			}
		}
	}
}

// Tick carries out the due scheduled transitions of every event and expires
// the passes that ran out, at the room's current time.
func (r *Room) Tick(ctx context.Context) error {
	var errs []error
	after := ""
	for {
		events, err := r.store.Events(ctx, after, 200)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, ev := range events {
			ev, err := r.catchUp(ctx, ev)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ev.Counts.Admitted > 0 {
				if _, err := r.store.ExpirePasses(ctx, ev.ID, r.Now()); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if len(events) < 200 {
			break
		}
		after = events[len(events)-1].ID
	}
	return errors.Join(errs...)
}

// purgeInterval is how often Run forgets expired Idempotency-Keys.
const purgeInterval = 10 * time.Minute

// PurgeIdempotencyKeys forgets the Idempotency-Keys older than
// IdempotencyKeyTTL.
func (r *Room) PurgeIdempotencyKeys(ctx context.Context) error {
	return r.store.PurgeIdempotencyKeys(ctx, r.Now().Add(-IdempotencyKeyTTL))
}
