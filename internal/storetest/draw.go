package storetest

import (
	"slices"
	"testing"

	"github.com/queuepass/queuepass"
)

var drawTests = []subtest{
	{"RecordedAtOpening", testDrawRecorded},
	{"EmptyPrequeue", testDrawEmpty},
	{"NoneUnlessScheduled", testNoDraw},
}

func (f *fixture) draw(eventID string) [][32]byte {
	f.t.Helper()
	d, err := f.s.Draw(f.ctx(), eventID)
	if err != nil {
		f.t.Fatalf("Draw(%q) error: %v", eventID, err)
	}
	return d
}

// testDrawRecorded checks that opening (or pausing) a scheduled event
// records its draw: the DrawHash of every prequeue ticket in the order
// they were placed in the line, which is DrawOrder's, verifiable against
// the commitment to the seed; and that later changes of the line (joins,
// leaves, admissions) leave the recorded draw as it was.
func testDrawRecorded(t *testing.T, newStore newStoreFunc) {
	for _, to := range []queuepass.EventState{queuepass.StateOpen, queuepass.StatePaused} {
		t.Run("to "+string(to), func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			ev := newEvent("drop", queuepass.StateScheduled)
			ev.OpensAt = at(1000)
			ev = f.createEvent(ev)
			pre := f.joinAll("drop", 9, at(1))
			f.leave("drop", pre[2].ID, at(2))
			if d := f.draw("drop"); d != nil {
				t.Errorf("Draw before opening = %d hashes, want nil", len(d))
			}
			if got := f.event("drop").DrawnAt; !got.IsZero() {
				t.Errorf("DrawnAt before opening = %v, want zero", got)
			}

			ev = f.event("drop")
			ev.State = to
			f.update(ev, at(1000))
			if got := f.event("drop").DrawnAt; !got.Equal(at(1000)) {
				t.Errorf("DrawnAt after opening = %v, want %v", got, at(1000))
			}
			// The line, as the store placed it.
			line := make([]string, 8)
			for _, tk := range pre {
				if got := f.ticket("drop", tk.ID); got.Status == queuepass.StatusWaiting {
					line[got.Position-1] = got.ID
				}
			}
			want := make([][32]byte, len(line))
			for i, id := range line {
				want[i] = queuepass.DrawHash(id)
			}
			got := f.draw("drop")
			if !slices.Equal(got, want) {
				t.Fatalf("Draw after opening = %x, want the hashes of the line %x", got, want)
			}
			if err := queuepass.VerifyDraw(queuepass.DrawCommitment(ev.DrawSeed), ev.DrawSeed, got); err != nil {
				t.Errorf("VerifyDraw of the recorded draw: %v", err)
			}

			f.joinNew("drop", "late", at(1001))
			f.leave("drop", line[3], at(1002))
			if to == queuepass.StatePaused {
				f.setState("drop", queuepass.StateOpen, at(1003))
			}
			f.admit("drop", 2, at(1004))
			if got := f.draw("drop"); !slices.Equal(got, want) {
				t.Errorf("Draw after joins, leaves and admissions = %x, want the draw unchanged %x", got, want)
			}
		})
	}
}

// testDrawEmpty checks that opening with an empty pre-queue records an
// empty draw, made at the opening.
func testDrawEmpty(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateScheduled))
	f.leave("e", f.joinNew("e", "gone", at(1)).ID, at(2))
	f.setState("e", queuepass.StateOpen, at(10))
	if got := f.event("e").DrawnAt; !got.Equal(at(10)) {
		t.Errorf("DrawnAt after opening an empty pre-queue = %v, want %v", got, at(10))
	}
	if d := f.draw("e"); len(d) != 0 {
		t.Errorf("Draw of an empty pre-queue = %d hashes, want none", len(d))
	}
}

// testNoDraw checks that events never opened from scheduled have no draw,
// and that Draw of an unknown event fails.
func testNoDraw(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("open", queuepass.StateOpen))
	f.joinNew("open", "u1", at(1))
	f.setState("open", queuepass.StatePaused, at(2))
	f.setState("open", queuepass.StateOpen, at(3))

	f.createEvent(newEvent("cancelled", queuepass.StateScheduled))
	f.joinNew("cancelled", "u1", at(1))
	f.setState("cancelled", queuepass.StateClosed, at(4))
	for _, id := range []string{"open", "cancelled"} {
		if d := f.draw(id); d != nil {
			t.Errorf("Draw(%q) = %d hashes, want nil", id, len(d))
		}
		if got := f.event(id).DrawnAt; !got.IsZero() {
			t.Errorf("Event(%q).DrawnAt = %v, want zero", id, got)
		}
	}
	_, err := f.s.Draw(f.ctx(), "nope")
	wantErr(t, "Draw(nope)", err, queuepass.ErrEventNotFound)
}
