package waitroom_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// nodes are several rooms on one store with one hand-moved clock: several
// QueuePass nodes, each with its own periodic work.
type nodes struct {
	rooms []*waitroom.Room
	clock *clock
}

func newNodes(t *testing.T, n int) *nodes {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := clocktest.New(start)
	keys := pass.Generate()
	ns := &nodes{clock: c}
	for range n {
		ns.rooms = append(ns.rooms, waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: c.Now}))
	}
	return ns
}

// run moves time on by d in PaceInterval steps, with every node doing its
// periodic work as Run would (pacing each step, the full tick each second).
func (ns *nodes) run(t *testing.T, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	for step := time.Duration(0); step < d; step += waitroom.PaceInterval {
		ns.clock.Advance(waitroom.PaceInterval)
		for i, r := range ns.rooms {
			if ns.clock.Now().Sub(start)%waitroom.TickInterval == 0 || i == 0 && step == 0 {
				if err := r.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.AdmitDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (ns *nodes) admitted(t *testing.T, eventID string) int {
	t.Helper()
	s, err := ns.rooms[0].Stats(context.Background(), eventID)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Counts
	return c.Admitted + c.Completed + c.Expired
}

// TestAutomaticAdmissionRateHoldsAcrossNodes: three nodes admitting by
// themselves admit at the event's rate, not three times it, with no burst
// over one second's worth.
func TestAutomaticAdmissionRateHoldsAcrossNodes(t *testing.T) {
	ns := newNodes(t, 3)
	r := ns.rooms[0]
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "auto", AdmitRatePerMinute: 600}) // 10 a second
	for i := range 500 {
		mustJoin(t, ns.rooms[i%3], ev.ID, fmt.Sprint("u", i))
	}
	ns.run(t, 2*time.Second) // settle: the first burst is one second's worth
	const rate = 10.0        // per second
	for _, interval := range []time.Duration{time.Second, 5 * time.Second, 20 * time.Second} {
		before := ns.admitted(t, ev.ID)
		ns.run(t, interval)
		got := ns.admitted(t, ev.ID) - before
		want := rate * interval.Seconds()
		if float64(got) > want+rate || float64(got) < want-rate {
			t.Errorf("three nodes over %v admitted %d, want %.0f ± one second's worth (%.0f)", interval, got, want, rate)
		}
	}
}

func TestAutomaticAdmissionFollowsStateAndSettings(t *testing.T) {
	ns := newNodes(t, 2)
	r := ns.rooms[0]
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "auto", AdmitRatePerMinute: 600, MaxActive: 25})
	for i := range 200 {
		mustJoin(t, r, ev.ID, fmt.Sprint("u", i))
	}
	ns.run(t, 5*time.Second)
	if got := ns.admitted(t, ev.ID); got != 25 {
		t.Errorf("admitted with max_active 25 after 5 s at 10/s = %d, want 25 (capacity)", got)
	}
	// Raising the capacity takes effect within a second.
	if _, err := ns.rooms[1].UpdateEvent(ctx, ev.ID, waitroom.EventPatch{MaxActive: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	ns.run(t, 3*time.Second)
	if got := ns.admitted(t, ev.ID); got < 25+20 || got > 25+40 {
		t.Errorf("admitted 3 s after lifting capacity = %d, want about 25 + 20..30", got)
	}
	// Paused: nothing more.
	if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{State: ptr(queuepass.StatePaused)}); err != nil {
		t.Fatal(err)
	}
	ns.run(t, time.Second) // a node may still hold the open state for up to a second
	paused := ns.admitted(t, ev.ID)
	ns.run(t, 5*time.Second)
	if got := ns.admitted(t, ev.ID); got != paused {
		t.Errorf("admitted while paused went from %d to %d", paused, got)
	}
	// A rate of 0 means admins only.
	if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{State: ptr(queuepass.StateOpen), AdmitRatePerMinute: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	ns.run(t, 2*time.Second)
	before := ns.admitted(t, ev.ID)
	ns.run(t, 5*time.Second)
	if got := ns.admitted(t, ev.ID); got != before {
		t.Errorf("admitted at rate 0 went from %d to %d", before, got)
	}
	// Closed: for good.
	if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{AdmitRatePerMinute: ptr(600), State: ptr(queuepass.StateClosed)}); err != nil {
		t.Fatal(err)
	}
	ns.run(t, 2*time.Second)
	closed := ns.admitted(t, ev.ID)
	ns.run(t, 5*time.Second)
	if got := ns.admitted(t, ev.ID); got != closed {
		t.Errorf("admitted after closing went from %d to %d", closed, got)
	}
}
