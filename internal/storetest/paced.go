package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var pacedTests = []subtest{
	{"Rate", testPacedRate},
	{"Burst", testPacedBurst},
	{"SlowRate", testPacedSlowRate},
	{"Bounds", testPacedBounds},
	{"NotOpen", testPacedNotOpen},
	{"Concurrent", testPacedConcurrent},
}

// atMs returns the suite's base time plus ms milliseconds.
func atMs(ms int) time.Time { return at(0).Add(time.Duration(ms) * time.Millisecond) }

func (f *fixture) paced(eventID string, perMinute int, when time.Time) queuepass.Admission {
	f.t.Helper()
	adm, err := f.s.AdmitPaced(f.ctx(), eventID, perMinute, when)
	if err != nil {
		f.t.Fatalf("AdmitPaced(%q, %d, %v) error: %v", eventID, perMinute, when, err)
	}
	return adm
}

// testPacedRate: 600 a minute is 10 a second. The first call has a full
// burst of credit (one second's worth plus one ticket); then each call
// admits what the time since the mark earned, in line order, whatever the
// call interval.
func testPacedRate(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	tks := f.joinAll("e", 100, at(0))
	steps := []struct {
		ms, want int
	}{
		{1000, 11}, // a fresh mark: a burst of one second's worth plus one
		{1100, 1},  // 100 ms: one
		{1150, 0},  // 50 ms: half a ticket, kept as credit
		{1200, 1},  // the half plus 50 ms
		{2200, 10}, // a second
		{4200, 11}, // two seconds, but credit never exceeds one second plus one
		{4250, 0},
		{4300, 1},
	}
	next := 0
	for _, st := range steps {
		adm := f.paced("e", 600, atMs(st.ms))
		if len(adm.Tickets) != st.want {
			t.Fatalf("AdmitPaced(600/min) at +%dms admitted %d, want %d", st.ms, len(adm.Tickets), st.want)
		}
		f.wantAdmission(fmt.Sprintf("AdmitPaced at +%dms", st.ms), adm, tks[next:next+st.want], atMs(st.ms), passTTL, len(tks)-next-st.want)
		next += st.want
	}
	if got := f.event("e").RecentAdmissions; len(got) != 6 {
		t.Errorf("RecentAdmissions after 6 admitting calls (and 2 empty ones) has %d batches, want 6", len(got))
	}
}

// testPacedBurst: a long idle time never builds up more than one second's
// worth plus one ticket, and a rate change takes effect at the next call.
func testPacedBurst(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	f.joinAll("e", 500, at(0))
	if n := len(f.paced("e", 6000, at(100)).Tickets); n != 101 {
		t.Errorf("AdmitPaced(6000/min) after 100 s idle admitted %d, want 101 (one second's worth plus one)", n)
	}
	if n := len(f.paced("e", 60, at(102)).Tickets); n != 2 {
		t.Errorf("AdmitPaced(60/min) 2 s later admitted %d, want 2 (the credit limit of the new rate)", n)
	}
	if n := len(f.paced("e", 0, at(110)).Tickets); n != 0 {
		t.Errorf("AdmitPaced(0/min) admitted %d, want 0", n)
	}
}

// testPacedSlowRate: below one a second, steps that come late (here every
// second, for a ticket every two) lose no time, and never admit two at once.
func testPacedSlowRate(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	f.joinAll("e", 20, at(0))
	got := 0
	for ms := 10_000; ms <= 30_000; ms += 700 { // 20 s at 30 a minute, steps out of phase
		n := len(f.paced("e", 30, atMs(ms)).Tickets)
		if n > 1 {
			t.Errorf("AdmitPaced(30/min) at +%dms admitted %d at once", ms, n)
		}
		got += n
	}
	// 20 s earn 10, and the first step's credit is one ticket.
	if got != 11 {
		t.Errorf("AdmitPaced(30/min) every 700 ms for 20 s admitted %d, want 11", got)
	}
}

// testPacedBounds: waiting tickets and MaxActive bound each step; passes
// that ran out are expired first and free their places.
func testPacedBounds(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 3)
	f.joinAll("e", 5, at(0))
	adm := f.paced("e", 6000, at(1))
	if len(adm.Tickets) != 3 || adm.Waiting != 2 {
		t.Fatalf("AdmitPaced with MaxActive 3 admitted %d (waiting %d), want 3 (2)", len(adm.Tickets), adm.Waiting)
	}
	if n := len(f.paced("e", 6000, at(2)).Tickets); n != 0 {
		t.Errorf("AdmitPaced at capacity admitted %d, want 0", n)
	}
	adm = f.paced("e", 6000, at(1).Add(passTTL))
	if len(adm.Tickets) != 2 || adm.Waiting != 0 {
		t.Errorf("AdmitPaced after the passes ran out admitted %d (waiting %d), want 2 (0)", len(adm.Tickets), adm.Waiting)
	}
	if c := f.event("e").Counts; c.Expired != 3 || c.Admitted != 2 {
		t.Errorf("Counts after pacing past expiry = %+v, want 3 expired, 2 admitted", c)
	}
}

func testPacedNotOpen(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	for _, st := range []queuepass.EventState{queuepass.StateScheduled, queuepass.StatePaused, queuepass.StateClosed} {
		id := "e-" + string(st)
		f.createEvent(newEvent(id, st))
		if _, err := f.s.AdmitPaced(f.ctx(), id, 600, at(5)); !errors.Is(err, queuepass.ErrEventNotOpen) {
			t.Errorf("AdmitPaced on a %s event = %v, want ErrEventNotOpen", st, err)
		}
	}
	if _, err := f.s.AdmitPaced(f.ctx(), "missing", 600, at(5)); !errors.Is(err, queuepass.ErrEventNotFound) {
		t.Errorf("AdmitPaced on an unknown event = %v, want ErrEventNotFound", err)
	}
}

// testPacedConcurrent: many callers at the same instants (several nodes'
// tickers) share one pace: the total is what one caller would admit.
func testPacedConcurrent(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	f.joinAll("e", 300, at(0))
	total := 0
	for ms := 1000; ms <= 11000; ms += 250 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 4 {
			wg.Go(func() {
				adm, err := f.s.AdmitPaced(f.ctx(), "e", 600, atMs(ms))
				if err != nil {
					t.Errorf("AdmitPaced: %v", err)
					return
				}
				mu.Lock()
				total += len(adm.Tickets)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	// From the first call at +1 s (a burst of 11) to +11 s (100 more).
	if total != 111 {
		t.Errorf("4 callers every 250 ms for 10 s at 600/min admitted %d in total, want 111", total)
	}
}
