package waitroom

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/queuepass/queuepass"
)

// TickInterval is how often Run does the room's periodic work;
// PaceInterval how often it lets events with an admission rate admit.
const (
	TickInterval = time.Second
	PaceInterval = 250 * time.Millisecond
)

// purgeInterval is how often Run forgets expired Idempotency-Keys.
const purgeInterval = 10 * time.Minute

// Run does the room's periodic work until ctx ends, and then returns:
//   - every TickInterval, scheduled openings and closings happen on time
//     even when nobody asks, and passes that ran out free their place;
//   - every PaceInterval, events with an admission rate admit by
//     themselves (AdmitDue);
//   - every purgeInterval, old Idempotency-Keys are forgotten.
//
// Requests catch up on due transitions by themselves, so the ticks are
// about timeliness, not correctness. Rooms on several nodes may all run:
// the store keeps one pace per event, so the rate holds for the event as a
// whole.
func (r *Room) Run(ctx context.Context) {
	tick := time.NewTicker(TickInterval)
	defer tick.Stop()
	pace := time.NewTicker(PaceInterval)
	defer pace.Stop()
	var purged time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := r.Tick(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("periodic work failed", "err", err)
			}
			if now := r.Now(); now.Sub(purged) >= purgeInterval {
				purged = now
				if err := r.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
					r.log.Warn("purging idempotency keys failed", "err", err)
				}
			}
		case <-pace.C:
			if err := r.AdmitDue(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("automatic admission failed", "err", err)
			}
		}
	}
}

// Tick carries out the due scheduled transitions of every event and expires
// the passes that ran out, at the room's current time. It also notes which
// events admit by themselves, for AdmitDue.
func (r *Room) Tick(ctx context.Context) error {
	var (
		errs  []error
		paced []string
		after string
	)
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
			if ev.State == queuepass.StateOpen && ev.AdmitRatePerMinute > 0 {
				paced = append(paced, ev.ID)
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
	r.mu.Lock()
	r.paced = paced
	r.mu.Unlock()
	return errors.Join(errs...)
}

// AdmitDue lets every open event with an admission rate admit what its
// rate has earned since the last admission step (on any node), within its
// capacity: Store.AdmitPaced keeps the pace, so a burst is never larger
// than one second's worth. It acts on the events the last Tick found; a
// rate, capacity or state change takes effect at the next call, within
// eventCacheTTL.
func (r *Room) AdmitDue(ctx context.Context) error {
	r.mu.RLock()
	ids := slices.Clone(r.paced)
	r.mu.RUnlock()
	var errs []error
	for _, id := range ids {
		ev, err := r.recentEvent(ctx, id)
		if errors.Is(err, queuepass.ErrEventNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ev.State != queuepass.StateOpen || ev.AdmitRatePerMinute <= 0 {
			continue
		}
		adm, err := r.store.AdmitPaced(ctx, id, ev.AdmitRatePerMinute, r.Now())
		switch {
		case errors.Is(err, queuepass.ErrEventNotOpen), errors.Is(err, queuepass.ErrEventNotFound):
		case err != nil:
			errs = append(errs, err)
		case len(adm.Tickets) > 0:
			r.forget(id) // the wait estimates change
		}
	}
	return errors.Join(errs...)
}

// PurgeIdempotencyKeys forgets the Idempotency-Keys older than
// IdempotencyKeyTTL.
func (r *Room) PurgeIdempotencyKeys(ctx context.Context) error {
	return r.store.PurgeIdempotencyKeys(ctx, r.Now().Add(-IdempotencyKeyTTL))
}
