package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) queuepass.Store {
		return openTemp(t, t.TempDir())
	})
}

// openTemp opens a store in dir and closes it when the test ends.
func openTemp(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%q) error: %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func at(sec int) time.Time {
	return time.Date(2026, time.December, 3, 18, 0, sec, 0, time.UTC)
}

func newEvent(id string, state queuepass.EventState) queuepass.Event {
	return queuepass.Event{
		ID:        id,
		Name:      "Event " + id,
		State:     state,
		PassTTL:   time.Minute,
		CreatedAt: at(0),
		DrawSeed:  [32]byte{1, 2, 3},
	}
}

// fixture wraps a store with helpers that fail the test on an error.
type fixture struct {
	t *testing.T
	s *Store
}

func (f *fixture) ok(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) createEvent(id string, state queuepass.EventState) {
	f.t.Helper()
	_, err := f.s.CreateEvent(f.t.Context(), newEvent(id, state))
	f.ok(err)
}

func (f *fixture) event(id string) queuepass.Event {
	f.t.Helper()
	ev, err := f.s.Event(f.t.Context(), id)
	f.ok(err)
	return ev
}

func (f *fixture) setState(id string, state queuepass.EventState, at time.Time) {
	f.t.Helper()
	ev := f.event(id)
	ev.State = state
	_, err := f.s.UpdateEvent(f.t.Context(), ev, at)
	f.ok(err)
}

func (f *fixture) join(eventID, userID string, at time.Time) (queuepass.Ticket, bool) {
	f.t.Helper()
	tk, created, err := f.s.Join(f.t.Context(), eventID, userID, at)
	f.ok(err)
	return tk, created
}

func (f *fixture) ticket(eventID, ticketID string) queuepass.Ticket {
	f.t.Helper()
	tk, err := f.s.Ticket(f.t.Context(), eventID, ticketID)
	f.ok(err)
	return tk
}

func (f *fixture) admit(eventID string, count int, at time.Time) queuepass.Admission {
	f.t.Helper()
	adm, err := f.s.Admit(f.t.Context(), eventID, count, at)
	f.ok(err)
	return adm
}

func (f *fixture) eventIDs() string {
	f.t.Helper()
	evs, err := f.s.Events(f.t.Context(), "", 1000)
	f.ok(err)
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return strings.Join(ids, ",")
}

// snapshot is everything a store says about its events and some tickets.
type snapshot struct {
	events  []queuepass.Event
	tickets map[string]queuepass.Ticket // by event ID + "/" + ticket ID
}

func (f *fixture) snapshot(ticketIDs map[string][]string) snapshot {
	f.t.Helper()
	evs, err := f.s.Events(f.t.Context(), "", 1000)
	f.ok(err)
	snap := snapshot{events: evs, tickets: map[string]queuepass.Ticket{}}
	for ev, ids := range ticketIDs {
		for _, id := range ids {
			snap.tickets[ev+"/"+id] = f.ticket(ev, id)
		}
	}
	return snap
}

// diff describes how b differs from a, or returns "". Times are in UTC on
// both sides, so printing compares them exactly.
func (a snapshot) diff(b snapshot) string {
	var d []string
	if fmt.Sprint(a.events) != fmt.Sprint(b.events) {
		d = append(d, fmt.Sprintf("events\n  before %+v\n  after  %+v", a.events, b.events))
	}
	for k, ta := range a.tickets {
		if tb := b.tickets[k]; fmt.Sprint(ta) != fmt.Sprint(tb) {
			d = append(d, fmt.Sprintf("ticket %s\n  before %+v\n  after  %+v", k, ta, tb))
		}
	}
	return strings.Join(d, "\n")
}

// TestReopen checks that closing and opening the data directory keeps every
// event, ticket, count, position and order, lazily closed lines included,
// and that the reopened store goes on numbering and ordering where it
// stopped.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	ids := map[string][]string{}
	join := func(ev, user string, at time.Time) queuepass.Ticket {
		t.Helper()
		tk, _ := f.join(ev, user, at)
		ids[ev] = append(ids[ev], tk.ID)
		return tk
	}

	// "line": open, with admissions, a leaver, a completion and an expiry.
	f.createEvent("line", queuepass.StateOpen)
	for i := range 20 {
		join("line", fmt.Sprintf("u%d", i), at(i))
	}
	_, err := f.s.Leave(ctx, "line", ids["line"][5], at(30))
	f.ok(err)
	adm := f.admit("line", 3, at(31))
	_, err = f.s.Complete(ctx, "line", adm.Tickets[0].ID, at(32))
	f.ok(err)
	f.admit("line", 2, at(100))

	// "drawn": scheduled, then opened (the pre-queue drawn into the line).
	f.createEvent("drawn", queuepass.StateScheduled)
	for i := range 10 {
		join("drawn", fmt.Sprintf("p%d", i), at(i))
	}
	f.setState("drawn", queuepass.StateOpen, at(20))
	join("drawn", "late", at(21))

	// "shut": closed with a line (closed lazily) and one ticket admitted.
	f.createEvent("shut", queuepass.StateOpen)
	for i := range 5 {
		join("shut", fmt.Sprintf("s%d", i), at(i))
	}
	f.admit("shut", 1, at(10))
	f.setState("shut", queuepass.StateClosed, at(11))

	// "gone": deleted, so it must stay gone.
	f.createEvent("gone", queuepass.StateOpen)
	f.join("gone", "x", at(1))
	f.ok(f.s.DeleteEvent(ctx, "gone"))
	f.createEvent("last", queuepass.StatePaused)

	_, claimed, err := f.s.ClaimIdempotencyKey(ctx, "k1", [32]byte{9}, at(5))
	f.ok(err)
	if !claimed {
		t.Fatal("ClaimIdempotencyKey(k1) claimed = false, want true")
	}
	resp := queuepass.IdempotencyRecord{Status: 201, Header: map[string]string{"Location": "/x"}, Body: []byte("{}")}
	f.ok(f.s.FinishIdempotencyKey(ctx, "k1", resp))

	before := f.snapshot(ids)
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	f.s = openTemp(t, dir)
	if d := before.diff(f.snapshot(ids)); d != "" {
		t.Errorf("after reopening:\n%s", d)
	}

	rec, claimed, err := f.s.ClaimIdempotencyKey(ctx, "k1", [32]byte{7}, at(50))
	f.ok(err)
	if claimed || !rec.Done || rec.Status != 201 || rec.Fingerprint != [32]byte{9} || !rec.CreatedAt.Equal(at(5)) {
		t.Errorf("ClaimIdempotencyKey(k1) after reopen = %+v, %v; want the finished record of the first claim", rec, claimed)
	}

	// Numbering, the user index and order go on where they stopped.
	waiting := f.event("line").Counts.Waiting
	tk := join("line", "newcomer", at(200))
	if tk.Position != waiting+1 {
		t.Errorf("Join after reopen: Position = %d, want %d", tk.Position, waiting+1)
	}
	for _, prev := range ids["line"][:len(ids["line"])-1] {
		if prev == tk.ID {
			t.Errorf("Join after reopen reused ticket ID %s", tk.ID)
		}
	}
	if again, created := f.join("line", "u19", at(201)); created || again.ID != ids["line"][19] {
		t.Errorf("Join(u19) after reopen = %s, created %v; want the live ticket %s", again.ID, created, ids["line"][19])
	}
	if _, _, err := f.s.Join(ctx, "shut", "s4", at(202)); !errors.Is(err, queuepass.ErrEventClosed) {
		t.Errorf("Join(closed event) after reopen error = %v, want ErrEventClosed", err)
	}
	f.createEvent("newer", queuepass.StateOpen)
	if got, want := f.eventIDs(), "line,drawn,shut,last,newer"; got != want {
		t.Errorf("Events after reopen = %s, want %s", got, want)
	}
	adm = f.admit("line", 100, at(300))
	if adm.Waiting != 0 || len(adm.Tickets) != waiting+1 || adm.Tickets[len(adm.Tickets)-1].ID != tk.ID {
		t.Errorf("Admit(all) after reopen = %d tickets, %d waiting; want %d, 0, newcomer last", len(adm.Tickets), adm.Waiting, waiting+1)
	}
}

func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	openTemp(t, dir)
	s, err := Open(dir)
	if err == nil {
		s.Close()
		t.Fatalf("second Open(%q) succeeded, want an error", dir)
	}
	if !strings.Contains(err.Error(), "in use by another queuepass process") {
		t.Errorf("second Open(%q) error = %q, want it to say the directory is in use", dir, err)
	}
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	dir := t.TempDir() + "/a/b"
	openTemp(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %o, want 700", perm)
	}
}

// TestCloseAgain checks that closing after a reopening (which the waiting
// room would not ask for) closes the new line too, while the first
// closing's tickets keep their EndedAt, before and after a reopen of the
// file.
func TestCloseAgain(t *testing.T) {
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	f.createEvent("e", queuepass.StateOpen)
	first, _ := f.join("e", "a", at(1))
	f.setState("e", queuepass.StateClosed, at(2))
	f.setState("e", queuepass.StateOpen, at(3))
	second, _ := f.join("e", "a", at(4))
	if second.Status != queuepass.StatusWaiting || second.Position != 1 {
		t.Fatalf("Join after reopening = %s at %d, want waiting at 1", second.Status, second.Position)
	}
	f.setState("e", queuepass.StateClosed, at(5))

	for range 2 {
		for _, c := range []struct {
			id    string
			ended time.Time
		}{{first.ID, at(2)}, {second.ID, at(5)}} {
			tk := f.ticket("e", c.id)
			if tk.Status != queuepass.StatusClosed || !tk.EndedAt.Equal(c.ended) {
				t.Errorf("Ticket = %s ended %v, want closed ended %v", tk.Status, tk.EndedAt, c.ended)
			}
		}
		if got, want := f.event("e").Counts, (queuepass.Counts{Closed: 2}); got != want {
			t.Errorf("Counts = %+v, want %+v", got, want)
		}
		f.s.Close()
		f.s = openTemp(t, dir)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openTemp(t, t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CreateEvent(ctx, newEvent("e", queuepass.StateOpen)); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateEvent(canceled) error = %v, want context.Canceled", err)
	}
	if _, err := s.Event(t.Context(), "e"); !errors.Is(err, queuepass.ErrEventNotFound) {
		t.Errorf("Event after canceled CreateEvent error = %v, want ErrEventNotFound", err)
	}
}

// TestPaceMarkReopen checks that AdmitPaced's pacing mark is durable: after
// a burst, a reopened store admits only what the time since then earned,
// not a fresh burst.
func TestPaceMarkReopen(t *testing.T) {
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	f.createEvent("e", queuepass.StateOpen)
	for i := range 50 {
		f.join("e", fmt.Sprintf("u%d", i), at(0))
	}
	paced := func(when time.Time) int {
		t.Helper()
		adm, err := f.s.AdmitPaced(t.Context(), "e", 600, when)
		f.ok(err)
		return len(adm.Tickets)
	}
	if n := paced(at(10)); n != 11 {
		t.Fatalf("AdmitPaced(600/min) on a fresh mark admitted %d, want 11 (a burst)", n)
	}
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	f.s = openTemp(t, dir)
	for _, st := range []struct {
		when time.Time
		want int
	}{
		{at(10).Add(300 * time.Millisecond), 3}, // 300 ms at 10 a second
		{at(10).Add(350 * time.Millisecond), 0}, // half a ticket, kept
	} {
		if n := paced(st.when); n != st.want {
			t.Errorf("AdmitPaced(600/min) at %v after reopening admitted %d, want %d", st.when.Format(time.StampMilli), n, st.want)
		}
	}
	if got := f.event("e").Counts.Admitted; got != 14 {
		t.Errorf("Counts.Admitted = %d, want 14", got)
	}
}
