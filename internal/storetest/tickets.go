package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/queuepass/queuepass"
)

var joinTests = []subtest{
	{"New", testJoinNew},
	{"LiveTicketAgain", testJoinLive},
	{"AfterFinalStatus", testJoinAfterFinal},
	{"ClosedEvent", testJoinClosed},
	{"UnknownEvent", testJoinUnknownEvent},
	{"OpaqueUserIDs", testJoinOpaqueUserIDs},
}

var ticketTests = []subtest{
	{"NotFound", testTicketNotFound},
	{"PositionsExact", testPositionsExact},
	{"PrequeueDrawAtOpen", testPrequeueDraw},
	{"CloseEvent", testCloseEvent},
	{"Leave", testLeave},
}

func testJoinNew(t *testing.T, newStore newStoreFunc) {
	for _, state := range []queuepass.EventState{queuepass.StateOpen, queuepass.StatePaused, queuepass.StateScheduled} {
		t.Run(string(state), func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.createEvent(newEvent("e", state))
			var made []queuepass.Ticket
			seen := map[string]bool{}
			for i := range 3 {
				user := fmt.Sprintf("user-%d", i)
				tk := f.joinNew("e", user, at(10+i))
				want := queuepass.Ticket{
					ID: tk.ID, EventID: "e", UserID: user, JoinedAt: at(10 + i),
					Status: queuepass.StatusWaiting, Position: i + 1,
				}
				if state == queuepass.StateScheduled {
					want.Status, want.Position = queuepass.StatusPrequeue, 0
				}
				if d := ticketDiff(tk, want); d != "" {
					t.Errorf("Join(%q): %s", user, d)
				}
				if d := ticketDiff(f.ticket("e", tk.ID), want); d != "" {
					t.Errorf("Ticket(%q) after Join: %s", user, d)
				}
				if _, _, ok := queuepass.ParseTicketID(tk.ID); !ok {
					t.Errorf("Join(%q).ID = %q, which ParseTicketID rejects", user, tk.ID)
				}
				if seen[tk.ID] {
					t.Errorf("Join(%q).ID = %q, the ID of an earlier ticket", user, tk.ID)
				}
				seen[tk.ID] = true
				made = append(made, tk)
			}
			if state == queuepass.StateScheduled {
				f.wantCounts("e", queuepass.Counts{Prequeue: 3})
			} else {
				f.wantLine("e", ids(made))
				f.wantCounts("e", queuepass.Counts{Waiting: 3})
			}
		})
	}
}

func testJoinLive(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name   string
		state  queuepass.EventState
		status queuepass.TicketStatus
		setup  func(f *fixture, tk queuepass.Ticket)
	}{
		{"prequeue", queuepass.StateScheduled, queuepass.StatusPrequeue, nil},
		{"waiting", queuepass.StateOpen, queuepass.StatusWaiting, nil},
		{"waiting/paused", queuepass.StatePaused, queuepass.StatusWaiting, nil},
		{"admitted", queuepass.StateOpen, queuepass.StatusAdmitted, func(f *fixture, tk queuepass.Ticket) {
			f.admit("e", 1, at(2))
		}},
		// The pass has run out but no step has expired it: still live.
		{"admitted/pass ran out", queuepass.StateOpen, queuepass.StatusAdmitted, func(f *fixture, tk queuepass.Ticket) {
			f.admit("e", 1, at(2))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.createEvent(newEvent("e", tt.state))
			first := f.joinNew("e", "alice", at(1))
			f.joinNew("e", "bob", at(1))
			if tt.setup != nil {
				tt.setup(f, first)
			}
			want := f.wantStatus("e", first.ID, tt.status)
			before := f.event("e").Counts
			for i, when := range []int{5, 5, 2 * int(passTTL.Seconds()), 1} {
				again, created := f.join("e", "alice", at(when))
				if created {
					t.Errorf("Join #%d of a user with a %s ticket: created = true, want false", i+2, tt.status)
				}
				if d := ticketDiff(again, want); d != "" {
					t.Errorf("Join #%d of a user with a %s ticket: %s", i+2, tt.status, d)
				}
			}
			if d := ticketDiff(f.ticket("e", first.ID), want); d != "" {
				t.Errorf("Ticket after repeated joins: %s", d)
			}
			if after := f.event("e").Counts; after != before || after.Total() != 2 {
				t.Errorf("Counts after repeated joins = %+v, want %+v with Total 2", after, before)
			}
		})
	}
}

func testJoinAfterFinal(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		status queuepass.TicketStatus
		// end brings alice's ticket (the first joined) to status.
		end func(f *fixture, alice queuepass.Ticket)
	}{
		{queuepass.StatusLeft, func(f *fixture, alice queuepass.Ticket) {
			f.leave("e", alice.ID, at(2))
		}},
		{queuepass.StatusCompleted, func(f *fixture, alice queuepass.Ticket) {
			f.admit("e", 1, at(2))
			f.complete("e", alice.ID, at(3))
		}},
		{queuepass.StatusExpired, func(f *fixture, alice queuepass.Ticket) {
			f.admit("e", 1, at(2))
			f.expire("e", at(2).Add(passTTL))
		}},
		// The store does not judge transitions, so a closed event can be
		// opened again; its closed tickets stay closed.
		{queuepass.StatusClosed, func(f *fixture, alice queuepass.Ticket) {
			f.setState("e", queuepass.StateClosed, at(2))
			f.setState("e", queuepass.StateOpen, at(3))
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.createEvent(newEvent("e", queuepass.StateOpen))
			alice := f.joinNew("e", "alice", at(1))
			bob := f.joinNew("e", "bob", at(1))
			tt.end(f, alice)
			ended := f.wantStatus("e", alice.ID, tt.status)
			var line []string
			if tk := f.ticket("e", bob.ID); tk.Status == queuepass.StatusWaiting {
				line = append(line, tk.ID)
			}

			again := f.joinNew("e", "alice", at(10))
			if again.ID == alice.ID {
				t.Fatalf("Join after %s: got the old ticket ID again", tt.status)
			}
			want := queuepass.Ticket{
				ID: again.ID, EventID: "e", UserID: "alice", Status: queuepass.StatusWaiting,
				Position: len(line) + 1, JoinedAt: at(10),
			}
			if d := ticketDiff(again, want); d != "" {
				t.Errorf("Join after %s: %s", tt.status, d)
			}
			if d := ticketDiff(f.ticket("e", alice.ID), ended); d != "" {
				t.Errorf("the %s ticket changed after a new join: %s", tt.status, d)
			}
			f.wantLine("e", append(line, again.ID))
			if total := f.event("e").Counts.Total(); total != 3 {
				t.Errorf("Counts.Total() = %d, want 3", total)
			}
			// The new ticket is the live one now.
			if tk, created := f.join("e", "alice", at(11)); created || tk.ID != again.ID {
				t.Errorf("Join after the new ticket = %q, created %v; want %q, false", tk.ID, created, again.ID)
			}
		})
	}
}

func testJoinClosed(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	f.joinNew("e", "alice", at(1))
	f.setState("e", queuepass.StateClosed, at(2))
	for _, user := range []string{"alice", "bob"} {
		_, _, err := f.s.Join(f.ctx(), "e", user, queuepass.JoinProof{}, at(3))
		wantErr(t, fmt.Sprintf("Join(closed event, %q)", user), err, queuepass.ErrEventClosed)
	}
	f.wantCounts("e", queuepass.Counts{Closed: 1})

	f.createEvent(newEvent("born-closed", queuepass.StateClosed))
	_, _, err := f.s.Join(f.ctx(), "born-closed", "alice", queuepass.JoinProof{}, at(3))
	wantErr(t, "Join(event created closed)", err, queuepass.ErrEventClosed)
	f.wantCounts("born-closed", queuepass.Counts{})
}

func testJoinUnknownEvent(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	_, _, err := f.s.Join(f.ctx(), "nope", "alice", queuepass.JoinProof{}, at(1))
	wantErr(t, "Join(nope)", err, queuepass.ErrEventNotFound)
	f.wantCounts("e", queuepass.Counts{})
}

func testJoinOpaqueUserIDs(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	// Distinct byte strings are distinct users, however alike they look:
	// normalizing user IDs is the caller's job.
	long := strings.Repeat("x", 128)
	users := []string{
		"a", "A", "a ", " a", "a\u200b", "ａ", // ASCII, and look-alikes
		"\u00e9", "e\u0301", // é in NFC and NFD
		"user:1", "user|1", "日本語", long, long[:127],
	}
	made := map[string]string{}
	var line []string
	for i, u := range users {
		tk := f.joinNew("e", u, at(i))
		if tk.UserID != u {
			t.Errorf("Join(%q).UserID = %q", u, tk.UserID)
		}
		made[u] = tk.ID
		line = append(line, tk.ID)
	}
	for _, u := range users {
		tk, created := f.join("e", u, at(100))
		if created || tk.ID != made[u] || tk.UserID != u {
			t.Errorf("Join(%q) again = %q (user %q), created %v; want %q, false", u, tk.ID, tk.UserID, created, made[u])
		}
	}
	f.wantLine("e", line)
}

func testTicketNotFound(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("a", queuepass.StateOpen))
	f.createEvent(newEvent("b", queuepass.StateOpen))
	f.createEvent(newEvent("empty", queuepass.StateOpen))
	a1 := f.joinNew("a", "alice", at(1))
	f.joinNew("a", "bob", at(1))
	f.joinNew("b", "alice", at(1)) // ticket number 1 in b as well

	num, secret, ok := queuepass.ParseTicketID(a1.ID)
	if !ok {
		t.Fatalf("ParseTicketID(%q) failed: ticket IDs must be made by queuepass.NewTicketID", a1.ID)
	}
	forged := secret
	forged[0] ^= 1
	bad := []struct {
		name, event, id string
	}{
		{"other event's ticket", "b", a1.ID},
		{"other event's ticket, no tickets there", "empty", a1.ID},
		{"forged secret", "a", queuepass.NewTicketID(num, forged)},
		{"zero secret", "a", queuepass.NewTicketID(num, [queuepass.TicketSecretSize]byte{})},
		{"unused number", "a", queuepass.NewTicketID(99, secret)},
		{"empty", "a", ""},
		{"garbage", "a", "not a ticket"},
		{"truncated", "a", a1.ID[:len(a1.ID)-1]},
		{"extended", "a", a1.ID + "A"},
		{"user ID", "a", "alice"},
		{"padded base64", "a", a1.ID + "=="},
	}
	for _, b := range bad {
		_, err := f.s.Ticket(f.ctx(), b.event, b.id)
		wantErr(t, fmt.Sprintf("Ticket(%s: %q)", b.name, b.id), err, queuepass.ErrTicketNotFound)
		_, err = f.s.Leave(f.ctx(), b.event, b.id, at(2))
		wantErr(t, fmt.Sprintf("Leave(%s)", b.name), err, queuepass.ErrTicketNotFound)
		_, err = f.s.Complete(f.ctx(), b.event, b.id, 1, at(2))
		wantErr(t, fmt.Sprintf("Complete(%s)", b.name), err, queuepass.ErrTicketNotFound)
	}
	_, err := f.s.Ticket(f.ctx(), "nope", a1.ID)
	wantErr(t, "Ticket(unknown event)", err, queuepass.ErrEventNotFound)
	// Nothing above changed a ticket.
	f.wantCounts("a", queuepass.Counts{Waiting: 2})
	f.wantCounts("b", queuepass.Counts{Waiting: 1})
}

func testPositionsExact(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	tks := f.joinAll("e", 10, at(1))
	line := ids(tks)
	last := map[string]int{}
	check := func(step string) {
		t.Helper()
		f.wantLine("e", line)
		for i, id := range line {
			if p, ok := last[id]; ok && i+1 > p {
				t.Errorf("%s: a waiting ticket's position rose from %d to %d", step, p, i+1)
			}
			last[id] = i + 1
		}
	}
	check("after joins")

	remove := func(id string) {
		for i := range line {
			if line[i] == id {
				line = append(line[:i:i], line[i+1:]...)
				return
			}
		}
	}
	f.leave("e", tks[2].ID, at(2))
	f.leave("e", tks[6].ID, at(2))
	remove(tks[2].ID)
	remove(tks[6].ID)
	check("after two leaves")

	f.wantStatus("e", tks[2].ID, queuepass.StatusLeft)
	adm := f.admit("e", 3, at(3))
	if got, want := ids(adm.Tickets), line[:3]; !slices.Equal(got, want) {
		t.Errorf("Admit(3) = %q, want the head of the line %q", got, want)
	}
	line = line[3:]
	check("after admitting 3")

	// Later joins go behind and move no one.
	for i := range 3 {
		line = append(line, f.joinNew("e", fmt.Sprintf("late-%d", i), at(4)).ID)
	}
	check("after later joins")

	f.leave("e", line[len(line)-1], at(5))
	line = line[:len(line)-1]
	f.leave("e", line[0], at(5))
	line = line[1:]
	check("after leaving at both ends")
	for _, tk := range adm.Tickets {
		f.wantStatus("e", tk.ID, queuepass.StatusAdmitted)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: len(line), Admitted: 3, Left: 4})
}

func testPrequeueDraw(t *testing.T, newStore newStoreFunc) {
	for _, to := range []queuepass.EventState{queuepass.StateOpen, queuepass.StatePaused} {
		t.Run("to "+string(to), func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			ev := newEvent("drop", queuepass.StateScheduled)
			ev.OpensAt = at(1000)
			ev = f.createEvent(ev)
			const n = 12
			pre := f.joinAll("drop", n, at(1))
			left := f.leave("drop", pre[4].ID, at(2))
			f.wantCounts("drop", queuepass.Counts{Prequeue: n - 1, Left: 1})

			// A scheduled → scheduled update places no one.
			ev.Name = "renamed"
			ev = f.update(ev, at(3))
			f.wantStatus("drop", pre[0].ID, queuepass.StatusPrequeue)

			var joined []string // prequeue tickets in order of joining
			for _, tk := range pre {
				if tk.ID != left.ID {
					joined = append(joined, tk.ID)
				}
			}
			want, _ := queuepass.DrawOrder(ev.DrawSeed, joined)

			ev.State = to
			got := f.update(ev, at(1000))
			if got.State != to || got.Version != ev.Version+1 {
				t.Errorf("UpdateEvent(scheduled → %s) = state %s, version %d; want %s, %d", to, got.State, got.Version, to, ev.Version+1)
			}
			f.wantLine("drop", want)
			f.wantStatus("drop", left.ID, queuepass.StatusLeft)
			for _, id := range want {
				if tk := f.ticket("drop", id); !tk.JoinedAt.Equal(at(1)) {
					t.Errorf("placed ticket JoinedAt = %v, want %v", tk.JoinedAt, at(1))
				}
			}

			// Later joins go behind the whole pre-queue.
			late := []string{f.joinNew("drop", "late-1", at(1001)).ID, f.joinNew("drop", "late-2", at(1002)).ID}
			line := append(append([]string{}, want...), late...)
			f.wantLine("drop", line)
			f.wantCounts("drop", queuepass.Counts{Waiting: n + 1, Left: 1})

			if to == queuepass.StatePaused {
				f.setState("drop", queuepass.StateOpen, at(1003))
				f.wantLine("drop", line)
			}
			adm := f.admit("drop", 3, at(1004))
			if got := ids(adm.Tickets); !slices.Equal(got, line[:3]) {
				t.Errorf("first Admit(3) after opening = %q, want the first of the draw %q", got, line[:3])
			}
		})
	}
}

func testCloseEvent(t *testing.T, newStore newStoreFunc) {
	for _, from := range []queuepass.EventState{queuepass.StateScheduled, queuepass.StateOpen, queuepass.StatePaused} {
		t.Run("from "+string(from), func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.createEvent(newEvent("e", queuepass.StateOpen))
			tks := f.joinAll("e", 9, at(1))
			f.admit("e", 3, at(2))            // u1..u3
			f.expire("e", at(2).Add(passTTL)) // u1..u3 expired
			adm := f.admit("e", 3, at(100))   // u4..u6
			f.complete("e", tks[3].ID, at(101))
			f.leave("e", tks[6].ID, at(102)) // u7; u8 and u9 wait
			if from != queuepass.StateOpen {
				// The store does not judge transitions, so the event can go
				// back to scheduled, where joins go to the pre-queue.
				f.setState("e", from, at(103))
			}
			tks = append(tks, f.joinNew("e", "u10", at(104)))
			if from == queuepass.StateScheduled && tks[9].Status != queuepass.StatusPrequeue {
				t.Fatalf("Join while scheduled = %s, want prequeue", tks[9].Status)
			}
			before := make([]queuepass.Ticket, len(tks))
			for i, tk := range tks {
				before[i] = f.ticket("e", tk.ID)
			}

			closed := f.setState("e", queuepass.StateClosed, at(110))
			if closed.State != queuepass.StateClosed {
				t.Errorf("UpdateEvent(closed).State = %s", closed.State)
			}
			for _, was := range before {
				want := was
				if was.Status == queuepass.StatusPrequeue || was.Status == queuepass.StatusWaiting {
					want.Status, want.Position, want.EndedAt = queuepass.StatusClosed, 0, at(110)
				}
				if d := ticketDiff(f.ticket("e", was.ID), want); d != "" {
					t.Errorf("after close, the %s ticket of %s: %s", was.Status, was.UserID, d)
				}
			}
			f.wantCounts("e", queuepass.Counts{Admitted: 2, Completed: 1, Left: 1, Expired: 3, Closed: 3})

			// Passes already issued stay usable; the line is gone.
			f.complete("e", adm.Tickets[1].ID, at(111))
			if n := f.expire("e", at(100).Add(passTTL)); n != 1 {
				t.Errorf("ExpirePasses on the closed event = %d, want 1", n)
			}
			_, err := f.s.Admit(f.ctx(), "e", 10, at(200))
			wantErr(t, "Admit(closed event)", err, queuepass.ErrEventNotOpen)
			_, err = f.s.Leave(f.ctx(), "e", tks[7].ID, at(200))
			wantErr(t, "Leave(closed ticket)", err, queuepass.ErrTicketNotWaiting)
			f.wantCounts("e", queuepass.Counts{Completed: 2, Left: 1, Expired: 4, Closed: 3})
		})
	}
}

func testLeave(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	x := f.joinNew("e", "x", at(1))
	a := f.joinNew("e", "a", at(1))
	c := f.joinNew("e", "c", at(1))
	w1 := f.joinNew("e", "w1", at(1))
	w2 := f.joinNew("e", "w2", at(1))
	f.admit("e", 1, at(2))  // x
	f.admit("e", 2, at(30)) // a, c
	f.complete("e", c.ID, at(31))
	f.expire("e", at(62)) // x

	want := w1
	want.Status, want.Position, want.EndedAt = queuepass.StatusLeft, 0, at(40)
	got := f.leave("e", w1.ID, at(40))
	if d := ticketDiff(got, want); d != "" {
		t.Errorf("Leave(waiting): %s", d)
	}
	f.wantLine("e", []string{w2.ID})
	f.wantCounts("e", queuepass.Counts{Waiting: 1, Admitted: 1, Completed: 1, Expired: 1, Left: 1})
	for _, when := range []int{50, 10} {
		if d := ticketDiff(f.leave("e", w1.ID, at(when)), want); d != "" {
			t.Errorf("Leave(left) at %v: %s", at(when), d)
		}
	}
	if d := ticketDiff(f.ticket("e", w1.ID), want); d != "" {
		t.Errorf("Ticket(left): %s", d)
	}

	for _, tk := range []queuepass.Ticket{a, c, x} {
		was := f.ticket("e", tk.ID)
		_, err := f.s.Leave(f.ctx(), "e", tk.ID, at(41))
		wantErr(t, fmt.Sprintf("Leave(%s ticket)", was.Status), err, queuepass.ErrTicketNotWaiting)
		if d := ticketDiff(f.ticket("e", tk.ID), was); d != "" {
			t.Errorf("the %s ticket changed after a rejected Leave: %s", was.Status, d)
		}
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 1, Admitted: 1, Completed: 1, Expired: 1, Left: 1})

	// Leaving the pre-queue; then closing the event closes the rest.
	f.createEvent(newEvent("pre", queuepass.StateScheduled))
	p1 := f.joinNew("pre", "p1", at(1))
	p2 := f.joinNew("pre", "p2", at(1))
	left := f.leave("pre", p1.ID, at(2))
	if left.Status != queuepass.StatusLeft || !left.EndedAt.Equal(at(2)) || left.Position != 0 {
		t.Errorf("Leave(prequeue) = %s, EndedAt %v, Position %d; want left, %v, 0", left.Status, left.EndedAt, left.Position, at(2))
	}
	f.wantCounts("pre", queuepass.Counts{Prequeue: 1, Left: 1})
	f.setState("pre", queuepass.StateClosed, at(3))
	if d := ticketDiff(f.leave("pre", p1.ID, at(4)), left); d != "" {
		t.Errorf("Leave(left) in a closed event: %s", d)
	}
	_, err := f.s.Leave(f.ctx(), "pre", p2.ID, at(4))
	wantErr(t, "Leave(closed ticket)", err, queuepass.ErrTicketNotWaiting)
	f.wantCounts("pre", queuepass.Counts{Left: 1, Closed: 1})

	_, err = f.s.Leave(f.ctx(), "nope", w2.ID, at(5))
	wantErr(t, "Leave(unknown event)", err, queuepass.ErrEventNotFound)
}
