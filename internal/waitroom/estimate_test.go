package waitroom

import (
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var t0 = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)

// steady returns n batches of size every gap, the last at last.
func steady(n, size int, gap time.Duration, last time.Time) []queuepass.AdmissionBatch {
	bs := make([]queuepass.AdmissionBatch, n)
	for i := range bs {
		bs[i] = queuepass.AdmissionBatch{At: last.Add(-time.Duration(n-1-i) * gap), Count: size}
	}
	return bs
}

func TestEstimateWait(t *testing.T) {
	open := func(rate, maxActive, admitted int, batches []queuepass.AdmissionBatch) queuepass.Event {
		return queuepass.Event{State: queuepass.StateOpen, AdmitRatePerMinute: rate, MaxActive: maxActive,
			Counts: queuepass.Counts{Admitted: admitted}, RecentAdmissions: batches}
	}
	paused := open(1200, 0, 0, nil)
	paused.State = queuepass.StatePaused
	const none = time.Duration(-1)
	for _, tc := range []struct {
		name     string
		ev       queuepass.Event
		position int
		now      time.Time
		want     time.Duration // none: nil
		slack    time.Duration
	}{
		{"no admissions, no rate", open(0, 0, 0, nil), 10, t0, none, 0},
		{"not waiting", open(60, 0, 0, nil), 0, t0, none, 0},
		{"configured rate, nothing admitted yet", open(1200, 0, 0, nil), 100, t0, 5 * time.Second, 0},
		{"configured rate wins over a slower start", open(1200, 0, 0, steady(4, 5, 250*time.Millisecond, t0)), 100, t0, 5 * time.Second, 0},
		{"configured rate, mid-interval", open(60, 0, 0, steady(3, 1, time.Second, t0)), 10, t0.Add(400 * time.Millisecond), 9600 * time.Millisecond, 0},
		{"configured rate, overdue step", open(60, 0, 0, steady(3, 1, time.Second, t0)), 10, t0.Add(time.Hour), 9 * time.Second, 0},
		{"paused: as if resumed now", paused, 40, t0, 2 * time.Second, 0},
		{"observed steady pace", open(0, 0, 0, steady(60, 10, 10*time.Second, t0)), 100, t0, 100 * time.Second, time.Second},
		{"observed, half an interval later", open(0, 0, 0, steady(60, 10, 10*time.Second, t0)), 100, t0.Add(5 * time.Second), 95 * time.Second, time.Second},
		{"observed, overdue", open(0, 0, 0, steady(60, 10, 10*time.Second, t0)), 100, t0.Add(4 * time.Minute), 90 * time.Second, time.Second},
		{"observed, stale", open(0, 0, 0, steady(60, 10, 10*time.Second, t0)), 100, t0.Add(etaStale + time.Second), none, 0},
		{"one batch stands for etaMinSpan", open(0, 0, 0, steady(1, 60, 0, t0)), 60, t0, time.Minute, 0},
		{"one batch, large position", open(0, 0, 0, steady(1, 60, 0, t0)), 600, t0.Add(30 * time.Second), 10*time.Minute - 30*time.Second, 0},
		{"at capacity: observed throughput", open(1200, 100, 100, steady(30, 1, 2*time.Second, t0)), 30, t0, 60*time.Second - 2*time.Second, 2 * time.Second},
		{"at capacity, nothing observed", open(1200, 100, 100, nil), 30, t0, none, 0},
		{"below capacity: configured", open(1200, 100, 99, steady(30, 1, 2*time.Second, t0)), 30, t0, 1500 * time.Millisecond, 0},
		{"huge position is capped", open(1, 0, 0, nil), 1 << 30, t0, time.Duration(1<<31-1) * time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rng := estimateWait(tc.ev, tc.position, tc.now)
			if (got == nil) != (rng == nil) {
				t.Fatalf("estimate %v with range %v: one nil and not the other", got, rng)
			}
			if tc.want == none {
				if got != nil {
					t.Errorf("estimate = %v, want none", *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("estimate = nil, want %v", tc.want)
			}
			if d := *got - tc.want; d < -tc.slack || d > tc.slack {
				t.Errorf("estimate = %v, want %v ± %v", *got, tc.want, tc.slack)
			}
			if rng.Low < 0 || rng.Low > *got || rng.High < *got {
				t.Errorf("range %v..%v does not hold estimate %v, or is negative", rng.Low, rng.High, *got)
			}
		})
	}
}

// TestEstimateNeverRises checks the promise that, while nothing changes
// (no admission, no change to the event or the position), the estimate and
// its range never rise as time passes: for every t2 >= t1, the estimate at
// t2 is at most the estimate at t1. It may only turn into no estimate.
func TestEstimateNeverRises(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   queuepass.Event
	}{
		{"configured pace", queuepass.Event{State: queuepass.StateOpen, AdmitRatePerMinute: 1200, RecentAdmissions: steady(100, 5, 250*time.Millisecond, t0)}},
		{"slow configured pace", queuepass.Event{State: queuepass.StateOpen, AdmitRatePerMinute: 1, RecentAdmissions: steady(2, 1, time.Minute, t0)}},
		{"manual batches", queuepass.Event{State: queuepass.StateOpen, RecentAdmissions: steady(5, 500, time.Minute, t0)}},
		{"irregular batches", queuepass.Event{State: queuepass.StateOpen, RecentAdmissions: []queuepass.AdmissionBatch{
			{At: t0.Add(-4 * time.Minute), Count: 7}, {At: t0.Add(-time.Minute), Count: 300}, {At: t0.Add(-time.Second), Count: 2}}}},
		{"capacity-bound", queuepass.Event{State: queuepass.StateOpen, AdmitRatePerMinute: 600, MaxActive: 50, Counts: queuepass.Counts{Admitted: 50},
			RecentAdmissions: steady(40, 3, 5*time.Second, t0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, pos := range []int{1, 2, 17, 1000, 250000} {
				prev, prevRange := estimateWait(tc.ev, pos, t0)
				if prev == nil {
					t.Fatalf("position %d: no estimate at the last admission", pos)
				}
				for step := time.Duration(0); step <= 2*etaStale; step += 100 * time.Millisecond {
					now := t0.Add(step)
					got, rng := estimateWait(tc.ev, pos, now)
					if got == nil {
						if rng != nil {
							t.Fatalf("position %d at +%v: range %v without an estimate", pos, step, rng)
						}
						prev = nil
						continue
					}
					if prev == nil {
						t.Fatalf("position %d at +%v: estimate %v came back after none", pos, step, *got)
					}
					if *got < 0 || rng.Low > *got || rng.High < *got {
						t.Fatalf("position %d at +%v: estimate %v, range %v..%v", pos, step, *got, rng.Low, rng.High)
					}
					if *got > *prev || rng.Low > prevRange.Low || rng.High > prevRange.High {
						t.Fatalf("position %d at +%v: estimate %v (%v..%v) rose from %v (%v..%v) with nothing changed",
							pos, step, *got, rng.Low, rng.High, *prev, prevRange.Low, prevRange.High)
					}
					prev, prevRange = got, rng
				}
			}
		})
	}
}
