package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

// TestRun runs the suite on memStore, a plain reference store, so that a
// failure in a backend points at the backend, not at the suite.
func TestRun(t *testing.T) {
	Run(t, func(t *testing.T) queuepass.Store { return newMemStore() })
}

// memStore is the simplest store that keeps the contract: one mutex and
// linear scans. It is not durable.
type memStore struct {
	mu     sync.Mutex
	closed bool
	order  []string // event IDs in creation order
	events map[string]*memEvent
	keys   map[string]queuepass.IdempotencyRecord
	tokens map[string]int64 // TakeToken's marks

	watchers map[string]map[chan struct{}]struct{} // by event ID
}

type memEvent struct {
	ev      queuepass.Event
	mark    int64               // AdmitPaced's pacing mark
	tickets []*queuepass.Ticket // by number - 1
	secrets [][queuepass.TicketSecretSize]byte
	line    []*queuepass.Ticket
	live    map[string]*queuepass.Ticket
	draw    [][32]byte
	spent   map[string]bool // spent challenges
	codes   map[string]*queuepass.AccessCode
}

var _ queuepass.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{events: map[string]*memEvent{}, keys: map[string]queuepass.IdempotencyRecord{}, tokens: map[string]int64{}}
}

// lock locks the store, or fails if it is closed.
func (s *memStore) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("memstore: %w", queuepass.ErrUnavailable)
	}
	return nil
}

func (s *memStore) event(id string) (*memEvent, error) {
	e, ok := s.events[id]
	if !ok {
		return nil, fmt.Errorf("event %q: %w", id, queuepass.ErrEventNotFound)
	}
	return e, nil
}

func (e *memEvent) snapshot() queuepass.Event {
	ev := e.ev
	ev.RecentAdmissions = slices.Clone(ev.RecentAdmissions)
	ev.Counts = queuepass.Counts{}
	for _, tk := range e.tickets {
		switch tk.Status {
		case queuepass.StatusPrequeue:
			ev.Counts.Prequeue++
		case queuepass.StatusWaiting:
			ev.Counts.Waiting++
		case queuepass.StatusAdmitted:
			ev.Counts.Admitted++
		case queuepass.StatusCompleted:
			ev.Counts.Completed++
		case queuepass.StatusLeft:
			ev.Counts.Left++
		case queuepass.StatusExpired:
			ev.Counts.Expired++
		case queuepass.StatusClosed:
			ev.Counts.Closed++
		}
	}
	return ev
}

func (e *memEvent) ticket(id string) (*queuepass.Ticket, error) {
	n, secret, ok := queuepass.ParseTicketID(id)
	if !ok || n > uint64(len(e.tickets)) || !queuepass.SecretsEqual(secret, e.secrets[n-1]) {
		return nil, queuepass.ErrTicketNotFound
	}
	return e.tickets[n-1], nil
}

func (e *memEvent) view(tk *queuepass.Ticket) queuepass.Ticket {
	v := *tk
	v.Position = 0
	if v.Status == queuepass.StatusWaiting {
		v.Position = slices.Index(e.line, tk) + 1
	}
	return v
}

func (e *memEvent) end(tk *queuepass.Ticket, st queuepass.TicketStatus, at time.Time) {
	if tk.Status == queuepass.StatusWaiting {
		e.line = slices.DeleteFunc(e.line, func(x *queuepass.Ticket) bool { return x == tk })
	}
	tk.Status, tk.EndedAt = st, at
	delete(e.live, tk.UserID)
}

func (s *memStore) CreateEvent(_ context.Context, ev queuepass.Event) (queuepass.Event, error) {
	if err := s.lock(); err != nil {
		return queuepass.Event{}, err
	}
	defer s.mu.Unlock()
	defer s.signal(ev.ID) // under the lock, before Unlock
	if _, ok := s.events[ev.ID]; ok {
		return queuepass.Event{}, queuepass.ErrEventExists
	}
	ev.Version, ev.Counts, ev.RecentAdmissions, ev.Abandoned = 1, queuepass.Counts{}, nil, 0
	ev.DrawnAt, ev.Sold, ev.Codes = time.Time{}, 0, queuepass.CodeCounts{}
	e := &memEvent{ev: ev, live: map[string]*queuepass.Ticket{}, spent: map[string]bool{}, codes: map[string]*queuepass.AccessCode{}}
	s.events[ev.ID] = e
	s.order = append(s.order, ev.ID)
	return e.snapshot(), nil
}

func (s *memStore) Event(_ context.Context, id string) (queuepass.Event, error) {
	if err := s.lock(); err != nil {
		return queuepass.Event{}, err
	}
	defer s.mu.Unlock()
	e, err := s.event(id)
	if err != nil {
		return queuepass.Event{}, err
	}
	return e.snapshot(), nil
}

func (s *memStore) Events(_ context.Context, after string, limit int) ([]queuepass.Event, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	i := 0
	if after != "" {
		i = slices.Index(s.order, after) + 1
		if i == 0 {
			return nil, queuepass.ErrEventNotFound
		}
	}
	var out []queuepass.Event
	for _, id := range s.order[i:] {
		if len(out) == limit {
			break
		}
		out = append(out, s.events[id].snapshot())
	}
	return out, nil
}

func (s *memStore) UpdateEvent(_ context.Context, ev queuepass.Event, at time.Time) (queuepass.Event, error) {
	if err := s.lock(); err != nil {
		return queuepass.Event{}, err
	}
	defer s.mu.Unlock()
	defer s.signal(ev.ID) // under the lock, before Unlock
	e, err := s.event(ev.ID)
	if err != nil {
		return queuepass.Event{}, err
	}
	if ev.Version != e.ev.Version {
		return queuepass.Event{}, queuepass.ErrConflict
	}
	from := e.ev.State
	ev.CreatedAt, ev.DrawSeed, ev.Version = e.ev.CreatedAt, e.ev.DrawSeed, e.ev.Version+1
	ev.Abandoned, ev.DrawnAt, ev.Sold, ev.Codes = e.ev.Abandoned, e.ev.DrawnAt, e.ev.Sold, e.ev.Codes
	ev.Counts, ev.RecentAdmissions = queuepass.Counts{}, e.ev.RecentAdmissions
	e.ev = ev
	switch {
	case from == queuepass.StateScheduled && (ev.State == queuepass.StateOpen || ev.State == queuepass.StatePaused):
		var ids []string
		byID := map[string]*queuepass.Ticket{}
		for _, tk := range e.tickets {
			if tk.Status == queuepass.StatusPrequeue {
				ids = append(ids, tk.ID)
				byID[tk.ID] = tk
			}
		}
		var placed []*queuepass.Ticket
		order, hashes := queuepass.DrawOrder(ev.DrawSeed, ids)
		for _, id := range order {
			byID[id].Status = queuepass.StatusWaiting
			placed = append(placed, byID[id])
		}
		e.line = append(placed, e.line...)
		e.draw, e.ev.DrawnAt = hashes, at
	case ev.State == queuepass.StateClosed:
		for _, tk := range e.tickets {
			if tk.Status == queuepass.StatusPrequeue || tk.Status == queuepass.StatusWaiting {
				e.end(tk, queuepass.StatusClosed, at)
				tk.StatusReason = ev.StateReason
			}
		}
	}
	return e.snapshot(), nil
}

func (s *memStore) DeleteEvent(_ context.Context, id string) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	defer s.signal(id) // under the lock, before Unlock
	if _, err := s.event(id); err != nil {
		return err
	}
	delete(s.events, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	return nil
}

func (s *memStore) Join(_ context.Context, eventID, userID string, proof queuepass.JoinProof, at time.Time) (queuepass.Ticket, bool, error) {
	if err := s.lock(); err != nil {
		return queuepass.Ticket{}, false, err
	}
	defer s.mu.Unlock()
	defer s.signal(eventID) // under the lock, before Unlock
	e, err := s.event(eventID)
	if err != nil {
		return queuepass.Ticket{}, false, err
	}
	if e.ev.State == queuepass.StateClosed {
		return queuepass.Ticket{}, false, queuepass.ErrEventClosed
	}
	if tk, ok := e.live[userID]; ok {
		return e.view(tk), false, nil
	}
	if e.ev.ChallengeDifficulty > 0 {
		switch {
		case proof.Challenge == "":
			return queuepass.Ticket{}, false, queuepass.ErrChallengeRequired
		case len(proof.Challenge) > queuepass.MaxProofChallenge, e.spent[proof.Challenge]:
			return queuepass.Ticket{}, false, queuepass.ErrChallengeFailed
		}
	}
	var code *queuepass.AccessCode
	if e.ev.Access == queuepass.AccessByCode {
		if code = e.codes[proof.Code]; code == nil || code.Used >= code.Uses {
			return queuepass.Ticket{}, false, queuepass.ErrAccessDenied
		}
	}
	if e.ev.ChallengeDifficulty > 0 {
		e.spent[proof.Challenge] = true
	}
	if code != nil {
		code.Used++
		e.ev.Codes.Used++
	}
	secret := queuepass.NewTicketSecret()
	tk := &queuepass.Ticket{
		ID:       queuepass.NewTicketID(uint64(len(e.tickets)+1), secret),
		EventID:  eventID,
		UserID:   userID,
		Status:   queuepass.StatusWaiting,
		JoinedAt: at,
	}
	if e.ev.State == queuepass.StateScheduled {
		tk.Status = queuepass.StatusPrequeue
	} else {
		e.line = append(e.line, tk)
	}
	e.tickets = append(e.tickets, tk)
	e.secrets = append(e.secrets, secret)
	e.live[userID] = tk
	return e.view(tk), true, nil
}

// step runs fn on an existing ticket under the lock.
func (s *memStore) step(eventID, ticketID string, fn func(e *memEvent, tk *queuepass.Ticket) error) (queuepass.Ticket, error) {
	if err := s.lock(); err != nil {
		return queuepass.Ticket{}, err
	}
	defer s.mu.Unlock()
	defer s.signal(eventID) // under the lock, before Unlock
	e, err := s.event(eventID)
	if err != nil {
		return queuepass.Ticket{}, err
	}
	tk, err := e.ticket(ticketID)
	if err != nil {
		return queuepass.Ticket{}, err
	}
	if err := fn(e, tk); err != nil {
		return queuepass.Ticket{}, err
	}
	return e.view(tk), nil
}

func (s *memStore) Ticket(_ context.Context, eventID, ticketID string) (queuepass.Ticket, error) {
	return s.step(eventID, ticketID, func(*memEvent, *queuepass.Ticket) error { return nil })
}

func (s *memStore) Leave(_ context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	return s.step(eventID, ticketID, func(e *memEvent, tk *queuepass.Ticket) error {
		switch tk.Status {
		case queuepass.StatusPrequeue, queuepass.StatusWaiting:
			e.end(tk, queuepass.StatusLeft, at)
		case queuepass.StatusLeft:
		default:
			return queuepass.ErrTicketNotWaiting
		}
		return nil
	})
}

func (s *memStore) Complete(_ context.Context, eventID, ticketID string, quantity int, at time.Time) (queuepass.Ticket, error) {
	if quantity < 1 {
		ve := &queuepass.ValidationError{}
		ve.Add("quantity", "must be at least 1")
		return queuepass.Ticket{}, ve
	}
	return s.step(eventID, ticketID, func(e *memEvent, tk *queuepass.Ticket) error {
		switch {
		case tk.Status == queuepass.StatusAdmitted && tk.PassExpiresAt.After(at):
			e.end(tk, queuepass.StatusCompleted, at)
			e.ev.Sold += quantity
		case tk.Status == queuepass.StatusCompleted:
		default:
			return queuepass.ErrTicketNotAdmitted
		}
		return nil
	})
}

func (s *memStore) Revoke(_ context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	return s.step(eventID, ticketID, func(e *memEvent, tk *queuepass.Ticket) error {
		switch {
		case tk.Status == queuepass.StatusAdmitted && tk.PassExpiresAt.After(at):
			e.end(tk, queuepass.StatusExpired, at)
			tk.StatusReason = queuepass.ReasonRevoked
		case tk.Status == queuepass.StatusExpired && tk.StatusReason == queuepass.ReasonRevoked:
		default:
			return queuepass.ErrTicketNotAdmitted
		}
		return nil
	})
}

func (s *memStore) Touch(_ context.Context, eventID, ticketID string, at time.Time) error {
	_, err := s.step(eventID, ticketID, func(_ *memEvent, tk *queuepass.Ticket) error {
		if (tk.Status == queuepass.StatusPrequeue || tk.Status == queuepass.StatusWaiting) && at.After(tk.LastSeen) {
			tk.LastSeen = at
		}
		return nil
	})
	return err
}

func (e *memEvent) expire(at time.Time) int {
	n := 0
	for _, tk := range e.tickets {
		if tk.Status == queuepass.StatusAdmitted && !tk.PassExpiresAt.After(at) {
			e.end(tk, queuepass.StatusExpired, tk.PassExpiresAt)
			n++
		}
	}
	return n
}

func (s *memStore) ExpirePasses(_ context.Context, eventID string, at time.Time) (int, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	defer s.signal(eventID) // under the lock, before Unlock
	e, err := s.event(eventID)
	if err != nil {
		return 0, err
	}
	return e.expire(at), nil
}

func (s *memStore) Admit(_ context.Context, eventID string, count int, at time.Time) (queuepass.Admission, error) {
	if err := s.lock(); err != nil {
		return queuepass.Admission{}, err
	}
	defer s.mu.Unlock()
	defer s.signal(eventID) // under the lock, before Unlock
	e, err := s.event(eventID)
	if err != nil {
		return queuepass.Admission{}, err
	}
	return e.admit(count, at)
}

func (s *memStore) AdmitPaced(_ context.Context, eventID string, perMinute int, at time.Time) (queuepass.Admission, error) {
	if err := s.lock(); err != nil {
		return queuepass.Admission{}, err
	}
	defer s.mu.Unlock()
	defer s.signal(eventID) // under the lock, before Unlock
	e, err := s.event(eventID)
	if err != nil {
		return queuepass.Admission{}, err
	}
	mark, credit := queuepass.PaceCredit(e.mark, at, perMinute)
	adm, err := e.admit(credit, at)
	if err == nil {
		e.mark = queuepass.PaceSpend(mark, len(adm.Tickets), perMinute)
	}
	return adm, err
}

func (e *memEvent) admit(count int, at time.Time) (queuepass.Admission, error) {
	if e.ev.State != queuepass.StateOpen {
		return queuepass.Admission{}, queuepass.ErrEventNotOpen
	}
	e.expire(at)
	n := min(count, len(e.line))
	if e.ev.MaxActive > 0 {
		n = min(n, max(0, e.ev.MaxActive-e.snapshot().Counts.Admitted))
	}
	var adm queuepass.Admission
	var waits []time.Duration
	for len(adm.Tickets) < n && len(e.line) > 0 {
		tk := e.line[0]
		if tk.Abandoned(e.ev.IdleTimeout, at) {
			e.end(tk, queuepass.StatusExpired, at)
			tk.StatusReason = queuepass.ReasonAbandoned
			e.ev.Abandoned++
			continue
		}
		e.line = e.line[1:]
		tk.Status, tk.AdmittedAt, tk.PassExpiresAt = queuepass.StatusAdmitted, at, at.Add(e.ev.PassTTL)
		adm.Tickets = append(adm.Tickets, e.view(tk))
		waits = append(waits, at.Sub(tk.JoinedAt))
	}
	n = len(adm.Tickets)
	adm.Waiting = len(e.line)
	if n > 0 {
		e.ev.RecentAdmissions = append(e.ev.RecentAdmissions, queuepass.AdmissionBatch{At: at, Count: n, MedianWait: queuepass.MedianWait(waits)})
		if k := len(e.ev.RecentAdmissions) - queuepass.MaxRecentAdmissions; k > 0 {
			e.ev.RecentAdmissions = slices.Clone(e.ev.RecentAdmissions[k:])
		}
	}
	return adm, nil
}

func (s *memStore) Draw(_ context.Context, eventID string) ([][32]byte, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, err := s.event(eventID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(e.draw), nil
}

func (s *memStore) AddCodes(_ context.Context, eventID string, codes []queuepass.AccessCode) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	e, err := s.event(eventID)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if e.codes[c.Code] != nil || seen[c.Code] {
			return fmt.Errorf("%w: %q", queuepass.ErrCodeExists, c.Code)
		}
		seen[c.Code] = true
	}
	for _, c := range codes {
		e.codes[c.Code] = &queuepass.AccessCode{Code: c.Code, Uses: c.Uses}
		e.ev.Codes.Codes++
		e.ev.Codes.Uses += c.Uses
	}
	return nil
}

func (s *memStore) SetCodeUses(_ context.Context, eventID, code string, uses int) (queuepass.AccessCode, error) {
	if err := s.lock(); err != nil {
		return queuepass.AccessCode{}, err
	}
	defer s.mu.Unlock()
	e, err := s.event(eventID)
	if err != nil {
		return queuepass.AccessCode{}, err
	}
	c := e.codes[code]
	if c == nil {
		return queuepass.AccessCode{}, fmt.Errorf("%w: %q", queuepass.ErrCodeNotFound, code)
	}
	was := c.Uses
	c.Uses = max(uses, c.Used)
	e.ev.Codes.Uses += c.Uses - was
	return *c, nil
}

func (s *memStore) Codes(_ context.Context, eventID, after string, limit int) ([]queuepass.AccessCode, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, err := s.event(eventID)
	if err != nil {
		return nil, err
	}
	var out []queuepass.AccessCode
	for _, code := range slices.Sorted(maps.Keys(e.codes)) {
		if code > after && len(out) < limit {
			out = append(out, *e.codes[code])
		}
	}
	return out, nil
}

func (s *memStore) TakeToken(_ context.Context, key string, interval time.Duration, burst int, at time.Time) (bool, time.Duration, error) {
	if err := s.lock(); err != nil {
		return false, 0, err
	}
	defer s.mu.Unlock()
	mark, ok, retry := queuepass.TakeToken(s.tokens[key], at, interval, burst)
	s.tokens[key] = mark
	return ok, retry, nil
}

func (s *memStore) ClaimIdempotencyKey(_ context.Context, key string, fp [32]byte, at time.Time) (queuepass.IdempotencyRecord, bool, error) {
	if err := s.lock(); err != nil {
		return queuepass.IdempotencyRecord{}, false, err
	}
	defer s.mu.Unlock()
	if rec, ok := s.keys[key]; ok {
		rec.Header, rec.Body = maps.Clone(rec.Header), slices.Clone(rec.Body)
		return rec, false, nil
	}
	rec := queuepass.IdempotencyRecord{Fingerprint: fp, CreatedAt: at}
	s.keys[key] = rec
	return rec, true, nil
}

func (s *memStore) FinishIdempotencyKey(_ context.Context, key string, resp queuepass.IdempotencyRecord) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	rec := s.keys[key]
	rec.Done, rec.Status, rec.Header, rec.Body = true, resp.Status, maps.Clone(resp.Header), slices.Clone(resp.Body)
	s.keys[key] = rec
	return nil
}

func (s *memStore) ReleaseIdempotencyKey(_ context.Context, key string) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.keys, key)
	return nil
}

func (s *memStore) PurgeIdempotencyKeys(_ context.Context, before time.Time) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	maps.DeleteFunc(s.keys, func(_ string, rec queuepass.IdempotencyRecord) bool { return rec.CreatedAt.Before(before) })
	return nil
}

func (s *memStore) Ping(context.Context) error {
	if err := s.lock(); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

func (s *memStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, set := range s.watchers {
		for ch := range set {
			close(ch)
		}
	}
	s.watchers = nil
	return nil
}

// Watch signals after every call that may have changed the event (under
// the store's one lock), which is more often than needed but never less.
func (s *memStore) Watch(ctx context.Context, eventID string) (<-chan struct{}, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ch := make(chan struct{}, 1)
	if s.watchers == nil {
		s.watchers = map[string]map[chan struct{}]struct{}{}
	}
	if s.watchers[eventID] == nil {
		s.watchers[eventID] = map[chan struct{}]struct{}{}
	}
	s.watchers[eventID][ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.watchers[eventID][ch]; ok {
			delete(s.watchers[eventID], ch)
			close(ch)
		}
	})
	return ch, nil
}

// signal wakes the watchers of an event; the caller holds s.mu.
func (s *memStore) signal(eventID string) {
	for ch := range s.watchers[eventID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
