package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var admitTests = []subtest{
	{"FIFO", testAdmitFIFO},
	{"NotOpen", testAdmitNotOpen},
	{"MaxActive", testAdmitMaxActive},
	{"ExpiresPassesFirst", testAdmitExpiresFirst},
	{"RecentAdmissions", testRecentAdmissions},
	{"Complete", testComplete},
	{"Revoke", testRevoke},
	{"RevokeRefused", testRevokeRefused},
	{"Abandon", testAbandon},
	{"AbandonPaced", testAbandonPaced},
	{"AbandonOff", testAbandonOff},
	{"Touch", testTouch},
	{"MedianWait", testMedianWait},
	{"ExpirePasses", testExpirePasses},
	{"UnknownEvent", testTicketStepsUnknownEvent},
}

// admitted returns tk as it should be once admitted at when with ttl.
func admitted(tk queuepass.Ticket, when time.Time, ttl time.Duration) queuepass.Ticket {
	tk.Status, tk.Position = queuepass.StatusAdmitted, 0
	tk.AdmittedAt, tk.PassExpiresAt = when, when.Add(ttl)
	return tk
}

// wantAdmission checks an Admission against the tickets (as joined) that it
// should have admitted at when, in order, and the number left waiting.
func (f *fixture) wantAdmission(call string, got queuepass.Admission, want []queuepass.Ticket, when time.Time, ttl time.Duration, waiting int) {
	f.t.Helper()
	if !slices.Equal(ids(got.Tickets), ids(want)) {
		f.t.Errorf("%s admitted users %q, want %q", call, users(got.Tickets), users(want))
	} else {
		for i, tk := range got.Tickets {
			w := admitted(want[i], when, ttl)
			if d := ticketDiff(tk, w); d != "" {
				f.t.Errorf("%s ticket %d: %s", call, i, d)
			}
			if d := ticketDiff(f.ticket(tk.EventID, tk.ID), w); d != "" {
				f.t.Errorf("Ticket after %s: %s", call, d)
			}
		}
	}
	if got.Waiting != waiting {
		f.t.Errorf("%s.Waiting = %d, want %d", call, got.Waiting, waiting)
	}
}

func users(tks []queuepass.Ticket) []string {
	out := make([]string, len(tks))
	for i, tk := range tks {
		out[i] = tk.UserID
	}
	return out
}

func testAdmitFIFO(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	tks := f.joinAll("e", 5, at(1))

	f.wantAdmission("Admit(2)", f.admit("e", 2, at(10)), tks[:2], at(10), passTTL, 3)
	f.wantLine("e", ids(tks[2:]))
	f.wantAdmission("Admit(0)", f.admit("e", 0, at(11)), nil, at(11), passTTL, 3)
	f.wantAdmission("Admit(10) with 3 waiting", f.admit("e", 10, at(12)), tks[2:], at(12), passTTL, 0)
	f.wantAdmission("Admit(10) with none waiting", f.admit("e", 10, at(13)), nil, at(13), passTTL, 0)
	f.wantCounts("e", queuepass.Counts{Admitted: 5})
	want := []queuepass.AdmissionBatch{{At: at(10), Count: 2}, {At: at(12), Count: 3}}
	if got := f.event("e").RecentAdmissions; !batchesEqual(got, want) {
		t.Errorf("RecentAdmissions = %v, want %v", got, want)
	}

	// The pass lasts the event's own PassTTL.
	ev := newEvent("long", queuepass.StateOpen)
	ev.PassTTL = 15 * time.Minute
	f.createEvent(ev)
	long := f.joinNew("long", "u1", at(1))
	f.wantAdmission("Admit(1) with PassTTL 15m", f.admit("long", 1, at(20)), []queuepass.Ticket{long}, at(20), 15*time.Minute, 0)
}

func testAdmitNotOpen(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	for _, state := range []queuepass.EventState{queuepass.StateScheduled, queuepass.StatePaused, queuepass.StateClosed} {
		id := string(state)
		f.createEvent(newEvent(id, queuepass.StateOpen))
		f.joinAll(id, 2, at(1))
		f.setState(id, state, at(2))
		if state == queuepass.StateScheduled {
			f.joinNew(id, "pre", at(3))
		}
		before := f.event(id).Counts
		for _, count := range []int{0, 1, 5} {
			_, err := f.s.Admit(f.ctx(), id, count, at(4))
			wantErr(t, fmt.Sprintf("Admit(%s event, %d)", state, count), err, queuepass.ErrEventNotOpen)
		}
		ev := f.event(id)
		if ev.Counts != before || len(ev.RecentAdmissions) != 0 {
			t.Errorf("after Admit on a %s event: Counts %+v, %d batches; want %+v, none", state, ev.Counts, len(ev.RecentAdmissions), before)
		}
	}
	_, err := f.s.Admit(f.ctx(), "nope", 1, at(4))
	wantErr(t, "Admit(unknown event)", err, queuepass.ErrEventNotFound)
}

func testAdmitMaxActive(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 3)
	tks := f.joinAll("e", 8, at(1))

	f.wantAdmission("Admit(2) of 3 slots", f.admit("e", 2, at(10)), tks[0:2], at(10), passTTL, 6)
	f.wantAdmission("Admit(5) with 1 slot free", f.admit("e", 5, at(11)), tks[2:3], at(11), passTTL, 5)
	f.wantAdmission("Admit(5) with no slot", f.admit("e", 5, at(12)), nil, at(12), passTTL, 5)
	f.complete("e", tks[0].ID, at(13))
	f.wantAdmission("Admit(5) after a Complete", f.admit("e", 5, at(14)), tks[3:4], at(14), passTTL, 4)
	f.wantCounts("e", queuepass.Counts{Waiting: 4, Admitted: 3, Completed: 1})

	// u2's pass runs out at 70: the Admit at 70 expires it and uses its slot.
	f.wantAdmission("Admit(5) when one pass ran out", f.admit("e", 5, at(70)), tks[4:5], at(70), passTTL, 3)
	u2 := tks[1]
	u2 = admitted(u2, at(10), passTTL)
	u2.Status, u2.EndedAt = queuepass.StatusExpired, at(70)
	if d := ticketDiff(f.ticket("e", u2.ID), u2); d != "" {
		t.Errorf("ticket whose pass ran out, after Admit: %s", d)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 3, Admitted: 3, Completed: 1, Expired: 1})

	// More headroom: u3 runs out at 71 and two more slots open.
	ev := f.event("e")
	ev.MaxActive = 5
	f.update(ev, at(71))
	f.wantAdmission("Admit(5) after MaxActive 3 → 5", f.admit("e", 5, at(71)), tks[5:8], at(71), passTTL, 0)
	f.wantCounts("e", queuepass.Counts{Admitted: 5, Completed: 1, Expired: 2})
}

func testAdmitExpiresFirst(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("capped", 2)
	tks := f.joinAll("capped", 4, at(1))
	f.admit("capped", 2, at(1)) // passes until 61
	f.wantAdmission("Admit(2) a second before the passes run out", f.admit("capped", 2, at(60)), nil, at(60), passTTL, 2)
	f.wantStatus("capped", tks[0].ID, queuepass.StatusAdmitted)
	f.wantAdmission("Admit(2) when the passes run out", f.admit("capped", 2, at(61)), tks[2:], at(61), passTTL, 0)
	for _, tk := range tks[:2] {
		if got := f.wantStatus("capped", tk.ID, queuepass.StatusExpired); !got.EndedAt.Equal(at(61)) {
			t.Errorf("expired ticket EndedAt = %v, want its PassExpiresAt %v", got.EndedAt, at(61))
		}
	}
	f.wantCounts("capped", queuepass.Counts{Admitted: 2, Expired: 2})

	// Without MaxActive, and with count 0, Admit still expires first.
	f.open("free", 0)
	tk := f.joinNew("free", "u1", at(1))
	f.admit("free", 1, at(10))
	f.admit("free", 0, at(100))
	if got := f.wantStatus("free", tk.ID, queuepass.StatusExpired); !got.EndedAt.Equal(at(70)) {
		t.Errorf("expired ticket EndedAt = %v, want its PassExpiresAt %v", got.EndedAt, at(70))
	}
	f.wantCounts("free", queuepass.Counts{Expired: 1})
}

func testRecentAdmissions(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	ev := newEvent("e", queuepass.StateOpen)
	ev.PassTTL = 24 * time.Hour
	f.createEvent(ev)

	const batches = queuepass.MaxRecentAdmissions + 5
	size := func(i int) int { return 1 + i%2 } // 1 or 2 tickets
	need := 0
	for i := range batches {
		need += size(i)
	}
	f.joinAll("e", need, at(0))

	var want []queuepass.AdmissionBatch
	for i := range batches {
		when := at(10 + 2*i)
		f.admit("e", 0, when.Add(-time.Second)) // not recorded
		if n := len(f.admit("e", size(i), when).Tickets); n != size(i) {
			t.Fatalf("Admit(%d) admitted %d", size(i), n)
		}
		want = append(want, queuepass.AdmissionBatch{At: when, Count: size(i)})
		if i == 2 {
			if got := f.event("e").RecentAdmissions; !batchesEqual(got, want) {
				t.Errorf("RecentAdmissions after 3 batches = %v, want %v", got, want)
			}
		}
	}
	f.admit("e", 5, at(10_000)) // nobody waits: not recorded
	want = want[len(want)-queuepass.MaxRecentAdmissions:]
	got := f.event("e").RecentAdmissions
	if !batchesEqual(got, want) {
		t.Errorf("after %d batches, RecentAdmissions has %d batches from %v to %v; want the latest %d, from %v to %v",
			batches, len(got), firstBatch(got), lastBatch(got), len(want), firstBatch(want), lastBatch(want))
	}
}

func firstBatch(bs []queuepass.AdmissionBatch) any {
	if len(bs) == 0 {
		return "none"
	}
	return bs[0]
}

func lastBatch(bs []queuepass.AdmissionBatch) any {
	if len(bs) == 0 {
		return "none"
	}
	return bs[len(bs)-1]
}

func testComplete(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 1)
	tks := f.joinAll("e", 4, at(1))
	u1, u2, u3, u4 := tks[0], tks[1], tks[2], tks[3]
	f.admit("e", 1, at(10)) // u1, pass until 70

	want := admitted(u1, at(10), passTTL)
	want.Status, want.EndedAt = queuepass.StatusCompleted, at(20)
	if d := ticketDiff(f.complete("e", u1.ID, at(20)), want); d != "" {
		t.Errorf("Complete(admitted): %s", d)
	}
	for _, when := range []int{30, 200, 5} {
		if d := ticketDiff(f.complete("e", u1.ID, at(when)), want); d != "" {
			t.Errorf("Complete(completed) at %v: %s", at(when), d)
		}
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 3, Completed: 1})

	// Completing freed the only slot.
	f.wantAdmission("Admit(1) after Complete", f.admit("e", 1, at(21)), []queuepass.Ticket{u2}, at(21), passTTL, 2)

	_, err := f.s.Complete(f.ctx(), "e", u3.ID, 1, at(22))
	wantErr(t, "Complete(waiting)", err, queuepass.ErrTicketNotAdmitted)
	// u2's pass ran out at 81: from then on it cannot be completed.
	for _, when := range []int{81, 90} {
		_, err = f.s.Complete(f.ctx(), "e", u2.ID, 1, at(when))
		wantErr(t, fmt.Sprintf("Complete(pass ran out %ds ago)", when-81), err, queuepass.ErrTicketNotAdmitted)
	}

	f.wantAdmission("Admit(1) after the pass ran out", f.admit("e", 1, at(100)), []queuepass.Ticket{u3}, at(100), passTTL, 1)
	_, err = f.s.Complete(f.ctx(), "e", u2.ID, 1, at(100))
	wantErr(t, "Complete(expired)", err, queuepass.ErrTicketNotAdmitted)
	// The last second of a pass still counts.
	f.complete("e", u3.ID, at(159))
	f.leave("e", u4.ID, at(160))
	_, err = f.s.Complete(f.ctx(), "e", u4.ID, 1, at(161))
	wantErr(t, "Complete(left)", err, queuepass.ErrTicketNotAdmitted)
	f.wantCounts("e", queuepass.Counts{Completed: 2, Expired: 1, Left: 1})

	f.createEvent(newEvent("pre", queuepass.StateScheduled))
	pre := f.joinNew("pre", "p", at(1))
	_, err = f.s.Complete(f.ctx(), "pre", pre.ID, 1, at(2))
	wantErr(t, "Complete(prequeue)", err, queuepass.ErrTicketNotAdmitted)
	f.setState("pre", queuepass.StateClosed, at(3))
	_, err = f.s.Complete(f.ctx(), "pre", pre.ID, 1, at(4))
	wantErr(t, "Complete(closed)", err, queuepass.ErrTicketNotAdmitted)
	f.wantCounts("pre", queuepass.Counts{Closed: 1})
}

func testExpirePasses(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	f.open("other", 0)
	tks := f.joinAll("e", 4, at(1))
	otk := f.joinNew("other", "u1", at(1))
	f.admit("other", 1, at(10))
	f.admit("e", 1, at(10)) // u1, until 70
	f.admit("e", 1, at(20)) // u2, until 80
	f.admit("e", 1, at(30)) // u3, until 90
	f.complete("e", tks[2].ID, at(31))
	f.setState("e", queuepass.StatePaused, at(32)) // expiry does not depend on state

	if n := f.expire("e", at(69)); n != 0 {
		t.Errorf("ExpirePasses(69) = %d, want 0", n)
	}
	if n := f.expire("e", at(80)); n != 2 {
		t.Errorf("ExpirePasses(80) = %d, want 2", n)
	}
	for i, until := range []int{70, 80} {
		want := admitted(tks[i], at(10*(i+1)), passTTL)
		want.Status, want.EndedAt = queuepass.StatusExpired, at(until)
		if d := ticketDiff(f.ticket("e", tks[i].ID), want); d != "" {
			t.Errorf("expired ticket %s: %s", tks[i].UserID, d)
		}
	}
	f.wantStatus("e", tks[2].ID, queuepass.StatusCompleted)
	f.wantLine("e", ids(tks[3:]))
	if n := f.expire("e", at(1000)); n != 0 {
		t.Errorf("ExpirePasses(1000) with no admitted tickets = %d, want 0", n)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 1, Completed: 1, Expired: 2})

	// Other events keep their passes.
	f.wantStatus("other", otk.ID, queuepass.StatusAdmitted)
	f.wantCounts("other", queuepass.Counts{Admitted: 1})
}

// testTicketStepsUnknownEvent checks the ticket steps whose doc does not
// name ErrEventNotFound: an unknown event is reported the same way as by
// Event, Join and Ticket.
func testTicketStepsUnknownEvent(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	tk := f.joinNew("e", "u1", at(1))
	_, err := f.s.Leave(f.ctx(), "nope", tk.ID, at(2))
	wantErr(t, "Leave(unknown event)", err, queuepass.ErrEventNotFound)
	_, err = f.s.Complete(f.ctx(), "nope", tk.ID, 1, at(2))
	wantErr(t, "Complete(unknown event)", err, queuepass.ErrEventNotFound)
	_, err = f.s.ExpirePasses(f.ctx(), "nope", at(2))
	wantErr(t, "ExpirePasses(unknown event)", err, queuepass.ErrEventNotFound)
	_, err = f.s.Admit(f.ctx(), "nope", 1, at(2))
	wantErr(t, "Admit(unknown event)", err, queuepass.ErrEventNotFound)
	f.wantLine("e", []string{tk.ID})
}
