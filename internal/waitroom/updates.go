package waitroom

import (
	"context"
	"time"

	"github.com/queuepass/queuepass"
)

// UpdateInterval is the least time between two updates that Updates sends
// for one ticket: changes that come faster are coalesced into one.
const UpdateInterval = time.Second

// Updates follows a ticket for its holder. It returns a channel that first
// holds the ticket's view now, then receives the view again whenever the
// ticket's status or position changes, on this node or any other sharing
// the store, at most once per UpdateInterval (faster changes are coalesced
// into one update carrying the latest view). Changes of the wait estimate
// alone send nothing.
//
// The channel is closed after a view with a final status (not live: left,
// completed, expired, closed), when ctx ends, when the ticket or its event
// is gone or the store fails, and when the reader is slow: an update is
// never waited on; if the previous one has not been taken yet, the channel
// is closed instead, and the reader should start again.
//
// Updates fails, before returning a channel, with queuepass.ErrTicketNotFound
// or queuepass.ErrEventNotFound, or with the store's error.
func (r *Room) Updates(ctx context.Context, eventID, ticketID string) (<-chan TicketView, error) {
	ctx, cancel := context.WithCancel(ctx)
	changes, err := r.store.Watch(ctx, eventID)
	if err != nil {
		cancel()
		return nil, err
	}
	v, err := r.Ticket(ctx, eventID, ticketID)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan TicketView, 1)
	out <- v
	sentAt := r.Now()
	if !v.Status.Live() {
		cancel()
		close(out)
		return out, nil
	}
	var idle time.Duration
	if ev, err := r.recentEvent(ctx, eventID); err == nil {
		idle = ev.IdleTimeout
	}
	go func() {
		defer cancel()
		defer close(out)
		r.follow(ctx, eventID, ticketID, v, sentAt, idle, changes, out)
	}()
	return out, nil
}

// follow is Updates' loop, after the first view. idle is the event's idle
// timeout when the stream began.
func (r *Room) follow(ctx context.Context, eventID, ticketID string, last TicketView, sentAt time.Time, idle time.Duration, changes <-chan struct{}, out chan<- TicketView) {
	// The timer wakes the loop when a held-back update is due, when an
	// admitted ticket's pass runs out (which no store step announces), and,
	// while the ticket waits in an event with an idle timeout, once per
	// queuepass.SeenGranularity: the read then records that the holder is
	// still there, so an open stream keeps its ticket from abandonment.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	pending := false
	arm := func() {
		d := time.Duration(-1)
		if pending {
			d = max(0, UpdateInterval-r.Now().Sub(sentAt))
		}
		if !last.PassExpiresAt.IsZero() && last.Status.Live() {
			if e := max(0, last.PassExpiresAt.Sub(r.Now())); d < 0 || e < d {
				d = e
			}
		}
		if idle > 0 && (last.Status == queuepass.StatusWaiting || last.Status == queuepass.StatusPrequeue) {
			if g := queuepass.SeenGranularity(idle); d < 0 || g < d {
				d = g
			}
		}
		if d < 0 {
			d = time.Hour
		}
		timer.Reset(d)
	}
	arm()
	for {
		timedOut := false
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
		case <-timer.C:
			timedOut = true
		}
		v, err := r.Ticket(ctx, eventID, ticketID)
		if err != nil {
			return
		}
		if v.Status == last.Status && v.Position == last.Position && !pending {
			arm()
			continue
		}
		// Hold the update back until UpdateInterval has passed since the
		// last, by the room's clock, or (for a clock that tests move by
		// hand) until the timer armed for it has fired.
		if !timedOut && r.Now().Sub(sentAt) < UpdateInterval {
			pending = true
			arm()
			continue
		}
		select {
		case out <- v:
		default:
			return // the reader is slow: drop it
		}
		if !v.Status.Live() {
			return
		}
		last, sentAt, pending = v, r.Now(), false
		arm()
	}
}
