package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
	"github.com/queuepass/queuepass/internal/servertest"
)

// newServer is an admin client of a real QueuePass server.
func newServer(t *testing.T) *client.Client {
	t.Helper()
	return client.New(servertest.Start(t, nil), client.WithAdminKey(servertest.AdminKey))
}

// TestFairnessAgainstAServer walks the client through proof of work, the
// draw and access codes against a real server.
func TestFairnessAgainstAServer(t *testing.T) {
	c := newServer(t)
	ctx := t.Context()
	opens := time.Now().Add(time.Hour)
	ev, err := c.CreateEvent(ctx, client.CreateEventParams{ID: "drop", Name: "Drop", OpensAt: &opens, ChallengeDifficulty: 8})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Draw == nil || len(ev.Draw.Commitment) != 64 || ev.ChallengeDifficulty != 8 {
		t.Fatalf("CreateEvent = draw %+v, difficulty %d; want a commitment, 8", ev.Draw, ev.ChallengeDifficulty)
	}
	if _, _, err := c.Join(ctx, "drop", "fan-0"); !errors.Is(err, queuepass.ErrChallengeRequired) {
		t.Fatalf("Join without a challenge = %v, want ErrChallengeRequired", err)
	}
	var tickets []client.Ticket
	for _, user := range []string{"fan-1", "fan-2", "fan-3"} {
		tk, created, err := c.JoinSolving(ctx, ev, user, "")
		if err != nil || !created {
			t.Fatalf("JoinSolving(%s) = created %v, %v", user, created, err)
		}
		tickets = append(tickets, tk)
	}
	if _, err := c.Draw(ctx, "drop"); !errors.Is(err, queuepass.ErrEventNotOpen) {
		t.Errorf("Draw before opening = %v, want ErrEventNotOpen", err)
	}
	open := queuepass.StateOpen
	if _, err := c.UpdateEvent(ctx, "drop", client.EventPatch{State: &open}); err != nil {
		t.Fatal(err)
	}
	d, err := c.Draw(ctx, "drop")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(); err != nil || d.Commitment != ev.Draw.Commitment {
		t.Errorf("Draw.Verify = %v, commitment %s; want nil, %s", err, d.Commitment, ev.Draw.Commitment)
	}
	for _, tk := range tickets {
		got, err := c.Ticket(ctx, "drop", tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if place := d.Place(tk.ID); got.Position == nil || place != *got.Position {
			t.Errorf("ticket %s: place in the draw %d, position %v; want equal", tk.UserID, place, got.Position)
		}
	}
	if d.Place("not a ticket") != 0 {
		t.Error("Place of a stranger's ticket is not 0")
	}
	d.Order[0], d.Order[1] = d.Order[1], d.Order[0]
	if err := d.Verify(); !errors.Is(err, queuepass.ErrDrawOrder) {
		t.Errorf("Verify of a tampered draw = %v, want ErrDrawOrder", err)
	}

	// Access codes, and a completion that sells a quantity.
	vip, err := c.CreateEvent(ctx, client.CreateEventParams{ID: "vip", Name: "VIP", Access: queuepass.AccessByCode, Inventory: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddCodes(ctx, "vip", []string{"AAAA-1111"}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GenerateCodes(ctx, "vip", 3, 2); err != nil {
		t.Fatal(err)
	}
	page, err := c.ListCodes(ctx, "vip", client.ListOptions{Limit: 2})
	if err != nil || len(page.Codes) != 2 || page.NextCursor == "" {
		t.Fatalf("ListCodes(limit 2) = %+v, %v; want two and a cursor", page, err)
	}
	tk, _, err := c.JoinSolving(ctx, vip, "guest", "aaaa-1111")
	if err != nil {
		t.Fatal(err)
	}
	if code, err := c.SetCodeUses(ctx, "vip", "aaaa-1111", 0); err != nil || code != (client.AccessCode{Code: "AAAA-1111", Uses: 1, Used: 1}) {
		t.Errorf("SetCodeUses(AAAA-1111, 0) after its one use = %+v, %v; want it kept at 1 use, used", code, err)
	}
	if _, err := c.SetCodeUses(ctx, "vip", "NOPE", 1); !isCode(err, client.CodeNotFound) {
		t.Errorf("SetCodeUses of an unknown code = %v, want not_found", err)
	}
	if _, err := c.Admit(ctx, "vip", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteQuantity(ctx, "vip", tk.ID, 4); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stats(ctx, "vip")
	if err != nil || s.Sold != 4 || s.InventoryRemaining == nil || *s.InventoryRemaining != 6 || s.AccessCodes != (client.CodeCounts{Codes: 4, Uses: 7, Used: 1}) {
		t.Errorf("Stats = sold %d, remaining %v, codes %+v (%v); want 4, 6, {4 7 1}", s.Sold, s.InventoryRemaining, s.AccessCodes, err)
	}
}

// isCode reports whether err is a response with problem code code.
func isCode(err error, code string) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Code == code
}
