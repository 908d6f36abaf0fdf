package storetest

import (
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var closeTests = []subtest{
	{"CallsFailAfterClose", testCallsAfterClose},
}

func testCallsAfterClose(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	ev := f.open("e", 0)
	tk := f.joinNew("e", "u1", at(1))
	fp := fingerprint("x")
	f.claim("k", fp, 1)
	if err := f.s.Ping(f.ctx()); err != nil {
		t.Fatalf("Ping on an open store: %v", err)
	}
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	ctx := f.ctx()
	s := f.s
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"CreateEvent", func() error { _, err := s.CreateEvent(ctx, newEvent("new", queuepass.StateOpen)); return err }},
		{"Event", func() error { _, err := s.Event(ctx, "e"); return err }},
		{"Events", func() error { _, err := s.Events(ctx, "", 10); return err }},
		{"UpdateEvent", func() error { _, err := s.UpdateEvent(ctx, ev, at(2)); return err }},
		{"DeleteEvent", func() error { return s.DeleteEvent(ctx, "e") }},
		{"Join", func() error { _, _, err := s.Join(ctx, "e", "u2", queuepass.JoinProof{}, at(2)); return err }},
		{"Ticket", func() error { _, err := s.Ticket(ctx, "e", tk.ID); return err }},
		{"Leave", func() error { _, err := s.Leave(ctx, "e", tk.ID, at(2)); return err }},
		{"Admit", func() error { _, err := s.Admit(ctx, "e", 1, at(2)); return err }},
		{"Complete", func() error { _, err := s.Complete(ctx, "e", tk.ID, 1, at(2)); return err }},
		{"ExpirePasses", func() error { _, err := s.ExpirePasses(ctx, "e", at(2)); return err }},
		{"Draw", func() error { _, err := s.Draw(ctx, "e"); return err }},
		{"AddCodes", func() error { return s.AddCodes(ctx, "e", []queuepass.AccessCode{{Code: "C", Uses: 1}}) }},
		{"Codes", func() error { _, err := s.Codes(ctx, "e", "", 10); return err }},
		{"TakeToken", func() error { _, _, err := s.TakeToken(ctx, "k", time.Second, 1, at(2)); return err }},
		{"ClaimIdempotencyKey", func() error { _, _, err := s.ClaimIdempotencyKey(ctx, "k2", fp, at(2)); return err }},
		{"FinishIdempotencyKey", func() error {
			return s.FinishIdempotencyKey(ctx, "k", queuepass.IdempotencyRecord{Fingerprint: fp, CreatedAt: at(1), Done: true, Status: 200})
		}},
		{"ReleaseIdempotencyKey", func() error { return s.ReleaseIdempotencyKey(ctx, "k") }},
		{"PurgeIdempotencyKeys", func() error { return s.PurgeIdempotencyKeys(ctx, at(2)) }},
	}
	for _, c := range calls {
		wantErr(t, c.name+" after Close", c.call(), queuepass.ErrUnavailable)
	}
}
