package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

// newStoreFunc is what Run takes: it makes an empty store for one check
// and registers its release with t.Cleanup.
type newStoreFunc = func(t *testing.T) queuepass.Store

// Run checks that the stores made by newStore keep the queuepass.Store
// contract. Every check is a parallel subtest of t with a store of its own.
func Run(t *testing.T, newStore func(t *testing.T) queuepass.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Event", eventTests},
		{"Join", joinTests},
		{"Ticket", ticketTests},
		{"Admit", admitTests},
		{"AdmitPaced", pacedTests},
		{"Idempotency", idempotencyTests},
		{"Concurrent", concurrentTests},
		{"Model", modelTests},
		{"Close", closeTests},
		{"Watch", watchTests},
		{"Draw", drawTests},
		{"JoinProof", proofTests},
		{"Codes", codeTests},
		{"Inventory", inventoryTests},
		{"TakeToken", tokenTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, newStore)
				})
			}
		})
	}
}

// subtest is one named check. fn calls newStore for each store it needs.
type subtest struct {
	name string
	fn   func(t *testing.T, newStore newStoreFunc)
}

// passTTL is the PassTTL of the events the suite makes unless a test says
// otherwise.
const passTTL = 60 * time.Second

// at returns the suite's fixed base time plus sec seconds. No check ever
// depends on the wall clock.
func at(sec int) time.Time {
	return time.Date(2026, time.December, 3, 18, 0, sec, 0, time.UTC)
}

// seedOf returns a fixed draw seed for the event id.
func seedOf(id string) [32]byte {
	return sha256.Sum256([]byte("storetest draw seed " + id))
}

// newEvent returns the settings of an event with the given state, created
// at at(0).
func newEvent(id string, state queuepass.EventState) queuepass.Event {
	return queuepass.Event{
		ID:        id,
		Name:      "Event " + id,
		State:     state,
		PassTTL:   passTTL,
		CreatedAt: at(0),
		DrawSeed:  seedOf(id),
	}
}

// fixture is one store under test, with helpers that fail the test on an
// unexpected error.
type fixture struct {
	t *testing.T
	s queuepass.Store
}

func begin(t *testing.T, newStore newStoreFunc) *fixture {
	t.Helper()
	s := newStore(t)
	if s == nil {
		t.Fatal("newStore returned a nil store")
	}
	return &fixture{t: t, s: s}
}

func (f *fixture) ctx() context.Context { return f.t.Context() }

func (f *fixture) createEvent(ev queuepass.Event) queuepass.Event {
	f.t.Helper()
	got, err := f.s.CreateEvent(f.ctx(), ev)
	if err != nil {
		f.t.Fatalf("CreateEvent(%q) error: %v", ev.ID, err)
	}
	return got
}

// open creates an open event with the given MaxActive.
func (f *fixture) open(id string, maxActive int) queuepass.Event {
	f.t.Helper()
	ev := newEvent(id, queuepass.StateOpen)
	ev.MaxActive = maxActive
	return f.createEvent(ev)
}

func (f *fixture) event(id string) queuepass.Event {
	f.t.Helper()
	ev, err := f.s.Event(f.ctx(), id)
	if err != nil {
		f.t.Fatalf("Event(%q) error: %v", id, err)
	}
	return ev
}

func (f *fixture) update(ev queuepass.Event, at time.Time) queuepass.Event {
	f.t.Helper()
	got, err := f.s.UpdateEvent(f.ctx(), ev, at)
	if err != nil {
		f.t.Fatalf("UpdateEvent(%q, version %d, state %s) error: %v", ev.ID, ev.Version, ev.State, err)
	}
	return got
}

// setState reads the event and moves it to state at at.
func (f *fixture) setState(id string, state queuepass.EventState, at time.Time) queuepass.Event {
	f.t.Helper()
	ev := f.event(id)
	ev.State = state
	return f.update(ev, at)
}

func (f *fixture) join(eventID, userID string, at time.Time) (queuepass.Ticket, bool) {
	f.t.Helper()
	tk, created, err := f.s.Join(f.ctx(), eventID, userID, queuepass.JoinProof{}, at)
	if err != nil {
		f.t.Fatalf("Join(%q, %q) error: %v", eventID, userID, err)
	}
	return tk, created
}

// joinNew joins and fails the test unless a new ticket was made.
func (f *fixture) joinNew(eventID, userID string, at time.Time) queuepass.Ticket {
	f.t.Helper()
	tk, created := f.join(eventID, userID, at)
	if !created {
		f.t.Fatalf("Join(%q, %q) created = false, want true (got ticket %s, %s)", eventID, userID, tk.ID, tk.Status)
	}
	return tk
}

// joinAll joins new users "u1".."un" at at and returns their tickets in
// order.
func (f *fixture) joinAll(eventID string, n int, at time.Time) []queuepass.Ticket {
	f.t.Helper()
	tks := make([]queuepass.Ticket, n)
	for i := range tks {
		tks[i] = f.joinNew(eventID, fmt.Sprintf("u%d", i+1), at)
	}
	return tks
}

func (f *fixture) ticket(eventID, ticketID string) queuepass.Ticket {
	f.t.Helper()
	tk, err := f.s.Ticket(f.ctx(), eventID, ticketID)
	if err != nil {
		f.t.Fatalf("Ticket(%q, %q) error: %v", eventID, ticketID, err)
	}
	return tk
}

func (f *fixture) leave(eventID, ticketID string, at time.Time) queuepass.Ticket {
	f.t.Helper()
	tk, err := f.s.Leave(f.ctx(), eventID, ticketID, at)
	if err != nil {
		f.t.Fatalf("Leave(%q, %q) error: %v", eventID, ticketID, err)
	}
	return tk
}

func (f *fixture) admit(eventID string, count int, at time.Time) queuepass.Admission {
	f.t.Helper()
	adm, err := f.s.Admit(f.ctx(), eventID, count, at)
	if err != nil {
		f.t.Fatalf("Admit(%q, %d) error: %v", eventID, count, err)
	}
	return adm
}

func (f *fixture) complete(eventID, ticketID string, at time.Time) queuepass.Ticket {
	f.t.Helper()
	tk, err := f.s.Complete(f.ctx(), eventID, ticketID, 1, at)
	if err != nil {
		f.t.Fatalf("Complete(%q, %q) error: %v", eventID, ticketID, err)
	}
	return tk
}

func (f *fixture) expire(eventID string, at time.Time) int {
	f.t.Helper()
	n, err := f.s.ExpirePasses(f.ctx(), eventID, at)
	if err != nil {
		f.t.Fatalf("ExpirePasses(%q) error: %v", eventID, err)
	}
	return n
}

// wantCounts checks the event's Counts.
func (f *fixture) wantCounts(eventID string, want queuepass.Counts) {
	f.t.Helper()
	if got := f.event(eventID).Counts; got != want {
		f.t.Errorf("Event(%q).Counts = %+v, want %+v", eventID, got, want)
	}
}

// wantLine checks that ids are exactly the event's waiting tickets, in
// line order: each waiting with Position 1, 2, …, and Counts.Waiting
// equal to len(ids).
func (f *fixture) wantLine(eventID string, ids []string) {
	f.t.Helper()
	for i, id := range ids {
		tk := f.ticket(eventID, id)
		if tk.Status != queuepass.StatusWaiting || tk.Position != i+1 {
			f.t.Errorf("Ticket(%q, #%d in line) = %s at position %d, want waiting at position %d",
				eventID, i+1, tk.Status, tk.Position, i+1)
		}
	}
	if got := f.event(eventID).Counts.Waiting; got != len(ids) {
		f.t.Errorf("Event(%q).Counts.Waiting = %d, want %d", eventID, got, len(ids))
	}
}

// wantStatus checks a ticket's status and, unless it is waiting, that its
// Position is 0. It returns the ticket.
func (f *fixture) wantStatus(eventID, ticketID string, want queuepass.TicketStatus) queuepass.Ticket {
	f.t.Helper()
	tk := f.ticket(eventID, ticketID)
	if tk.Status != want {
		f.t.Errorf("Ticket(%q, %s).Status = %s, want %s", eventID, tk.UserID, tk.Status, want)
	}
	if tk.Status != queuepass.StatusWaiting && tk.Position != 0 {
		f.t.Errorf("Ticket(%q, %s) is %s with Position %d, want 0", eventID, tk.UserID, tk.Status, tk.Position)
	}
	return tk
}

// wantErr reports whether err matches target, and reports a test error if
// not.
func wantErr(t *testing.T, call string, err, target error) bool {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s error = %v, want %v", call, err, target)
		return false
	}
	return true
}

// ids returns the IDs of tks.
func ids(tks []queuepass.Ticket) []string {
	out := make([]string, len(tks))
	for i, tk := range tks {
		out[i] = tk.ID
	}
	return out
}

// ticketDiff describes how got differs from want, or returns "".
func ticketDiff(got, want queuepass.Ticket) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("EventID", got.EventID, want.EventID)
	str("UserID", got.UserID, want.UserID)
	str("Status", string(got.Status), string(want.Status))
	str("StatusReason", string(got.StatusReason), string(want.StatusReason))
	if got.Position != want.Position {
		d = append(d, fmt.Sprintf("Position = %d, want %d", got.Position, want.Position))
	}
	tm("JoinedAt", got.JoinedAt, want.JoinedAt)
	tm("AdmittedAt", got.AdmittedAt, want.AdmittedAt)
	tm("PassExpiresAt", got.PassExpiresAt, want.PassExpiresAt)
	tm("EndedAt", got.EndedAt, want.EndedAt)
	return strings.Join(d, "; ")
}

// settingsDiff describes how the settings of got differ from want's
// (everything but what the store keeps: Version, Counts, RecentAdmissions,
// Abandoned, DrawnAt, Sold, Codes), or returns "". An empty Access and
// AccessPublic are the same.
func settingsDiff(got, want queuepass.Event) string {
	var d []string
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID = %q, want %q", got.ID, want.ID))
	}
	if got.Name != want.Name {
		d = append(d, fmt.Sprintf("Name = %q, want %q", got.Name, want.Name))
	}
	if got.State != want.State {
		d = append(d, fmt.Sprintf("State = %s, want %s", got.State, want.State))
	}
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"OpensAt", got.OpensAt, want.OpensAt},
		{"ClosesAt", got.ClosesAt, want.ClosesAt},
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
	} {
		if !c.got.Equal(c.want) {
			d = append(d, fmt.Sprintf("%s = %v, want %v", c.name, c.got, c.want))
		}
	}
	if got.IdleTimeout != want.IdleTimeout {
		d = append(d, fmt.Sprintf("IdleTimeout = %v, want %v", got.IdleTimeout, want.IdleTimeout))
	}
	if got.AdmitRatePerMinute != want.AdmitRatePerMinute {
		d = append(d, fmt.Sprintf("AdmitRatePerMinute = %d, want %d", got.AdmitRatePerMinute, want.AdmitRatePerMinute))
	}
	if got.MaxActive != want.MaxActive {
		d = append(d, fmt.Sprintf("MaxActive = %d, want %d", got.MaxActive, want.MaxActive))
	}
	if got.PassTTL != want.PassTTL {
		d = append(d, fmt.Sprintf("PassTTL = %v, want %v", got.PassTTL, want.PassTTL))
	}
	if got.DrawSeed != want.DrawSeed {
		d = append(d, fmt.Sprintf("DrawSeed = %x, want %x", got.DrawSeed, want.DrawSeed))
	}
	if got.ChallengeDifficulty != want.ChallengeDifficulty {
		d = append(d, fmt.Sprintf("ChallengeDifficulty = %d, want %d", got.ChallengeDifficulty, want.ChallengeDifficulty))
	}
	if got.Access != want.Access && !(got.Access == "" && want.Access == queuepass.AccessPublic) && !(want.Access == "" && got.Access == queuepass.AccessPublic) {
		d = append(d, fmt.Sprintf("Access = %q, want %q", got.Access, want.Access))
	}
	if got.Inventory != want.Inventory {
		d = append(d, fmt.Sprintf("Inventory = %d, want %d", got.Inventory, want.Inventory))
	}
	if got.StateReason != want.StateReason {
		d = append(d, fmt.Sprintf("StateReason = %q, want %q", got.StateReason, want.StateReason))
	}
	return strings.Join(d, "; ")
}

// batchesEqual reports whether two admission histories are the same.
func batchesEqual(a, b []queuepass.AdmissionBatch) bool {
	return slices.EqualFunc(a, b, func(x, y queuepass.AdmissionBatch) bool {
		return x.At.Equal(y.At) && x.Count == y.Count
	})
}
