package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var modelTests = []subtest{
	{"Scripted", testModelScripted},
	{"Random", testModelRandom},
}

// model is what the suite expects of one event, kept next to a store and
// compared with it after every step.
type model struct {
	f       *fixture
	id      string
	ev      queuepass.Event     // settings and Version as stored
	tickets []*queuepass.Ticket // in creation order; Position unused
	line    []*queuepass.Ticket // waiting, in line order
	live    map[string]*queuepass.Ticket
	batches []queuepass.AdmissionBatch
	now     time.Time
}

func newModel(f *fixture, ev queuepass.Event) *model {
	f.t.Helper()
	return &model{f: f, id: ev.ID, ev: f.createEvent(ev), live: map[string]*queuepass.Ticket{}, now: ev.CreatedAt}
}

// want returns tk as the store should report it.
func (m *model) want(tk *queuepass.Ticket) queuepass.Ticket {
	w := *tk
	w.Position = 0
	if w.Status == queuepass.StatusWaiting {
		w.Position = slices.Index(m.line, tk) + 1
	}
	return w
}

func (m *model) counts() queuepass.Counts {
	var c queuepass.Counts
	for _, tk := range m.tickets {
		switch tk.Status {
		case queuepass.StatusPrequeue:
			c.Prequeue++
		case queuepass.StatusWaiting:
			c.Waiting++
		case queuepass.StatusAdmitted:
			c.Admitted++
		case queuepass.StatusCompleted:
			c.Completed++
		case queuepass.StatusLeft:
			c.Left++
		case queuepass.StatusExpired:
			c.Expired++
		case queuepass.StatusClosed:
			c.Closed++
		}
	}
	return c
}

// end gives tk the final status st at when.
func (m *model) end(tk *queuepass.Ticket, st queuepass.TicketStatus, when time.Time) {
	if tk.Status == queuepass.StatusWaiting {
		m.line = slices.DeleteFunc(m.line, func(x *queuepass.Ticket) bool { return x == tk })
	}
	tk.Status, tk.EndedAt = st, when
	delete(m.live, tk.UserID)
}

// check compares the event with the store; with all, every ticket too.
func (m *model) check(step string, all bool) {
	t := m.f.t
	t.Helper()
	ev := m.f.event(m.id)
	want := m.counts()
	if ev.Counts != want {
		t.Fatalf("%s: Counts = %+v, want %+v", step, ev.Counts, want)
	}
	if ev.Counts.Total() != len(m.tickets) {
		t.Fatalf("%s: Counts.Total() = %d, want %d tickets made", step, ev.Counts.Total(), len(m.tickets))
	}
	if ev.Version != m.ev.Version || ev.State != m.ev.State || ev.MaxActive != m.ev.MaxActive {
		t.Fatalf("%s: Event = version %d, state %s, MaxActive %d; want %d, %s, %d",
			step, ev.Version, ev.State, ev.MaxActive, m.ev.Version, m.ev.State, m.ev.MaxActive)
	}
	if !batchesEqual(ev.RecentAdmissions, m.batches) {
		t.Fatalf("%s: RecentAdmissions = %v, want %v", step, ev.RecentAdmissions, m.batches)
	}
	if !all {
		return
	}
	for _, tk := range m.tickets {
		if d := ticketDiff(m.f.ticket(m.id, tk.ID), m.want(tk)); d != "" {
			t.Fatalf("%s: Ticket(%s, %s): %s", step, tk.UserID, m.want(tk).Status, d)
		}
	}
}

// wantTicket compares a ticket a step returned with the model.
func (m *model) wantTicket(step string, got queuepass.Ticket, tk *queuepass.Ticket) {
	m.f.t.Helper()
	if d := ticketDiff(got, m.want(tk)); d != "" {
		m.f.t.Fatalf("%s: %s", step, d)
	}
}

func (m *model) join(user string) {
	m.f.t.Helper()
	step := fmt.Sprintf("Join(%q) at %v", user, m.now)
	got, created, err := m.f.s.Join(m.f.ctx(), m.id, user, queuepass.JoinProof{}, m.now)
	if m.ev.State == queuepass.StateClosed {
		if !errors.Is(err, queuepass.ErrEventClosed) {
			m.f.t.Fatalf("%s in a closed event: error %v, want %v", step, err, queuepass.ErrEventClosed)
		}
		return
	}
	if err != nil {
		m.f.t.Fatalf("%s: %v", step, err)
	}
	tk, ok := m.live[user]
	if created == ok {
		m.f.t.Fatalf("%s: created = %v, want %v", step, created, !ok)
	}
	if !ok {
		tk = &queuepass.Ticket{ID: got.ID, EventID: m.id, UserID: user, Status: queuepass.StatusWaiting, JoinedAt: m.now}
		if m.ev.State == queuepass.StateScheduled {
			tk.Status = queuepass.StatusPrequeue
		} else {
			m.line = append(m.line, tk)
		}
		m.tickets = append(m.tickets, tk)
		m.live[user] = tk
	}
	m.wantTicket(step, got, tk)
}

func (m *model) leave(tk *queuepass.Ticket) {
	m.f.t.Helper()
	step := fmt.Sprintf("Leave(%s ticket of %q) at %v", tk.Status, tk.UserID, m.now)
	got, err := m.f.s.Leave(m.f.ctx(), m.id, tk.ID, m.now)
	switch tk.Status {
	case queuepass.StatusPrequeue, queuepass.StatusWaiting:
		m.end(tk, queuepass.StatusLeft, m.now)
	case queuepass.StatusLeft:
	default:
		if !errors.Is(err, queuepass.ErrTicketNotWaiting) {
			m.f.t.Fatalf("%s: error %v, want %v", step, err, queuepass.ErrTicketNotWaiting)
		}
		return
	}
	if err != nil {
		m.f.t.Fatalf("%s: %v", step, err)
	}
	m.wantTicket(step, got, tk)
}

// expirePasses expires the model's passes that ran out at or before now.
func (m *model) expirePasses() int {
	n := 0
	for _, tk := range m.tickets {
		if tk.Status == queuepass.StatusAdmitted && !tk.PassExpiresAt.After(m.now) {
			m.end(tk, queuepass.StatusExpired, tk.PassExpiresAt)
			n++
		}
	}
	return n
}

func (m *model) admit(count int) {
	m.f.t.Helper()
	step := fmt.Sprintf("Admit(%d) at %v", count, m.now)
	if m.ev.State != queuepass.StateOpen {
		// Whether a refused Admit expires passes first is not promised,
		// so the model only asks open events.
		m.f.t.Fatalf("model error: %s on a %s event", step, m.ev.State)
	}
	got, err := m.f.s.Admit(m.f.ctx(), m.id, count, m.now)
	if err != nil {
		m.f.t.Fatalf("%s: %v", step, err)
	}
	m.expirePasses()
	n := min(count, len(m.line))
	if m.ev.MaxActive > 0 {
		n = min(n, max(0, m.ev.MaxActive-m.counts().Admitted))
	}
	want := slices.Clone(m.line[:n])
	m.line = slices.Delete(m.line, 0, n)
	for _, tk := range want {
		tk.Status = queuepass.StatusAdmitted
		tk.AdmittedAt, tk.PassExpiresAt = m.now, m.now.Add(m.ev.PassTTL)
	}
	if n > 0 {
		m.batches = append(m.batches, queuepass.AdmissionBatch{At: m.now, Count: n})
		if len(m.batches) > queuepass.MaxRecentAdmissions {
			m.batches = m.batches[1:]
		}
	}
	if len(got.Tickets) != n || got.Waiting != len(m.line) {
		m.f.t.Fatalf("%s admitted %d with %d left waiting, want %d and %d", step, len(got.Tickets), got.Waiting, n, len(m.line))
	}
	for i, tk := range want {
		m.wantTicket(step, got.Tickets[i], tk)
	}
}

func (m *model) complete(tk *queuepass.Ticket) {
	m.f.t.Helper()
	step := fmt.Sprintf("Complete(%s ticket of %q) at %v", tk.Status, tk.UserID, m.now)
	got, err := m.f.s.Complete(m.f.ctx(), m.id, tk.ID, 1, m.now)
	switch {
	case tk.Status == queuepass.StatusAdmitted && tk.PassExpiresAt.After(m.now):
		m.end(tk, queuepass.StatusCompleted, m.now)
	case tk.Status == queuepass.StatusCompleted:
	default:
		if !errors.Is(err, queuepass.ErrTicketNotAdmitted) {
			m.f.t.Fatalf("%s: error %v, want %v", step, err, queuepass.ErrTicketNotAdmitted)
		}
		if tk.Status == queuepass.StatusAdmitted {
			// Whether a refused Complete expires the pass that ran out is
			// not promised; accept either, as long as it is done right.
			if now := m.f.ticket(m.id, tk.ID); now.Status == queuepass.StatusExpired {
				m.end(tk, queuepass.StatusExpired, tk.PassExpiresAt)
			}
		}
		return
	}
	if err != nil {
		m.f.t.Fatalf("%s: %v", step, err)
	}
	m.wantTicket(step, got, tk)
}

func (m *model) expire() {
	m.f.t.Helper()
	got, err := m.f.s.ExpirePasses(m.f.ctx(), m.id, m.now)
	if err != nil {
		m.f.t.Fatalf("ExpirePasses at %v: %v", m.now, err)
	}
	if want := m.expirePasses(); got != want {
		m.f.t.Fatalf("ExpirePasses at %v = %d, want %d", m.now, got, want)
	}
}

// update stores ev's settings, carrying out the effects of a state change.
func (m *model) update(ev queuepass.Event) {
	m.f.t.Helper()
	ev.Version = m.ev.Version
	got, err := m.f.s.UpdateEvent(m.f.ctx(), ev, m.now)
	if err != nil {
		m.f.t.Fatalf("UpdateEvent(state %s → %s) at %v: %v", m.ev.State, ev.State, m.now, err)
	}
	from := m.ev.State
	m.ev = ev
	m.ev.Version++
	switch {
	case from == queuepass.StateScheduled && (ev.State == queuepass.StateOpen || ev.State == queuepass.StatePaused):
		var pre []string
		byID := map[string]*queuepass.Ticket{}
		for _, tk := range m.tickets {
			if tk.Status == queuepass.StatusPrequeue {
				pre = append(pre, tk.ID)
				byID[tk.ID] = tk
			}
		}
		var placed []*queuepass.Ticket
		drawn, _ := queuepass.DrawOrder(m.ev.DrawSeed, pre)
		for _, id := range drawn {
			byID[id].Status = queuepass.StatusWaiting
			placed = append(placed, byID[id])
		}
		m.line = append(placed, m.line...)
	case ev.State == queuepass.StateClosed:
		for _, tk := range m.tickets {
			if tk.Status == queuepass.StatusPrequeue || tk.Status == queuepass.StatusWaiting {
				m.end(tk, queuepass.StatusClosed, m.now)
			}
		}
	}
	if got.Version != m.ev.Version || got.State != ev.State {
		m.f.t.Fatalf("UpdateEvent(state %s) = version %d, state %s; want %d, %s", ev.State, got.Version, got.State, m.ev.Version, ev.State)
	}
}

func (m *model) setState(st queuepass.EventState) {
	m.f.t.Helper()
	ev := m.ev
	ev.State = st
	m.update(ev)
}

func (m *model) tick(sec int) { m.now = m.now.Add(time.Duration(sec) * time.Second) }

func testModelScripted(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	ev := newEvent("e", queuepass.StateScheduled)
	ev.MaxActive = 2
	m := newModel(f, ev)
	step := 0
	do := func(what string, fn func()) {
		t.Helper()
		step++
		m.tick(1)
		fn()
		m.check(fmt.Sprintf("step %d (%s)", step, what), true)
	}
	tk := func(user string) *queuepass.Ticket {
		for _, tk := range slices.Backward(m.tickets) {
			if tk.UserID == user {
				return tk
			}
		}
		t.Fatalf("no ticket of %q", user)
		return nil
	}
	withStatus := func(st queuepass.TicketStatus) *queuepass.Ticket {
		i := slices.IndexFunc(m.tickets, func(x *queuepass.Ticket) bool { return x.Status == st })
		if i < 0 {
			t.Fatalf("no %s ticket", st)
		}
		return m.tickets[i]
	}
	for _, u := range []string{"a", "b", "c", "d"} {
		do("join "+u, func() { m.join(u) })
	}
	do("b leaves the pre-queue", func() { m.leave(tk("b")) })
	do("a joins again", func() { m.join("a") })
	do("open", func() { m.setState(queuepass.StateOpen) })
	do("e joins", func() { m.join("e") })
	do("b joins again", func() { m.join("b") })
	do("admit 3", func() { m.admit(3) })
	do("admit 3 with no room", func() { m.admit(3) })
	do("complete the first admitted", func() { m.complete(withStatus(queuepass.StatusAdmitted)) })
	do("pause", func() { m.setState(queuepass.StatePaused) })
	do("f joins while paused", func() { m.join("f") })
	do("e leaves", func() { m.leave(tk("e")) })
	do("e leaves again", func() { m.leave(tk("e")) })
	m.tick(int(passTTL.Seconds()))
	do("expire", m.expire)
	do("open again", func() { m.setState(queuepass.StateOpen) })
	do("admit 10", func() { m.admit(10) })
	do("an expired user joins again", func() { m.join(withStatus(queuepass.StatusExpired).UserID) })
	do("e joins again", func() { m.join("e") })
	do("close", func() { m.setState(queuepass.StateClosed) })
	do("g joins the closed event", func() { m.join("g") })
	m.tick(int(passTTL.Seconds()))
	do("expire after close", m.expire)
	if c := m.counts(); c.Expired == 0 || c.Closed == 0 || c.Left == 0 || c.Completed == 0 {
		t.Errorf("the script did not reach every final status: %+v", c)
	}
}

func testModelRandom(t *testing.T, newStore newStoreFunc) {
	seeds, steps := 4, 300
	if testing.Short() {
		seeds, steps = 2, 100
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			runRandomModel(t, begin(t, newStore), seed, steps)
		})
	}
}

// runRandomModel drives a store and the model with the same random steps:
// a pre-queue phase, an open phase with pauses, capacity changes, joins,
// leaves, admissions, completions and expiry, and a close.
func runRandomModel(t *testing.T, f *fixture, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, 0x5709e7e57))
	ev := newEvent("e", queuepass.StateScheduled)
	ev.PassTTL = 30 * time.Second
	ev.MaxActive = r.IntN(4)
	m := newModel(f, ev)
	users := make([]string, 12+r.IntN(20))
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
	}
	anyTicket := func() *queuepass.Ticket {
		if len(m.tickets) == 0 {
			return nil
		}
		// Favour recent tickets, which are more often live.
		n := len(m.tickets)
		return m.tickets[n-1-r.IntN(1+r.IntN(n))]
	}
	for i := range steps {
		last := "time passes"
		m.tick(r.IntN(8))
		switch p := r.IntN(100); {
		case i == steps/5:
			last = "open"
			m.setState(queuepass.StateOpen)
		case i == steps-1:
			last = "close"
			m.setState(queuepass.StateClosed)
		case p < 40:
			last = "join"
			m.join(users[r.IntN(len(users))])
		case p < 55:
			if tk := anyTicket(); tk != nil {
				last = "leave " + string(tk.Status)
				m.leave(tk)
			}
		case p < 72:
			if m.ev.State == queuepass.StateOpen {
				last = "admit"
				m.admit(r.IntN(4))
			}
		case p < 85:
			if tk := anyTicket(); tk != nil {
				last = "complete " + string(tk.Status)
				m.complete(tk)
			}
		case p < 90:
			last = "expire"
			m.expire()
		case p < 95:
			if m.ev.State == queuepass.StateOpen || m.ev.State == queuepass.StatePaused {
				last = "pause/resume"
				m.setState(map[queuepass.EventState]queuepass.EventState{
					queuepass.StateOpen: queuepass.StatePaused, queuepass.StatePaused: queuepass.StateOpen,
				}[m.ev.State])
			}
		default:
			last = "set MaxActive"
			ev := m.ev
			ev.MaxActive = r.IntN(5)
			m.update(ev)
		}
		m.check(fmt.Sprintf("seed %d, step %d (%s)", seed, i, last), i%10 == 0 || i == steps-1)
	}
}
