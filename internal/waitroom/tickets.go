package waitroom

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/pass"
)

// TicketView is a ticket as its holder sees it at one moment.
type TicketView struct {
	queuepass.Ticket

	// EstimatedWait is the expected time until admission; nil when there is
	// no basis for an estimate.
	EstimatedWait *time.Duration

	// Pass is the signed admission pass, only while admitted and unexpired.
	Pass string

	// PollAfter is when a polling client should ask again.
	PollAfter time.Duration
}

// Join gives a user a ticket: the live one they hold (created false), or a
// new one (created true). It fails with queuepass.ErrEventClosed or
// queuepass.ErrEventNotFound.
func (r *Room) Join(ctx context.Context, eventID, userID string) (TicketView, bool, error) {
	ev, err := r.recentEvent(ctx, eventID)
	if err != nil {
		return TicketView{}, false, err
	}
	if ev.State == queuepass.StateClosed {
		return TicketView{}, false, queuepass.ErrEventClosed
	}
	now := r.Now()
	t, created, err := r.store.Join(ctx, eventID, userID, now)
	if err == nil && t.Status == queuepass.StatusAdmitted && !now.Before(t.PassExpiresAt) {
		// The user's pass ran out but no step has recorded it yet: record
		// it, and the user joins anew.
		if _, err = r.store.ExpirePasses(ctx, eventID, now); err == nil {
			t, created, err = r.store.Join(ctx, eventID, userID, now)
		}
	}
	if err != nil {
		return TicketView{}, false, err
	}
	v, err := r.view(ev, t)
	return v, created, err
}

// Ticket returns a ticket as its holder sees it now. It fails with
// queuepass.ErrTicketNotFound or queuepass.ErrEventNotFound.
func (r *Room) Ticket(ctx context.Context, eventID, ticketID string) (TicketView, error) {
	ev, err := r.recentEvent(ctx, eventID)
	if err != nil {
		return TicketView{}, err
	}
	t, err := r.store.Ticket(ctx, eventID, ticketID)
	if err != nil {
		return TicketView{}, err
	}
	return r.view(ev, t)
}

// Leave takes a ticket out of the line. Leaving twice is not an error; a
// ticket that is no longer waiting fails with queuepass.ErrTicketNotWaiting.
func (r *Room) Leave(ctx context.Context, eventID, ticketID string) error {
	if _, err := r.recentEvent(ctx, eventID); err != nil {
		return err
	}
	_, err := r.store.Leave(ctx, eventID, ticketID, r.Now())
	return err
}

// Admit admits up to count waiting tickets in line order, within the
// event's capacity. It fails with queuepass.ErrEventNotOpen unless the event
// is open.
func (r *Room) Admit(ctx context.Context, eventID string, count int) (queuepass.Admission, error) {
	ev, err := r.Event(ctx, eventID)
	if err != nil {
		return queuepass.Admission{}, err
	}
	if ev.State != queuepass.StateOpen {
		return queuepass.Admission{}, queuepass.ErrEventNotOpen
	}
	defer r.forget(eventID) // the wait estimates change
	return r.store.Admit(ctx, eventID, count, r.Now())
}

// Complete records that the protected site is done with an admitted user,
// which frees their place at once. Completing twice is not an error; a
// ticket that is not admitted (or whose pass ran out) fails with
// queuepass.ErrTicketNotAdmitted.
func (r *Room) Complete(ctx context.Context, eventID, ticketID string) (TicketView, error) {
	ev, err := r.Event(ctx, eventID)
	if err != nil {
		return TicketView{}, err
	}
	t, err := r.store.Complete(ctx, eventID, ticketID, r.Now())
	if err != nil {
		return TicketView{}, err
	}
	return r.view(ev, t)
}

// view computes what a ticket's holder sees at now.
func (r *Room) view(ev queuepass.Event, t queuepass.Ticket) (TicketView, error) {
	now := r.Now()
	v := TicketView{Ticket: t}
	if t.Status == queuepass.StatusAdmitted && !now.Before(t.PassExpiresAt) {
		// The pass ran out; a store step will record it, but the holder
		// sees it now.
		v.Status = queuepass.StatusExpired
		v.EndedAt = t.PassExpiresAt
	}
	switch v.Status {
	case queuepass.StatusWaiting:
		v.EstimatedWait = estimateWait(ev, t.Position, now)
		v.PollAfter = pollAfter(t.Position)
	case queuepass.StatusPrequeue:
		if !ev.OpensAt.IsZero() {
			d := max(0, ev.OpensAt.Sub(now))
			v.EstimatedWait = &d
			v.PollAfter = min(max(time.Second, d), 30*time.Second)
		} else {
			v.PollAfter = 30 * time.Second
		}
	case queuepass.StatusAdmitted:
		zero := time.Duration(0)
		v.EstimatedWait = &zero
		tok, err := r.keys.Sign(pass.Claims{
			Issuer:    pass.DefaultIssuer,
			UserID:    t.UserID,
			EventID:   t.EventID,
			TicketID:  t.ID,
			IssuedAt:  t.AdmittedAt,
			NotBefore: t.AdmittedAt,
			ExpiresAt: t.PassExpiresAt,
		})
		if err != nil {
			return v, err
		}
		v.Pass = tok
		v.PollAfter = min(30*time.Second, max(time.Second, t.PassExpiresAt.Sub(now)))
	default:
		v.PollAfter = time.Minute
	}
	return v, nil
}

// pollAfter spaces polls out with the distance from the front: those about
// to be admitted ask often, the back of a long line rarely.
func pollAfter(position int) time.Duration {
	switch {
	case position <= 10:
		return 2 * time.Second
	case position <= 100:
		return 5 * time.Second
	case position <= 1000:
		return 10 * time.Second
	}
	return 30 * time.Second
}

// Rate windows for estimates and stats.
const (
	etaWindow      = 5 * time.Minute
	etaMinSpan     = time.Minute
	statsWindow    = 10 * time.Minute
	statsMinWindow = time.Minute
)

// admissionRate is the admissions per second observed within window before
// now, over the time they span (at least minSpan, so that one batch does not
// look like an endless stream). ok is false when nothing was admitted.
func admissionRate(batches []queuepass.AdmissionBatch, now time.Time, window, minSpan time.Duration) (perSecond float64, ok bool) {
	var n int
	oldest := now
	for _, b := range batches {
		if now.Sub(b.At) > window || b.At.After(now) {
			continue
		}
		n += b.Count
		if b.At.Before(oldest) {
			oldest = b.At
		}
	}
	if n == 0 {
		return 0, false
	}
	span := max(now.Sub(oldest), minSpan)
	return float64(n) / span.Seconds(), true
}

// estimateWait is the expected time until a ticket at position is admitted:
// from the admissions observed recently, else from the configured rate;
// nil when there is neither.
func estimateWait(ev queuepass.Event, position int, now time.Time) *time.Duration {
	rate, ok := admissionRate(ev.RecentAdmissions, now, etaWindow, etaMinSpan)
	if !ok && ev.AdmitRatePerMinute > 0 {
		rate, ok = float64(ev.AdmitRatePerMinute)/60, true
	}
	if !ok || rate <= 0 || position <= 0 {
		return nil
	}
	secs := math.Ceil(float64(position) / rate)
	d := time.Duration(min(secs, float64(math.MaxInt32))) * time.Second
	return &d
}

// Stats is what an operator watches during a drop.
type Stats struct {
	Event               queuepass.Event
	Counts              queuepass.Counts
	ActivePasses        int
	AdmittedLastMinute  int
	AdmissionsPerMinute float64 // observed over the last 10 minutes
	LastAdmissionAt     time.Time
}

// Stats expires the passes that ran out and reports the event's counts and
// admission pace.
func (r *Room) Stats(ctx context.Context, eventID string) (Stats, error) {
	if _, err := r.Event(ctx, eventID); err != nil {
		return Stats{}, err
	}
	now := r.Now()
	if _, err := r.store.ExpirePasses(ctx, eventID, now); err != nil {
		return Stats{}, err
	}
	ev, err := r.store.Event(ctx, eventID)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Event: ev, Counts: ev.Counts, ActivePasses: ev.Counts.Admitted}
	for _, b := range ev.RecentAdmissions {
		if now.Sub(b.At) <= time.Minute {
			s.AdmittedLastMinute += b.Count
		}
		if b.At.After(s.LastAdmissionAt) {
			s.LastAdmissionAt = b.At
		}
	}
	window := min(statsWindow, max(statsMinWindow, now.Sub(ev.CreatedAt)))
	if perSecond, ok := admissionRate(ev.RecentAdmissions, now, window, window); ok {
		s.AdmissionsPerMinute = perSecond * 60
	}
	return s, nil
}

// Verification is the answer to "is this pass good for this event now?".
type Verification struct {
	Valid  bool
	Reason string // a pass.Reason, or one of the Reason constants below
	Claims pass.Claims
}

// Reasons that only the server can know, beyond what a pass says itself.
const (
	ReasonCompleted     = "completed"      // the protected site completed the visit
	ReasonUnknownTicket = "unknown_ticket" // the ticket or its event no longer exists
	ReasonExpired       = string(pass.ReasonExpired)
)

// VerifyPass checks a pass for an event at the room's current time: its
// signature and claims, as a protected site would offline, and then the
// ticket itself, so that a completed visit, a ticket whose pass ran out or a
// deleted event make the pass invalid at once. It fails only when the store
// cannot answer.
func (r *Room) VerifyPass(ctx context.Context, token, eventID string) (Verification, error) {
	c, err := r.keys.Verify(token, eventID, r.Now())
	if err != nil {
		reason := string(pass.ReasonMalformed)
		if verr, ok := errors.AsType[*pass.VerifyError](err); ok {
			reason = string(verr.Reason)
		}
		return Verification{Reason: reason}, nil
	}
	t, err := r.Ticket(ctx, eventID, c.TicketID)
	switch {
	case errors.Is(err, queuepass.ErrTicketNotFound), errors.Is(err, queuepass.ErrEventNotFound):
		return Verification{Reason: ReasonUnknownTicket}, nil
	case err != nil:
		return Verification{}, err
	case t.Status == queuepass.StatusCompleted:
		return Verification{Reason: ReasonCompleted}, nil
	case t.Status != queuepass.StatusAdmitted:
		return Verification{Reason: ReasonExpired}, nil
	}
	return Verification{Valid: true, Claims: c}, nil
}

// JWKS returns the public keys that verify passes, as a JSON Web Key Set.
func (r *Room) JWKS() []byte { return r.keys.JWKS() }

// Ping reports whether the store can serve requests.
func (r *Room) Ping(ctx context.Context) error { return r.store.Ping(ctx) }
