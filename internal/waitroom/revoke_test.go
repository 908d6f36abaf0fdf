package waitroom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

func TestRevokeEndsThePassAtOnce(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "revoke", MaxActive: 1, PassTTL: time.Minute})
	a := mustJoin(t, r, ev.ID, "a")
	b := mustJoin(t, r, ev.ID, "b")
	if _, err := r.Admit(ctx, ev.ID, 1); err != nil {
		t.Fatal(err)
	}
	admitted, err := r.Ticket(ctx, ev.ID, a.ID)
	if err != nil || admitted.Pass == "" {
		t.Fatalf("Ticket(admitted) = pass %q, %v", admitted.Pass, err)
	}
	c.Advance(10 * time.Second)
	v, err := r.Revoke(ctx, ev.ID, a.ID)
	if err != nil {
		t.Fatalf("Revoke = %v", err)
	}
	if v.Status != queuepass.StatusExpired || v.StatusReason != queuepass.ReasonRevoked || !v.EndedAt.Equal(c.Now()) || v.Pass != "" {
		t.Errorf("Revoke = %s (%q) ended %v with pass %q; want expired, revoked, ended now, no pass", v.Status, v.StatusReason, v.EndedAt, v.Pass)
	}
	ver, err := r.VerifyPass(ctx, admitted.Pass, ev.ID)
	if err != nil || ver.Valid || ver.Reason != waitroom.ReasonRevoked {
		t.Errorf("VerifyPass after revoke = %+v, %v; want revoked", ver, err)
	}
	if again, err := r.Revoke(ctx, ev.ID, a.ID); err != nil || again.Status != queuepass.StatusExpired || !again.EndedAt.Equal(v.EndedAt) {
		t.Errorf("Revoke(revoked) = %s ended %v, %v; want unchanged", again.Status, again.EndedAt, err)
	}
	if _, err := r.Revoke(ctx, ev.ID, b.ID); !errors.Is(err, queuepass.ErrTicketNotAdmitted) {
		t.Errorf("Revoke(waiting) = %v, want ErrTicketNotAdmitted", err)
	}
	// The place came back.
	if adm, err := r.Admit(ctx, ev.ID, 1); err != nil || len(adm.Tickets) != 1 || adm.Tickets[0].ID != b.ID {
		t.Errorf("Admit after revoke = %v, %v; want ticket b", adm.Tickets, err)
	}
}

func TestStatsRecentAdmissionsAndMedianWait(t *testing.T) {
	r, c := newRoom(t)
	ctx := context.Background()
	ev := mustCreate(t, r, waitroom.EventSpec{Name: "median", PassTTL: time.Hour})
	s, err := r.Stats(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.MedianWait != nil || s.AdmittedLast10Minutes != 0 {
		t.Errorf("Stats before any admission: median %v, last 10 minutes %d; want nil, 0", s.MedianWait, s.AdmittedLast10Minutes)
	}
	admit := func(n int) {
		t.Helper()
		if adm, err := r.Admit(ctx, ev.ID, n); err != nil || len(adm.Tickets) != n {
			t.Fatalf("Admit(%d) = %d tickets, %v", n, len(adm.Tickets), err)
		}
	}
	// Three join at 0 and are admitted at 5 minutes (waits 300 s); one
	// joins at 5 and is admitted at 12 (420 s); two join at 12 and are
	// admitted at 14 (120 s).
	for _, u := range []string{"a", "b", "c"} {
		mustJoin(t, r, ev.ID, u)
	}
	c.Advance(5 * time.Minute)
	admit(3)
	mustJoin(t, r, ev.ID, "d")
	c.Advance(7 * time.Minute)
	admit(1)
	mustJoin(t, r, ev.ID, "e")
	mustJoin(t, r, ev.ID, "f")
	c.Advance(2 * time.Minute)
	admit(2)

	tests := []struct {
		name               string
		advance            time.Duration
		lastMinute, last10 int
		median             time.Duration // 0: none
	}{
		// At 14 min every batch is within 10 minutes: waits 300, 300,
		// 300, 420, 120, 120 → lower middle 300 s.
		{"at 14 min", 0, 2, 6, 300 * time.Second},
		// The batch of 5 min has left the window: 420, 120, 120 → 120 s.
		{"at 15.5 min", 90 * time.Second, 0, 3, 120 * time.Second},
		{"at 22.5 min", 7 * time.Minute, 0, 2, 120 * time.Second},
		{"at 24.5 min", 2 * time.Minute, 0, 0, 0},
	}
	for _, tt := range tests {
		c.Advance(tt.advance)
		s, err := r.Stats(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.AdmittedLastMinute != tt.lastMinute || s.AdmittedLast10Minutes != tt.last10 {
			t.Errorf("%s: admitted last minute %d, last 10 minutes %d; want %d, %d", tt.name, s.AdmittedLastMinute, s.AdmittedLast10Minutes, tt.lastMinute, tt.last10)
		}
		switch {
		case tt.median == 0 && s.MedianWait != nil:
			t.Errorf("%s: median wait %v, want none", tt.name, *s.MedianWait)
		case tt.median != 0 && (s.MedianWait == nil || *s.MedianWait != tt.median):
			t.Errorf("%s: median wait %v, want %v", tt.name, s.MedianWait, tt.median)
		}
	}
}
