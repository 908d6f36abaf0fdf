package waitroom_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// updateWait bounds how long a test waits for an update that must come.
const updateWait = 10 * time.Second

// twoNodes returns two rooms on one store, as two nodes would be.
func twoNodes(t *testing.T) (a, b *waitroom.Room, c *clock) {
	t.Helper()
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c = clocktest.New(start)
	keys := pass.Generate()
	a = waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: c.Now})
	b = waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: c.Now})
	return a, b, c
}

func next(t *testing.T, ch <-chan waitroom.TicketView) (waitroom.TicketView, bool) {
	t.Helper()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-time.After(updateWait):
		t.Fatalf("no update within %v", updateWait)
		return waitroom.TicketView{}, false
	}
}

func wantUpdate(t *testing.T, ch <-chan waitroom.TicketView, status queuepass.TicketStatus, position int) {
	t.Helper()
	v, ok := next(t, ch)
	if !ok {
		t.Fatalf("updates closed, want %s at position %d", status, position)
	}
	if v.Status != status || v.Position != position {
		t.Fatalf("update = %s at position %d, want %s at %d", v.Status, v.Position, status, position)
	}
}

func wantEnd(t *testing.T, ch <-chan waitroom.TicketView) {
	t.Helper()
	if v, ok := next(t, ch); ok {
		t.Fatalf("update %s at position %d, want the updates to end", v.Status, v.Position)
	}
}

func TestUpdatesAcrossNodes(t *testing.T) {
	a, b, c := twoNodes(t)
	ctx := t.Context()
	mustCreate(t, a, waitroom.EventSpec{ID: "e", Name: "e"})
	for _, u := range []string{"u1", "u2"} {
		mustJoin(t, a, "e", u)
	}
	tk := mustJoin(t, a, "e", "u3")
	ch, err := a.Updates(ctx, "e", tk.ID)
	if err != nil {
		t.Fatalf("Updates: %v", err)
	}
	wantUpdate(t, ch, queuepass.StatusWaiting, 3)
	for _, want := range []int{2, 1} {
		c.Advance(waitroom.UpdateInterval)
		if _, err := b.Admit(ctx, "e", 1); err != nil {
			t.Fatal(err)
		}
		wantUpdate(t, ch, queuepass.StatusWaiting, want)
	}
	c.Advance(waitroom.UpdateInterval)
	if _, err := b.Admit(ctx, "e", 1); err != nil {
		t.Fatal(err)
	}
	v, _ := next(t, ch)
	if v.Status != queuepass.StatusAdmitted || v.Pass == "" {
		t.Fatalf("update = %s with pass %q, want admitted with a pass", v.Status, v.Pass)
	}
	// The pass runs out: no store step says so, but the next look does.
	c.Advance(v.PassExpiresAt.Sub(c.Now()))
	mustJoin(t, b, "e", "someone else")
	wantUpdate(t, ch, queuepass.StatusExpired, 0)
	wantEnd(t, ch)
}

func TestUpdatesEndAfterLeaving(t *testing.T) {
	a, b, c := twoNodes(t)
	mustCreate(t, a, waitroom.EventSpec{ID: "e", Name: "e"})
	tk := mustJoin(t, a, "e", "u1")
	ch, err := a.Updates(t.Context(), "e", tk.ID)
	if err != nil {
		t.Fatalf("Updates: %v", err)
	}
	wantUpdate(t, ch, queuepass.StatusWaiting, 1)
	c.Advance(waitroom.UpdateInterval)
	if err := b.Leave(t.Context(), "e", tk.ID); err != nil {
		t.Fatal(err)
	}
	wantUpdate(t, ch, queuepass.StatusLeft, 0)
	wantEnd(t, ch)
}

// TestUpdatesCoalesce: changes within UpdateInterval of the last update
// are sent as one, with the latest view.
func TestUpdatesCoalesce(t *testing.T) {
	a, b, _ := twoNodes(t) // the clock stands still
	ctx := t.Context()
	mustCreate(t, a, waitroom.EventSpec{ID: "e", Name: "e"})
	var tk waitroom.TicketView
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		tk = mustJoin(t, a, "e", u)
	}
	ch, err := a.Updates(ctx, "e", tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantUpdate(t, ch, queuepass.StatusWaiting, 4)
	for range 3 {
		if _, err := b.Admit(ctx, "e", 1); err != nil {
			t.Fatal(err)
		}
	}
	wantUpdate(t, ch, queuepass.StatusWaiting, 1)
}

// TestUpdatesDropSlowReader: a reader that does not take an update loses
// the channel rather than hold anyone up.
func TestUpdatesDropSlowReader(t *testing.T) {
	a, b, c := twoNodes(t)
	ctx := t.Context()
	mustCreate(t, a, waitroom.EventSpec{ID: "e", Name: "e"})
	mustJoin(t, a, "e", "u1")
	mustJoin(t, a, "e", "u2")
	tk := mustJoin(t, a, "e", "u3")
	idle := runtime.NumGoroutine()
	ch, err := a.Updates(ctx, "e", tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The first view is still unread when the next update is due.
	c.Advance(waitroom.UpdateInterval)
	if _, err := b.Admit(ctx, "e", 1); err != nil {
		t.Fatal(err)
	}
	// Updates' goroutine gives up on the reader and exits.
	for deadline := time.Now().Add(updateWait); runtime.NumGoroutine() > idle; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want %d: Updates still waits on a reader that does not read", runtime.NumGoroutine(), idle)
		}
		runtime.Gosched()
	}
	wantUpdate(t, ch, queuepass.StatusWaiting, 3)
	wantEnd(t, ch)
}

func TestUpdatesUnknownTicket(t *testing.T) {
	r, _ := newRoom(t)
	mustCreate(t, r, waitroom.EventSpec{ID: "e", Name: "e"})
	for _, tt := range []struct {
		event, ticket string
		want          error
	}{
		{"e", "no-such-ticket", queuepass.ErrTicketNotFound},
		{"nope", "no-such-ticket", queuepass.ErrEventNotFound},
	} {
		if _, err := r.Updates(context.Background(), tt.event, tt.ticket); !errors.Is(err, tt.want) {
			t.Errorf("Updates(%q, %q) error = %v, want %v", tt.event, tt.ticket, err, tt.want)
		}
	}
}
