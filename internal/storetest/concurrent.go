package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/queuepass/queuepass"
)

var concurrentTests = []subtest{
	{"JoinSameUser", testConcurrentJoinSameUser},
	{"JoinManyUsers", testConcurrentJoinManyUsers},
	{"AdmitMaxActive", testConcurrentAdmitMaxActive},
	{"AdmitUnlimited", testConcurrentAdmitUnlimited},
	{"AdmitWithCompletes", testConcurrentAdmitComplete},
	{"LeaveRacingAdmit", testConcurrentLeaveAdmit},
	{"JoinRacingClose", testConcurrentJoinClose},
	{"JoinRacingOpen", testConcurrentJoinOpen},
}

// scale returns n, or a smaller load with -short.
func scale(n int) int {
	if testing.Short() {
		return max(n/4, 8)
	}
	return n
}

// together runs fn(0), …, fn(n-1) in n goroutines released at once, and
// returns when all have returned.
func together(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// number returns the ticket number in id, which orders tickets by creation.
func number(t *testing.T, id string) uint64 {
	t.Helper()
	n, _, ok := queuepass.ParseTicketID(id)
	if !ok {
		t.Fatalf("ParseTicketID(%q) failed: ticket IDs must be made by queuepass.NewTicketID", id)
	}
	return n
}

func testConcurrentJoinSameUser(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name  string
		state queuepass.EventState
		// leftFirst makes the user join and leave before the race, so that
		// the race makes the user's second ticket.
		leftFirst bool
	}{
		{"open", queuepass.StateOpen, false},
		{"scheduled", queuepass.StateScheduled, false},
		{"after leaving", queuepass.StateOpen, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.createEvent(newEvent("e", tt.state))
			total := 1
			if tt.leftFirst {
				f.leave("e", f.joinNew("e", "alice", at(1)).ID, at(2))
				total = 2
			}
			const n = 50
			ctx := f.ctx()
			tks := make([]queuepass.Ticket, n)
			created := make([]bool, n)
			errs := make([]error, n)
			together(n, func(i int) {
				tks[i], created[i], errs[i] = f.s.Join(ctx, "e", "alice", queuepass.JoinProof{}, at(10))
			})
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent Join errors: %v", err)
			}
			made := 0
			for i := range n {
				if created[i] {
					made++
				}
				if tks[i].ID != tks[0].ID {
					t.Errorf("concurrent joins of one user returned tickets %q and %q", tks[0].ID, tks[i].ID)
				}
			}
			if made != 1 {
				t.Errorf("%d concurrent joins of one user: created = true %d times, want once", n, made)
			}
			if got := f.event("e").Counts; got.Total() != total || got.Left != total-1 {
				t.Errorf("Counts after concurrent joins of one user = %+v, want %d ticket(s)", got, total)
			}
		})
	}
}

func testConcurrentJoinManyUsers(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	n := scale(100)
	ctx := f.ctx()
	tks := make([]queuepass.Ticket, n)
	errs := make([]error, n)
	together(n, func(i int) {
		var created bool
		tks[i], created, errs[i] = f.s.Join(ctx, "e", fmt.Sprintf("user-%d", i), queuepass.JoinProof{}, at(1))
		if errs[i] == nil && !created {
			errs[i] = fmt.Errorf("Join(user-%d) created = false for a new user", i)
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Join errors: %v", err)
	}
	// The line is the order in which the store accepted the joins, which
	// is the order of ticket numbers; no one left, so no one moved.
	byNumber := slices.Clone(tks)
	slices.SortFunc(byNumber, func(a, b queuepass.Ticket) int { return cmp.Compare(number(t, a.ID), number(t, b.ID)) })
	for i, tk := range byNumber {
		if tk.Position != i+1 {
			t.Errorf("Join of the ticket made %d of %d returned Position %d, want %d", i+1, n, tk.Position, i+1)
		}
		if i > 0 && tk.ID == byNumber[i-1].ID {
			t.Errorf("two users got ticket %q", tk.ID)
		}
	}
	f.wantLine("e", ids(byNumber))
	f.wantCounts("e", queuepass.Counts{Waiting: n})
}

// concurrentAdmits runs admitters concurrent Admit(count) calls on event
// "e" at at(10) and returns the admitted tickets of all of them, checking
// that each admission is in line order.
func (f *fixture) concurrentAdmits(admitters, count int, line []string) []string {
	f.t.Helper()
	ctx := f.ctx()
	adms := make([]queuepass.Admission, admitters)
	errs := make([]error, admitters)
	together(admitters, func(i int) {
		adms[i], errs[i] = f.s.Admit(ctx, "e", count, at(10))
	})
	if err := errors.Join(errs...); err != nil {
		f.t.Fatalf("concurrent Admit errors: %v", err)
	}
	rank := map[string]int{}
	for i, id := range line {
		rank[id] = i
	}
	var all []string
	for _, adm := range adms {
		got := ids(adm.Tickets)
		if !slices.IsSortedFunc(got, func(a, b string) int { return cmp.Compare(rank[a], rank[b]) }) {
			f.t.Errorf("Admission.Tickets not in line order: %q", got)
		}
		all = append(all, got...)
	}
	return all
}

// wantPrefix checks that admitted holds each of the first len(admitted)
// tickets of line exactly once.
func wantPrefix(t *testing.T, admitted, line []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range admitted {
		seen[id]++
	}
	for i, id := range line {
		switch n := seen[id]; {
		case i < len(admitted) && n != 1:
			t.Errorf("ticket %d of the line was admitted %d times, want once", i+1, n)
		case i >= len(admitted) && n != 0:
			t.Errorf("ticket %d of the line was admitted although only %d were: tickets were skipped", i+1, len(admitted))
		}
	}
}

func testConcurrentAdmitMaxActive(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	capacity := scale(24)
	f.open("e", capacity)
	line := ids(f.joinAll("e", 2*capacity+5, at(1)))
	// Twice as many asked for as there is room for.
	admitted := f.concurrentAdmits(capacity/2, 4, line)
	if len(admitted) != capacity {
		t.Errorf("concurrent admissions admitted %d with MaxActive %d and %d waiting, want %d", len(admitted), capacity, len(line), capacity)
	}
	wantPrefix(t, admitted, line)
	f.wantLine("e", line[min(len(admitted), len(line)):])
	f.wantCounts("e", queuepass.Counts{Admitted: capacity, Waiting: len(line) - capacity})
}

func testConcurrentAdmitUnlimited(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	n := scale(60)
	line := ids(f.joinAll("e", n, at(1)))
	admitters := n / 5
	admitted := f.concurrentAdmits(admitters, 4, line)
	if len(admitted) != 4*admitters {
		t.Errorf("%d concurrent Admit(4) with %d waiting admitted %d, want %d", admitters, n, len(admitted), 4*admitters)
	}
	wantPrefix(t, admitted, line)
	f.wantLine("e", line[min(len(admitted), len(line)):])
}

// testConcurrentAdmitComplete admits and completes concurrently while a
// reader checks that the admitted count never exceeds MaxActive.
func testConcurrentAdmitComplete(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	const capacity = 5
	f.open("e", capacity)
	n := scale(80)
	line := ids(f.joinAll("e", n, at(1)))
	ctx := f.ctx()

	var (
		mu       sync.Mutex
		admitted []string
		held     int
		errs     []error
		done     = make(chan struct{})
		readerWG sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	readerWG.Go(func() {
		for {
			ev, err := f.s.Event(ctx, "e")
			if err != nil {
				fail(fmt.Errorf("Event: %w", err))
				return
			}
			if ev.Counts.Admitted > capacity {
				fail(fmt.Errorf("Counts.Admitted = %d with MaxActive %d", ev.Counts.Admitted, capacity))
				return
			}
			select {
			case <-done:
				return
			default:
			}
		}
	})
	// Each worker asks for 2 and completes what it got, until the line is
	// empty: 4 workers could hold 8 passes without the cap. Passes never run
	// out (time stands still), so only Complete frees capacity.
	together(4, func(int) {
		for range 100 * n { // a bound in case Complete frees nothing
			adm, err := f.s.Admit(ctx, "e", 2, at(10))
			if err != nil {
				fail(fmt.Errorf("Admit: %w", err))
				return
			}
			mu.Lock()
			// held counts passes from Admit's return to Complete's call,
			// less than the store holds, so more than capacity is a bug.
			held += len(adm.Tickets)
			if held > capacity {
				errs = append(errs, fmt.Errorf("%d passes held with MaxActive %d", held, capacity))
			}
			mu.Unlock()
			runtime.Gosched()
			for _, tk := range adm.Tickets {
				mu.Lock()
				admitted = append(admitted, tk.ID)
				held--
				mu.Unlock()
				if _, err := f.s.Complete(ctx, "e", tk.ID, 1, at(11)); err != nil {
					fail(fmt.Errorf("Complete: %w", err))
					return
				}
			}
			if adm.Waiting == 0 {
				return
			}
		}
		fail(errors.New("the line did not empty: completing passes does not free capacity"))
	})
	close(done)
	readerWG.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(admitted, func(a, b string) int { return cmp.Compare(slices.Index(line, a), slices.Index(line, b)) })
	wantPrefix(t, admitted, line)
	if len(admitted) != n {
		t.Errorf("admitted %d of %d", len(admitted), n)
	}
	f.wantCounts("e", queuepass.Counts{Completed: len(admitted), Waiting: n - len(admitted)})
}

func testConcurrentLeaveAdmit(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	n := scale(60)
	line := ids(f.joinAll("e", n, at(1)))
	ctx := f.ctx()

	leavers := n / 2 // every other ticket tries to leave
	admitters := n / 10
	left := make([]bool, leavers)
	adms := make([]queuepass.Admission, admitters)
	errs := make([]error, leavers+admitters)
	together(leavers+admitters, func(i int) {
		if i < leavers {
			tk, err := f.s.Leave(ctx, "e", line[2*i], at(10))
			switch {
			case err == nil && tk.Status == queuepass.StatusLeft:
				left[i] = true
			case err == nil:
				errs[i] = fmt.Errorf("Leave returned a %s ticket without error", tk.Status)
			case !errors.Is(err, queuepass.ErrTicketNotWaiting):
				errs[i] = fmt.Errorf("Leave: %w", err)
			}
			return
		}
		adms[i-leavers], errs[i] = f.s.Admit(ctx, "e", 5, at(10))
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	status := map[string]queuepass.TicketStatus{}
	for i, ok := range left {
		if ok {
			status[line[2*i]] = queuepass.StatusLeft
		}
	}
	admittedN := 0
	for _, adm := range adms {
		for _, tk := range adm.Tickets {
			if s, ok := status[tk.ID]; ok {
				t.Errorf("ticket %s was admitted and also %s", tk.UserID, s)
			}
			status[tk.ID] = queuepass.StatusAdmitted
			admittedN++
		}
	}
	var waiting []string
	leftN := 0
	for i, id := range line {
		want, ok := status[id]
		if !ok {
			want = queuepass.StatusWaiting
			waiting = append(waiting, id)
		}
		if want == queuepass.StatusLeft {
			leftN++
		}
		f.wantStatus("e", id, want)
		if want == queuepass.StatusAdmitted && len(waiting) > 0 {
			t.Errorf("ticket %d of the line was admitted while an earlier one still waits", i+1)
		}
	}
	f.wantLine("e", waiting)
	f.wantCounts("e", queuepass.Counts{Waiting: len(waiting), Admitted: admittedN, Left: leftN})
}

func testConcurrentJoinClose(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	const rounds = 4
	n := scale(40)
	ctx := f.ctx()
	for r := range rounds {
		id := fmt.Sprintf("e%d", r)
		ev := f.open(id, 0)
		tks := make([]queuepass.Ticket, n)
		errs := make([]error, n+1)
		ev.State = queuepass.StateClosed
		closeAt := r * n / rounds // the closer starts among the joiners
		together(n+1, func(g int) {
			if g == closeAt {
				_, errs[n] = f.s.UpdateEvent(ctx, ev, at(5))
				return
			}
			i := g
			if g > closeAt {
				i--
			}
			tk, _, err := f.s.Join(ctx, id, fmt.Sprintf("user-%d", i), queuepass.JoinProof{}, at(5))
			switch {
			case err == nil:
				tks[i] = tk
			case !errors.Is(err, queuepass.ErrEventClosed):
				errs[i] = err
			}
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		joined := 0
		for _, tk := range tks {
			if tk.ID == "" {
				continue
			}
			joined++
			if got := f.ticket(id, tk.ID); got.Status != queuepass.StatusClosed || !got.EndedAt.Equal(at(5)) {
				t.Errorf("round %d: a join that raced with close left a %s ticket (EndedAt %v), want closed at %v", r, got.Status, got.EndedAt, at(5))
			}
		}
		f.wantCounts(id, queuepass.Counts{Closed: joined})
	}
}

func testConcurrentJoinOpen(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	ev := f.createEvent(newEvent("e", queuepass.StateScheduled))
	n := scale(40)
	ctx := f.ctx()
	tks := make([]queuepass.Ticket, n)
	errs := make([]error, n+1)
	ev.State = queuepass.StateOpen
	together(n+1, func(g int) {
		if g == n/2 {
			_, errs[n] = f.s.UpdateEvent(ctx, ev, at(5))
			return
		}
		i := g
		if g > n/2 {
			i--
		}
		tks[i], _, errs[i] = f.s.Join(ctx, "e", fmt.Sprintf("user-%d", i), queuepass.JoinProof{}, at(5))
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// Tickets that joined the pre-queue come first, in the draw's order;
	// the others follow in order of joining, where they joined. (A store
	// whose opening takes two steps may have let some join the pre-queue
	// while it drew: those are not in the draw and come next, in order of
	// joining.)
	slices.SortFunc(tks, func(a, b queuepass.Ticket) int { return cmp.Compare(number(t, a.ID), number(t, b.ID)) })
	inDraw := map[[32]byte]bool{}
	for _, h := range f.draw("e") {
		inDraw[h] = true
	}
	var pre, later []string
	for _, tk := range tks {
		switch {
		case tk.Status == queuepass.StatusPrequeue && inDraw[queuepass.DrawHash(tk.ID)]:
			if len(later) > 0 {
				t.Errorf("drawn ticket %d joined the pre-queue after a ticket that was not drawn", number(t, tk.ID))
			}
			pre = append(pre, tk.ID)
		case tk.Status == queuepass.StatusPrequeue, tk.Status == queuepass.StatusWaiting:
			later = append(later, tk.ID)
		default:
			t.Errorf("Join racing with opening returned a %s ticket", tk.Status)
		}
	}
	if len(pre) != len(inDraw) {
		t.Errorf("the draw has %d entrants, %d of them tickets of these joins", len(inDraw), len(pre))
	}
	drawn, _ := queuepass.DrawOrder(ev.DrawSeed, pre)
	line := append(drawn, later...)
	f.wantLine("e", line)
	for i, tk := range tks[len(pre):] {
		if tk.Status == queuepass.StatusWaiting && tk.Position != len(pre)+i+1 {
			t.Errorf("Join after opening returned Position %d, want %d", tk.Position, len(pre)+i+1)
		}
	}
}
