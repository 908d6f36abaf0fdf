package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var watchTests = []subtest{
	{"EveryChangeWakes", testWatchEveryChange},
	{"ClosedWhenContextEnds", testWatchContextEnds},
	{"SlowWatcherNeverBlocksWrites", testWatchSlowWatcher},
	{"ClosedWhenStoreCloses", testWatchStoreCloses},
}

// signalWait bounds how long a check waits for a signal that must come.
// It is a bound on the store's delivery, not time passing in the checks.
const signalWait = 10 * time.Second

func (f *fixture) watch(ctx context.Context, eventID string) <-chan struct{} {
	f.t.Helper()
	ch, err := f.s.Watch(ctx, eventID)
	if err != nil {
		f.t.Fatalf("Watch(%q) error: %v", eventID, err)
	}
	return ch
}

// drain takes a pending signal, if any.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// wantSignal waits for a signal on ch after what.
func wantSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("after %s: watch channel closed, want a signal", what)
		}
	case <-time.After(signalWait):
		t.Fatalf("after %s: no signal within %v", what, signalWait)
	}
}

// wantClosed waits for ch to be closed, taking any signals before.
func wantClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	deadline := time.After(signalWait)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s: watch channel not closed within %v", what, signalWait)
		}
	}
}

func testWatchEveryChange(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	ctx, cancel := context.WithCancel(f.ctx())
	defer cancel()
	ch := f.watch(ctx, "e") // before the event exists
	var tks []queuepass.Ticket
	steps := []struct {
		name string
		do   func()
	}{
		{"CreateEvent", func() { f.open("e", 0) }},
		{"Join", func() {
			tks = append(tks, f.joinNew("e", "u1", at(1)), f.joinNew("e", "u2", at(1)), f.joinNew("e", "u3", at(1)))
		}},
		{"Leave", func() { f.leave("e", tks[2].ID, at(2)) }},
		{"Admit", func() { f.admit("e", 1, at(3)) }},
		{"Complete", func() { f.complete("e", tks[0].ID, at(4)) }},
		{"AdmitPaced", func() {
			if adm, err := f.s.AdmitPaced(f.ctx(), "e", 60, at(10)); err != nil || len(adm.Tickets) != 1 {
				t.Fatalf("AdmitPaced = %d admitted, %v; want 1, nil", len(adm.Tickets), err)
			}
		}},
		{"ExpirePasses", func() {
			if n := f.expire("e", at(10).Add(passTTL)); n != 1 {
				t.Fatalf("ExpirePasses = %d, want 1", n)
			}
		}},
		{"UpdateEvent", func() { f.setState("e", queuepass.StatePaused, at(100)) }},
		{"DeleteEvent", func() {
			if err := f.s.DeleteEvent(f.ctx(), "e"); err != nil {
				t.Fatalf("DeleteEvent: %v", err)
			}
		}},
	}
	for _, s := range steps {
		drain(ch)
		s.do()
		wantSignal(t, ch, s.name)
	}
}

func testWatchContextEnds(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	ctx, cancel := context.WithCancel(f.ctx())
	ch := f.watch(ctx, "e")
	keep := f.watch(f.ctx(), "e") // another watcher of the event stays
	cancel()
	wantClosed(t, ch, "after its context ended")
	drain(keep)
	f.joinNew("e", "u1", at(1))
	wantSignal(t, keep, "Join, with another watcher gone")

	done, cancelDone := context.WithCancel(f.ctx())
	cancelDone()
	if ch, err := f.s.Watch(done, "e"); err == nil {
		wantClosed(t, ch, "Watch with an ended context")
	}
}

func testWatchSlowWatcher(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	ctx, cancel := context.WithCancel(f.ctx())
	defer cancel()
	var never []<-chan struct{} // watchers that never read
	for range 3 {
		never = append(never, f.watch(ctx, "e"))
	}
	reader := f.watch(ctx, "e")
	const n = 50
	writes, wcancel := context.WithTimeout(f.ctx(), 30*time.Second)
	defer wcancel()
	for i := range n {
		if _, _, err := f.s.Join(writes, "e", fmt.Sprintf("u%d", i), queuepass.JoinProof{}, at(1)); err != nil {
			t.Fatalf("Join %d with watchers that never read: %v", i, err)
		}
	}
	wantSignal(t, reader, "joins")
	for i, ch := range never {
		if len(ch) != 1 {
			t.Errorf("watcher %d that never read holds %d signals, want 1 (coalesced)", i, len(ch))
		}
	}
}

func testWatchStoreCloses(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	ch := f.watch(f.ctx(), "e")
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantClosed(t, ch, "after Close")
	_, err := f.s.Watch(f.ctx(), "e")
	wantErr(t, "Watch after Close", err, queuepass.ErrUnavailable)
}
