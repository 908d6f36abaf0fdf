package boltstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/queuepass/queuepass"
)

// CreateEvent stores a new event with Version 1 and what the store keeps
// empty (see queuepass.Store). It fails with ErrEventExists if the ID is
// taken, and with a *queuepass.ValidationError if the ID is empty or the
// StateReason is not one defined for events. Times are kept in UTC.
func (s *Store) CreateEvent(ctx context.Context, ev queuepass.Event) (queuepass.Event, error) {
	ve := &queuepass.ValidationError{}
	if ev.ID == "" {
		ve.Add("id", "must not be empty")
	}
	checkSettings(ve, ev)
	if err := ve.Err(); err != nil {
		return queuepass.Event{}, err
	}
	var out queuepass.Event
	err := s.submit(ctx, func(b *batch) error {
		if _, err := b.event(ev.ID); err == nil {
			return fmt.Errorf("%w: %q", queuepass.ErrEventExists, ev.ID)
		}
		s.lastSeq++
		m := &eventMeta{Seq: s.lastSeq}
		m.ID, m.CreatedAt, m.DrawSeed = ev.ID, utc(ev.CreatedAt), ev.DrawSeed
		m.setSettings(ev)
		m.Version = 1

		eb, err := b.tx.Bucket(bucketEvents).CreateBucket([]byte(ev.ID))
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketTickets, bucketLine, bucketPrequeue, bucketPasses} {
			if _, err := eb.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := b.tx.Bucket(bucketOrder).Put(u64(m.Seq), []byte(ev.ID)); err != nil {
			return err
		}
		b.metas[ev.ID] = m
		b.touch(ev.ID)
		b.after(func() {
			em := &eventMem{meta: *m}
			s.events[ev.ID] = em
			s.order = append(s.order, em) // Seq only grows
		})
		b.resetUsers(ev.ID, map[string]uint64{})
		out = m.public()
		return nil
	})
	if err != nil {
		return queuepass.Event{}, err
	}
	return out, nil
}

// checkSettings adds to ve what the store cannot keep of ev's settings: a
// StateReason other than the ones defined for events ("" and
// ReasonSoldOut), which a closing could not write into ticket records.
func checkSettings(ve *queuepass.ValidationError, ev queuepass.Event) {
	if ev.StateReason != "" && ev.StateReason != queuepass.ReasonSoldOut {
		ve.Add("state_reason", "must be empty or %q, not %q", queuepass.ReasonSoldOut, ev.StateReason)
	}
}

// setSettings replaces m's admin-chosen settings with ev's, times in UTC.
// Everything else (ID, CreatedAt, DrawSeed, and what the store keeps:
// Version, Counts, Abandoned, RecentAdmissions, DrawnAt, Sold, Codes) is
// left alone.
func (m *eventMeta) setSettings(ev queuepass.Event) {
	m.Name = ev.Name
	m.State = ev.State
	m.StateReason = ev.StateReason
	m.OpensAt = utc(ev.OpensAt)
	m.ClosesAt = utc(ev.ClosesAt)
	m.AdmitRatePerMinute = ev.AdmitRatePerMinute
	m.MaxActive = ev.MaxActive
	m.PassTTL = ev.PassTTL
	m.IdleTimeout = ev.IdleTimeout
	m.ChallengeDifficulty = ev.ChallengeDifficulty
	m.Access = ev.Access
	m.Inventory = ev.Inventory
}

// public returns the event as callers see it.
func (m *eventMeta) public() queuepass.Event {
	ev := m.Event
	ev.RecentAdmissions = slices.Clone(m.RecentAdmissions)
	return ev
}

// Event returns the event with its current Counts and RecentAdmissions, or
// ErrEventNotFound.
func (s *Store) Event(ctx context.Context, id string) (queuepass.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return queuepass.Event{}, errClosed
	}
	em := s.events[id]
	if em == nil {
		return queuepass.Event{}, fmt.Errorf("boltstore: %w: %q", queuepass.ErrEventNotFound, id)
	}
	return em.meta.public(), nil
}

// Events returns at most limit events in creation order, starting after the
// event with ID after ("" starts from the first), or ErrEventNotFound if
// after names no event.
func (s *Store) Events(ctx context.Context, after string, limit int) ([]queuepass.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	start := 0
	if after != "" {
		em := s.events[after]
		if em == nil {
			return nil, fmt.Errorf("boltstore: %w: %q", queuepass.ErrEventNotFound, after)
		}
		start = s.orderIndex(em.meta.Seq) + 1
	}
	out := []queuepass.Event{}
	for _, em := range s.order[start:] {
		if len(out) >= limit {
			break
		}
		out = append(out, em.meta.public())
	}
	return out, nil
}

// orderIndex returns the index in s.order of the event created as seq.
func (s *Store) orderIndex(seq uint64) int {
	i, _ := slices.BinarySearchFunc(s.order, seq, func(em *eventMem, seq uint64) int {
		switch {
		case em.meta.Seq < seq:
			return -1
		case em.meta.Seq > seq:
			return 1
		}
		return 0
	})
	return i
}

// UpdateEvent replaces the event's settings if its Version is still
// ev.Version, and carries out the effects of the state change in the same
// step (see queuepass.Store). It fails with ErrConflict or
// ErrEventNotFound, and with a *queuepass.ValidationError if the
// StateReason is not one defined for events.
//
// Opening a scheduled event costs O(p log p) in its pre-queue p. The first
// closing of an event costs O(admitted tickets), however long the line: the
// stored tickets are left as they are and read as closed.
func (s *Store) UpdateEvent(ctx context.Context, ev queuepass.Event, at time.Time) (queuepass.Event, error) {
	ve := &queuepass.ValidationError{}
	checkSettings(ve, ev)
	if err := ve.Err(); err != nil {
		return queuepass.Event{}, err
	}
	at = utc(at)
	var out queuepass.Event
	err := s.submit(ctx, func(b *batch) error {
		m, err := b.event(ev.ID)
		if err != nil {
			return err
		}
		if m.Version != ev.Version {
			return fmt.Errorf("%w: event %q is at version %d, not %d", queuepass.ErrConflict, ev.ID, m.Version, ev.Version)
		}
		from := m.State
		m.setSettings(ev)
		m.Version++
		b.touch(ev.ID)
		switch {
		case from == queuepass.StateScheduled && (m.State == queuepass.StateOpen || m.State == queuepass.StatePaused):
			if err := b.draw(m, at); err != nil {
				return err
			}
		case m.State == queuepass.StateClosed:
			if err := b.closeLine(m, at); err != nil {
				return err
			}
		}
		out = m.public()
		return nil
	})
	if err != nil {
		return queuepass.Event{}, err
	}
	return out, nil
}

// Draw returns the DrawHashes of the pre-queue recorded when the event
// left scheduled, in draw order, or nil if it has not; an unknown event
// fails with ErrEventNotFound.
func (s *Store) Draw(ctx context.Context, eventID string) ([][32]byte, error) {
	var out [][32]byte
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		em, err := s.event(eventID)
		if err != nil || em.meta.DrawnAt.IsZero() {
			return err
		}
		if out, err = unmarshalDraw(eventBucket(tx, eventID).Get(keyDraw)); err != nil {
			return fmt.Errorf("boltstore: event %q: %w", eventID, err)
		}
		return nil
	})
	return out, err
}

// draw moves the pre-queue (which may be empty) into the line in
// DrawOrder and records the draw, made at at.
func (b *batch) draw(m *eventMeta, at time.Time) error {
	eb := b.bucket(m.ID)
	tb := eb.Bucket(bucketTickets)
	p := m.Counts.Prequeue
	numbers := make([]uint64, 0, p)
	recs := make([]ticketRec, 0, p)
	hashes := make([][sha256.Size]byte, 0, p)
	// Both buckets are in number order: walk them side by side.
	tc := tb.Cursor()
	tk, tv := tc.First()
	err := eb.Bucket(bucketPrequeue).ForEach(func(k, _ []byte) error {
		n := keyU64(k)
		for tk != nil && keyU64(tk) < n {
			tk, tv = tc.Next()
		}
		if tk == nil || keyU64(tk) != n {
			return fmt.Errorf("ticket %d is in the pre-queue but missing", n)
		}
		r, err := unmarshalTicket(tv)
		if err != nil {
			return fmt.Errorf("ticket %d: %w", n, err)
		}
		numbers = append(numbers, n)
		recs = append(recs, r)
		hashes = append(hashes, queuepass.DrawHash(queuepass.NewTicketID(n, r.secret)))
		return nil
	})
	if err != nil {
		return err
	}
	// Slot k of the draw goes to the k-th entrant of DrawPermutation (the
	// order DrawOrder gives). Write tickets in number order and the line in
	// slot order: bbolt is fast at neighbours.
	first := m.LastSlot + 1
	order := queuepass.DrawPermutation(m.DrawSeed, hashes) // draw position → index in numbers
	drawn := make([][sha256.Size]byte, len(order))
	for k, i := range order {
		drawn[k] = hashes[i]
		recs[i].status, recs[i].slot = queuepass.StatusWaiting, first+uint64(k)
	}
	tb.FillPercent = appendFill
	for i, n := range numbers {
		if err := tb.Put(u64(n), recs[i].marshal()); err != nil {
			return err
		}
	}
	lb := eb.Bucket(bucketLine)
	lb.FillPercent = appendFill
	for k, i := range order {
		if err := lb.Put(u64(first+uint64(k)), u64(numbers[i])); err != nil {
			return err
		}
	}
	m.LastSlot += uint64(len(order))
	if err := emptyBucket(eb, bucketPrequeue); err != nil {
		return err
	}
	if err := eb.Put(keyDraw, marshalDraw(drawn)); err != nil {
		return err
	}
	m.DrawnAt = at
	m.Counts.Waiting += len(order)
	m.Counts.Prequeue -= len(order)
	id, last := m.ID, m.LastSlot
	b.after(func() {
		if em := b.s.events[id]; em != nil {
			for slot := first; slot <= last; slot++ {
				em.line.add(slot)
			}
		}
	})
	return nil
}

// closeLine closes every prequeue and waiting ticket with EndedAt = at
// and StatusReason = the event's StateReason. The first closing marks them
// closed in the event record only; a later one (after a reopening the
// waiting room would not allow) rewrites them.
func (b *batch) closeLine(m *eventMeta, at time.Time) error {
	eb := b.bucket(m.ID)
	tb := eb.Bucket(bucketTickets)
	if m.ClosedBelow == 0 {
		m.ClosedBelow = m.LastNumber + 1
		m.ClosedAt = at
		m.ClosedReason = m.StateReason
	} else {
		var numbers []uint64
		if err := eb.Bucket(bucketPrequeue).ForEach(func(k, _ []byte) error {
			numbers = append(numbers, keyU64(k))
			return nil
		}); err != nil {
			return err
		}
		if err := eb.Bucket(bucketLine).ForEach(func(_, v []byte) error {
			numbers = append(numbers, keyU64(v))
			return nil
		}); err != nil {
			return err
		}
		for _, n := range numbers {
			r, err := getTicket(tb, n)
			if err != nil {
				return err
			}
			r.status, r.ended, r.reason = queuepass.StatusClosed, at, m.StateReason
			if err := tb.Put(u64(n), r.marshal()); err != nil {
				return err
			}
		}
	}
	for _, name := range [][]byte{bucketPrequeue, bucketLine} {
		if err := emptyBucket(eb, name); err != nil {
			return err
		}
	}
	m.Counts.Closed += m.Counts.Prequeue + m.Counts.Waiting
	m.Counts.Prequeue, m.Counts.Waiting = 0, 0

	// The live tickets left are the admitted ones.
	users := make(map[string]uint64, m.Counts.Admitted)
	err := eb.Bucket(bucketPasses).ForEach(func(k, _ []byte) error {
		n := keyU64(k[len(k)-8:])
		r, err := getTicket(tb, n)
		if err != nil {
			return err
		}
		users[r.userID] = n
		return nil
	})
	if err != nil {
		return err
	}
	b.resetUsers(m.ID, users)
	id := m.ID
	b.after(func() {
		if em := b.s.events[id]; em != nil {
			em.line = lineIndex{}
		}
	})
	return nil
}

// DeleteEvent removes the event and all its tickets, or fails with
// ErrEventNotFound.
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	return s.submit(ctx, func(b *batch) error {
		m, err := b.event(id)
		if err != nil {
			return err
		}
		if err := b.tx.Bucket(bucketEvents).DeleteBucket([]byte(id)); err != nil {
			return err
		}
		if err := b.tx.Bucket(bucketOrder).Delete(u64(m.Seq)); err != nil {
			return err
		}
		b.metas[id] = nil
		b.users[id] = &userOverlay{fresh: true, live: map[string]uint64{}}
		seq := m.Seq
		b.after(func() {
			delete(s.events, id)
			if i := s.orderIndex(seq); i < len(s.order) && s.order[i].meta.Seq == seq {
				s.order = slices.Delete(s.order, i, i+1)
			}
		})
		return nil
	})
}

// emptyBucket replaces the named sub-bucket of eb with an empty one, which
// frees its pages without visiting its keys one by one.
func emptyBucket(eb *bbolt.Bucket, name []byte) error {
	if err := eb.DeleteBucket(name); err != nil {
		return err
	}
	_, err := eb.CreateBucket(name)
	return err
}
