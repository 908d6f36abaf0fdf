package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/redistest"
)

// TestWatchAcrossHandlesAndOutage checks what storetest cannot: a change
// made through another handle (another process) wakes a watcher, and a
// watcher keeps working after its connection to Redis was cut.
func TestWatchAcrossHandlesAndOutage(t *testing.T) {
	redistest.URL(t)
	url, _ := redistest.Server(t) // a server of its own: the test cuts connections
	admin := adminClient(t, url)
	_, hs := open(t, url, admin, 2)
	watcher, writer := hs[0], hs[1]
	ctx := t.Context()
	if _, err := writer.CreateEvent(ctx, queuepass.Event{ID: "e", Name: "e", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	ch, err := watcher.Watch(ctx, "e")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	users := 0
	// joinUntilSignal joins new users through the writer until the
	// watcher is signalled.
	joinUntilSignal := func(what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			users++
			if _, _, err := writer.Join(ctx, "e", fmt.Sprintf("u%d", users), queuepass.JoinProof{}, base); err != nil {
				t.Logf("Join: %v", err) // Redis may be reconnecting
			}
			select {
			case _, ok := <-ch:
				if !ok {
					t.Fatalf("%s: watch channel closed", what)
				}
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatalf("%s: no signal", what)
	}
	joinUntilSignal("join through another handle")

	if n, err := admin.Do(ctx, admin.B().ClientKill().TypePubsub().Build()).AsInt64(); err != nil || n == 0 {
		t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v; want at least 1 connection cut", n, err)
	}
	for range 2 { // the first signal may be the one sent on resubscribing
		joinUntilSignal("join after the subscriber's connection was cut")
	}
}
