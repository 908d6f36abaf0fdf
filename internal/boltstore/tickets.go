package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/queuepass/queuepass"
)

// Join returns the user's live ticket in the event with created false, or
// makes a new one that meets the event's requirements with proof (see
// queuepass.Store). A repeat join of a live ticket is answered from
// committed state without a write. It fails with ErrEventClosed or
// ErrEventNotFound, or for want of proof with ErrChallengeRequired,
// ErrChallengeFailed (also for a challenge longer than 64 bytes) or
// ErrAccessDenied. A join in an event without requirements looks at no
// proof and costs no more than before proof existed.
func (s *Store) Join(ctx context.Context, eventID, userID string, proof queuepass.JoinProof, at time.Time) (queuepass.Ticket, bool, error) {
	var (
		t     queuepass.Ticket
		found bool
	)
	if s.knownUser(eventID, userID) {
		if err := s.read(ctx, func(tx *bbolt.Tx) error {
			em, err := s.event(eventID)
			if err != nil {
				return err
			}
			if em.meta.State == queuepass.StateClosed {
				return fmt.Errorf("boltstore: %w: %q", queuepass.ErrEventClosed, eventID)
			}
			n := em.users[userID]
			if n == 0 {
				return nil
			}
			r, err := getTicket(eventBucket(tx, eventID).Bucket(bucketTickets), n)
			if err != nil {
				return err
			}
			t, found = em.ticket(n, &r), true
			return nil
		}); err != nil || found {
			return t, false, err
		}
	}
	// The writer checks again, and checks the event.
	var created bool
	if err := s.submit(ctx, s.join(eventID, userID, proof, utc(at), &t, &created)); err != nil {
		return queuepass.Ticket{}, false, err
	}
	return t, created, nil
}

// knownUser reports whether the user held a live ticket in the event as of
// the last commit: only then can a join be answered without the writer.
func (s *Store) knownUser(eventID, userID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	em := s.events[eventID]
	return em != nil && em.users[userID] != 0
}

// join returns the op that makes the user's ticket, spending proof, or
// finds the live one made since the caller last looked, and stores it in
// *t.
func (s *Store) join(eventID, userID string, proof queuepass.JoinProof, at time.Time, t *queuepass.Ticket, created *bool) func(b *batch) error {
	return func(b *batch) error {
		m, err := b.event(eventID)
		if err != nil {
			return err
		}
		if m.State == queuepass.StateClosed {
			return fmt.Errorf("%w: %q", queuepass.ErrEventClosed, eventID)
		}
		eb := b.bucket(eventID)
		tb := eb.Bucket(bucketTickets)
		if n := b.live(eventID, userID); n != 0 {
			r, err := getTicket(tb, n)
			if err != nil {
				return err
			}
			b.setTicket(t, m, n, &r)
			*created = false
			return nil
		}
		if err := spendProof(m, eb, proof, at); err != nil {
			return err
		}
		if m.spentDue(at) {
			if err := forgetSpent(m, eb, at); err != nil {
				return err
			}
		}
		m.LastNumber++
		n := m.LastNumber
		r := ticketRec{status: queuepass.StatusPrequeue, secret: queuepass.NewTicketSecret(), userID: userID, joined: at}
		if m.State == queuepass.StateScheduled {
			if err := eb.Bucket(bucketPrequeue).Put(u64(n), nil); err != nil {
				return err
			}
			m.Counts.Prequeue++
		} else {
			m.LastSlot++
			r.status, r.slot = queuepass.StatusWaiting, m.LastSlot
			lb := eb.Bucket(bucketLine)
			lb.FillPercent = appendFill
			if err := lb.Put(u64(r.slot), u64(n)); err != nil {
				return err
			}
			m.Counts.Waiting++
			slot := r.slot
			b.after(func() {
				if em := s.events[eventID]; em != nil {
					em.line.add(slot)
				}
			})
		}
		tb.FillPercent = appendFill
		if err := tb.Put(u64(n), r.marshal()); err != nil {
			return err
		}
		b.touch(eventID)
		b.setLive(eventID, userID, n)
		b.setTicket(t, m, n, &r)
		*created = true
		return nil
	}
}

// Ticket returns a ticket with its current Position, or ErrTicketNotFound
// (also for a malformed ID or one of another event), or ErrEventNotFound.
func (s *Store) Ticket(ctx context.Context, eventID, ticketID string) (queuepass.Ticket, error) {
	var t queuepass.Ticket
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		em, err := s.event(eventID)
		if err != nil {
			return err
		}
		n, r, err := findTicket(eventBucket(tx, eventID).Bucket(bucketTickets), ticketID)
		if err != nil {
			return err
		}
		t = em.ticket(n, &r)
		return nil
	})
	return t, err
}

// Leave makes a prequeue or waiting ticket left and returns it; a left
// ticket comes back unchanged. Other statuses fail with
// ErrTicketNotWaiting.
func (s *Store) Leave(ctx context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	at = utc(at)
	var t queuepass.Ticket
	err := s.submit(ctx, func(b *batch) error {
		op, err := b.findTicket(eventID, ticketID)
		if err != nil {
			return err
		}
		m, eb, tb, n, r := op.m, op.eb, op.tb, op.n, op.r
		switch status := liveStatus(m, n, r.status); status {
		case queuepass.StatusLeft:
			b.setTicket(&t, m, n, &r)
			return nil
		case queuepass.StatusPrequeue:
			if err := eb.Bucket(bucketPrequeue).Delete(u64(n)); err != nil {
				return err
			}
			m.Counts.Prequeue--
		case queuepass.StatusWaiting:
			if err := eb.Bucket(bucketLine).Delete(u64(r.slot)); err != nil {
				return err
			}
			m.Counts.Waiting--
			slot := r.slot
			b.after(func() {
				if em := s.events[eventID]; em != nil {
					em.line.remove(slot)
				}
			})
		default:
			return fmt.Errorf("%w: ticket is %s", queuepass.ErrTicketNotWaiting, status)
		}
		r.status, r.ended = queuepass.StatusLeft, at
		if err := tb.Put(u64(n), r.marshal()); err != nil {
			return err
		}
		m.Counts.Left++
		b.touch(eventID)
		b.setLive(eventID, r.userID, 0)
		b.setTicket(&t, m, n, &r)
		return nil
	})
	if err != nil {
		return queuepass.Ticket{}, err
	}
	return t, nil
}

// Admit expires the passes that ran out at or before at, then admits up to
// count waiting tickets in line order within the event's MaxActive, and
// records the batch. An event that is not open fails with ErrEventNotOpen.
func (s *Store) Admit(ctx context.Context, eventID string, count int, at time.Time) (queuepass.Admission, error) {
	at = utc(at)
	var adm queuepass.Admission
	err := s.submit(ctx, func(b *batch) error {
		m, err := b.openEvent(eventID)
		if err != nil {
			return err
		}
		adm, err = b.admitUpTo(m, count, at)
		return err
	})
	if err != nil {
		return queuepass.Admission{}, err
	}
	return adm, nil
}

// AdmitPaced admits as Admit does, as many tickets as the event's pacing
// mark has earned at perMinute by at (queuepass.PaceCredit), and moves the
// mark by what it admitted (queuepass.PaceSpend) in the same transaction,
// so every caller shares one pace. The mark moves even when nothing is
// admitted, and survives a reopen; an event that is not open fails with
// ErrEventNotOpen and keeps its mark.
func (s *Store) AdmitPaced(ctx context.Context, eventID string, perMinute int, at time.Time) (queuepass.Admission, error) {
	at = utc(at)
	var adm queuepass.Admission
	err := s.submit(ctx, func(b *batch) error {
		m, err := b.openEvent(eventID)
		if err != nil {
			return err
		}
		mark, credit := queuepass.PaceCredit(m.PaceMark, at, perMinute)
		if adm, err = b.admitUpTo(m, credit, at); err != nil {
			return err
		}
		if mark = queuepass.PaceSpend(mark, len(adm.Tickets), perMinute); mark != m.PaceMark {
			m.PaceMark = mark
			b.touch(eventID)
		}
		return nil
	})
	if err != nil {
		return queuepass.Admission{}, err
	}
	return adm, nil
}

// openEvent returns the batch's copy of an open event, or fails with
// ErrEventNotFound or ErrEventNotOpen.
func (b *batch) openEvent(eventID string) (*eventMeta, error) {
	m, err := b.event(eventID)
	if err != nil {
		return nil, err
	}
	if m.State != queuepass.StateOpen {
		return nil, fmt.Errorf("%w: %q is %s", queuepass.ErrEventNotOpen, eventID, m.State)
	}
	return m, nil
}

// admitUpTo is the body of an admission: it expires the passes that ran
// out at or before at, admits up to count waiting tickets (none if count
// is below 1) within MaxActive, and records the batch if it admitted any.
func (b *batch) admitUpTo(m *eventMeta, count int, at time.Time) (queuepass.Admission, error) {
	if _, err := b.expire(m, at); err != nil {
		return queuepass.Admission{}, err
	}
	k := min(max(count, 0), m.Counts.Waiting)
	if m.MaxActive > 0 {
		k = min(k, max(m.MaxActive-m.Counts.Admitted, 0))
	}
	adm := queuepass.Admission{Tickets: []queuepass.Ticket{}}
	if k > 0 {
		var err error
		if adm.Tickets, err = b.admit(m, k, at); err != nil {
			return queuepass.Admission{}, err
		}
	}
	if len(adm.Tickets) > 0 {
		waits := make([]time.Duration, len(adm.Tickets))
		for i, t := range adm.Tickets {
			waits[i] = t.AdmittedAt.Sub(t.JoinedAt)
		}
		recent := append(make([]queuepass.AdmissionBatch, 0, len(m.RecentAdmissions)+1), m.RecentAdmissions...)
		recent = append(recent, queuepass.AdmissionBatch{At: at, Count: len(adm.Tickets), MedianWait: queuepass.MedianWait(waits)})
		m.RecentAdmissions = recent[max(len(recent)-queuepass.MaxRecentAdmissions, 0):]
		if err := b.bucket(m.ID).Put(keyRecent, marshalRecent(m.RecentAdmissions)); err != nil {
			return queuepass.Admission{}, err
		}
	}
	adm.Waiting = m.Counts.Waiting
	return adm, nil
}

// admit pops waiting tickets off the front of the line until it has
// admitted k or the line is empty. A ticket abandoned at at (the event's
// IdleTimeout) is not admitted but expired with reason abandoned.
func (b *batch) admit(m *eventMeta, k int, at time.Time) ([]queuepass.Ticket, error) {
	eb := b.bucket(m.ID)
	tb, lb, pb := eb.Bucket(bucketTickets), eb.Bucket(bucketLine), eb.Bucket(bucketPasses)
	type entry struct{ slot, number uint64 }
	var popped []entry
	exp := at.Add(m.PassTTL)
	tickets := make([]queuepass.Ticket, 0, k)
	abandoned := 0
	c := lb.Cursor()
	// Deleting through the cursor moves it to the next key; seek again.
	for key, v := c.First(); key != nil && len(tickets) < k; key, v = c.First() {
		e := entry{keyU64(key), keyU64(v)}
		popped = append(popped, e)
		r, err := getTicket(tb, e.number)
		if err != nil {
			return nil, err
		}
		if err := lb.Delete(key); err != nil {
			return nil, err
		}
		if publicTicket(m, e.number, &r).Abandoned(m.IdleTimeout, at) {
			r.status, r.ended, r.reason = queuepass.StatusExpired, at, queuepass.ReasonAbandoned
			if err := tb.Put(u64(e.number), r.marshal()); err != nil {
				return nil, err
			}
			b.setLive(m.ID, r.userID, 0)
			abandoned++
			continue
		}
		r.status, r.admitted, r.passExp = queuepass.StatusAdmitted, at, exp
		if err := tb.Put(u64(e.number), r.marshal()); err != nil {
			return nil, err
		}
		if err := pb.Put(passKey(exp, e.number), nil); err != nil {
			return nil, err
		}
		tickets = append(tickets, publicTicket(m, e.number, &r))
	}
	m.Counts.Waiting -= len(popped)
	m.Counts.Admitted += len(tickets)
	m.Counts.Expired += abandoned
	m.Abandoned += abandoned
	if len(popped) > 0 {
		b.touch(m.ID)
	}
	id := m.ID
	b.after(func() {
		if em := b.s.events[id]; em != nil {
			for _, e := range popped {
				em.line.remove(e.slot)
			}
		}
	})
	return tickets, nil
}

// Touch records that the holder of a prequeue or waiting ticket read it
// at at (see queuepass.Store). It writes only when LastSeen moves forward;
// callers keep such writes coarse (queuepass.Ticket.NeedsTouch).
func (s *Store) Touch(ctx context.Context, eventID, ticketID string, at time.Time) error {
	at = utc(at)
	return s.submit(ctx, func(b *batch) error {
		op, err := b.findTicket(eventID, ticketID)
		if err != nil {
			return err
		}
		m, tb, n, r := op.m, op.tb, op.n, op.r
		switch liveStatus(m, n, r.status) {
		case queuepass.StatusWaiting, queuepass.StatusPrequeue:
		default:
			return nil
		}
		if !at.After(r.seen) {
			return nil
		}
		r.seen = at
		return tb.Put(u64(n), r.marshal())
	})
}

// Complete makes an admitted ticket whose pass is valid at at completed,
// adds quantity to the event's Sold, and returns it; a completed ticket
// comes back unchanged, and Sold too. Anything else fails with
// ErrTicketNotAdmitted; a quantity below 1 with a
// *queuepass.ValidationError.
func (s *Store) Complete(ctx context.Context, eventID, ticketID string, quantity int, at time.Time) (queuepass.Ticket, error) {
	if quantity < 1 {
		ve := &queuepass.ValidationError{}
		ve.Add("quantity", "must be at least 1, not %d", quantity)
		return queuepass.Ticket{}, ve
	}
	at = utc(at)
	var t queuepass.Ticket
	err := s.submit(ctx, func(b *batch) error {
		op, err := b.findTicket(eventID, ticketID)
		if err != nil {
			return err
		}
		m, eb, tb, n, r := op.m, op.eb, op.tb, op.n, op.r
		switch status := liveStatus(m, n, r.status); {
		case status == queuepass.StatusCompleted:
			b.setTicket(&t, m, n, &r)
			return nil
		case status != queuepass.StatusAdmitted:
			return fmt.Errorf("%w: ticket is %s", queuepass.ErrTicketNotAdmitted, status)
		case !at.Before(r.passExp):
			return fmt.Errorf("%w: pass ran out at %v", queuepass.ErrTicketNotAdmitted, r.passExp)
		}
		if err := eb.Bucket(bucketPasses).Delete(passKey(r.passExp, n)); err != nil {
			return err
		}
		r.status, r.ended = queuepass.StatusCompleted, at
		if err := tb.Put(u64(n), r.marshal()); err != nil {
			return err
		}
		m.Counts.Admitted--
		m.Counts.Completed++
		m.Sold += quantity
		b.touch(eventID)
		b.setLive(eventID, r.userID, 0)
		b.setTicket(&t, m, n, &r)
		return nil
	})
	if err != nil {
		return queuepass.Ticket{}, err
	}
	return t, nil
}

// Revoke makes an admitted ticket whose pass is valid at at expired, with
// reason revoked, and returns it; a revoked ticket comes back unchanged.
// Anything else fails with ErrTicketNotAdmitted.
func (s *Store) Revoke(ctx context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	at = utc(at)
	var t queuepass.Ticket
	err := s.submit(ctx, func(b *batch) error {
		op, err := b.findTicket(eventID, ticketID)
		if err != nil {
			return err
		}
		m, eb, tb, n, r := op.m, op.eb, op.tb, op.n, op.r
		switch status := liveStatus(m, n, r.status); {
		case status == queuepass.StatusExpired && r.reason == queuepass.ReasonRevoked:
			b.setTicket(&t, m, n, &r)
			return nil
		case status != queuepass.StatusAdmitted:
			return fmt.Errorf("%w: ticket is %s", queuepass.ErrTicketNotAdmitted, status)
		case !at.Before(r.passExp):
			return fmt.Errorf("%w: pass ran out at %v", queuepass.ErrTicketNotAdmitted, r.passExp)
		}
		if err := eb.Bucket(bucketPasses).Delete(passKey(r.passExp, n)); err != nil {
			return err
		}
		r.status, r.ended, r.reason = queuepass.StatusExpired, at, queuepass.ReasonRevoked
		if err := tb.Put(u64(n), r.marshal()); err != nil {
			return err
		}
		m.Counts.Admitted--
		m.Counts.Expired++
		b.touch(eventID)
		b.setLive(eventID, r.userID, 0)
		b.setTicket(&t, m, n, &r)
		return nil
	})
	if err != nil {
		return queuepass.Ticket{}, err
	}
	return t, nil
}

// ExpirePasses makes every admitted ticket whose pass ran out at or before
// at expired, with EndedAt = its PassExpiresAt, and returns how many.
func (s *Store) ExpirePasses(ctx context.Context, eventID string, at time.Time) (int, error) {
	at = utc(at)
	var expired int
	err := s.submit(ctx, func(b *batch) error {
		m, err := b.event(eventID)
		if err != nil {
			return err
		}
		expired, err = b.expire(m, at)
		return err
	})
	if err != nil {
		return 0, err
	}
	return expired, nil
}

// expire expires the event's passes that ran out at or before at.
func (b *batch) expire(m *eventMeta, at time.Time) (int, error) {
	eb := b.bucket(m.ID)
	tb, pb := eb.Bucket(bucketTickets), eb.Bucket(bucketPasses)
	limit := timeKey(at)
	var keys [][]byte
	c := pb.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k[:len(limit)], limit) <= 0; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		n := keyU64(k[len(limit):])
		r, err := getTicket(tb, n)
		if err != nil {
			return 0, err
		}
		r.status, r.ended = queuepass.StatusExpired, r.passExp
		if err := tb.Put(u64(n), r.marshal()); err != nil {
			return 0, err
		}
		if err := pb.Delete(k); err != nil {
			return 0, err
		}
		b.setLive(m.ID, r.userID, 0)
	}
	if len(keys) > 0 {
		m.Counts.Admitted -= len(keys)
		m.Counts.Expired += len(keys)
		b.touch(m.ID)
	}
	return len(keys), nil
}

// event returns an event's memory, or ErrEventNotFound. The caller holds
// s.mu.
func (s *Store) event(id string) (*eventMem, error) {
	em := s.events[id]
	if em == nil {
		return nil, fmt.Errorf("boltstore: %w: %q", queuepass.ErrEventNotFound, id)
	}
	return em, nil
}

// ticket returns a stored ticket as of committed state, with its Position.
// The caller holds s.mu.
func (em *eventMem) ticket(n uint64, r *ticketRec) queuepass.Ticket {
	t := publicTicket(&em.meta, n, r)
	if t.Status == queuepass.StatusWaiting {
		t.Position = em.line.position(r.slot)
	}
	return t
}

// setTicket stores in *dst a ticket as of the batch so far. Its Position
// is filled in when the batch is applied, right after this op's effects.
func (b *batch) setTicket(dst *queuepass.Ticket, m *eventMeta, n uint64, r *ticketRec) {
	*dst = publicTicket(m, n, r)
	if dst.Status == queuepass.StatusWaiting {
		id, slot := m.ID, r.slot
		b.after(func() {
			if em := b.s.events[id]; em != nil {
				dst.Position = em.line.position(slot)
			}
		})
	}
}

func publicTicket(m *eventMeta, n uint64, r *ticketRec) queuepass.Ticket {
	t := queuepass.Ticket{
		ID:            queuepass.NewTicketID(n, r.secret),
		EventID:       m.ID,
		UserID:        r.userID,
		Status:        liveStatus(m, n, r.status),
		JoinedAt:      r.joined,
		AdmittedAt:    r.admitted,
		PassExpiresAt: r.passExp,
		EndedAt:       r.ended,
		StatusReason:  r.reason,
		LastSeen:      r.seen,
	}
	if t.Status != r.status {
		t.EndedAt, t.StatusReason = m.ClosedAt, m.ClosedReason
	}
	return t
}

// liveStatus returns a stored ticket's status, reading a prequeue or
// waiting ticket that the event's first closing left as it was as closed
// (publicTicket then gives it the closing's EndedAt and StatusReason).
func liveStatus(m *eventMeta, n uint64, stored queuepass.TicketStatus) queuepass.TicketStatus {
	if n < m.ClosedBelow && (stored == queuepass.StatusPrequeue || stored == queuepass.StatusWaiting) {
		return queuepass.StatusClosed
	}
	return stored
}

// ticketStep is what a step on one ticket works with inside a batch: the
// event's meta and buckets, and the ticket's number and record.
type ticketStep struct {
	m      *eventMeta
	eb, tb *bbolt.Bucket
	n      uint64
	r      ticketRec
}

// findTicket looks up a ticket for a step, or fails with ErrEventNotFound
// or ErrTicketNotFound.
func (b *batch) findTicket(eventID, ticketID string) (ticketStep, error) {
	m, err := b.event(eventID)
	if err != nil {
		return ticketStep{}, err
	}
	eb := b.bucket(eventID)
	tb := eb.Bucket(bucketTickets)
	n, r, err := findTicket(tb, ticketID)
	if err != nil {
		return ticketStep{}, err
	}
	return ticketStep{m: m, eb: eb, tb: tb, n: n, r: r}, nil
}

func findTicket(tb *bbolt.Bucket, ticketID string) (uint64, ticketRec, error) {
	n, secret, ok := queuepass.ParseTicketID(ticketID)
	if !ok {
		return 0, ticketRec{}, fmt.Errorf("%w: malformed ID", queuepass.ErrTicketNotFound)
	}
	v := tb.Get(u64(n))
	if v == nil {
		return 0, ticketRec{}, queuepass.ErrTicketNotFound
	}
	r, err := unmarshalTicket(v)
	if err != nil {
		return 0, ticketRec{}, fmt.Errorf("ticket %d: %w", n, err)
	}
	if !queuepass.SecretsEqual(r.secret, secret) {
		return 0, ticketRec{}, queuepass.ErrTicketNotFound
	}
	return n, r, nil
}

// getTicket reads the ticket numbered n, which the indexes say exists.
func getTicket(tb *bbolt.Bucket, n uint64) (ticketRec, error) {
	v := tb.Get(u64(n))
	if v == nil {
		return ticketRec{}, fmt.Errorf("ticket %d is indexed but missing", n)
	}
	r, err := unmarshalTicket(v)
	if err != nil {
		return r, fmt.Errorf("ticket %d: %w", n, err)
	}
	return r, nil
}

func eventBucket(tx *bbolt.Tx, id string) *bbolt.Bucket {
	return tx.Bucket(bucketEvents).Bucket([]byte(id))
}

func keyU64(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
