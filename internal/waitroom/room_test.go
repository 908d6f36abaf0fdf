package waitroom_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// clock is a hand-moved clock.
type clock = clocktest.Clock

var start = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)

func newRoom(t testing.TB) (*waitroom.Room, *clock) {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := clocktest.New(start)
	return waitroom.New(waitroom.Config{Store: store, Keys: pass.Generate(), Now: c.Now}), c
}

func mustCreate(t testing.TB, r *waitroom.Room, spec waitroom.EventSpec) queuepass.Event {
	t.Helper()
	ev, err := r.CreateEvent(context.Background(), spec)
	if err != nil {
		t.Fatalf("CreateEvent(%+v) = %v", spec, err)
	}
	return ev
}

func mustJoin(t testing.TB, r *waitroom.Room, eventID, user string) waitroom.TicketView {
	t.Helper()
	v, _, err := r.Join(context.Background(), eventID, user, waitroom.JoinOffer{})
	if err != nil {
		t.Fatalf("Join(%q, %q) = %v", eventID, user, err)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

func TestCreateEventDefaultsAndSchedule(t *testing.T) {
	r, _ := newRoom(t)
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "now"})
	if ev.State != queuepass.StateOpen || ev.PassTTL != waitroom.DefaultPassTTL || ev.ID == "" {
		t.Errorf("CreateEvent(no schedule) = state %s, ttl %v, id %q; want open, %v, generated", ev.State, ev.PassTTL, ev.ID, waitroom.DefaultPassTTL)
	}
	ev = mustCreate(t, r, waitroom.EventSpec{ID: "later", Name: "later", OpensAt: start.Add(time.Hour)})
	if ev.State != queuepass.StateScheduled {
		t.Errorf("CreateEvent(opens in an hour).State = %s, want scheduled", ev.State)
	}
	ev = mustCreate(t, r, waitroom.EventSpec{ID: "past", Name: "past", OpensAt: start.Add(-time.Hour)})
	if ev.State != queuepass.StateOpen {
		t.Errorf("CreateEvent(opened an hour ago).State = %s, want open", ev.State)
	}
	for _, spec := range []waitroom.EventSpec{
		{Name: "x", ClosesAt: start.Add(-time.Second)},
		{Name: "x", OpensAt: start.Add(2 * time.Hour), ClosesAt: start.Add(time.Hour)},
	} {
		_, err := r.CreateEvent(context.Background(), spec)
		if _, ok := errors.AsType[*queuepass.ValidationError](err); !ok {
			t.Errorf("CreateEvent(%+v) = %v, want a ValidationError", spec, err)
		}
	}
}

func TestTransitions(t *testing.T) {
	S, O, P, C := queuepass.StateScheduled, queuepass.StateOpen, queuepass.StatePaused, queuepass.StateClosed
	tests := []struct {
		from, to queuepass.EventState
		ok       bool
	}{
		{S, O, true}, {S, P, false}, {S, C, true}, {S, S, true},
		{O, P, true}, {O, C, true}, {O, S, false}, {O, O, true},
		{P, O, true}, {P, C, true}, {P, S, false}, {P, P, true},
		{C, O, false}, {C, P, false}, {C, S, false}, {C, C, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"→"+string(tt.to), func(t *testing.T) {
			r, _ := newRoom(t)
			ctx := context.Background()
			ev := mustCreate(t, r, waitroom.EventSpec{Name: "e", OpensAt: start.Add(time.Hour)})
			path := map[queuepass.EventState][]queuepass.EventState{S: nil, O: {O}, P: {O, P}, C: {C}}[tt.from]
			for _, s := range path {
				if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{State: ptr(s)}); err != nil {
					t.Fatalf("setting up %s: %v", s, err)
				}
			}
			got, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{State: ptr(tt.to)})
			switch {
			case tt.ok && err != nil:
				t.Errorf("UpdateEvent(%s → %s) = %v, want success", tt.from, tt.to, err)
			case tt.ok && got.State != tt.to:
				t.Errorf("UpdateEvent(%s → %s).State = %s", tt.from, tt.to, got.State)
			case !tt.ok && !errors.Is(err, queuepass.ErrInvalidTransition):
				t.Errorf("UpdateEvent(%s → %s) = %v, want ErrInvalidTransition", tt.from, tt.to, err)
			}
		})
	}
}

func TestScheduledOpeningShufflesPrequeueAheadOfLaterJoins(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{ID: "drop", Name: "drop", OpensAt: start.Add(time.Minute)})
	var early []string
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"} {
		v := mustJoin(t, r, ev.ID, u)
		if v.Status != queuepass.StatusPrequeue || v.Position != 0 {
			t.Fatalf("Join before opening = %s at %d, want prequeue without position", v.Status, v.Position)
		}
		if v.EstimatedWait == nil || *v.EstimatedWait != time.Minute {
			t.Errorf("prequeue EstimatedWait = %v, want the time until opening (1m)", v.EstimatedWait)
		}
		early = append(early, v.ID)
	}
	c.Advance(time.Minute)
	late := mustJoin(t, r, ev.ID, "late") // the join itself catches up on the due opening
	if late.Status != queuepass.StatusWaiting || late.Position != len(early)+1 {
		t.Errorf("join after opening = %s at %d, want waiting at %d", late.Status, late.Position, len(early)+1)
	}
	want, _ := queuepass.DrawOrder(ev.DrawSeed, early)
	got := make([]string, len(early))
	for _, id := range early {
		v, err := r.Ticket(ctx, ev.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != queuepass.StatusWaiting {
			t.Fatalf("prequeue ticket after opening is %s, want waiting", v.Status)
		}
		got[v.Position-1] = id
	}
	if !slices.Equal(got, want) {
		t.Errorf("line after opening = %v, want DrawOrder = %v", got, want)
	}
}

func TestScheduledClosing(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "short", ClosesAt: start.Add(10 * time.Minute)})
	v := mustJoin(t, r, ev.ID, "u")
	c.Advance(10 * time.Minute)
	if err := r.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := r.Ticket(ctx, ev.ID, v.ID)
	if err != nil || got.Status != queuepass.StatusClosed {
		t.Errorf("ticket after closes_at = %v, %v; want closed", got.Status, err)
	}
	if _, _, err := r.Join(ctx, ev.ID, "another", waitroom.JoinOffer{}); !errors.Is(err, queuepass.ErrEventClosed) {
		t.Errorf("Join after closes_at = %v, want ErrEventClosed", err)
	}
}

func TestAdmitRules(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "cap", MaxActive: 2, PassTTL: time.Minute})
	var ids []string
	for _, u := range []string{"a", "b", "c", "d"} {
		ids = append(ids, mustJoin(t, r, ev.ID, u).ID)
	}
	a, err := r.Admit(ctx, ev.ID, 10)
	if err != nil || len(a.Tickets) != 2 || a.Waiting != 2 {
		t.Fatalf("Admit(10) with max_active 2 = %d admitted, %d waiting, %v; want 2, 2", len(a.Tickets), a.Waiting, err)
	}
	first, _ := r.Ticket(ctx, ev.ID, ids[0])
	if first.Status != queuepass.StatusAdmitted || first.Pass == "" {
		t.Fatalf("admitted ticket = %s with pass %q", first.Status, first.Pass)
	}
	verify := func(token, eventID string) waitroom.Verification {
		t.Helper()
		v, err := r.VerifyPass(ctx, token, eventID)
		if err != nil {
			t.Fatalf("VerifyPass = %v", err)
		}
		return v
	}
	if ver := verify(first.Pass, ev.ID); !ver.Valid || ver.Claims.TicketID != first.ID || ver.Claims.UserID != "a" {
		t.Errorf("VerifyPass(own event) = %+v, want valid for ticket %s", ver, first.ID)
	}
	if ver := verify(first.Pass, "other"); ver.Valid || ver.Reason != "wrong_event" {
		t.Errorf("VerifyPass(other event) = %+v, want wrong_event", ver)
	}
	second, _ := r.Ticket(ctx, ev.ID, ids[1])
	// Completing one frees one place at once, and its pass is spent.
	if _, err := r.Complete(ctx, ev.ID, ids[0], 1); err != nil {
		t.Fatal(err)
	}
	if ver := verify(first.Pass, ev.ID); ver.Valid || ver.Reason != waitroom.ReasonCompleted {
		t.Errorf("VerifyPass after complete = %+v, want completed", ver)
	}
	if a, _ := r.Admit(ctx, ev.ID, 10); len(a.Tickets) != 1 || a.Tickets[0].ID != ids[2] {
		t.Errorf("Admit after complete = %v, want exactly ticket c", a.Tickets)
	}
	// Passes running out free the rest.
	c.Advance(time.Minute)
	if now, _ := r.Ticket(ctx, ev.ID, ids[1]); now.Status != queuepass.StatusExpired || now.Pass != "" {
		t.Errorf("ticket after its pass ran out = %s with pass %q, want expired without pass", now.Status, now.Pass)
	}
	// The server judges expiry by its own clock, without the skew that an
	// offline check allows.
	if ver := verify(second.Pass, ev.ID); ver.Valid || ver.Reason != "expired" {
		t.Errorf("VerifyPass when the pass just ran out = %+v, want expired", ver)
	}
	if a, _ := r.Admit(ctx, ev.ID, 10); len(a.Tickets) != 1 || a.Tickets[0].ID != ids[3] || a.Waiting != 0 {
		t.Errorf("Admit after expiry = %v (waiting %d), want ticket d and nobody left", a.Tickets, a.Waiting)
	}
	last, _ := r.Ticket(ctx, ev.ID, ids[3])
	if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{State: ptr(queuepass.StatePaused)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admit(ctx, ev.ID, 1); !errors.Is(err, queuepass.ErrEventNotOpen) {
		t.Errorf("Admit while paused = %v, want ErrEventNotOpen", err)
	}
	// A pass of a deleted event is worthless, even if the ID comes back.
	if err := r.DeleteEvent(ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, r, waitroom.EventSpec{ID: ev.ID, Name: "again"})
	if ver := verify(last.Pass, ev.ID); ver.Valid || ver.Reason != waitroom.ReasonUnknownTicket {
		t.Errorf("VerifyPass after the event was deleted and made again = %+v, want unknown_ticket", ver)
	}
}

func TestEstimatedWait(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "eta"})
	var ids []string
	for i := range 200 {
		ids = append(ids, mustJoin(t, r, ev.ID, string(rune('A'+i%26))+string(rune('0'+i/26))).ID)
	}
	v, _ := r.Ticket(ctx, ev.ID, ids[199])
	if v.EstimatedWait != nil {
		t.Errorf("EstimatedWait with no admissions and no rate = %v, want nil", *v.EstimatedWait)
	}
	// 60 admitted over a minute: about one a second.
	for range 6 {
		if _, err := r.Admit(ctx, ev.ID, 10); err != nil {
			t.Fatal(err)
		}
		c.Advance(10 * time.Second)
	}
	v, _ = r.Ticket(ctx, ev.ID, ids[199])
	if v.EstimatedWait == nil {
		t.Fatal("EstimatedWait after admissions = nil, want an estimate")
	}
	if got, want := *v.EstimatedWait, time.Duration(v.Position)*time.Second; got < want*8/10 || got > want*12/10 {
		t.Errorf("EstimatedWait at position %d after 1/s admissions = %v, want about %v", v.Position, got, want)
	}
	// Long after the last admission, with a configured rate, the rate decides.
	c.Advance(time.Hour)
	if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{AdmitRatePerMinute: ptr(120)}); err != nil {
		t.Fatal(err)
	}
	v, _ = r.Ticket(ctx, ev.ID, ids[199])
	// The pace admits one every half second and is overdue: the wait is
	// that of the tickets ahead.
	if v.EstimatedWait == nil || *v.EstimatedWait != time.Duration(v.Position-1)*time.Second/2 {
		t.Errorf("EstimatedWait at position %d with 120/min configured = %v, want %v", v.Position, v.EstimatedWait, time.Duration(v.Position-1)*time.Second/2)
	}
	if v.WaitRange == nil || v.WaitRange.Low > *v.EstimatedWait || v.WaitRange.High < *v.EstimatedWait {
		t.Errorf("WaitRange = %+v, want one around %v", v.WaitRange, v.EstimatedWait)
	}
}

func TestLeaveRules(t *testing.T) {
	r, _ := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "leave"})
	a, b := mustJoin(t, r, ev.ID, "a"), mustJoin(t, r, ev.ID, "b")
	if err := r.Leave(ctx, ev.ID, b.ID); err != nil {
		t.Fatalf("Leave(waiting) = %v", err)
	}
	if err := r.Leave(ctx, ev.ID, b.ID); err != nil {
		t.Errorf("Leave(left) = %v, want nil", err)
	}
	if _, err := r.Admit(ctx, ev.ID, 5); err != nil {
		t.Fatal(err)
	}
	if err := r.Leave(ctx, ev.ID, a.ID); !errors.Is(err, queuepass.ErrTicketNotWaiting) {
		t.Errorf("Leave(admitted) = %v, want ErrTicketNotWaiting", err)
	}
	again, created, err := r.Join(ctx, ev.ID, "b", waitroom.JoinOffer{})
	if err != nil || !created || again.ID == b.ID || again.Position != 1 {
		t.Errorf("Join after leaving = %s at %d created=%v, %v; want a new ticket at 1", again.ID, again.Position, created, err)
	}
}

func TestStatsCountsAddUp(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "stats", PassTTL: time.Minute})
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		mustJoin(t, r, ev.ID, u)
	}
	if _, err := r.Admit(ctx, ev.ID, 2); err != nil {
		t.Fatal(err)
	}
	c.Advance(30 * time.Second)
	s, err := r.Stats(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Counts.Total() != 5 || s.Counts.Waiting != 3 || s.ActivePasses != 2 || s.AdmittedLastMinute != 2 || !s.LastAdmissionAt.Equal(start) {
		t.Errorf("Stats = %+v", s)
	}
	c.Advance(time.Minute)
	s, _ = r.Stats(ctx, ev.ID)
	if s.Counts.Expired != 2 || s.ActivePasses != 0 || s.Counts.Total() != 5 {
		t.Errorf("Stats after passes ran out = %+v, want 2 expired, 0 active", s)
	}
}

func TestJoinAfterPassRanOutMakesANewTicket(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "again", PassTTL: time.Minute})
	first := mustJoin(t, r, ev.ID, "u")
	if _, err := r.Admit(ctx, ev.ID, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	again, created, err := r.Join(ctx, ev.ID, "u", waitroom.JoinOffer{})
	if err != nil || !created || again.ID == first.ID || again.Status != queuepass.StatusWaiting {
		t.Errorf("Join after the pass ran out = %s %s created=%v, %v; want a new waiting ticket", again.ID, again.Status, created, err)
	}
}

// TestTwoRoomsOnOneStore is two nodes' view: what one changes, the other's
// fans see at once where it matters, though it may use an event read up to
// a second old.
func TestTwoRoomsOnOneStore(t *testing.T) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := clocktest.New(start)
	keys := pass.Generate()
	a := waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: c.Now})
	b := waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: c.Now})
	ctx := context.Background()
	ev := mustCreate(t, a, waitroom.EventSpec{Name: "shared"})
	first := mustJoin(t, a, ev.ID, "first") // a has read the event now
	if _, err := b.Admit(ctx, ev.ID, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Ticket(ctx, ev.ID, first.ID); err != nil || v.Status != queuepass.StatusAdmitted {
		t.Errorf("ticket on node a after node b admitted it = %v, %v; want admitted", v.Status, err)
	}
	if _, err := b.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{State: ptr(queuepass.StateClosed)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Join(ctx, ev.ID, "late", waitroom.JoinOffer{}); !errors.Is(err, queuepass.ErrEventClosed) {
		t.Errorf("join on node a right after node b closed the event = %v, want ErrEventClosed", err)
	}
}

// TestEstimateDoesNotRiseBetweenPolls polls a waiting ticket a second
// apart, with no admission in between, under automatic admission and
// under manual admissions: the estimate and its range never rise, and the
// range holds the estimate.
func TestEstimateDoesNotRiseBetweenPolls(t *testing.T) {
	for _, rate := range []int{0, 60, 1200} {
		t.Run(fmt.Sprintf("rate %d", rate), func(t *testing.T) {
			r, c := newRoom(t)
			ctx := context.Background()
			ev := mustCreate(t, r, waitroom.EventSpec{Name: "steady", AdmitRatePerMinute: rate})
			var last string
			for i := range 500 {
				last = mustJoin(t, r, ev.ID, fmt.Sprintf("u%d", i)).ID
			}
			if err := r.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			for range 8 { // some admissions to observe
				if rate == 0 {
					if _, err := r.Admit(ctx, ev.ID, 20); err != nil {
						t.Fatal(err)
					}
					c.Advance(10 * time.Second)
				} else {
					if err := r.AdmitDue(ctx); err != nil {
						t.Fatal(err)
					}
					c.Advance(waitroom.PaceInterval)
				}
			}
			prev, err := r.Ticket(ctx, ev.ID, last)
			if err != nil || prev.EstimatedWait == nil || prev.WaitRange == nil {
				t.Fatalf("Ticket = %+v, %v; want an estimate", prev, err)
			}
			for i := range 20 {
				c.Advance(time.Second)
				v, err := r.Ticket(ctx, ev.ID, last)
				if err != nil || v.EstimatedWait == nil || v.WaitRange == nil {
					t.Fatalf("poll %d: Ticket = %+v, %v; want an estimate", i, v, err)
				}
				if *v.EstimatedWait > *prev.EstimatedWait || v.WaitRange.High > prev.WaitRange.High || v.WaitRange.Low > prev.WaitRange.Low {
					t.Fatalf("poll %d: estimate %v (%+v) rose from %v (%+v) with no admission", i, *v.EstimatedWait, *v.WaitRange, *prev.EstimatedWait, *prev.WaitRange)
				}
				if *v.EstimatedWait < 0 || v.WaitRange.Low > *v.EstimatedWait || v.WaitRange.High < *v.EstimatedWait {
					t.Fatalf("poll %d: estimate %v outside its range %+v", i, *v.EstimatedWait, *v.WaitRange)
				}
				prev = v
			}
		})
	}
}
