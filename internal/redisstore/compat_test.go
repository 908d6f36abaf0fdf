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
		if _, _, err := s.Join(ctx, id, u, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Admit(ctx, id, 2, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	key := recentKey(t, admin, id)
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

// recentKey finds the recent-admissions key of event id, whatever the
// store's key prefix; the test's prefix is fresh, but other tests share the
// server, so it must be the only match in this test's keyspace.
func recentKey(t *testing.T, admin rueidis.Client, id string) string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for _, node := range admin.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match("qptest:*:qp:{"+id+"}:r").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatalf("SCAN: %v", err)
			}
			keys = append(keys, e.Elements...)
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	if len(keys) != 1 {
		t.Fatalf("recent-admissions keys of %q = %v, want exactly one", id, keys)
	}
	return keys[0]
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
		if _, _, err := s.Join(ctx, id, u, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Admit(ctx, id, 1, t0); err != nil { // makes the recent-admissions key
		t.Fatal(err)
	}
	key := recentKey(t, admin, id)
	meta := key[:len(key)-1] + "m"
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
