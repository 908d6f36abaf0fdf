package drop

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
)

// admittedFan is a fan whose join ran from sent to acked and who was
// admitted at rank.
func admittedFan(sent, acked int64, rank int32) fan {
	return fan{sent: sent, acked: acked, rank: rank, line: -1}
}

func TestInversions(t *testing.T) {
	tests := []struct {
		name string
		fans []fan
		want int64
	}{
		{"none", nil, 0},
		{"in order", []fan{admittedFan(0, 10, 0), admittedFan(20, 30, 1)}, 0},
		{"answered before the other was sent, admitted after", []fan{admittedFan(0, 10, 1), admittedFan(20, 30, 0)}, 1},
		{"overlapping joins go either way", []fan{admittedFan(0, 30, 1), admittedFan(20, 40, 0)}, 0},
		{"answered at the instant the other was sent", []fan{admittedFan(0, 20, 1), admittedFan(20, 40, 0)}, 0},
		{"not admitted is not judged", []fan{admittedFan(0, 10, -1), admittedFan(20, 30, 0)}, 0},
		{"no answer is not judged", []fan{admittedFan(0, -1, 1), admittedFan(20, 30, 0)}, 0},
		{
			"one late fan behind three",
			[]fan{admittedFan(0, 5, 3), admittedFan(10, 15, 0), admittedFan(20, 25, 1), admittedFan(30, 35, 2)},
			3,
		},
	}
	for _, tt := range tests {
		if got := inversions(tt.fans); got != tt.want {
			t.Errorf("%s: inversions = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestInversionsMatchPairs compares the O(n log n) count with a count of
// every pair, on random intervals and admission orders.
func TestInversionsMatchPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := rng.IntN(200)
		fans := make([]fan, n)
		for i, r := range rng.Perm(n) {
			sent := rng.Int64N(1000)
			fans[i] = admittedFan(sent, sent+rng.Int64N(100), int32(r))
			if rng.IntN(10) == 0 {
				fans[i].rank = -1
			}
		}
		var want int64
		for _, a := range fans {
			for _, b := range fans {
				if a.rank >= 0 && b.rank >= 0 && a.acked >= 0 && a.acked < b.sent && a.rank > b.rank {
					want++
				}
			}
		}
		if got := inversions(fans); got != want {
			t.Fatalf("trial %d: inversions = %d, pairs = %d", trial, got, want)
		}
	}
}

func ticket(id string, fan int, status queuepass.TicketStatus, pos int) client.Ticket {
	t := client.Ticket{ID: id, UserID: userID(fan), Status: status}
	if pos > 0 {
		t.Position = &pos
	}
	return t
}

func TestJoined(t *testing.T) {
	waiting := func(id string, pos int) client.Ticket { return ticket(id, 0, queuepass.StatusWaiting, pos) }
	failed := errors.New("connection reset")
	tests := []struct {
		name             string
		attempts         []joinAttempt
		noOne, repeatErr int64
		state            fanState
	}{
		{
			name:     "one join",
			attempts: []joinAttempt{{sent: 0, acked: 10, ticket: waiting("a", 1), created: true}},
			state:    fanWaiting,
		},
		{
			name: "repeat after the answer gets 200",
			attempts: []joinAttempt{
				{sent: 0, acked: 10, ticket: waiting("a", 1), created: true},
				{sent: 11, acked: 20, ticket: waiting("a", 1)},
			},
			state: fanWaiting,
		},
		{
			name: "concurrent repeat may make the ticket",
			attempts: []joinAttempt{
				{sent: 0, acked: 10, ticket: waiting("a", 1)},
				{sent: 1, acked: 12, ticket: waiting("a", 1), created: true},
			},
			state: fanWaiting,
		},
		{
			name: "repeat after the answer gets 201",
			attempts: []joinAttempt{
				{sent: 0, acked: 10, ticket: waiting("a", 1)},
				{sent: 11, acked: 20, ticket: waiting("a", 1), created: true},
			},
			repeatErr: 1, state: fanWaiting,
		},
		{
			name: "both made it",
			attempts: []joinAttempt{
				{sent: 0, acked: 10, ticket: waiting("a", 1), created: true},
				{sent: 1, acked: 12, ticket: waiting("a", 1), created: true},
			},
			repeatErr: 1, state: fanWaiting,
		},
		{
			name: "two tickets",
			attempts: []joinAttempt{
				{sent: 0, acked: 10, ticket: waiting("a", 1), created: true},
				{sent: 1, acked: 12, ticket: waiting("b", 2), created: true},
			},
			noOne: 1, repeatErr: 1, state: fanNoTicket,
		},
		{
			name:     "no answer",
			attempts: []joinAttempt{{sent: 0, err: failed}},
			noOne:    1, state: fanNoTicket,
		},
		{
			name: "one answer of two is enough",
			attempts: []joinAttempt{
				{sent: 0, err: failed},
				{sent: 11, acked: 20, ticket: waiting("a", 1)},
			},
			state: fanWaiting,
		},
		{
			name:      "ticket of another user",
			attempts:  []joinAttempt{{sent: 0, acked: 10, ticket: ticket("a", 7, queuepass.StatusWaiting, 1), created: true}},
			repeatErr: 1, state: fanWaiting,
		},
		{
			name:      "not waiting",
			attempts:  []joinAttempt{{sent: 0, acked: 10, ticket: ticket("a", 0, queuepass.StatusAdmitted, 0), created: true}},
			repeatErr: 1, state: fanWaiting,
		},
	}
	for _, tt := range tests {
		c := newChecker(1, 0)
		c.joined(0, tt.attempts)
		if got := c.noOneTicket.Load(); got != tt.noOne {
			t.Errorf("%s: fans without one ticket = %d, want %d", tt.name, got, tt.noOne)
		}
		if got := c.repeatErrors.Load(); got != tt.repeatErr {
			t.Errorf("%s: repeat join errors = %d, want %d", tt.name, got, tt.repeatErr)
		}
		if got := c.fans[0].state; got != tt.state {
			t.Errorf("%s: state = %d, want %d", tt.name, got, tt.state)
		}
	}
}

// joinedChecker returns a checker whose fans joined with the given
// tickets, answered at position i+1 in order.
func joinedChecker(t *testing.T, tickets ...string) *checker {
	t.Helper()
	c := newChecker(len(tickets), 0)
	for i, id := range tickets {
		at := int64(i * 10)
		c.joined(i, []joinAttempt{{sent: at, acked: at + 5, ticket: ticket(id, i, queuepass.StatusWaiting, i+1), created: true}})
	}
	c.index()
	return c
}

func TestSharedTicket(t *testing.T) {
	c := joinedChecker(t, "a", "b", "a")
	if got := c.sharedTickets.Load(); got != 1 {
		t.Errorf("shared tickets = %d, want 1", got)
	}
	for i, want := range []fanState{fanNoTicket, fanWaiting, fanNoTicket} {
		if got := c.fans[i].state; got != want {
			t.Errorf("fan %d state = %d, want %d", i, got, want)
		}
	}
}

func TestPositions(t *testing.T) {
	type read struct {
		fan, pos int
	}
	tests := []struct {
		name          string
		reads         []read // before any admission
		admit         []string
		after         []read // after the admission
		rises, errors int64
	}{
		{
			name:  "exact and falling",
			reads: []read{{0, 1}, {1, 2}, {2, 3}},
			admit: []string{"a"},
			after: []read{{1, 1}, {2, 2}},
		},
		{
			name:  "a rise",
			reads: []read{{0, 1}, {1, 2}, {2, 3}},
			admit: []string{"a"},
			after: []read{{1, 1}, {2, 4}},
			rises: 1, errors: 1,
		},
		{
			name:   "a rise above the join's answer",
			reads:  []read{{2, 4}},
			rises:  1,
			errors: 0,
		},
		{
			name:   "stuck while others were admitted",
			reads:  []read{{0, 1}, {1, 2}, {2, 3}},
			admit:  []string{"a"},
			after:  []read{{1, 1}, {2, 3}},
			errors: 1,
		},
		{
			name:   "admitted out of its place",
			reads:  []read{{0, 1}, {1, 2}, {2, 3}},
			admit:  []string{"b"},
			errors: 1,
		},
	}
	for _, tt := range tests {
		c := joinedChecker(t, "a", "b", "c")
		for _, r := range tt.reads {
			c.polled(r.fan, ticket("", r.fan, queuepass.StatusWaiting, r.pos))
		}
		var admitted []client.AdmittedTicket
		for _, id := range tt.admit {
			admitted = append(admitted, client.AdmittedTicket{ID: id, UserID: userID(int(c.byTicket[id]))})
		}
		c.admit(admitted)
		for _, r := range tt.after {
			c.polled(r.fan, ticket("", r.fan, queuepass.StatusWaiting, r.pos))
		}
		if got := c.rises.Load(); got != tt.rises {
			t.Errorf("%s: rises = %d, want %d", tt.name, got, tt.rises)
		}
		if got := c.positionErrs.Load(); got != tt.errors {
			t.Errorf("%s: wrong positions = %d, want %d", tt.name, got, tt.errors)
		}
	}
}

func TestAdmissions(t *testing.T) {
	c := joinedChecker(t, "a", "b", "c")
	adm := func(id string, fan int) client.AdmittedTicket {
		return client.AdmittedTicket{ID: id, UserID: userID(fan)}
	}

	if got := c.admit([]client.AdmittedTicket{adm("a", 0)}); len(got) != 1 || got[0] != 0 {
		t.Errorf("admit(a) = %v, want [0]", got)
	}
	if got := c.admit([]client.AdmittedTicket{adm("a", 0), adm("zz", 9), adm("b", 0)}); len(got) != 0 {
		t.Errorf("admit(a again, unknown, b of another user) = %v, want none", got)
	}
	if got := c.admittedTwice.Load(); got != 1 {
		t.Errorf("admitted twice = %d, want 1", got)
	}
	if got := c.unknown.Load(); got != 2 {
		t.Errorf("unknown admitted = %d, want 2", got)
	}
	if got := c.neverAdmitted(); got != 2 {
		t.Errorf("never admitted = %d, want 2 (b and c)", got)
	}
	if got := c.fans[0].rank; got != 0 {
		t.Errorf("rank of a = %d, want 0", got)
	}

	// a reads admitted with a pass: its pass is to be checked.
	if !c.polled(0, client.Ticket{ID: "a", Status: queuepass.StatusAdmitted, Pass: "x.y.z"}) {
		t.Error("polled(admitted with pass) = false, want true")
	}
	// b reads admitted although no admission named it.
	c.polled(1, ticket("b", 1, queuepass.StatusAdmitted, 0))
	if got := c.statusErrs.Load(); got != 1 {
		t.Errorf("wrong statuses = %d, want 1", got)
	}
	if got := c.invalidPasses(); got != 1 {
		t.Errorf("invalid passes = %d, want 1 (a's is not verified yet)", got)
	}
}
