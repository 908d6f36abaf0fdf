package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

// idleTimeout is the IdleTimeout of the events the abandonment checks make.
const idleTimeout = 30 * time.Second

// openIdle makes an open event with the given idle timeout.
func (f *fixture) openIdle(id string, idle time.Duration) queuepass.Event {
	f.t.Helper()
	ev := newEvent(id, queuepass.StateOpen)
	ev.IdleTimeout = idle
	got := f.createEvent(ev)
	if got.IdleTimeout != idle {
		f.t.Errorf("CreateEvent: IdleTimeout = %v, want %v", got.IdleTimeout, idle)
	}
	return got
}

func (f *fixture) touch(eventID, ticketID string, at time.Time) {
	f.t.Helper()
	if err := f.s.Touch(f.ctx(), eventID, ticketID, at); err != nil {
		f.t.Fatalf("Touch(%q, %q) error: %v", eventID, ticketID, err)
	}
}

// abandoned returns tk as it should be once an admission at when found it
// gone.
func abandoned(tk queuepass.Ticket, when time.Time) queuepass.Ticket {
	tk.Status, tk.Position = queuepass.StatusExpired, 0
	tk.EndedAt, tk.StatusReason = when, queuepass.ReasonAbandoned
	return tk
}

// wantAbandoned checks the event's Abandoned count.
func (f *fixture) wantAbandoned(eventID string, want int) {
	f.t.Helper()
	if got := f.event(eventID).Abandoned; got != want {
		f.t.Errorf("Event(%q).Abandoned = %d, want %d", eventID, got, want)
	}
}

// testAbandon checks that Admit skips a ticket unseen for the idle timeout,
// expiring it as abandoned, and admits the fresh one behind it in its
// place; that the counts add up; and that the abandoned user may join
// again.
func testAbandon(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.openIdle("e", idleTimeout)
	tks := f.joinAll("e", 3, at(1))
	u1, u2, u3 := tks[0], tks[1], tks[2]
	f.touch("e", u2.ID, at(20))
	f.touch("e", u3.ID, at(25))

	// u1: joined at 1, never seen, gone at 31. u2: seen at 20, there until 50.
	f.wantAdmission("Admit(1) with u1 gone", f.admit("e", 1, at(40)), []queuepass.Ticket{u2}, at(40), passTTL, 1)
	if d := ticketDiff(f.ticket("e", u1.ID), abandoned(u1, at(40))); d != "" {
		t.Errorf("Ticket(abandoned): %s", d)
	}
	want3 := u3
	want3.Position = 1
	if d := ticketDiff(f.ticket("e", u3.ID), want3); d != "" {
		t.Errorf("Ticket(u3, seen at 25): %s", d)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 1, Admitted: 1, Expired: 1})
	f.wantAbandoned("e", 1)

	// The limit is inclusive: seen at 25, gone at 55.
	f.wantAdmission("Admit(1) with u3 gone", f.admit("e", 1, at(55)), nil, at(55), passTTL, 0)
	if d := ticketDiff(f.ticket("e", u3.ID), abandoned(u3, at(55))); d != "" {
		t.Errorf("Ticket(abandoned at the limit): %s", d)
	}
	f.wantCounts("e", queuepass.Counts{Admitted: 1, Expired: 2})
	f.wantAbandoned("e", 2)
	if got := f.event("e").RecentAdmissions; len(got) != 1 {
		t.Errorf("RecentAdmissions after an admission that only abandoned: %d batches, want 1", len(got))
	}

	// The abandoned user holds no live ticket: a join makes a new one.
	again := f.joinNew("e", u1.UserID, at(60))
	f.wantCounts("e", queuepass.Counts{Waiting: 1, Admitted: 1, Expired: 2})
	if c := f.event("e").Counts; c.Total() != 4 {
		t.Errorf("Counts.Total() = %d, want 4 tickets", c.Total())
	}

	// A settings update keeps the count and may turn the timeout off.
	ev := f.event("e")
	ev.IdleTimeout = 0
	ev = f.update(ev, at(61))
	if ev.IdleTimeout != 0 || ev.Abandoned != 2 {
		t.Errorf("UpdateEvent(IdleTimeout 0): IdleTimeout %v, Abandoned %d; want 0, 2", ev.IdleTimeout, ev.Abandoned)
	}
	f.wantAdmission("Admit(1) with the timeout off", f.admit("e", 1, at(1000)), []queuepass.Ticket{again}, at(1000), passTTL, 0)
	f.wantAbandoned("e", 2)
}

// testAbandonPaced checks that AdmitPaced skips abandoned tickets in the
// same step, spending its credit only on those it admits.
func testAbandonPaced(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.openIdle("e", 10*time.Second)
	tks := f.joinAll("e", 4, at(0))
	u1, u2, u3, u4 := tks[0], tks[1], tks[2], tks[3]
	f.touch("e", u2.ID, at(15))
	f.touch("e", u4.ID, at(15))

	// At 60 a minute the first call earns one second's burst plus one
	// ticket: 2. u1 and u3 are gone (unseen since 0), u2 and u4 are not.
	adm := f.paced("e", 60, at(20))
	f.wantAdmission("AdmitPaced at 20", adm, []queuepass.Ticket{u2, u4}, at(20), passTTL, 0)
	for _, tk := range []queuepass.Ticket{u1, u3} {
		if d := ticketDiff(f.ticket("e", tk.ID), abandoned(tk, at(20))); d != "" {
			t.Errorf("Ticket(%s) after AdmitPaced: %s", tk.UserID, d)
		}
	}
	f.wantCounts("e", queuepass.Counts{Admitted: 2, Expired: 2})
	f.wantAbandoned("e", 2)
}

// testAbandonOff checks that an event without an idle timeout never
// abandons anyone.
func testAbandonOff(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.openIdle("e", 0)
	tks := f.joinAll("e", 2, at(1))
	f.wantAdmission("Admit(2) a day later", f.admit("e", 2, at(86400)), tks, at(86400), passTTL, 0)
	f.wantCounts("e", queuepass.Counts{Admitted: 2})
	f.wantAbandoned("e", 0)
}

// testTouch checks that Touch records LastSeen for waiting and prequeue
// tickets only, never moves it back, and refuses unknown tickets and
// events.
func testTouch(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.openIdle("e", idleTimeout)
	tks := f.joinAll("e", 2, at(1))
	u1, u2 := tks[0], tks[1]
	if got := f.ticket("e", u1.ID).LastSeen; !got.IsZero() {
		t.Errorf("LastSeen before Touch = %v, want zero", got)
	}
	f.touch("e", u1.ID, at(20))
	f.touch("e", u1.ID, at(10)) // earlier: ignored
	if got := f.ticket("e", u1.ID).LastSeen; !got.Equal(at(20)) {
		t.Errorf("LastSeen after Touch at 20 and 10 = %v, want %v", got, at(20))
	}
	if tk, _ := f.join("e", u1.UserID, at(21)); !tk.LastSeen.Equal(at(20)) {
		t.Errorf("Join(repeat).LastSeen = %v, want %v", tk.LastSeen, at(20))
	}
	f.admit("e", 1, at(22)) // u1
	f.touch("e", u1.ID, at(23))
	f.leave("e", u2.ID, at(24))
	f.touch("e", u2.ID, at(25))
	if got := f.ticket("e", u2.ID); got.Status != queuepass.StatusLeft {
		t.Errorf("Touch(left) made it %s", got.Status)
	}

	pre := newEvent("s", queuepass.StateScheduled)
	pre.IdleTimeout = idleTimeout
	f.createEvent(pre)
	p := f.joinNew("s", "early", at(1))
	f.touch("s", p.ID, at(5))
	if got := f.ticket("s", p.ID).LastSeen; !got.Equal(at(5)) {
		t.Errorf("LastSeen of a prequeue ticket after Touch = %v, want %v", got, at(5))
	}

	if err := f.s.Touch(f.ctx(), "e", "nope", at(30)); !errors.Is(err, queuepass.ErrTicketNotFound) {
		t.Errorf("Touch(malformed ID) error = %v, want ErrTicketNotFound", err)
	}
	if err := f.s.Touch(f.ctx(), "missing", u1.ID, at(30)); !errors.Is(err, queuepass.ErrEventNotFound) {
		t.Errorf("Touch(unknown event) error = %v, want ErrEventNotFound", err)
	}
}
