package redisstore_test

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/redisstore"
	"github.com/queuepass/queuepass/internal/redistest"
)

// TestCloseAgainWithReason checks both ways a closing closes tickets: the
// first closing of an event marks its line closed in the event hash, a
// later one (after a reopening, which the store does not judge) rewrites
// the records of the tickets joined since. Each gives its tickets its own
// StateReason.
func TestCloseAgainWithReason(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	for _, tt := range []struct{ first, second queuepass.StatusReason }{
		{"", queuepass.ReasonSoldOut},
		{queuepass.ReasonSoldOut, ""},
		{queuepass.ReasonSoldOut, queuepass.ReasonSoldOut},
	} {
		t.Run(fmt.Sprintf("%q then %q", tt.first, tt.second), func(t *testing.T) {
			s, _ := open(t, url, admin, 1)
			ctx := t.Context()
			ev, err := s.CreateEvent(ctx, queuepass.Event{ID: "e", Name: "e", State: queuepass.StateOpen, PassTTL: time.Minute, CreatedAt: base})
			if err != nil {
				t.Fatal(err)
			}
			setState := func(state queuepass.EventState, reason queuepass.StatusReason, at time.Time) {
				t.Helper()
				ev.State, ev.StateReason = state, reason
				if ev, err = s.UpdateEvent(ctx, ev, at); err != nil {
					t.Fatalf("UpdateEvent(%s, %q): %v", state, reason, err)
				}
			}
			join := func(user string) queuepass.Ticket {
				t.Helper()
				tk, _, err := s.Join(ctx, "e", user, queuepass.JoinProof{}, base)
				if err != nil {
					t.Fatalf("Join(%q): %v", user, err)
				}
				return tk
			}
			early := join("early")
			setState(queuepass.StateClosed, tt.first, base.Add(time.Second))
			setState(queuepass.StateOpen, "", base.Add(2*time.Second))
			late := join("late")
			setState(queuepass.StateClosed, tt.second, base.Add(3*time.Second))
			for _, want := range []struct {
				tk     queuepass.Ticket
				reason queuepass.StatusReason
				ended  time.Time
			}{
				{early, tt.first, base.Add(time.Second)},
				{late, tt.second, base.Add(3 * time.Second)},
			} {
				got, err := s.Ticket(ctx, "e", want.tk.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != queuepass.StatusClosed || got.StatusReason != want.reason || !got.EndedAt.Equal(want.ended) {
					t.Errorf("ticket of %s = %s, reason %q, ended %v; want closed, %q, %v",
						got.UserID, got.Status, got.StatusReason, got.EndedAt, want.reason, want.ended)
				}
			}
		})
	}
}

// TestDeleteEventLeavesNoKeys uses every key an event can have (codes,
// spent challenges, last seen times, a draw, passes, admissions) and checks
// that DeleteEvent leaves none of them.
func TestDeleteEventLeavesNoKeys(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	s, _ := open(t, url, admin, 1)
	ctx := t.Context()
	id := "delete-" + strings.ToLower(rand.Text()[:12]) // unique on a shared server
	ev, err := s.CreateEvent(ctx, queuepass.Event{ID: id, Name: "d", State: queuepass.StateScheduled, PassTTL: time.Minute,
		IdleTimeout: time.Hour, CreatedAt: base, ChallengeDifficulty: 4, Access: queuepass.AccessByCode})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddCodes(ctx, id, []queuepass.AccessCode{{Code: "C", Uses: 5}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		proof := queuepass.JoinProof{Challenge: fmt.Sprintf("ch%d", i), ChallengeExpires: base.Add(time.Hour), Code: "C"}
		tk, _, err := s.Join(ctx, id, fmt.Sprintf("u%d", i), proof, base)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Touch(ctx, id, tk.ID, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	ev.State = queuepass.StateOpen
	if _, err := s.UpdateEvent(ctx, ev, base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admit(ctx, id, 1, base.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, k := range scanKeys(t, admin, "qptest:*:qp:{"+id+"}:*") {
		_, kind, _ := strings.Cut(k, "}:")
		kind, _, _ = strings.Cut(kind, ":")
		kinds[kind] = true
	}
	for _, want := range []string{"m", "t", "l", "u", "a", "r", "s", "c", "ci", "ch", "d"} {
		if !kinds[want] {
			t.Errorf("before DeleteEvent: no key of kind %s (have %v); the test no longer covers it", want, kinds)
		}
	}
	if err := s.DeleteEvent(ctx, id); err != nil {
		t.Fatal(err)
	}
	if keys := scanKeys(t, admin, "qptest:*:qp:{"+id+"}*"); len(keys) > 0 {
		t.Errorf("DeleteEvent left %d keys: %v", len(keys), keys)
	}
}

// TestTakeTokenEdges checks what the suite does not: intervals and bursts
// out of range are clamped as queuepass.TakeToken clamps them, names with
// braces and percent signs make distinct buckets, and a bucket's key
// expires about when the bucket is full again.
func TestTakeTokenEdges(t *testing.T) {
	url := redistest.URL(t)
	admin := adminClient(t, url)
	s, _ := open(t, url, admin, 1)
	ctx := t.Context()
	for _, b := range []struct {
		interval time.Duration
		burst    int
	}{
		{0, 0},
		{-time.Second, -5},
		{time.Microsecond, 1},
		{1500*time.Microsecond + 1, 3}, // a nanosecond beyond the microsecond is dropped
		{2 * time.Hour, queuepass.MaxTokenBurst + 1},
		{queuepass.MaxTokenInterval, queuepass.MaxTokenBurst},
	} {
		key := fmt.Sprintf("edge %v/%d", b.interval, b.burst)
		var mark int64
		when := base
		for i := range 12 {
			when = when.Add(time.Duration(i*i*700) * time.Microsecond) // uneven steps, some within an interval
			ok, retry, err := s.TakeToken(ctx, key, b.interval, b.burst, when)
			if err != nil {
				t.Fatal(err)
			}
			var wantOK bool
			var wantRetry time.Duration
			mark, wantOK, wantRetry = queuepass.TakeToken(mark, when, b.interval, b.burst)
			if ok != wantOK || retry != wantRetry {
				t.Errorf("TakeToken(%q) %d = %v, retry after %v; want %v, %v", key, i, ok, retry, wantOK, wantRetry)
			}
		}
	}

	// Names that differ only in braces and their percent-encoding are
	// different buckets.
	names := []string{"{", "}", "%7B", "%7D", "%", "%25", "{x}", "x", ""}
	for _, name := range names {
		if ok, _, err := s.TakeToken(ctx, name, time.Hour, 1, base); err != nil || !ok {
			t.Errorf("TakeToken(%q) of a new bucket = %v, %v; want a token", name, ok, err)
		}
	}
	for _, name := range names {
		if ok, _, err := s.TakeToken(ctx, name, time.Hour, 1, base); err != nil || ok {
			t.Errorf("TakeToken(%q) again = %v, %v; want none left", name, ok, err)
		}
	}

	// Taking 3 tokens of a bucket that gains one every 10s leaves it full
	// in 30s: its key lives that long and a second more (less the time
	// the test took since).
	name := "ttl-" + strings.ToLower(rand.Text()[:12])
	for range 3 {
		if _, _, err := s.TakeToken(ctx, name, 10*time.Second, 5, base); err != nil {
			t.Fatal(err)
		}
	}
	keys := scanKeys(t, admin, "qptest:*:qp:rl:{"+name+"}")
	if len(keys) != 1 {
		t.Fatalf("keys of bucket %q = %v, want one", name, keys)
	}
	ttl, err := admin.Do(ctx, admin.B().Pttl().Key(keys[0]).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(ttl) * time.Millisecond; d < 25*time.Second || d > 31*time.Second {
		t.Errorf("PTTL of a bucket full again in 30s = %v, want about 31s", d)
	}
}

// TestOpeningWhileJoinsArrive checks the two steps of an opening with
// joins and a leave between them: tickets that join the pre-queue while
// the draw is made follow the drawn ones in the order they joined and are
// not in the draw, so joins arriving at opening never make it fail; a
// drawn ticket that leaves makes the store draw again, without it.
func TestOpeningWhileJoinsArrive(t *testing.T) {
	url := redistest.URL(t)
	s, _ := open(t, url, adminClient(t, url), 1)
	ctx := t.Context()
	ev, err := s.CreateEvent(ctx, queuepass.Event{ID: "e", Name: "e", State: queuepass.StateScheduled, PassTTL: time.Minute, CreatedAt: base})
	if err != nil {
		t.Fatal(err)
	}
	join := func(user string, at time.Time) queuepass.Ticket {
		t.Helper()
		tk, created, err := s.Join(ctx, "e", user, queuepass.JoinProof{}, at)
		if err != nil || !created {
			t.Fatalf("Join(%s) = created %v, %v", user, created, err)
		}
		return tk
	}
	var pre []string
	for i := range 6 {
		pre = append(pre, join(fmt.Sprintf("early-%d", i), base.Add(time.Second)).ID)
	}
	var late []string
	calls := 0
	redisstore.SetBetweenDrawSteps(s, func() {
		calls++
		switch calls {
		case 1: // a drawn ticket leaves: the draw is made again without it
			if _, err := s.Leave(ctx, "e", pre[0], base.Add(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			pre = pre[1:]
			late = append(late, join("late-0", base.Add(2*time.Second)).ID)
		case 2: // joins only: they follow
			late = append(late, join("late-1", base.Add(2*time.Second)).ID, join("late-2", base.Add(2*time.Second)).ID)
		}
	})
	ev.State = queuepass.StateOpen
	opened, err := s.UpdateEvent(ctx, ev, base.Add(2*time.Second))
	if err != nil {
		t.Fatalf("UpdateEvent(open) with joins between its steps: %v", err)
	}
	if calls != 2 {
		t.Errorf("the opening took %d draws, want 2 (the first undone by a leave)", calls)
	}
	// late-0 joined before the second read of the pre-queue: it is drawn.
	drawnIDs, hashes := queuepass.DrawOrder(ev.DrawSeed, append(pre, late[0]))
	d, err := s.Draw(ctx, "e")
	if err != nil || len(d) != len(hashes) {
		t.Fatalf("Draw = %d entrants, %v; want %d", len(d), err, len(hashes))
	}
	for i := range d {
		if d[i] != hashes[i] {
			t.Fatalf("Draw place %d = %x, want %x", i+1, d[i], hashes[i])
		}
	}
	if err := queuepass.VerifyDraw(queuepass.DrawCommitment(ev.DrawSeed), ev.DrawSeed, d); err != nil {
		t.Errorf("VerifyDraw: %v", err)
	}
	line := append(drawnIDs, late[1:]...)
	for i, id := range line {
		tk, err := s.Ticket(ctx, "e", id)
		if err != nil || tk.Status != queuepass.StatusWaiting || tk.Position != i+1 {
			t.Errorf("ticket %d of the line = %s at %d, %v; want waiting at %d", i+1, tk.Status, tk.Position, err, i+1)
		}
	}
	if opened.Counts.Waiting != len(line) || opened.Counts.Prequeue != 0 {
		t.Errorf("opened event counts = %+v, want %d waiting, none in the pre-queue", opened.Counts, len(line))
	}
}
