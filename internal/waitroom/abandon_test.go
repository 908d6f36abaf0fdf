package waitroom_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// touchCounter is a store that counts Touch calls.
type touchCounter struct {
	queuepass.Store
	touches atomic.Int64
}

func (s *touchCounter) Touch(ctx context.Context, eventID, ticketID string, at time.Time) error {
	s.touches.Add(1)
	return s.Store.Touch(ctx, eventID, ticketID, at)
}

func TestPollingKeepsATicketAndSilenceLosesIt(t *testing.T) {
	bs, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	store := &touchCounter{Store: bs}
	c := clocktest.New(start)
	r := waitroom.New(waitroom.Config{Store: store, Keys: pass.Generate(), Now: c.Now})
	ctx := context.Background()

	const idle = time.Minute // SeenGranularity: 15 s
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "idle", IdleTimeout: idle})
	if ev.IdleTimeout != idle {
		t.Fatalf("CreateEvent: IdleTimeout = %v, want %v", ev.IdleTimeout, idle)
	}
	silent := mustJoin(t, r, ev.ID, "silent") // first in line, never reads again
	poller := mustJoin(t, r, ev.ID, "poller")
	rejoiner := mustJoin(t, r, ev.ID, "rejoiner")

	reads := 0
	for i := 1; i <= 24; i++ { // two minutes
		c.Advance(5 * time.Second)
		if _, err := r.Ticket(ctx, ev.ID, poller.ID); err != nil {
			t.Fatalf("Ticket(poller) = %v", err)
		}
		reads++
		if i%4 == 0 {
			if _, _, err := r.Join(ctx, ev.ID, "rejoiner", waitroom.JoinOffer{}); err != nil {
				t.Fatalf("Join(rejoiner) = %v", err)
			}
			reads++
		}
	}
	// Reads are cheap: a write only when the last one is 15 s old, so 8
	// for the poller (every 5 s) and 6 for the rejoiner (every 20 s).
	if got := store.touches.Load(); got != 14 {
		t.Errorf("%d reads made %d Touch writes, want 14", reads, got)
	}

	adm, err := r.Admit(ctx, ev.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range adm.Tickets {
		got = append(got, tk.UserID)
	}
	if len(got) != 2 || got[0] != "poller" || got[1] != "rejoiner" {
		t.Errorf("Admit(2) admitted %q, want the poller and the rejoiner", got)
	}
	v, err := r.Ticket(ctx, ev.ID, silent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != queuepass.StatusExpired || v.StatusReason != queuepass.ReasonAbandoned || !v.EndedAt.Equal(c.Now()) {
		t.Errorf("Ticket(silent) = %s (%q) ended %v; want expired, abandoned, now", v.Status, v.StatusReason, v.EndedAt)
	}
	for _, id := range []string{poller.ID, rejoiner.ID} {
		if v, err := r.Ticket(ctx, ev.ID, id); err != nil || v.Status != queuepass.StatusAdmitted {
			t.Errorf("Ticket(%s) = %s, %v; want admitted", id, v.Status, err)
		}
	}
	s, err := r.Stats(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Abandoned != 1 || s.Counts.Expired != 1 || s.Counts.Admitted != 2 || s.Counts.Waiting != 0 {
		t.Errorf("Stats: abandoned %d, counts %+v; want 1 abandoned, 1 expired, 2 admitted", s.Abandoned, s.Counts)
	}

	// Turning the timeout off by PATCH keeps anyone from being abandoned.
	if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{IdleTimeout: ptr(time.Duration(0))}); err != nil {
		t.Fatal(err)
	}
	late := mustJoin(t, r, ev.ID, "late")
	c.Advance(time.Hour)
	if adm, err := r.Admit(ctx, ev.ID, 1); err != nil || len(adm.Tickets) != 1 || adm.Tickets[0].ID != late.ID {
		t.Errorf("Admit with the timeout off = %v, %v; want the silent late joiner", adm.Tickets, err)
	}
}
