// Package waitroom holds the rules of the waiting room: the event lifecycle,
// scheduled opening and closing, admission bounds, wait estimates, passes,
// and the defences of fairness: the verifiable draw, proof-of-work
// challenges, access codes, rate limits and inventory.
// It decides; a queuepass.Store carries out each decision as one atomic step.
//
// Time comes from an injected clock, so tests move it by hand.
package waitroom

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/pass"
)

// Limits on settings, shared by validation and the API description.
const (
	MinPassTTL     = 30 * time.Second
	MaxPassTTL     = 24 * time.Hour
	DefaultPassTTL = 15 * time.Minute
	MaxIdleTimeout = 24 * time.Hour
	MaxAdmitCount  = 10000
	MaxAdmitRate   = 1_000_000
	MaxMaxActive   = 10_000_000
	MaxInventory   = 1_000_000_000
	MaxQuantity    = 10_000 // per completion

	// IdempotencyKeyTTL is how long Idempotency-Keys are remembered.
	IdempotencyKeyTTL = 25 * time.Hour

	// updateRetries bounds read-modify-write retries against concurrent writers.
	updateRetries = 10
)

// Room applies the waiting room's rules to a store. It is safe for
// concurrent use; several Rooms (on several nodes) may share one store.
type Room struct {
	store  queuepass.Store
	keys   *pass.KeySet
	now    func() time.Time
	log    *slog.Logger
	limits Limits

	mu     sync.RWMutex
	recent map[string]cachedEvent // see recentEvent
	paced  []string               // IDs of events that admit by themselves, as of the last Tick

	draws drawCache // see Draw

	catchingUp sync.Map // event ID → *transition in flight; see catchUp
}

// transition is one catchUp of an event in flight; the calls that find it
// wait for its result instead of making the same transition again.
type transition struct {
	done chan struct{}
	ev   queuepass.Event
	err  error
}

// cachedEvent is an event as read at one moment.
type cachedEvent struct {
	ev queuepass.Event
	at time.Time
}

// eventCacheTTL is how old an event read may be when a fan's call (join,
// poll, leave) uses it. Those calls only need the event for what the store
// checks again atomically (is it closed?) and for the wait estimate, so a
// second's staleness changes nothing that matters, and a poll costs the
// store one read instead of two.
const eventCacheTTL = time.Second

// Config holds a Room's dependencies. Store and Keys are required.
type Config struct {
	Store  queuepass.Store
	Keys   *pass.KeySet     // signs and verifies passes
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard
	Limits Limits           // rate limits per client (Allow); nil: none
}

// New returns a Room.
func New(cfg Config) *Room {
	r := &Room{store: cfg.Store, keys: cfg.Keys, now: cfg.Now, log: cfg.Logger, limits: cfg.Limits, recent: map[string]cachedEvent{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Now returns the room's current time, in UTC.
func (r *Room) Now() time.Time { return r.now().UTC() }

// EventSpec is what an admin chooses when creating an event. Zero values
// mean the defaults: a generated ID, no schedule, manual admission,
// unlimited capacity, DefaultPassTTL, no proof of work, public access, no
// inventory.
type EventSpec struct {
	ID                  string
	Name                string
	OpensAt             time.Time
	ClosesAt            time.Time
	AdmitRatePerMinute  int
	MaxActive           int
	PassTTL             time.Duration
	IdleTimeout         time.Duration // 0: tickets are never abandoned
	ChallengeDifficulty int
	Access              queuepass.Access
	Inventory           int
}

// CreateEvent creates an event: scheduled when OpensAt is in the future,
// else open. It fails with a *queuepass.ValidationError for settings that
// contradict the clock, or with queuepass.ErrEventExists.
func (r *Room) CreateEvent(ctx context.Context, spec EventSpec) (queuepass.Event, error) {
	now := r.Now()
	var verr queuepass.ValidationError
	if !spec.ClosesAt.IsZero() {
		if !spec.ClosesAt.After(now) {
			verr.Add("closes_at", "must be in the future")
		} else if !spec.OpensAt.IsZero() && !spec.ClosesAt.After(spec.OpensAt) {
			verr.Add("closes_at", "must be after opens_at")
		}
	}
	if err := verr.Err(); err != nil {
		return queuepass.Event{}, err
	}
	ev := queuepass.Event{
		ID:                 spec.ID,
		Name:               spec.Name,
		State:              queuepass.StateOpen,
		OpensAt:            spec.OpensAt,
		ClosesAt:           spec.ClosesAt,
		AdmitRatePerMinute: spec.AdmitRatePerMinute,
		MaxActive:          spec.MaxActive,
		PassTTL:            spec.PassTTL,
		IdleTimeout:        spec.IdleTimeout,
		CreatedAt:          now,

		ChallengeDifficulty: spec.ChallengeDifficulty,
		Access:              spec.Access,
		Inventory:           spec.Inventory,
	}
	if ev.Access == "" {
		ev.Access = queuepass.AccessPublic
	}
	if ev.ID == "" {
		ev.ID = NewEventID()
	}
	if ev.PassTTL == 0 {
		ev.PassTTL = DefaultPassTTL
	}
	if ev.OpensAt.After(now) {
		ev.State = queuepass.StateScheduled
	}
	rand.Read(ev.DrawSeed[:])
	return r.store.CreateEvent(ctx, ev)
}

// NewEventID returns a random event ID that matches the API's pattern.
func NewEventID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 16)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ev-" + string(b)
}

// Event returns an event, first carrying out a scheduled opening or closing
// that is due. It fails with queuepass.ErrEventNotFound.
func (r *Room) Event(ctx context.Context, id string) (queuepass.Event, error) {
	ev, err := r.store.Event(ctx, id)
	if err != nil {
		return ev, err
	}
	return r.catchUp(ctx, ev)
}

// recentEvent is Event for the calls of fans: it may answer with a read up
// to eventCacheTTL old, unless a scheduled transition has come due since.
func (r *Room) recentEvent(ctx context.Context, id string) (queuepass.Event, error) {
	now := r.Now()
	r.mu.RLock()
	c, ok := r.recent[id]
	r.mu.RUnlock()
	if ok && !now.Before(c.at) && now.Sub(c.at) < eventCacheTTL {
		if _, _, due := dueState(c.ev, now); !due {
			return c.ev, nil
		}
	}
	ev, err := r.Event(ctx, id)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		delete(r.recent, id)
		return ev, err
	}
	r.recent[id] = cachedEvent{ev: ev, at: now}
	return ev, nil
}

// forget drops the cached read of an event that this room just changed.
func (r *Room) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.recent, id)
}

// catchUp carries out the transitions that ev's schedule makes due by now.
// The calls of one room that find the same event due at once share one
// attempt: at an opening every fan's request finds the event due, and each
// would otherwise read and draw the whole pre-queue.
func (r *Room) catchUp(ctx context.Context, ev queuepass.Event) (queuepass.Event, error) {
	if _, _, due := dueState(ev, r.Now()); !due {
		return ev, nil
	}
	t := &transition{done: make(chan struct{})}
	if inFlight, loaded := r.catchingUp.LoadOrStore(ev.ID, t); loaded {
		t = inFlight.(*transition)
		select {
		case <-t.done:
			return t.ev, t.err
		case <-ctx.Done():
			return ev, ctx.Err()
		}
	}
	t.ev, t.err = r.applyDue(ctx, ev)
	r.catchingUp.Delete(ev.ID)
	close(t.done)
	return t.ev, t.err
}

// applyDue is catchUp's one attempt.
func (r *Room) applyDue(ctx context.Context, ev queuepass.Event) (queuepass.Event, error) {
	for range updateRetries {
		next, reason, due := dueState(ev, r.Now())
		if !due {
			return ev, nil
		}
		changed := ev
		changed.State, changed.StateReason = next, reason
		updated, err := r.store.UpdateEvent(ctx, changed, r.Now())
		if errors.Is(err, queuepass.ErrConflict) {
			if ev, err = r.store.Event(ctx, ev.ID); err != nil {
				return ev, err
			}
			continue
		}
		if err != nil {
			return ev, err
		}
		r.log.Info("event changed state by itself", "event", ev.ID, "from", ev.State, "to", next, "reason", reason)
		ev = updated
	}
	return ev, fmt.Errorf("event %s: scheduled transition: %w", ev.ID, queuepass.ErrConflict)
}

// dueState returns the state that ev calls for by itself at now, if that
// differs from its state, and the reason to give: closed when its
// inventory is sold out (reason sold out) or at closes_at, open at
// opens_at.
func dueState(ev queuepass.Event, now time.Time) (queuepass.EventState, queuepass.StatusReason, bool) {
	if remaining, ok := ev.Remaining(); ok && remaining == 0 && ev.State != queuepass.StateClosed {
		return queuepass.StateClosed, queuepass.ReasonSoldOut, true
	}
	switch {
	case ev.State == queuepass.StateClosed:
		return ev.State, ev.StateReason, false
	case !ev.ClosesAt.IsZero() && !now.Before(ev.ClosesAt):
		return queuepass.StateClosed, "", true
	case ev.State == queuepass.StateScheduled && !ev.OpensAt.IsZero() && !now.Before(ev.OpensAt):
		return queuepass.StateOpen, "", true
	}
	return ev.State, ev.StateReason, false
}

// Events lists events in creation order, limit at a time. The cursor is
// the last event's ID of the previous page ("" for the first page); next is
// "" on the last page.
func (r *Room) Events(ctx context.Context, cursor string, limit int) (events []queuepass.Event, next string, err error) {
	events, err = r.store.Events(ctx, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(events) > limit {
		events = events[:limit]
		next = events[limit-1].ID
	}
	for i := range events {
		if events[i], err = r.catchUp(ctx, events[i]); err != nil {
			return nil, "", err
		}
	}
	return events, next, nil
}

// EventPatch is a partial update of an event's settings: nil fields stay as
// they are. For OpensAt and ClosesAt, a non-nil pointer to the zero time
// clears the setting.
type EventPatch struct {
	Name               *string
	State              *queuepass.EventState
	OpensAt            *time.Time
	ClosesAt           *time.Time
	AdmitRatePerMinute *int
	MaxActive          *int
	PassTTL            *time.Duration
	IdleTimeout        *time.Duration

	ChallengeDifficulty *int
	Access              *queuepass.Access
	Inventory           *int // 0 clears it
}

// UpdateEvent applies a patch. A state change must follow the lifecycle
// (scheduled → open, open ⇄ paused, any but closed → closed; staying in the
// same state is allowed), else it fails with queuepass.ErrInvalidTransition.
// A closed event cannot change at all. Schedule changes that contradict the
// clock fail with a *queuepass.ValidationError.
func (r *Room) UpdateEvent(ctx context.Context, id string, p EventPatch) (queuepass.Event, error) {
	defer r.forget(id)
	for range updateRetries {
		ev, err := r.Event(ctx, id)
		if err != nil {
			return ev, err
		}
		changed, err := applyPatch(ev, p, r.Now())
		if err != nil {
			return ev, err
		}
		if sameSettings(changed, ev) {
			return ev, nil
		}
		updated, err := r.store.UpdateEvent(ctx, changed, r.Now())
		if errors.Is(err, queuepass.ErrConflict) {
			continue
		}
		if err != nil {
			return ev, err
		}
		if updated.State != ev.State {
			r.log.Info("event changed state", "event", id, "from", ev.State, "to", updated.State)
		}
		// Settings may have made a transition due (closes_at in the past is
		// refused, but opens_at may have been moved to now, or the
		// inventory lowered to what is sold).
		return r.catchUp(ctx, updated)
	}
	return queuepass.Event{}, fmt.Errorf("update event %s: %w", id, queuepass.ErrConflict)
}

func applyPatch(ev queuepass.Event, p EventPatch, now time.Time) (queuepass.Event, error) {
	if ev.State == queuepass.StateClosed {
		if (p == EventPatch{State: p.State}) && (p.State == nil || *p.State == queuepass.StateClosed) {
			return ev, nil // closing again changes nothing
		}
		return ev, fmt.Errorf("event %s is closed and can no longer change: %w", ev.ID, queuepass.ErrInvalidTransition)
	}
	var verr queuepass.ValidationError
	if p.Name != nil {
		ev.Name = *p.Name
	}
	if p.AdmitRatePerMinute != nil {
		ev.AdmitRatePerMinute = *p.AdmitRatePerMinute
	}
	if p.MaxActive != nil {
		ev.MaxActive = *p.MaxActive
	}
	if p.PassTTL != nil {
		ev.PassTTL = *p.PassTTL
	}
	if p.IdleTimeout != nil {
		ev.IdleTimeout = *p.IdleTimeout
	}
	if p.ChallengeDifficulty != nil {
		ev.ChallengeDifficulty = *p.ChallengeDifficulty
	}
	if p.Access != nil {
		ev.Access = *p.Access
	}
	if p.Inventory != nil {
		ev.Inventory = *p.Inventory
	}
	if p.OpensAt != nil && !p.OpensAt.Equal(ev.OpensAt) {
		switch {
		case ev.State != queuepass.StateScheduled:
			verr.Add("opens_at", "can only change while the event is scheduled")
		case !p.OpensAt.IsZero() && !p.OpensAt.After(now):
			verr.Add("opens_at", "must be in the future; set state to open to open now")
		default:
			ev.OpensAt = *p.OpensAt
		}
	}
	if p.ClosesAt != nil && !p.ClosesAt.Equal(ev.ClosesAt) {
		switch {
		case !p.ClosesAt.IsZero() && !p.ClosesAt.After(now):
			verr.Add("closes_at", "must be in the future; set state to closed to close now")
		default:
			ev.ClosesAt = *p.ClosesAt
		}
	}
	if !ev.ClosesAt.IsZero() && !ev.OpensAt.IsZero() && ev.State == queuepass.StateScheduled && !ev.ClosesAt.After(ev.OpensAt) {
		verr.Add("closes_at", "must be after opens_at")
	}
	if err := verr.Err(); err != nil {
		return ev, err
	}
	if p.State != nil && *p.State != ev.State {
		if !allowed(ev.State, *p.State) {
			return ev, fmt.Errorf("event %s cannot go from %s to %s: %w", ev.ID, ev.State, *p.State, queuepass.ErrInvalidTransition)
		}
		ev.State = *p.State
		ev.StateReason = "" // an admin's closing gives no reason
	}
	return ev, nil
}

// sameSettings reports whether a and b have the same admin-chosen settings.
func sameSettings(a, b queuepass.Event) bool {
	return a.Name == b.Name && a.State == b.State && a.OpensAt.Equal(b.OpensAt) &&
		a.ClosesAt.Equal(b.ClosesAt) && a.AdmitRatePerMinute == b.AdmitRatePerMinute &&
		a.MaxActive == b.MaxActive && a.PassTTL == b.PassTTL && a.IdleTimeout == b.IdleTimeout &&
		a.ChallengeDifficulty == b.ChallengeDifficulty && a.Access == b.Access && a.Inventory == b.Inventory
}

// allowed reports whether the lifecycle permits from → to.
func allowed(from, to queuepass.EventState) bool {
	switch {
	case from == queuepass.StateClosed:
		return false
	case to == queuepass.StateClosed:
		return true
	case from == queuepass.StateScheduled:
		return to == queuepass.StateOpen
	case from == queuepass.StateOpen:
		return to == queuepass.StatePaused
	case from == queuepass.StatePaused:
		return to == queuepass.StateOpen
	}
	return false
}

// DeleteEvent removes an event and all its tickets.
func (r *Room) DeleteEvent(ctx context.Context, id string) error {
	defer r.forget(id)
	defer r.draws.forget(id)
	return r.store.DeleteEvent(ctx, id)
}
