package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/redistest"
)

// TestRecentAdmissionsReadOldBatches checks that admission batches stored
// before batches kept their median wait (at:count) still read, with
// MedianWait 0, next to new ones (at:count:median).
func TestRecentAdmissionsReadOldBatches(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	s, _ := open(t, url, admin, 1)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	id := "compat-" + strconv.FormatInt(time.Now().UnixNano(), 36) // unique on a shared server
	if _, err := s.CreateEvent(ctx, queuepass.Event{ID: id, Name: "compat", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"a", "b"} {
		if _, _, err := s.Join(ctx, id, u, queuepass.JoinProof{}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Admit(ctx, id, 2, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	key := eventKey(t, admin, id, "r")
	old := t0.Add(time.Minute)
	if err := admin.Do(ctx, admin.B().Rpush().Key(key).Element(strconv.FormatInt(old.UnixMicro(), 10)+":4").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Event(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []queuepass.AdmissionBatch{
		{At: t0.Add(30 * time.Second), Count: 2, MedianWait: 30 * time.Second},
		{At: old, Count: 4},
	}
	if len(ev.RecentAdmissions) != len(want) {
		t.Fatalf("RecentAdmissions = %v, want %v", ev.RecentAdmissions, want)
	}
	for i, b := range ev.RecentAdmissions {
		if !b.At.Equal(want[i].At) || b.Count != want[i].Count || b.MedianWait != want[i].MedianWait {
			t.Errorf("RecentAdmissions[%d] = %+v, want %+v", i, b, want[i])
		}
	}
}

// eventKey finds the key of event id with the given suffix (r: the recent
// admissions, m: the event hash), whatever the store's key prefix; the
// test's prefix is fresh, but other tests share the server, so the event
// ID must be unique and the key the only match.
func eventKey(t *testing.T, admin rueidis.Client, id, suffix string) string {
	t.Helper()
	keys := scanKeys(t, admin, "qptest:*:qp:{"+id+"}:"+suffix)
	if len(keys) != 1 {
		t.Fatalf("keys qp:{%s}:%s = %v, want exactly one", id, suffix, keys)
	}
	return keys[0]
}

// scanKeys returns the keys that match pattern, on every node.
func scanKeys(t *testing.T, admin rueidis.Client, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for _, node := range admin.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatalf("SCAN: %v", err)
			}
			keys = append(keys, e.Elements...)
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return keys
}

// TestEventsWithoutIdleFieldsRead checks that an event stored before idle
// timeouts existed (no idle or cab field) reads with IdleTimeout and
// Abandoned 0, and admits without abandoning anyone.
func TestEventsWithoutIdleFieldsRead(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	s, _ := open(t, url, admin, 1)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	id := "compat-idle-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := s.CreateEvent(ctx, queuepass.Event{ID: id, Name: "compat", State: queuepass.StateOpen, PassTTL: time.Minute, IdleTimeout: time.Minute, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"a", "b"} {
		if _, _, err := s.Join(ctx, id, u, queuepass.JoinProof{}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Admit(ctx, id, 1, t0); err != nil { // makes the recent-admissions key
		t.Fatal(err)
	}
	meta := eventKey(t, admin, id, "m")
	if err := admin.Do(ctx, admin.B().Hdel().Key(meta).Field("idle", "cab").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	ev, err := s.Event(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ev.IdleTimeout != 0 || ev.Abandoned != 0 {
		t.Errorf("old event: IdleTimeout %v, Abandoned %d; want 0, 0", ev.IdleTimeout, ev.Abandoned)
	}
	if adm, err := s.Admit(ctx, id, 1, t0.Add(time.Hour)); err != nil || len(adm.Tickets) != 1 {
		t.Errorf("Admit(1) on an old event = %v, %v; want one ticket", adm.Tickets, err)
	}
}

// TestEventsWithoutFairnessFieldsRead checks that events stored before
// join proofs, access codes, inventory, draws and closing reasons existed
// (no reason, diff, access, inv, drawn, sold, codes, uses, used or cst
// field) read with them zero and public, join without proof, have no
// draw, and that the tickets of an old first closing read as closed
// without a reason.
func TestEventsWithoutFairnessFieldsRead(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	s, _ := open(t, url, admin, 1)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	unique := strconv.FormatInt(time.Now().UnixNano(), 36)
	openID, closedID := "compat-open-"+unique, "compat-closed-"+unique
	for _, id := range []string{openID, closedID} {
		if _, err := s.CreateEvent(ctx, queuepass.Event{ID: id, Name: "compat", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	tk, _, err := s.Join(ctx, closedID, "a", queuepass.JoinProof{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Event(ctx, closedID)
	if err != nil {
		t.Fatal(err)
	}
	ev.State, ev.StateReason = queuepass.StateClosed, queuepass.ReasonSoldOut
	if _, err := s.UpdateEvent(ctx, ev, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{openID, closedID} {
		fields := []string{"reason", "diff", "access", "inv", "drawn", "sold", "codes", "uses", "used", "cst"}
		if err := admin.Do(ctx, admin.B().Hdel().Key(eventKey(t, admin, id, "m")).Field(fields...).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}

	ev, err = s.Event(ctx, openID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.StateReason != "" || ev.ChallengeDifficulty != 0 || ev.Access != "" || ev.Inventory != 0 ||
		!ev.DrawnAt.IsZero() || ev.Sold != 0 || ev.Codes != (queuepass.CodeCounts{}) {
		t.Errorf("old event = StateReason %q, ChallengeDifficulty %d, Access %q, Inventory %d, DrawnAt %v, Sold %d, Codes %+v; want all zero",
			ev.StateReason, ev.ChallengeDifficulty, ev.Access, ev.Inventory, ev.DrawnAt, ev.Sold, ev.Codes)
	}
	if _, created, err := s.Join(ctx, openID, "b", queuepass.JoinProof{}, t0); err != nil || !created {
		t.Errorf("Join without proof of an old event = created %v, %v; want a new ticket", created, err)
	}
	if d, err := s.Draw(ctx, openID); d != nil || err != nil {
		t.Errorf("Draw of an old event = %d hashes, %v; want nil, no error", len(d), err)
	}
	if got, err := s.Ticket(ctx, closedID, tk.ID); err != nil || got.Status != queuepass.StatusClosed || got.StatusReason != "" {
		t.Errorf("ticket of an old closing = %s, reason %q, %v; want closed without a reason", got.Status, got.StatusReason, err)
	}
}
