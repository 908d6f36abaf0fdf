package waitroom

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/pass"
)

// TicketView is a ticket as its holder sees it at one moment.
type TicketView struct {
	queuepass.Ticket

	// EstimatedWait is the expected time until admission (see
	// estimateWait); nil when there is no basis for an estimate. For a
	// ticket in the pre-queue it is the time until the event opens.
	EstimatedWait *time.Duration

	// WaitRange is the range the wait is expected to fall in, with
	// Low <= *EstimatedWait <= High; nil exactly when EstimatedWait is.
	WaitRange *WaitRange

	// Pass is the signed admission pass, only while admitted and unexpired.
	Pass string

	// PollAfter is when a polling client should ask again.
	PollAfter time.Duration

	// LikelySoldOut says, of a waiting ticket in an event with an
	// inventory, that what is left would be gone before its turn even if
	// everyone admitted or ahead of it took a single unit: its position is
	// beyond the remaining inventory less the passes being used.
	LikelySoldOut bool
}

// JoinOffer is what a join brings for the event's requirements, as the
// client sent it: a solved challenge and its nonce (NewChallenge), and an
// access code. Nothing of it is needed, checked or spent when the user
// already holds a live ticket.
type JoinOffer struct {
	Challenge  string
	Nonce      string
	AccessCode string // as typed; normalized with NormalizeCode
}

// Join gives a user a ticket: the live one they hold (created false), or a
// new one (created true), which must meet the event's requirements with
// offer. It fails with queuepass.ErrEventClosed or
// queuepass.ErrEventNotFound; for a new ticket, with
// queuepass.ErrChallengeRequired (no challenge offered),
// queuepass.ErrChallengeFailed (the challenge offered is wrong, expired,
// unsolved or spent) or queuepass.ErrAccessDenied (no access code with a
// use left).
func (r *Room) Join(ctx context.Context, eventID, userID string, offer JoinOffer) (TicketView, bool, error) {
	ev, err := r.recentEvent(ctx, eventID)
	if err != nil {
		return TicketView{}, false, err
	}
	if ev.State == queuepass.StateClosed {
		return TicketView{}, false, queuepass.ErrEventClosed
	}
	now := r.Now()
	// The proof is checked here and spent by the store, which decides
	// whether it is needed at all (not for a live ticket). A bad challenge
	// is not offered; should the store then want one, the join failed for
	// what was wrong with it, not for the lack of one.
	var proof queuepass.JoinProof
	var badChallenge error
	if offer.Challenge != "" || offer.Nonce != "" {
		proof, badChallenge = r.checkChallenge(ev, offer.Challenge, offer.Nonce, now)
	}
	if offer.AccessCode != "" {
		proof.Code, _ = NormalizeCode(offer.AccessCode)
	}
	join := func() (queuepass.Ticket, bool, error) {
		t, created, err := r.store.Join(ctx, eventID, userID, proof, now)
		if badChallenge != nil && errors.Is(err, queuepass.ErrChallengeRequired) {
			err = badChallenge
		}
		return t, created, err
	}
	t, created, err := join()
	if err == nil && t.Status == queuepass.StatusAdmitted && !now.Before(t.PassExpiresAt) {
		// The user's pass ran out but no step has recorded it yet: record
		// it, and the user joins anew.
		if _, err = r.store.ExpirePasses(ctx, eventID, now); err == nil {
			t, created, err = join()
		}
	}
	if err == nil {
		t, err = r.seen(ctx, ev, t, now)
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
	if err == nil {
		t, err = r.seen(ctx, ev, t, r.Now())
	}
	if err != nil {
		return TicketView{}, err
	}
	return r.view(ev, t)
}

// seen records that t's holder read it at now, for the event's idle
// timeout (queuepass.Ticket.Abandoned), and returns t as recorded.
//
// Reads stay cheap: the store's Ticket and Join already return LastSeen,
// so the decision costs nothing, and a write (Store.Touch) happens only
// when the recorded time is queuepass.SeenGranularity old: a quarter of
// the timeout, at least 5 s. A holder who polls or streams is therefore
// at most that stale in the store, well within the timeout, and each
// waiting ticket costs at most one small write per granularity, however
// often it is read. Events without an idle timeout never write.
func (r *Room) seen(ctx context.Context, ev queuepass.Event, t queuepass.Ticket, now time.Time) (queuepass.Ticket, error) {
	if !t.NeedsTouch(ev.IdleTimeout, now) {
		return t, nil
	}
	if err := r.store.Touch(ctx, ev.ID, t.ID, now); err != nil {
		return t, err
	}
	t.LastSeen = now
	return t, nil
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
// which frees their place at once, and that they took quantity units of
// the event's inventory. Once the inventory is sold out the event closes
// at once, with reason sold out on every ticket still waiting. Completing
// twice is not an error (and sells nothing more); a ticket that is not
// admitted (or whose pass ran out) fails with
// queuepass.ErrTicketNotAdmitted.
func (r *Room) Complete(ctx context.Context, eventID, ticketID string, quantity int) (TicketView, error) {
	if _, err := r.Event(ctx, eventID); err != nil {
		return TicketView{}, err
	}
	defer r.forget(eventID)
	t, err := r.store.Complete(ctx, eventID, ticketID, max(quantity, 1), r.Now())
	if err != nil {
		return TicketView{}, err
	}
	ev, err := r.Event(ctx, eventID) // closes the event if it sold out
	if err != nil {
		return TicketView{}, err
	}
	return r.view(ev, t)
}

// Revoke ends an admitted user's pass at once, freeing their place: the
// ticket becomes expired with reason revoked, and VerifyPass refuses the
// pass with ReasonRevoked from then on. Revoking twice is not an error; a
// ticket that is not admitted (or whose pass ran out) fails with
// queuepass.ErrTicketNotAdmitted.
func (r *Room) Revoke(ctx context.Context, eventID, ticketID string) (TicketView, error) {
	ev, err := r.Event(ctx, eventID)
	if err != nil {
		return TicketView{}, err
	}
	t, err := r.store.Revoke(ctx, eventID, ticketID, r.Now())
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
		v.EstimatedWait, v.WaitRange = estimateWait(ev, t.Position, now)
		v.PollAfter = pollAfter(t.Position)
		if remaining, ok := ev.Remaining(); ok {
			v.LikelySoldOut = t.Position > remaining-ev.Counts.Admitted
		}
	case queuepass.StatusPrequeue:
		if !ev.OpensAt.IsZero() {
			d := max(0, ev.OpensAt.Sub(now))
			v.EstimatedWait, v.WaitRange = &d, &WaitRange{Low: d, High: d}
			v.PollAfter = min(max(time.Second, d), 30*time.Second)
		} else {
			v.PollAfter = 30 * time.Second
		}
	case queuepass.StatusAdmitted:
		zero := time.Duration(0)
		v.EstimatedWait, v.WaitRange = &zero, &WaitRange{}
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

// Rate windows for stats.
const (
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

// WaitRange is the range in which a wait estimate is expected to fall.
type WaitRange struct {
	Low, High time.Duration
}

// Settings of the wait estimate; see estimateWait.
const (
	etaWindow      = 5 * time.Minute // observations older than this (before the latest) are not used
	etaStale       = 5 * time.Minute // observations with no admission for this long are no basis
	etaMinSpan     = time.Minute     // the least time a set of observed batches stands for
	etaPacedSpread = 0.10            // relative half-width of the range for a configured pace
	etaSeenSpread  = 0.25            // relative half-width of the range for an observed rate
)

// observedPace is the admission throughput seen in an event's recent
// batches.
type observedPace struct {
	perSecond float64       // tickets admitted per second
	gap       time.Duration // the mean time between two admission steps
	last      time.Time     // the latest admission step
}

// observe measures the admission throughput from the batches at or before
// now that lie within etaWindow of the latest one. Each of the k batches
// stands for the interval since the one before it, and the first for the
// mean interval, so k batches over the span S from the first to the last
// stand for S·k/(k-1), at least etaMinSpan: a steady pace of b tickets
// every g is measured as exactly b/g, and a single batch as its count over
// etaMinSpan rather than as an endless stream. Anchoring the window at the
// latest batch rather than at now makes the measurement a function of the
// batches alone: it changes only when an admission does. ok is false when
// there is no batch, or the latest is older than etaStale; p.last is set
// even then.
func observe(batches []queuepass.AdmissionBatch, now time.Time) (p observedPace, ok bool) {
	for _, b := range batches {
		if !b.At.After(now) && b.At.After(p.last) && b.Count > 0 {
			p.last = b.At
		}
	}
	if p.last.IsZero() || now.Sub(p.last) > etaStale {
		return p, false
	}
	var n, k int
	first := p.last
	for _, b := range batches {
		if b.At.After(p.last) || p.last.Sub(b.At) > etaWindow || b.Count <= 0 {
			continue
		}
		n += b.Count
		k++
		if b.At.Before(first) {
			first = b.At
		}
	}
	span := etaMinSpan
	if k > 1 {
		span = max(span, time.Duration(float64(p.last.Sub(first))*float64(k)/float64(k-1)))
	}
	p.perSecond = float64(n) / span.Seconds()
	p.gap = span / time.Duration(k)
	return p, true
}

// estimateWait is the expected time until a ticket at position is admitted,
// and the range it is expected to fall in; nil when there is no basis.
//
// The method. The wait is position/rate, less the part of the current
// admission interval that has already passed, where the rate is
//
//   - the configured admit_rate_per_minute, when it is set and the event is
//     not at capacity (max_active reached): automatic admission keeps that
//     pace exactly, so it is the strongest basis. The interval is one
//     ticket's worth of time (1/rate). Range: ±etaPacedSpread (tickets ahead
//     may leave; the pace works in steps of PaceInterval, added to high).
//   - else the throughput observed in the recent admission batches (see
//     observe): manual admissions, or capacity-bound throughput, which is
//     what freed places allow and not the configured rate (when both exist
//     the lower rate is used). The interval is the mean time between the
//     observed admission steps. Range: ±etaSeenSpread, and high also allows
//     for one more interval, since admissions come in steps.
//
// There is no basis, and the result is nil, when nothing was admitted within
// etaStale and no configured pace applies, or when position is not positive.
// A paused event is estimated as if it resumed now.
//
// The estimate never rises while nothing changes: the rate and interval
// depend only on the event's settings and batches (not on now), and the
// time passed within the interval only grows (capped at the interval), so
// for the same event and position, estimateWait(t2) <= estimateWait(t1)
// for every t2 >= t1, and likewise for the range. It is never negative, and
// Low <= estimate <= High.
func estimateWait(ev queuepass.Event, position int, now time.Time) (*time.Duration, *WaitRange) {
	if position <= 0 {
		return nil, nil
	}
	seen, seenOK := observe(ev.RecentAdmissions, now)
	paced := ev.AdmitRatePerMinute > 0 && ev.State != queuepass.StateClosed
	atCapacity := ev.MaxActive > 0 && ev.Counts.Admitted >= ev.MaxActive
	var (
		rate     float64       // tickets per second
		interval time.Duration // the time between admission steps
		spread   float64
		step     time.Duration // added to High for the granularity of admissions
	)
	switch {
	case paced && !atCapacity:
		rate = float64(ev.AdmitRatePerMinute) / 60
		interval = time.Duration(float64(time.Second) / rate)
		spread, step = etaPacedSpread, PaceInterval
	case seenOK:
		rate = seen.perSecond
		if paced {
			rate = min(rate, float64(ev.AdmitRatePerMinute)/60)
		}
		interval, spread, step = seen.gap, etaSeenSpread, seen.gap
	default:
		return nil, nil
	}
	var passed time.Duration
	if !seen.last.IsZero() {
		passed = min(max(0, now.Sub(seen.last)), interval)
	}
	const maxWait = float64(math.MaxInt32) * float64(time.Second)
	est := max(0, min(float64(position)/rate*float64(time.Second), maxWait)-float64(passed))
	d := time.Duration(est)
	return &d, &WaitRange{
		Low:  time.Duration(est * (1 - spread)),
		High: time.Duration(min(est*(1+spread)+float64(step), maxWait)),
	}
}

// Stats is what an operator watches during a drop. Inventory, sales and
// access codes are in Event (Inventory, Sold, Remaining, Codes).
type Stats struct {
	Event                 queuepass.Event
	Counts                queuepass.Counts
	ActivePasses          int
	AdmittedLastMinute    int
	AdmittedLast10Minutes int
	Abandoned             int     // tickets that ended abandoned (Event.Abandoned)
	AdmissionsPerMinute   float64 // observed over the last 10 minutes
	LastAdmissionAt       time.Time

	// MedianWait is the median wait (AdmittedAt - JoinedAt) of the tickets
	// admitted in the last 10 minutes, nil if none were. It is combined
	// from each batch's MedianWait, weighted by the batch's size: exact for
	// one batch, and close for many similar ones.
	MedianWait *time.Duration
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
	s := Stats{Event: ev, Counts: ev.Counts, ActivePasses: ev.Counts.Admitted, Abandoned: ev.Abandoned}
	var recent []queuepass.AdmissionBatch
	for _, b := range ev.RecentAdmissions {
		if now.Sub(b.At) <= time.Minute {
			s.AdmittedLastMinute += b.Count
		}
		if now.Sub(b.At) <= statsWindow {
			s.AdmittedLast10Minutes += b.Count
			recent = append(recent, b)
		}
		if b.At.After(s.LastAdmissionAt) {
			s.LastAdmissionAt = b.At
		}
	}
	if m, ok := medianOfBatches(recent); ok {
		s.MedianWait = &m
	}
	window := min(statsWindow, max(statsMinWindow, now.Sub(ev.CreatedAt)))
	if perSecond, ok := admissionRate(ev.RecentAdmissions, now, window, window); ok {
		s.AdmissionsPerMinute = perSecond * 60
	}
	return s, nil
}

// medianOfBatches returns the weighted median of the batches' MedianWaits,
// each counted Count times (the lower middle for an even total), or false
// if the batches admitted no one. It sorts batches in place.
func medianOfBatches(batches []queuepass.AdmissionBatch) (time.Duration, bool) {
	total := 0
	for _, b := range batches {
		total += b.Count
	}
	if total == 0 {
		return 0, false
	}
	slices.SortFunc(batches, func(a, b queuepass.AdmissionBatch) int { return cmp.Compare(a.MedianWait, b.MedianWait) })
	mid, seen := (total-1)/2, 0
	for _, b := range batches {
		if seen += b.Count; seen > mid {
			return b.MedianWait, true
		}
	}
	return batches[len(batches)-1].MedianWait, true
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
	ReasonRevoked       = "revoked"        // an admin revoked the pass
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
	case t.StatusReason == queuepass.ReasonRevoked:
		return Verification{Reason: ReasonRevoked}, nil
	case t.Status != queuepass.StatusAdmitted:
		return Verification{Reason: ReasonExpired}, nil
	}
	return Verification{Valid: true, Claims: c}, nil
}

// JWKS returns the public keys that verify passes, as a JSON Web Key Set.
func (r *Room) JWKS() []byte { return r.keys.JWKS() }

// Ping reports whether the store can serve requests.
func (r *Room) Ping(ctx context.Context) error { return r.store.Ping(ctx) }
