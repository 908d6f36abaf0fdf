package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

func (f *fixture) revoke(eventID, ticketID string, at time.Time) queuepass.Ticket {
	f.t.Helper()
	tk, err := f.s.Revoke(f.ctx(), eventID, ticketID, at)
	if err != nil {
		f.t.Fatalf("Revoke(%q, %q) error: %v", eventID, ticketID, err)
	}
	return tk
}

// testRevoke checks that revoking a live pass expires it at once with
// reason revoked, frees its place, ends the user's live ticket, and that a
// repeat answers the revoked ticket unchanged.
func testRevoke(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 1)
	tks := f.joinAll("e", 3, at(1))
	u1, u2 := tks[0], tks[1]
	f.admit("e", 1, at(10)) // u1, pass until 70

	want := admitted(u1, at(10), passTTL)
	want.Status, want.EndedAt, want.StatusReason = queuepass.StatusExpired, at(20), queuepass.ReasonRevoked
	if d := ticketDiff(f.revoke("e", u1.ID, at(20)), want); d != "" {
		t.Errorf("Revoke(admitted): %s", d)
	}
	if d := ticketDiff(f.ticket("e", u1.ID), want); d != "" {
		t.Errorf("Ticket(revoked): %s", d)
	}
	for _, when := range []int{30, 200, 5} {
		if d := ticketDiff(f.revoke("e", u1.ID, at(when)), want); d != "" {
			t.Errorf("Revoke(revoked) at %v: %s", at(when), d)
		}
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 2, Expired: 1})

	// Revoking freed the only place, and the pass' end does not expire it
	// again.
	f.wantAdmission("Admit(1) after Revoke", f.admit("e", 1, at(21)), []queuepass.Ticket{u2}, at(21), passTTL, 1)
	if n := f.expire("e", at(75)); n != 0 {
		t.Errorf("ExpirePasses after the revoked pass' end = %d, want 0", n)
	}
	if d := ticketDiff(f.ticket("e", u1.ID), want); d != "" {
		t.Errorf("Ticket(revoked) after ExpirePasses: %s", d)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 1, Admitted: 1, Expired: 1})

	// The user holds no live ticket any more: a join makes a new one.
	again := f.joinNew("e", u1.UserID, at(22))
	if again.StatusReason != "" {
		t.Errorf("Join after Revoke: StatusReason = %q, want none", again.StatusReason)
	}

	// A pass that ran out by itself carries no reason.
	u2 = f.wantStatus("e", u2.ID, queuepass.StatusAdmitted)
	f.expire("e", at(81))
	if tk := f.wantStatus("e", u2.ID, queuepass.StatusExpired); tk.StatusReason != "" {
		t.Errorf("Ticket(expired by time).StatusReason = %q, want none", tk.StatusReason)
	}
}

// testRevokeRefused checks that only a live pass can be revoked.
func testRevokeRefused(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	tks := f.joinAll("e", 5, at(1))
	u1, u2, u3, u4, u5 := tks[0], tks[1], tks[2], tks[3], tks[4]
	f.admit("e", 3, at(10)) // u1, u2, u3, passes until 70
	f.complete("e", u2.ID, at(11))
	f.leave("e", u5.ID, at(12))

	for _, c := range []struct {
		name string
		id   string
		when int
	}{
		{"waiting", u4.ID, 20},
		{"completed", u2.ID, 20},
		{"left", u5.ID, 20},
		{"pass ran out", u1.ID, 70},
		{"pass ran out long ago", u3.ID, 90},
	} {
		_, err := f.s.Revoke(f.ctx(), "e", c.id, at(c.when))
		wantErr(t, fmt.Sprintf("Revoke(%s)", c.name), err, queuepass.ErrTicketNotAdmitted)
	}
	f.expire("e", at(90))
	_, err := f.s.Revoke(f.ctx(), "e", u1.ID, at(91))
	wantErr(t, "Revoke(expired)", err, queuepass.ErrTicketNotAdmitted)
	f.wantCounts("e", queuepass.Counts{Waiting: 1, Completed: 1, Expired: 2, Left: 1})

	f.createEvent(newEvent("pre", queuepass.StateScheduled))
	pre := f.joinNew("pre", "p", at(1))
	_, err = f.s.Revoke(f.ctx(), "pre", pre.ID, at(2))
	wantErr(t, "Revoke(prequeue)", err, queuepass.ErrTicketNotAdmitted)
	f.setState("pre", queuepass.StateClosed, at(3))
	_, err = f.s.Revoke(f.ctx(), "pre", pre.ID, at(4))
	wantErr(t, "Revoke(closed)", err, queuepass.ErrTicketNotAdmitted)

	_, err = f.s.Revoke(f.ctx(), "e", "nope", at(5))
	wantErr(t, "Revoke(malformed ID)", err, queuepass.ErrTicketNotFound)
	_, err = f.s.Revoke(f.ctx(), "missing", u1.ID, at(5))
	wantErr(t, "Revoke(unknown event)", err, queuepass.ErrEventNotFound)
}

// testMedianWait checks each admission batch's MedianWait: the lower
// middle of the admitted tickets' waits.
func testMedianWait(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	for i, joined := range []int{1, 2, 4, 8, 9, 10} {
		f.joinNew("e", fmt.Sprintf("u%d", i+1), at(joined))
	}
	f.admit("e", 1, at(20))  // waits 19
	f.admit("e", 2, at(30))  // waits 28, 26
	f.admit("e", 3, at(100)) // waits 92, 91, 90
	want := []time.Duration{19 * time.Second, 26 * time.Second, 91 * time.Second}
	got := f.event("e").RecentAdmissions
	if len(got) != len(want) {
		t.Fatalf("RecentAdmissions = %v, want %d batches", got, len(want))
	}
	for i, b := range got {
		if b.MedianWait != want[i] {
			t.Errorf("RecentAdmissions[%d].MedianWait = %v, want %v", i, b.MedianWait, want[i])
		}
	}
}
