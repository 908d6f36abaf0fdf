package storetest

import (
	"errors"
	"testing"

	"github.com/queuepass/queuepass"
)

var inventoryTests = []subtest{
	{"CompleteAddsQuantity", testCompleteQuantity},
	{"CompleteQuantityBelowOne", testCompleteQuantityBelowOne},
	{"CloseWithReason", testCloseWithReason},
}

// testCompleteQuantity checks that completing a ticket adds its quantity
// to the event's Sold, once, and that nothing else changes Sold.
func testCompleteQuantity(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	ev := newEvent("e", queuepass.StateOpen)
	ev.Inventory = 10
	f.createEvent(ev)
	tks := f.joinAll("e", 3, at(1))
	f.admit("e", 3, at(2))
	for _, c := range []struct {
		ticket   queuepass.Ticket
		quantity int
		sold     int
	}{
		{tks[0], 4, 4},
		{tks[0], 4, 4}, // completed already: nothing more sold
		{tks[1], 1, 5},
		{tks[0], 9, 5},
	} {
		if _, err := f.s.Complete(f.ctx(), "e", c.ticket.ID, c.quantity, at(3)); err != nil {
			t.Fatalf("Complete(%s, %d) error: %v", c.ticket.UserID, c.quantity, err)
		}
		if got := f.event("e").Sold; got != c.sold {
			t.Errorf("Sold after Complete(%s, %d) = %d, want %d", c.ticket.UserID, c.quantity, got, c.sold)
		}
	}
	// A refused completion sells nothing, and updates keep Sold.
	f.expire("e", at(2).Add(passTTL))
	if _, err := f.s.Complete(f.ctx(), "e", tks[2].ID, 3, at(2).Add(passTTL)); err == nil {
		t.Error("Complete of an expired pass succeeded")
	}
	ev = f.event("e")
	ev.Inventory = 20
	if got := f.update(ev, at(6)); got.Sold != 5 || got.Inventory != 20 {
		t.Errorf("UpdateEvent(inventory 20) = Sold %d, Inventory %d; want 5, 20", got.Sold, got.Inventory)
	}
}

// testCloseWithReason checks that closing with a StateReason (sold out)
// keeps it on the event and gives it to every ticket the closing closes,
// and to no other.
func testCloseWithReason(t *testing.T, newStore newStoreFunc) {
	for _, from := range []queuepass.EventState{queuepass.StateScheduled, queuepass.StateOpen} {
		t.Run("from "+string(from), func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.createEvent(newEvent("e", from))
			tks := f.joinAll("e", 4, at(1))
			if from == queuepass.StateScheduled {
				f.setState("e", queuepass.StateOpen, at(2))
			}
			f.admit("e", 1, at(3)) // the first drawn
			f.leave("e", f.joinNew("e", "u5", at(4)).ID, at(5))

			ev := f.event("e")
			ev.State, ev.StateReason = queuepass.StateClosed, queuepass.ReasonSoldOut
			if got := f.update(ev, at(10)); got.StateReason != queuepass.ReasonSoldOut {
				t.Errorf("UpdateEvent(closed, sold out).StateReason = %q, want %q", got.StateReason, queuepass.ReasonSoldOut)
			}
			closed := 0
			for _, tk := range tks {
				got := f.ticket("e", tk.ID)
				switch got.Status {
				case queuepass.StatusClosed:
					closed++
					if got.StatusReason != queuepass.ReasonSoldOut || !got.EndedAt.Equal(at(10)) {
						t.Errorf("closed ticket %s: StatusReason %q, EndedAt %v; want %q, %v", got.UserID, got.StatusReason, got.EndedAt, queuepass.ReasonSoldOut, at(10))
					}
				case queuepass.StatusAdmitted:
					if got.StatusReason != "" {
						t.Errorf("admitted ticket %s: StatusReason %q, want none", got.UserID, got.StatusReason)
					}
				default:
					t.Errorf("ticket %s after closing is %s, want closed or admitted", got.UserID, got.Status)
				}
			}
			if closed != 3 {
				t.Errorf("closing closed %d tickets, want 3", closed)
			}
			f.wantCounts("e", queuepass.Counts{Admitted: 1, Left: 1, Closed: 3})
		})
	}
}

// testCompleteQuantityBelowOne checks that a quantity below 1 is refused
// and changes nothing: the ticket stays admitted, Sold stays.
func testCompleteQuantityBelowOne(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	tk := f.joinNew("e", "u1", at(1))
	f.admit("e", 1, at(2))
	for _, q := range []int{0, -5} {
		_, err := f.s.Complete(f.ctx(), "e", tk.ID, q, at(3))
		if _, ok := errors.AsType[*queuepass.ValidationError](err); !ok {
			t.Errorf("Complete(quantity %d) error = %v, want a *ValidationError", q, err)
		}
	}
	if got := f.ticket("e", tk.ID); got.Status != queuepass.StatusAdmitted {
		t.Errorf("ticket after refused completions is %s, want admitted", got.Status)
	}
	if ev := f.event("e"); ev.Sold != 0 || ev.Counts.Completed != 0 {
		t.Errorf("after refused completions Sold = %d, Completed = %d; want 0, 0", ev.Sold, ev.Counts.Completed)
	}
}
