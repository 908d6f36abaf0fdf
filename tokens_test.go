package queuepass_test

import (
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

func TestTakeToken(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	const interval = time.Second
	var mark int64
	take := func(at time.Time) (bool, time.Duration) {
		var ok bool
		var retry time.Duration
		mark, ok, retry = queuepass.TakeToken(mark, at, interval, 3)
		return ok, retry
	}
	// A new bucket is full: three at once, then one a second.
	for i := range 3 {
		if ok, _ := take(t0); !ok {
			t.Fatalf("take %d of a full bucket of 3 refused", i+1)
		}
	}
	if ok, retry := take(t0); ok || retry != time.Second {
		t.Fatalf("fourth take = %v, retry after %v; want refused, retry after 1s", ok, retry)
	}
	if ok, retry := take(t0.Add(400 * time.Millisecond)); ok || retry != 600*time.Millisecond {
		t.Fatalf("take 0.4 s later = %v, retry after %v; want refused, retry after 600ms", ok, retry)
	}
	if ok, _ := take(t0.Add(time.Second)); !ok {
		t.Fatal("take 1 s later refused, want one token refilled")
	}
	if ok, _ := take(t0.Add(time.Second)); ok {
		t.Fatal("second take 1 s later taken, want only one refilled")
	}
	// After a long pause the bucket is full again, not fuller.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if ok, _ := take(later); !ok {
			t.Fatalf("take %d after an hour refused", i+1)
		}
	}
	if ok, _ := take(later); ok {
		t.Fatal("fourth take after an hour taken: the bucket held more than its burst")
	}
}

func TestTakeTokenKeepsTheMarkWhenRefused(t *testing.T) {
	at := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	mark, ok, _ := queuepass.TakeToken(0, at, time.Minute, 1)
	if !ok {
		t.Fatal("first take refused")
	}
	again, ok, retry := queuepass.TakeToken(mark, at, time.Minute, 1)
	if ok || again != mark || retry != time.Minute {
		t.Errorf("refused take = (%d, %v, %v), want the mark %d kept, retry after 1m", again, ok, retry, mark)
	}
}
